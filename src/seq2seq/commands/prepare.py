"""`seq2seq prepare`: clean parallel text and build vocabularies for training (data/prepare.py)."""

from __future__ import annotations

import argparse
from pathlib import Path

from seq2seq.data.io import EMPTY_POLICIES, ParallelSource
from seq2seq.data.prepare import VOCAB_KINDS
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
        help="drop training pairs longer than this many tokens on either side",
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
    return ParallelSource(src=src, tgt=tgt, tsv=tsv)


def run(args: argparse.Namespace) -> int:
    from seq2seq.data.prepare import MANIFEST, prepare, summary_table

    prepared = prepare(
        args.out,
        _source(args, "train"),  # type: ignore[arg-type]
        _source(args, "valid"),
        _source(args, "test"),
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
    )
    print(summary_table(prepared.manifest))
    print(
        f"wrote {prepared.dir}/ ({MANIFEST}, src.vocab.json, tgt.vocab.json, "
        + ", ".join(f"{s}.src/.tgt" for s in prepared.splits)
        + ")"
    )
    return 0
