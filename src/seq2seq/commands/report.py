"""`seq2seq report RUN_DIR`: one self-contained HTML page about a training run (evaluate/report.py)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_dir", type=Path, metavar="RUN_DIR", help="a training run directory")
    parser.add_argument(
        "--eval", type=Path, default=None, help="output of `seq2seq evaluate --json` (or JSONL)"
    )
    parser.add_argument(
        "--analyses", type=Path, default=None, help="directory written by `seq2seq analyze`"
    )
    parser.add_argument(
        "--out", type=Path, default=None, help="HTML file to write (default: RUN_DIR/report.html)"
    )


def run(args: argparse.Namespace) -> int:
    from seq2seq.data.io import AtomicTextFile, check_writable
    from seq2seq.errors import DataError
    from seq2seq.evaluate.report import build_report, read_evaluations

    if not args.run_dir.is_dir():
        what = "is a file, not a directory" if args.run_dir.exists() else "does not exist"
        raise DataError(f"run directory {args.run_dir} {what}")
    if args.analyses is not None and not args.analyses.is_dir():
        raise DataError(f"--analyses {args.analyses} is not a directory (`seq2seq analyze --out`)")
    out = args.out or args.run_dir / "report.html"
    check_writable(out, "--out" if args.out else "the report", make_parents=True)
    evaluations = read_evaluations(args.eval) if args.eval is not None else None
    page = build_report(args.run_dir, evaluations, args.analyses)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise DataError(
            f"cannot create the directory {out.parent} ({err.strerror or err})"
        ) from None
    with AtomicTextFile(out) as handle:
        handle.write(page)
    print(f"wrote {out} ({len(page) / 1024:,.0f} KiB)", file=sys.stderr)
    return 0
