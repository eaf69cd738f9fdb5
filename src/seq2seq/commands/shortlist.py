"""`seq2seq shortlist`: add a lexical output shortlist (data/shortlist.py) to a checkpoint.

A checkpoint of a run directory (best.safetensors, last.safetensors, a step file) is rewritten
where the run's manifest keeps it: in the step file best or last links to, which both links then
follow again, so a later `train --resume` keeps the shortlist. Writing into a run directory takes
its lock: it is refused while a `train` runs there.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from seq2seq.commands.options import add_checkpoint
from seq2seq.data.shortlist import DEFAULT_FREQUENT, DEFAULT_K


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_checkpoint(parser, help="checkpoint to extend (rewritten in place, atomically)")
    parser.add_argument(
        "--data", type=Path, default=None, help="prepared data directory (default: the config's)"
    )
    parser.add_argument("--k", type=int, default=DEFAULT_K, help="target tokens per source token")
    parser.add_argument(
        "--frequent", type=int, default=DEFAULT_FREQUENT, help="most frequent target tokens added"
    )


def run(args: argparse.Namespace) -> int:
    from seq2seq.checkpoint import add_shortlist
    from seq2seq.data.io import check_writable
    from seq2seq.errors import ConfigError
    from seq2seq.train.rundir import run_holding

    if args.k < 1 or args.frequent < 0:
        raise ConfigError(f"--k must be >= 1 and --frequent >= 0 (got {args.k}, {args.frequent})")
    if args.checkpoint.is_file():  # rewritten in place: its directory must take the new file
        check_writable(args.checkpoint, "--checkpoint")
    run = run_holding(args.checkpoint)
    target = args.checkpoint
    if run is not None:  # a run's checkpoint: into the step file its manifest names, links kept
        run.claim()  # not while a `train` writes this run directory
        target = run.rewrite_target(args.checkpoint)
    shortlist = add_shortlist(target, args.data, args.k, args.frequent)
    if run is not None:
        run.follow()
        run.release()
    sizes = shortlist.table.size(1), shortlist.frequent.numel()
    where = f"{target} (best and last follow it)" if target != args.checkpoint else target
    print(f"added a shortlist ({sizes[0]} per source token + {sizes[1]} frequent) to {where}")
    return 0
