"""Make the small EN->FR corpus the tests train and score on, from the Tatoeba pairs in ../shared.

    python tests/data/tatoeba-en-fr/make_slice.py            # rewrite the six .gz files here
    python tests/data/tatoeba-en-fr/make_slice.py --check    # only compare them with a fresh build

The source is `../shared/data/tatoeba-fra-eng/fra-eng.tsv.gz` (English<TAB>French, from
www.manythings.org/anki and tatoeba.org, CC-BY 2.0 FR; see README.md here). The output is
train / valid / test, 2,000 / 100 / 150 pairs, as aligned gzipped text files `{split}.{en,fr}.gz`.

How pairs are chosen, all of it fixed by SEED, so that the same source gives the same bytes:

- whitespace is normalised (runs of spaces, including no-break spaces, become one space);
- the English side has 6 to 30 words, so the sentences look more like Multi30k's descriptions
  than Tatoeba's typical 4-word phrases;
- pairs are grouped by their English sentence: all translations of one English sentence land in
  the same split (or, when they do not fit in what is left of it, in none), so no English sentence
  of the test or valid split is ever seen in training;
- each split follows the English length profile of Multi30k's training set (LENGTH_SHARES), so
  tests that bucket by length find sentences in every bucket up to 19+ words.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import random
import sys
from collections import defaultdict
from pathlib import Path

HERE = Path(__file__).resolve().parent
SOURCE = HERE.parents[2].parent / "shared" / "data" / "tatoeba-fra-eng" / "fra-eng.tsv.gz"
SEED = "tatoeba-en-fr test slice, version 1"
SIZES = {"test": 150, "valid": 100, "train": 2000}  # filled in this order
MIN_WORDS, MAX_WORDS = 6, 30
# (shortest, longest English sentence in words, share of the pairs of each split); roughly the
# shares of Multi30k's 29,000 English training sentences (18 / 35 / 26 / 15 / 6 percent).
LENGTH_SHARES = [(6, 8, 0.18), (9, 11, 0.35), (12, 14, 0.26), (15, 18, 0.15), (19, 30, 0.06)]


def read_groups(source: Path) -> dict[str, list[str]]:
    """English sentence -> its distinct French translations, in file order."""
    groups: dict[str, list[str]] = defaultdict(list)
    with gzip.open(source, "rt", encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            fields = line.rstrip("\n").split("\t")
            if len(fields) < 2:
                raise SystemExit(f"{source}:{number}: expected English<TAB>French")
            en, fr = (" ".join(field.split()) for field in fields[:2])
            if en and fr and fr not in groups[en]:
                groups[en].append(fr)
    return groups


def band_of(sentence: str) -> int | None:
    words = len(sentence.split())
    for band, (low, high, _) in enumerate(LENGTH_SHARES):
        if low <= words <= high:
            return band
    return None


def quotas(size: int) -> list[int]:
    """Pairs per length band for a split of `size` pairs (largest remainders, summing to size)."""
    exact = [size * share for _, _, share in LENGTH_SHARES]
    counts = [int(x) for x in exact]
    by_remainder = sorted(range(len(exact)), key=lambda b: (counts[b] - exact[b], b))
    for band in by_remainder[: size - sum(counts)]:
        counts[band] += 1
    return counts


def make_splits(groups: dict[str, list[str]]) -> dict[str, list[tuple[str, str]]]:
    candidates = sorted(en for en in groups if band_of(en) is not None)
    random.Random(SEED).shuffle(candidates)
    room = {split: quotas(size) for split, size in SIZES.items()}
    splits: dict[str, list[tuple[str, str]]] = {split: [] for split in SIZES}
    for en in candidates:
        band, translations = band_of(en), groups[en]
        for split in SIZES:  # the first split with room for every translation takes the group
            if room[split][band] >= len(translations):
                room[split][band] -= len(translations)
                splits[split].extend((en, fr) for fr in translations)
                break
    for split, size in SIZES.items():
        if len(splits[split]) != size:
            raise SystemExit(f"{split}: only {len(splits[split])} of {size} pairs found")
    return splits


def gzipped(lines: list[str]) -> bytes:
    """Gzip with no name and no time stamp in the header: the bytes depend on the text only."""
    buffer = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buffer, compresslevel=9, mtime=0) as handle:
        handle.write("".join(line + "\n" for line in lines).encode("utf-8"))
    return buffer.getvalue()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--source", type=Path, default=SOURCE, help="fra-eng.tsv.gz")
    parser.add_argument("--out", type=Path, default=HERE, help="where to write the files")
    parser.add_argument("--check", action="store_true", help="compare with --out, write nothing")
    args = parser.parse_args(argv)
    if not args.source.is_file():
        parser.error(f"{args.source} does not exist (give --source)")
    splits = make_splits(read_groups(args.source))
    different = []
    for split, pairs in splits.items():
        for side, lang in enumerate(("en", "fr")):
            data = gzipped([pair[side] for pair in pairs])
            path = args.out / f"{split}.{lang}.gz"
            if args.check:
                if not path.is_file() or path.read_bytes() != data:
                    different.append(path.name)
            else:
                path.write_bytes(data)
            print(f"{path.name:12} {len(pairs):5} lines  sha256 {hashlib.sha256(data).hexdigest()}")
    if different:
        print(f"differs from a fresh build: {', '.join(different)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
