"""`seq2seq train CONFIG`: train a model from a YAML config (see configs/reference.yaml)."""

from __future__ import annotations

import argparse
import logging

from seq2seq.commands.options import add_overrides

log = logging.getLogger("seq2seq")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("config", help="experiment YAML file (see configs/reference.yaml)")
    add_overrides(parser)
    group = parser.add_mutually_exclusive_group()
    group.add_argument(
        "--resume",
        action="store_true",
        help="continue the run in train.out_dir from its newest checkpoint",
    )
    group.add_argument(
        "--overwrite", action="store_true", help="discard the checkpoints already in train.out_dir"
    )


def run(args: argparse.Namespace) -> int:
    from seq2seq.config import load_config
    from seq2seq.experiment import build_trainer
    from seq2seq.train import distributed

    config = load_config(args.config, args.overrides)
    trainer = build_trainer(config, resume=args.resume, overwrite=args.overwrite)
    try:
        state = trainer.fit()
    except KeyboardInterrupt:
        return 130
    finally:
        distributed.teardown(trainer.ctx)
    if trainer.ctx.is_main:
        best = "" if state.best is None else f", best dev {config.train.best_metric} {state.best:.2f}"
        log.info(f"done: {state.step} steps{best}; checkpoints in {trainer.run.path}")
    return 0
