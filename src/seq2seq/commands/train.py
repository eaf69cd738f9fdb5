"""`seq2seq train CONFIG`: train a model from a YAML config (see configs/reference.yaml)."""

from __future__ import annotations

import argparse
import logging
import sys
from typing import Any

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
    together = False  # every rank ended the same way (finished, or stopped at an agreed step)
    try:
        with ProgressBar(trainer.ctx.is_main) as progress:
            state = trainer.fit(progress)
        together = True
    except Interrupted as stop:  # the trainer saved the last complete step and said so
        together = True
        return 128 + stop.signum
    finally:
        distributed.teardown(trainer.ctx, together)
    if trainer.ctx.is_main:
        best = trainer.run.manifest.best if trainer.run.manifest else None
        where = ""
        if best is not None and best.metric is not None:
            where = f", best dev {best.metric} {best.value:.2f} at step {best.step}"
        log.info(f"done: {state.step} steps{where}; checkpoints in {trainer.run.path}")
    return 0


class ProgressBar:
    """The trainer's progress on a tqdm bar (rank 0 only), drawn from the first step on: redrawn
    every 0.5 s on a terminal, a line every 30 s in a log file; log lines are written above it."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.bar: Any = None  # a tqdm bar, made at the first step

    def __enter__(self):
        from tqdm.contrib.logging import logging_redirect_tqdm

        self.redirect = logging_redirect_tqdm([log])
        self.redirect.__enter__()
        return self.update

    def update(self, step: int, total: int, record: dict[str, float]) -> None:
        if self.bar is None:
            from tqdm import tqdm

            self.bar = tqdm(total=total, initial=step - 1, desc="train", unit="step",
                            dynamic_ncols=True, disable=not self.enabled,
                            mininterval=0.5 if sys.stderr.isatty() else 30.0)  # fmt: skip
        if record:
            self.bar.set_postfix(loss=f"{record['loss']:.3f}", ppl=f"{record['ppl']:.1f}",
                                 tok_s=f"{record['tgt_tok_s']:,.0f}", lr=f"{record['lr']:.3g}",
                                 rss=f"{record['rss_mb']:,.0f}MB", refresh=False)  # fmt: skip
        self.bar.update(step - self.bar.n)

    def __exit__(self, *exc) -> None:
        self.redirect.__exit__(*exc)
        if self.bar is not None:
            self.bar.close()
