"""`seq2seq prepare`: clean parallel text and build vocabularies for training (data/prepare.py)."""

from __future__ import annotations

import argparse
from pathlib import Path

from seq2seq.data.io import (
    EMPTY_POLICIES,
    ParallelSource,
    check_readable,
    check_writable,
    same_file,
)
from seq2seq.data.prepare import DEFAULT_MAX_LEN, VOCAB_KINDS
from seq2seq.errors import DataError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    io_group = parser.add_argument_group("input and output")
    io_group.add_argument(
        "--src", type=Path, help="training source file (plain or .gz, one sentence a line)"
    )
    io_group.add_argument(
        "--tgt", type=Path, help="training target file, aligned line by line with --src"
    )
    io_group.add_argument(
        "--tsv",
        type=Path,
        help="training pairs as source<TAB>target lines (instead of --src/--tgt)",
    )
    for split in ("valid", "test"):
        io_group.add_argument(f"--{split}-src", type=Path, help=f"{split} source file (optional)")
        io_group.add_argument(f"--{split}-tgt", type=Path, help=f"{split} target file")
        io_group.add_argument(f"--{split}-tsv", type=Path, help=f"{split} pairs as a TSV file")
    io_group.add_argument("--out", type=Path, required=True, help="data directory to write")
    io_group.add_argument(
        "--no-ids",
        action="store_true",
        help="write the cleaned text only, not the token ids training reads (it then encodes the "
        "text again every epoch)",
    )
    io_group.add_argument("--src-lang", help="source language code (default: from the file name)")
    io_group.add_argument("--tgt-lang", help="target language code (default: from the file name)")
    vg = parser.add_argument_group("vocabulary")
    vg.add_argument(
        "--vocab",
        choices=VOCAB_KINDS,
        default="word",
        help="word: top-K words + <unk> (the paper); bpe / unigram: SentencePiece subwords",
    )
    vg.add_argument(
        "--src-vocab-size", type=int, help="source words kept (word: 160000) or pieces (8000)"
    )
    vg.add_argument(
        "--tgt-vocab-size", type=int, help="target words kept (word: 80000) or pieces (8000)"
    )
    vg.add_argument(
        "--joint", action="store_true", help="one vocabulary shared by source and target"
    )
    vg.add_argument(
        "--lowercase",
        action="store_true",
        help="lowercase text when encoding (stored in the vocabulary)",
    )
    vg.add_argument(
        "--split-punct",
        action="store_true",
        help="word vocabularies: split punctuation off words, reversibly (for untokenised text)",
    )
    vg.add_argument(
        "--sp-sample",
        type=int,
        default=1_000_000,
        help="SentencePiece trains on at most this many sentences",
    )
    vg.add_argument(
        "--character-coverage", type=float, default=1.0, help="SentencePiece character coverage"
    )
    vg.add_argument("--seed", type=int, default=1, help="seed of the SentencePiece sentence sample")
    fg = parser.add_argument_group("filters")
    fg.add_argument(
        "--max-len",
        type=int,
        default=DEFAULT_MAX_LEN,
        help="drop training pairs longer than this many tokens on either side, counted in the "
        f"vocabulary's tokens (default: {DEFAULT_MAX_LEN}; the number dropped is reported)",
    )
    fg.add_argument(
        "--empty-lines",
        choices=EMPTY_POLICIES,
        default="skip",
        help="skip pairs with an empty side (counted), or stop with file:line",
    )


def _source(args: argparse.Namespace, split: str) -> ParallelSource | None:
    prefix = "" if split == "train" else f"{split}_"
    flag = "--" if split == "train" else f"--{split}-"
    src, tgt, tsv = (getattr(args, f"{prefix}{k}") for k in ("src", "tgt", "tsv"))
    if src is None and tgt is None and tsv is None:
        if split == "train":
            raise DataError("give the training data as --src FILE --tgt FILE, or as --tsv FILE")
        return None
    if tsv is not None and (src is not None or tgt is not None):
        raise DataError(f"give either {flag}tsv or {flag}src/{flag}tgt, not both")
    if tsv is None and (src is None or tgt is None):
        raise DataError(f"{flag}src and {flag}tgt go together: give both")
    for key, path in (("src", src), ("tgt", tgt), ("tsv", tsv)):
        if path is not None:
            check_readable(path, f"{flag}{key}")
    return ParallelSource(src=src, tgt=tgt, tsv=tsv)


def _check_not_overwritten(args: argparse.Namespace) -> None:
    """An input file must not be one that prepare writes (``--out`` the input's own folder)."""
    from seq2seq.data.prepare import MANIFEST, SPLITS

    written = [f"{split}.{side}" for split in SPLITS for side in ("src", "tgt")]
    written += ["src.vocab.json", "tgt.vocab.json", MANIFEST]
    written += [f"{split}.{end}" for split in SPLITS for end in ("src.ids", "tgt.ids", "offsets")]
    for split in SPLITS:
        prefix = "" if split == "train" else f"{split}_"
        for key in ("src", "tgt", "tsv"):
            path = getattr(args, f"{prefix}{key}")
            clash = next((n for n in written if same_file(path, args.out / n)), None)
            if clash is not None:
                flag = f"--{prefix.replace('_', '-')}{key}"
                raise DataError(
                    f"{flag} {path} is the file prepare writes as {args.out / clash}; "
                    "give another --out so the input is not overwritten"
                )


def run(args: argparse.Namespace) -> int:
    from seq2seq.data.prepare import MANIFEST, prepare, summary_table

    sources = [_source(args, split) for split in ("train", "valid", "test")]
    for flag in ("src_vocab_size", "tgt_vocab_size", "max_len", "sp_sample"):
        value = getattr(args, flag)
        if value is not None and value < 1:
            raise DataError(f"--{flag.replace('_', '-')} must be a positive number, not {value}")
    if not 0.0 < args.character_coverage <= 1.0:
        raise DataError(f"--character-coverage must lie in (0, 1], not {args.character_coverage}")
    check_writable(args.out, "--out", directory=True)
    _check_not_overwritten(args)
    prepared = prepare(
        args.out,
        *sources,  # type: ignore[arg-type]
        src_lang=args.src_lang,
        tgt_lang=args.tgt_lang,
        vocab=args.vocab,
        src_vocab_size=args.src_vocab_size,
        tgt_vocab_size=args.tgt_vocab_size,
        joint=args.joint,
        lowercase=args.lowercase,
        split_punct=args.split_punct,
        max_len=args.max_len,
        empty_lines=args.empty_lines,
        sp_sample=args.sp_sample,
        character_coverage=args.character_coverage,
        seed=args.seed,
        binary=not args.no_ids,
    )
    print(summary_table(prepared.manifest))
    print(
        f"wrote {prepared.dir}/ ({MANIFEST}, src.vocab.json, tgt.vocab.json, "
        + ", ".join(f"{s}.src/.tgt" for s in prepared.splits)
        + ("" if args.no_ids else "; their token ids as .src.ids/.tgt.ids/.offsets")
        + ")"
    )
    return 0
