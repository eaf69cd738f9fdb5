"""`seq2seq split`: a seeded train/dev/test split that keeps every copy of a source on one side
(data/split.py)."""

from __future__ import annotations

import argparse
from pathlib import Path

from seq2seq.data.io import ParallelSource, check_readable, check_writable
from seq2seq.data.split import (
    SIDE_SUFFIXES,
    SPLIT_NAMES,
    key_stripping,
    read_pairs,
    split_pairs,
    split_paths,
    write_split,
)
from seq2seq.errors import DataError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    io_group = parser.add_argument_group("input (one of: --csv, --tsv, --src with --tgt, --aeslc)")
    io_group.add_argument("--csv", type=Path, help="a CSV file with a header row")
    io_group.add_argument(
        "--columns",
        nargs=2,
        metavar=("SOURCE", "TARGET"),
        help="the CSV's source and target column names (e.g. Q A)",
    )
    io_group.add_argument("--tsv", type=Path, help="source<TAB>target lines")
    io_group.add_argument("--src", type=Path, help="source file, one sentence a line")
    io_group.add_argument("--tgt", type=Path, help="target file, aligned line by line with --src")
    io_group.add_argument(
        "--aeslc",
        type=Path,
        metavar="DIR",
        help="an AESLC copy (enron_subject_line/{train,dev}/*.subject): its own split is kept; "
        "writes NAME.src (bodies), NAME.tgt (@subject) and NAME.ann0.. (annotators' subjects)",
    )
    out = parser.add_argument_group("output")
    out.add_argument("--out", type=Path, required=True, help="directory to write the splits to")
    out.add_argument(
        "--names",
        nargs=3,
        default=list(SPLIT_NAMES),
        metavar=("TRAIN", "DEV", "TEST"),
        help="the three splits' file names (default: train dev test)",
    )
    out.add_argument(
        "--suffixes",
        nargs=2,
        default=list(SIDE_SUFFIXES),
        metavar=("SRC", "TGT"),
        help="the two sides' file suffixes: NAME.SRC, NAME.TGT (default: src tgt)",
    )
    how = parser.add_argument_group("split")
    how.add_argument("--seed", type=int, default=1, help="seed of the shuffle (default: 1)")
    how.add_argument(
        "--dev", type=_size, default=0.05, help="dev groups: a count (500) or a share (0.05, 5%%)"
    )
    how.add_argument(
        "--test", type=_size, default=0.05, help="test groups: a count (500) or a share (0.05, 5%%)"
    )
    how.add_argument(
        "--group-strip",
        metavar="REGEX",
        help="removed from the source to make the grouping key (CMUdict: '\\(\\d+\\)$'); by "
        "default pairs are grouped by their exact source",
    )


def _size(text: str) -> int | float:
    """'500' -> 500 groups; '0.05' or '5%' -> a share of the groups."""
    try:
        if text.endswith("%"):
            return float(text[:-1]) / 100.0
        return int(text) if text.lstrip("-").isdigit() else float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is neither a count nor a share") from None


def _source(args: argparse.Namespace) -> dict:
    """The read_pairs arguments for the one input the flags name, checked readable."""
    given = [
        args.csv is not None,
        args.tsv is not None,
        args.src is not None or args.tgt is not None,
    ]
    if sum(given) != 1:
        raise DataError("give exactly one input: --csv FILE, --tsv FILE, or --src FILE --tgt FILE")
    if args.csv is not None:
        if args.columns is None:
            raise DataError(f"--csv {args.csv}: name its source and target columns with --columns")
        check_readable(args.csv, "--csv")
        return {"csv_path": args.csv, "columns": tuple(args.columns)}
    if args.columns is not None:
        raise DataError("--columns applies to --csv only")
    for flag in ("tsv", "src", "tgt"):
        if getattr(args, flag) is not None:
            check_readable(getattr(args, flag), f"--{flag}")
    return {"source": ParallelSource(src=args.src, tgt=args.tgt, tsv=args.tsv)}


def _run_aeslc(args: argparse.Namespace) -> int:
    """The corpus's own train/dev(/test) folders to aligned files (data/aeslc.py)."""
    from seq2seq.data.aeslc import corpus_splits, write_aeslc

    others = [args.csv, args.tsv, args.src, args.tgt, args.columns, args.group_strip]
    if any(flag is not None for flag in others):
        raise DataError(
            "--aeslc is an input of its own: give it without --csv, --tsv, --src, --tgt"
        )
    corpus_splits(args.aeslc)  # not an AESLC copy: refused before anything is written
    split_paths(args.out, ["train"], args.suffixes)  # bad suffixes: refused before reading
    check_writable(args.out, "--out", directory=True)
    sizes = write_aeslc(args.aeslc, args.out, args.suffixes)
    for name, size in sizes.items():
        refs = f" + {size['references'] - 1} extra references" if size["references"] > 1 else ""
        print(f"{name:6} {size['pairs']:7,} e-mails{refs}  {args.out}/{name}.*")
    return 0


def run(args: argparse.Namespace) -> int:
    if args.aeslc is not None:
        return _run_aeslc(args)
    inputs = _source(args)
    group_key = key_stripping(args.group_strip)
    split_paths(args.out, args.names, args.suffixes)  # bad suffixes: refused before reading
    check_writable(args.out, "--out", directory=True)
    pairs = read_pairs(**inputs)
    if not pairs:
        raise DataError("the input holds no pair with both sides non-empty")
    split = split_pairs(
        pairs, dev=args.dev, test=args.test, seed=args.seed, group_key=group_key, names=args.names
    )
    split.inputs = [str(p) for p in (args.csv, args.tsv, args.src, args.tgt) if p is not None]
    write_split(split, args.out, args.suffixes)
    for name, size in split.sizes().items():
        src, tgt = split_paths(args.out, [name], args.suffixes)[name]
        print(f"{name:6} {size['pairs']:7,} pairs {size['groups']:7,} groups  {src}  {tgt}")
    return 0
