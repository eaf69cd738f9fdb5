"""`seq2seq average`: average the weights of several checkpoints of one run (seq2seq/average.py)."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "checkpoints", nargs="+", type=Path, metavar="CKPT",
        help="checkpoints of one model, e.g. the last few step checkpoints of a run",
    )  # fmt: skip
    parser.add_argument("--output", type=Path, required=True, help="the averaged checkpoint")


def run(args: argparse.Namespace) -> int:
    from seq2seq.average import average_checkpoints
    from seq2seq.data.io import check_writable, same_file
    from seq2seq.errors import DataError

    check_writable(args.output, "--output")  # before any checkpoint is read
    for path in args.checkpoints:
        if same_file(path, args.output):
            raise DataError(
                f"--output {args.output} is one of the checkpoints averaged; give another name "
                "so it is not overwritten"
            )
    count = average_checkpoints(args.checkpoints, args.output)
    print(f"averaged {count} checkpoints into {args.output}")
    return 0
