"""`seq2seq download`: fetch a public parallel corpus, with checksums (data/download.py)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from seq2seq.data.download import (
    DATASETS,
    DEFAULT_BASE_URL,
    LANGUAGES,
    WMT14_BASE_URL,
    WMT14_TRAIN,
    download_multi30k,
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("dataset", choices=DATASETS, help="the corpus to fetch")
    parser.add_argument("--out", type=Path, required=True, help="directory to write the files to")
    parser.add_argument(
        "--base-url",
        help=f"where the files are (a mirror; default: {DEFAULT_BASE_URL} for multi30k, "
        f"{WMT14_BASE_URL} for wmt14-en-fr, the AN4 and LibriSpeech sites for an4 and "
        "librispeech)",
    )
    parser.add_argument(
        "--langs",
        default=",".join(LANGUAGES),
        help="multi30k: comma-separated languages to fetch (default: en,fr,de)",
    )
    parser.add_argument(
        "--subset",
        default="dev-clean,test-clean,train-clean-100",
        help="librispeech: comma-separated subsets to fetch (default: dev-clean,test-clean,"
        "train-clean-100; also dev-other, test-other, train-clean-360, train-other-500)",
    )
    parser.add_argument(
        "--corpora",
        default=",".join(WMT14_TRAIN),
        help="wmt14-en-fr: comma-separated training corpora to fetch and join into "
        f"train.en/train.fr (default: all of {','.join(WMT14_TRAIN)})",
    )


class _Bars:
    """A progress bar per file on stderr (none when stderr is not a terminal), fed by the library's
    ``progress(name, have, total)`` calls."""

    def __init__(self) -> None:
        self.bar: Any = None
        self.name: str | None = None

    def __call__(self, name: str, have: int, total: int | None) -> None:
        from tqdm import tqdm

        if name != self.name:
            self.close()
            self.name = name
            self.bar = tqdm(total=total, initial=have, desc=name, unit="B", unit_scale=True,
                            file=sys.stderr, leave=False, disable=None)  # fmt: skip
        else:
            self.bar.update(have - self.bar.n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()

    def __enter__(self) -> _Bars:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def run(args: argparse.Namespace) -> int:
    from seq2seq.data.download import multi30k_files
    from seq2seq.data.io import check_writable
    from seq2seq.errors import DataError

    if args.dataset == "wmt14-en-fr":
        return _wmt14(args)
    if args.dataset in ("an4", "librispeech"):
        return _speech(args)
    args.base_url = args.base_url or DEFAULT_BASE_URL
    languages = tuple(lang.strip() for lang in args.langs.split(",") if lang.strip())
    if not languages:
        raise DataError(f"--langs '{args.langs}' names no language (e.g. --langs en,fr)")
    multi30k_files(languages)  # unknown languages: one sentence before any download
    check_writable(args.out, "--out", directory=True)
    with _Bars() as bars:
        done = download_multi30k(args.out, args.base_url, languages, progress=bars)
    fetched = sum(state == "downloaded" for state in done.values())
    print(
        f"{args.dataset}: {fetched} file(s) downloaded, {len(done) - fetched} already present "
        f"and valid, in {args.out}/"
    )
    return 0


def _wmt14(args: argparse.Namespace) -> int:
    from seq2seq.data.download import download_wmt14_en_fr, wmt14_archives
    from seq2seq.data.io import check_writable
    from seq2seq.errors import DataError

    corpora = tuple(name.strip() for name in args.corpora.split(",") if name.strip())
    if not corpora:
        raise DataError(f"--corpora '{args.corpora}' names no corpus (e.g. --corpora europarl)")
    wmt14_archives(corpora)  # unknown corpora: one sentence before any download
    check_writable(args.out, "--out", directory=True)
    with _Bars() as bars:
        done = download_wmt14_en_fr(args.out, args.base_url or WMT14_BASE_URL, corpora, bars)
    archives = [state for name, state in done.items() if name.endswith((".tgz", ".tar"))]
    written = [name for name, state in done.items() if state == "written"]
    print(
        f"{args.dataset}: {archives.count('downloaded')} archive(s) downloaded, "
        f"{archives.count('present')} already present and valid; "
        f"{len(written)} text file(s) written in {args.out}/"
    )
    print(
        f"next: seq2seq prepare --src {args.out}/train.en --tgt {args.out}/train.fr "
        f"--valid-src {args.out}/newstest2012.en --valid-tgt {args.out}/newstest2012.fr "
        f"--test-src {args.out}/newstest2014.en --test-tgt {args.out}/newstest2014.fr --out ..."
    )
    return 0


def _speech(args: argparse.Namespace) -> int:
    """AN4 or LibriSpeech: archives, unpacked audio and manifests (data/speech_corpora.py)."""
    from seq2seq.data import speech_corpora as corpora
    from seq2seq.data.io import check_writable
    from seq2seq.errors import DataError

    subsets = tuple(name.strip() for name in args.subset.split(",") if name.strip())
    if args.dataset == "librispeech":
        corpora.librispeech_subsets(subsets)  # unknown subsets: one sentence before any download
    check_writable(args.out, "--out", directory=True)
    with _Bars() as bars:
        if args.dataset == "an4":
            done = corpora.download_an4(args.out, args.base_url or corpora.AN4_BASE_URL, bars)
        else:
            base = args.base_url or corpora.LIBRISPEECH_BASE_URL
            done = corpora.download_librispeech(args.out, subsets, base, bars)
    states = [state for name, state in done.items() if name.endswith(".tar.gz")]
    manifests = [name for name in done if name.endswith(".tsv")]
    if not manifests:
        raise DataError(f"{args.dataset}: no manifest was written in {args.out}")
    print(
        f"{args.dataset}: {states.count('downloaded')} archive(s) downloaded, "
        f"{states.count('present')} already present and valid; manifests "
        f"{', '.join(manifests)} in {args.out}/"
    )
    roles = {"": "train", "valid-": "dev", "test-": "test"}  # flag prefix: manifest name start
    hint = []
    for flag, start in roles.items():
        name = next((m for m in manifests if m.startswith(start)), None)
        if name is not None:
            hint.append(f"--{flag}manifest {args.out}/{name}")
    print(f"next: seq2seq prepare {' '.join(hint)} --out ...")
    return 0
