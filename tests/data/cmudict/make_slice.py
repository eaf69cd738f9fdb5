"""Make the small CMUdict slice the tests use, from ../shared.

    python tests/data/cmudict/make_slice.py            # rewrite cmudict.slice.dict here
    python tests/data/cmudict/make_slice.py --check    # only compare it with a fresh build

The source is `../shared/data/cmudict/cmudict.dict` (the CMU Pronouncing Dictionary, BSD-style
licence, see README.md here). The output keeps the source's own line format (``word PH ON EMES``,
``word(2) ...`` for a word's other pronunciations, ``# comments``), its lines copied unchanged:

- lines are grouped by their word (the ``(2)`` marker removed): a word is taken with every one of
  its pronunciations or not at all;
- the distinct words are sorted, shuffled with SEED, and the first WORDS of them taken;
- the lines keep their order in the source file.
"""

from __future__ import annotations

import argparse
import hashlib
import random
import re
import sys
from collections import defaultdict
from pathlib import Path

HERE = Path(__file__).resolve().parent
SOURCE = HERE.parents[2].parent / "shared" / "data" / "cmudict" / "cmudict.dict"
OUTPUT = "cmudict.slice.dict"
SEED = "cmudict test slice, version 1"
WORDS = 3000
VARIANT = re.compile(r"\(\d+\)$")


def choose(lines: list[str]) -> list[str]:
    """The lines of WORDS words chosen by SEED, every pronunciation of each, in source order."""
    groups: dict[str, list[int]] = defaultdict(list)
    for index, line in enumerate(lines):
        word = line.split(maxsplit=1)[0] if line.strip() else ""
        if word:
            groups[VARIANT.sub("", word)].append(index)
    words = sorted(groups)
    random.Random(SEED).shuffle(words)
    chosen = sorted(i for word in words[:WORDS] for i in groups[word])
    return [lines[i] for i in chosen]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--source", type=Path, default=SOURCE, help="cmudict.dict")
    parser.add_argument("--out", type=Path, default=HERE, help="where to write the slice")
    parser.add_argument("--check", action="store_true", help="compare with --out, write nothing")
    args = parser.parse_args(argv)
    if not args.source.is_file():
        parser.error(f"{args.source} does not exist (give --source)")
    lines = args.source.read_text(encoding="utf-8").splitlines()
    data = "".join(line + "\n" for line in choose(lines)).encode("utf-8")
    path = args.out / OUTPUT
    digest = hashlib.sha256(data).hexdigest()
    count = data.count(b"\n")
    print(f"{path.name}  {count} lines  {len(data):,} bytes  sha256 {digest}")
    if args.check and (not path.is_file() or path.read_bytes() != data):
        print(f"differs from a fresh build: {path.name}", file=sys.stderr)
        return 1
    if not args.check:
        path.write_bytes(data)
    return 0


if __name__ == "__main__":
    sys.exit(main())
