"""`seq2seq prepare` for speech: audio corpora to feature shards (data/prepare_audio.py).

    seq2seq prepare --manifest train.tsv --test-manifest test.tsv --out data/speech
    seq2seq prepare --audio-dir clips/ --transcripts clips.tsv --rate 8000 --out data/digits

commands/prepare.py adds these flags to `prepare` and hands a run that names a speech corpus here.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

from seq2seq.commands.options import add_settings, given_settings, settings_as_flags
from seq2seq.config import PrepareConfig
from seq2seq.data.io import check_readable, check_writable
from seq2seq.errors import DataError

_DEST = "prepare_"
_TEXT_FLAGS = ("src", "tgt", "tsv", "valid_src", "valid_tgt", "valid_tsv", "test_src", "test_tgt",
               "test_tsv")  # fmt: skip


def add_audio_arguments(parser: argparse.ArgumentParser) -> None:
    """Speech corpora (data/prepare_audio.py): a manifest or a folder with transcripts per split,
    and the feature and reading settings (FeatureConfig, AudioConfig)."""
    from seq2seq.audio.features import FeatureConfig
    from seq2seq.audio.io import AudioConfig

    group = parser.add_argument_group("speech: audio in, transcripts out (instead of --src/--tgt)")
    for split in ("", "valid-", "test-"):
        name = split.rstrip("-") or "training"
        group.add_argument(
            f"--{split}manifest",
            type=Path,
            help=f"{name} utterances as audio<TAB>transcript lines, paths relative to the file",
        )
        group.add_argument(f"--{split}audio-dir", type=Path, help=f"folder of the {name} audio")
        group.add_argument(
            f"--{split}transcripts",
            type=Path,
            help=f"{name} transcripts as name<TAB>text lines, for the files in --{split}audio-dir",
        )
    add_settings(group, FeatureConfig, "features_")
    add_settings(group, AudioConfig, "audioread_")


def _audio_corpus(args: argparse.Namespace, split: str):
    """The split's AudioCorpus from --manifest or --audio-dir/--transcripts, or None."""
    from seq2seq.data.prepare_audio import AudioCorpus

    prefix, flag = ("", "--") if split == "train" else (f"{split}_", f"--{split}-")
    manifest, folder, transcripts = (
        getattr(args, f"{prefix}{key}") for key in ("manifest", "audio_dir", "transcripts")
    )
    if manifest is None and folder is None and transcripts is None:
        return None
    if manifest is not None and (folder is not None or transcripts is not None):
        raise DataError(
            f"give either {flag}manifest or {flag}audio-dir/{flag}transcripts, not both"
        )
    if manifest is None and (folder is None or transcripts is None):
        raise DataError(f"{flag}audio-dir and {flag}transcripts go together: give both")
    for key, path in (("manifest", manifest), ("transcripts", transcripts)):
        if path is not None:
            check_readable(path, f"{flag}{key}")
    if folder is not None and not folder.is_dir():
        raise DataError(f"{flag}audio-dir {folder} is not a folder")
    return AudioCorpus(manifest=manifest, audio_dir=folder, transcripts=transcripts)


def run_audio(args: argparse.Namespace, remove_created: Callable[[list[Path]], None]) -> int:
    """`prepare` for speech: audio corpora to feature shards (data/prepare_audio.py);
    `remove_created` is prepare's own cleanup of the folders a failed run created."""
    from seq2seq.audio.features import FeatureConfig
    from seq2seq.audio.io import AudioConfig
    from seq2seq.data.prepare_audio import prepare_audio, speech_settings, summary_table
    from seq2seq.locking import hold

    texts = [f"--{k.replace('_', '-')}" for k in _TEXT_FLAGS if getattr(args, k) is not None]
    if texts:
        raise DataError(
            f"{texts[0]} is text; a speech corpus is given by --manifest or --audio-dir"
        )
    with (
        settings_as_flags(PrepareConfig),
        settings_as_flags(FeatureConfig),
        settings_as_flags(AudioConfig),
    ):
        config = speech_settings(PrepareConfig(**given_settings(args, _DEST)))
        features = FeatureConfig(**given_settings(args, "features_"))
        audio = AudioConfig(**given_settings(args, "audioread_"))
        train, valid, test = (_audio_corpus(args, split) for split in ("train", "valid", "test"))
        if train is None:
            raise DataError(
                "give the training audio as --manifest FILE or --audio-dir DIR --transcripts FILE"
            )
        check_writable(args.out, "--out", directory=True)
        missing = [d for d in (args.out, *args.out.absolute().parents) if not d.exists()]
        try:
            with hold(args.out, "--out"):
                prepared = prepare_audio(
                    args.out, train, valid, test, config, features, audio, progress=_progress_audio
                )
        except BaseException:
            remove_created(missing)
            raise
    print(summary_table(prepared.manifest))
    print(
        f"wrote {prepared.dir}/ (manifest.json, src.audio.json, tgt.vocab.json; per split "
        ".feats/.feats.offsets, .tgt.ids/.tgt.offsets, .src (audio paths), .tgt)"
    )
    return 0


def _progress_audio(items, label: str):
    from tqdm import tqdm

    return tqdm(items, desc=label, unit=" files", file=sys.stderr, leave=False, disable=None)
