"""A seeded held-out split of the CMU Pronouncing Dictionary for grapheme to phoneme, with every
pronunciation of a word on one side (issue 24): 10% of the words for test, 2,000 for dev, the rest
for training, written as aligned text files that `seq2seq prepare` reads.

    python benchmarks/tasks/cmudict_split.py                       # ../shared/data/cmudict -> data/cmudict/split
    python benchmarks/tasks/cmudict_split.py --dict tests/data/cmudict/cmudict.slice.dict \\
        --dev 100 --out data/cmudict-slice/split                    # the committed slice

The dictionary's lines are ``word PH ON EMES`` with an optional ``# comment``; a word's second and
later pronunciations are ``word(2)``, ``word(3)``. The source is the word with that marker removed
(so a word's pronunciations share one source and one split), the target its phonemes with stress
digits. Each split keeps the dictionary's order: a word's lines are adjacent, its first
pronunciation first, which is how `seq2seq evaluate` (evaluate/metrics.py) reads a word's several
references (repeated source lines, grouped). Words are shuffled by data/split.py's `split_pairs`
(sorted distinct words, then `random.Random(seed).shuffle`), so the same dictionary and seed give
the same files. Writes OUT/{train,dev,test}.{src,tgt} and OUT/split.json (seed, sizes, input).
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path

from seq2seq.data.split import split_pairs, write_split
from seq2seq.errors import DataError

ROOT = Path(__file__).resolve().parents[2]
DICT = ROOT.parent / "shared" / "data" / "cmudict" / "cmudict.dict"
OUT = ROOT / "data" / "cmudict" / "split"
VARIANT = re.compile(r"\(\d+\)$")  # word(2): the second pronunciation of word


def read_cmudict(lines: Iterable[str], name: str = "cmudict") -> Iterator[tuple[str, str]]:
    """(word without its variant marker, phonemes) for each entry, in the file's order; comments
    (``# place, danish``) and blank lines are skipped, a line without phonemes is a DataError."""
    for number, line in enumerate(lines, start=1):
        fields = line.split("#", 1)[0].split()
        if not fields:
            continue
        if len(fields) < 2:
            raise DataError(f"{name}:{number}: '{line.strip()}' has a word but no phonemes")
        yield VARIANT.sub("", fields[0]), " ".join(fields[1:])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dict", type=Path, default=DICT, help=f"the dictionary (default: {DICT})")
    parser.add_argument("--out", type=Path, default=OUT, help=f"output folder (default: {OUT})")
    parser.add_argument("--seed", type=int, default=1, help="seed of the shuffle (default: 1)")
    parser.add_argument("--test", type=float, default=0.10, help="share of words (default 0.10)")
    parser.add_argument("--dev", type=int, default=2000, help="words for dev (default 2000)")
    args = parser.parse_args(argv)
    with open(args.dict, encoding="utf-8") as handle:
        pairs = list(read_cmudict(handle, str(args.dict)))
    split = split_pairs(pairs, dev=args.dev, test=args.test, seed=args.seed)
    split.inputs = [str(args.dict)]
    write_split(split, args.out)
    for name, size in split.sizes().items():
        print(f"{name}: {size['groups']:,} words, {size['pairs']:,} pronunciations")
    print(f"wrote {args.out}/ (train, dev, test .src/.tgt and split.json)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
