"""`seq2seq download`: fetch a public parallel corpus, with checksums (data/download.py)."""

from __future__ import annotations

import argparse
from pathlib import Path

from seq2seq.data.download import DATASETS, DEFAULT_BASE_URL, LANGUAGES, download_multi30k


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("dataset", choices=DATASETS, help="the corpus to fetch")
    parser.add_argument(
        "--out", type=Path, required=True, help="directory to write the .gz files to"
    )
    parser.add_argument(
        "--base-url", default=DEFAULT_BASE_URL, help="where the files are (a mirror)"
    )
    parser.add_argument(
        "--langs",
        default=",".join(LANGUAGES),
        help="comma-separated languages to fetch (default: en,fr,de)",
    )


def run(args: argparse.Namespace) -> int:
    languages = tuple(lang.strip() for lang in args.langs.split(",") if lang.strip())
    done = download_multi30k(args.out, args.base_url, languages)
    fetched = sum(state == "downloaded" for state in done.values())
    print(
        f"{args.dataset}: {fetched} file(s) downloaded, {len(done) - fetched} already present "
        f"and valid, in {args.out}/"
    )
    return 0
