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
        f"{WMT14_BASE_URL} for wmt14-en-fr)",
    )
    parser.add_argument(
        "--langs",
        default=",".join(LANGUAGES),
        help="multi30k: comma-separated languages to fetch (default: en,fr,de)",
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
