"""`seq2seq rescore`: re-rank an external n-best list with trained models (paper §3.6)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from seq2seq.commands.options import add_checkpoints, add_device


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_checkpoints(parser)
    parser.add_argument("--src", required=True, type=Path, help="source sentences, one a line")
    parser.add_argument("--nbest", required=True, type=Path, help="Moses n-best list to re-rank")
    parser.add_argument(
        "--weight", type=float, default=0.5, help="weight of the model's log-probability (paper: 0.5)"
    )  # fmt: skip
    parser.add_argument(
        "--output", required=True, type=Path, help="re-ranked 1-best, one line per sentence"
    )
    parser.add_argument(
        "--nbest-output", type=Path, default=None, help="the full re-scored n-best list"
    )
    parser.add_argument("--batch-size", type=int, default=64, help="hypotheses per batch")
    add_device(parser)


def run(args: argparse.Namespace) -> int:
    from seq2seq.data.io import check_readable, check_writable, iter_lines, same_file
    from seq2seq.decode.nbest import read_nbest
    from seq2seq.decode.rescore import check_sources, rescore, write_outputs
    from seq2seq.decode.translator import Translator
    from seq2seq.errors import ConfigError, DataError

    if args.batch_size < 1:
        raise ConfigError(f"--batch-size must be at least 1, got {args.batch_size}")
    if not 0.0 <= args.weight <= 1.0:
        raise ConfigError(f"--weight must lie in [0, 1], got {args.weight}")
    # Every path before any scoring, so the scores are never lost to a bad output path.
    check_readable(args.src, "--src")
    check_readable(args.nbest, "--nbest")
    outputs = [("--output", args.output), ("--nbest-output", args.nbest_output)]
    for flag, path in outputs:
        if path is None:
            continue
        check_writable(path, flag)
        for in_flag, given in (("--src", args.src), ("--nbest", args.nbest)):
            if same_file(path, given):
                raise DataError(
                    f"{flag} {path} is the {in_flag} file; give another name so it is not "
                    "overwritten"
                )
    if args.nbest_output is not None and args.output.absolute() == args.nbest_output.absolute():
        raise DataError(f"--output and --nbest-output are both {args.output}; give two names")
    sources = list(iter_lines(args.src))
    entries = read_nbest(args.nbest)
    check_sources(entries, sources, args.src, args.nbest)
    translator = Translator.load(args.checkpoint, device=args.device)
    scores = translator.score(
        [sources[e.sentence] for e in entries], [e.text for e in entries], args.batch_size
    )
    ranked = rescore(entries, scores, args.weight)
    write_outputs(ranked, len(sources), args.output, args.nbest_output)
    print(
        f"rescored {len(entries)} hypotheses of {len(ranked)} sentences; 1-best in {args.output}",
        file=sys.stderr,
    )
    return 0
