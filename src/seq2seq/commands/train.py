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
    from seq2seq.data.io import check_writable
    from seq2seq.experiment import build_trainer
    from seq2seq.train import distributed
    from seq2seq.train.trainer import Interrupted

    config = load_config(args.config, args.overrides)
    check_writable(config.train.out_dir, "train.out_dir", directory=True)  # before any work
    trainer = build_trainer(config, resume=args.resume, overwrite=args.overwrite)
    try:
        state = trainer.fit()
    except Interrupted as stop:  # the trainer saved the last complete step and said so
        return 128 + stop.signum
    finally:
        distributed.teardown(trainer.ctx)
    if trainer.ctx.is_main:
        best = trainer.run.manifest.best if trainer.run.manifest else None
        where = ""
        if best is not None and best.metric is not None:
            where = f", best dev {best.metric} {best.value:.2f} at step {best.step}"
        log.info(f"done: {state.step} steps{where}; checkpoints in {trainer.run.path}")
    return 0
