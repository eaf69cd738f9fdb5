"""A seeded train / valid / test split of the Tatoeba English-French pairs (167,130 pairs).

    python benchmarks/scale/tatoeba_split.py [--out data/tatoeba-en-fr] [--seed 1]
    python benchmarks/scale/tatoeba_split.py --check     # rebuild in memory, compare with --out

The pairs come from ../shared/data/tatoeba-fra-eng/fra-eng.tsv.gz (English<TAB>French, from
www.manythings.org/anki and tatoeba.org, CC-BY 2.0 FR), which has no official split. Many English
sentences have several French translations (and some appear twice with the same one): a model
that saw "I'm cold." with one translation in training and is tested on it with another would be
scored on memory. So pairs are grouped by their English sentence (whitespace normalised, case
folded) and whole groups are assigned: the groups are shuffled with `--seed`, the first ones fill
the test split up to --test pairs, the next the valid split up to --valid pairs, and the rest go
to training. No English sentence (up to case and spacing) is on two sides; pairs keep their file
order within a split. Whitespace is normalised; pairs with an empty side are dropped.

Output in --out (not committed; `data/` is ignored): `{train,valid,test}.{en,fr}.gz`, aligned,
gzipped with a fixed timestamp so that the same seed gives the same bytes, and `split.json` with
the counts, the seed and the source's SHA-256. benchmarks/reproduce.py reads them for the
`tatoeba-en-fr-bpe8k` dataset (configs/experiments/tatoeba-*.yaml).
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import random
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SOURCE = ROOT.parent / "shared" / "data" / "tatoeba-fra-eng" / "fra-eng.tsv.gz"
OUT = ROOT / "data" / "tatoeba-en-fr"
SPLITS = ("train", "valid", "test")


def read_pairs(source: Path) -> list[tuple[str, str]]:
    pairs = []
    with gzip.open(source, "rt", encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            fields = line.rstrip("\n").split("\t")
            if len(fields) < 2:
                raise SystemExit(f"{source}:{number}: expected English<TAB>French")
            en, fr = (" ".join(field.split()) for field in fields[:2])
            if en and fr:
                pairs.append((en, fr))
    return pairs


def split(pairs: list[tuple[str, str]], seed: int, test: int, valid: int) -> dict[str, list[int]]:
    """Pair indices of each split; every group of one English sentence lands on one side."""
    groups: dict[str, list[int]] = defaultdict(list)
    for i, (en, _) in enumerate(pairs):
        groups[en.casefold()].append(i)
    keys = sorted(groups)
    random.Random(f"tatoeba-en-fr split {seed}").shuffle(keys)
    chosen: dict[str, list[int]] = {name: [] for name in SPLITS}
    wanted = {"test": test, "valid": valid}
    for key in keys:
        side = next((s for s in ("test", "valid") if len(chosen[s]) < wanted[s]), "train")
        chosen[side].extend(groups[key])
    return {name: sorted(indices) for name, indices in chosen.items()}


def build(source: Path, seed: int, test: int, valid: int) -> tuple[dict[str, bytes], dict]:
    """{file name: gzipped bytes} and the split's record."""
    pairs = read_pairs(source)
    sides = split(pairs, seed, test, valid)
    seen: dict[str, str] = {}
    for name, indices in sides.items():
        for i in indices:
            key = pairs[i][0].casefold()
            assert seen.setdefault(key, name) == name, (
                f"'{pairs[i][0]}' is in {seen[key]} and {name}"
            )
    files = {}
    for name, indices in sides.items():
        for lang, column in (("en", 0), ("fr", 1)):
            text = "".join(pairs[i][column] + "\n" for i in indices).encode("utf-8")
            files[f"{name}.{lang}.gz"] = gzip.compress(text, mtime=0)
    record = {
        "command": " ".join(["python", *sys.argv]),
        "source": str(source),
        "source_sha256": hashlib.sha256(source.read_bytes()).hexdigest(),
        "seed": seed,
        "pairs": {name: len(indices) for name, indices in sides.items()},
        "english_sentences": {
            name: len({pairs[i][0].casefold() for i in indices}) for name, indices in sides.items()
        },
        "files_sha256": {name: hashlib.sha256(data).hexdigest() for name, data in files.items()},
    }
    return files, record


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--source", type=Path, default=SOURCE)
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--test", type=int, default=5000, help="test pairs (at least)")
    parser.add_argument("--valid", type=int, default=2000, help="valid pairs (at least)")
    parser.add_argument("--check", action="store_true", help="compare --out with a fresh build")
    args = parser.parse_args(argv)
    files, record = build(args.source, args.seed, args.test, args.valid)
    if args.check:
        stale = [n for n, d in files.items() if not (args.out / n).is_file()
                 or (args.out / n).read_bytes() != d]  # fmt: skip
        print("up to date" if not stale else f"differs: {', '.join(stale)}")
        return 1 if stale else 0
    args.out.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        (args.out / name).write_bytes(data)
    (args.out / "split.json").write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(record["pairs"]), f"-> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
