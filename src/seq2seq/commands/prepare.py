"""`seq2seq prepare`: clean parallel text and build vocabularies for training (data/prepare.py)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from seq2seq.commands.options import add_settings, given_settings, settings_as_flags
from seq2seq.commands.prepare_speech import add_audio_arguments, run_audio
from seq2seq.config import PrepareConfig
from seq2seq.data.io import ParallelSource, check_readable, check_writable, same_file
from seq2seq.errors import DataError

_DEST = "prepare_"


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
    add_audio_arguments(parser)  # speech corpora (commands/prepare_speech.py)
    settings = parser.add_argument_group("settings (PrepareConfig)")
    add_settings(settings, PrepareConfig, _DEST)


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


def _remove_created(folders: list[Path]) -> None:
    """A failed prepare leaves no folder it created: the lock file, then each folder if empty."""
    from seq2seq.locking import LOCK_NAME

    if folders:
        (folders[0] / LOCK_NAME).unlink(missing_ok=True)
    for folder in folders:  # innermost first
        try:
            folder.rmdir()
        except OSError:
            break


def _progress(items, label: str):
    from tqdm import tqdm

    return tqdm(items, desc=label, unit=" pairs", file=sys.stderr, leave=False, disable=None)


def run(args: argparse.Namespace) -> int:
    from seq2seq.data.prepare import MANIFEST, prepare, summary_table
    from seq2seq.locking import hold

    if any(  # a speech corpus (commands/prepare_speech.py)
        getattr(args, f"{split}{key}") is not None
        for split in ("", "valid_", "test_")
        for key in ("manifest", "audio_dir", "transcripts")
    ):
        return run_audio(args, _remove_created)
    with settings_as_flags(PrepareConfig):
        config = PrepareConfig(**given_settings(args, _DEST))
        train, valid, test = (_source(args, split) for split in ("train", "valid", "test"))
        assert train is not None  # _source raises without training data
        check_writable(args.out, "--out", directory=True)
        _check_not_overwritten(args)
        missing = [d for d in (args.out, *args.out.absolute().parents) if not d.exists()]
        try:
            with hold(args.out, "--out"):  # one prepare per output folder (seq2seq/locking.py)
                prepared = prepare(args.out, train, valid, test, config, progress=_progress)
        except BaseException:
            _remove_created(missing)
            raise
    print(summary_table(prepared.manifest))
    print(
        f"wrote {prepared.dir}/ ({MANIFEST}, src.vocab.json, tgt.vocab.json, "
        + ", ".join(f"{s}.src/.tgt" for s in prepared.splits)
        + ("; their token ids as .src.ids/.tgt.ids/.offsets" if config.ids else "")
        + ")"
    )
    return 0
