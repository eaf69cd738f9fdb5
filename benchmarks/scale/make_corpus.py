"""Build a large EN->FR training corpus with news-like sentence lengths from the real pairs at hand.

    python benchmarks/scale/make_corpus.py --pairs 12000000 --out /tmp/scale-corpus
    python benchmarks/scale/make_corpus.py --pairs 1000000 --out /tmp/scale-1m --seed 1

The paper trained on 12M sentence pairs (348M French words: 29 per sentence on average, up to
about 80). No corpus of that size is at hand, so this script makes one from the real translation
pairs in ../shared/data: Tatoeba (167,130 pairs, CC-BY 2.0 FR) and Multi30k task 1 train + val
(30,014 pairs). Each output pair joins several of them, drawn at random with replacement, English
with English and French with French, so that both sides stay translations of each other. The
English length of each output pair is drawn from a log-normal law (median 22 words, sigma 0.55,
so a mean near 28 words after joining whole sentences) and no side exceeds 80 words: lengths and
vocabulary (some 50,000 types per language) look like real running text rather than one repeated
line. The output is not committed (about 340 MB per million pairs): `train.en` and `train.fr`,
plain UTF-8, one sentence per line, plus `corpus.json` with the command, counts and lengths.

Everything is fixed by `--seed`: the same seed gives the same bytes.
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
SHARED = ROOT.parent / "shared" / "data"
MAX_WORDS = 80
MEDIAN_WORDS = 22.0
SIGMA = 0.55
BLOCK = 100_000


def read_pool(shared: Path) -> tuple[list[str], list[str]]:
    """The real (English, French) sentences, whitespace-normalised, each side at most 80 words."""
    en, fr = [], []

    def add(e: str, f: str) -> None:
        e, f = " ".join(e.split()), " ".join(f.split())
        if e and f and len(e.split()) <= MAX_WORDS and len(f.split()) <= MAX_WORDS:
            en.append(e)
            fr.append(f)

    with gzip.open(shared / "tatoeba-fra-eng" / "fra-eng.tsv.gz", "rt", encoding="utf-8") as h:
        for line in h:
            fields = line.rstrip("\n").split("\t")
            if len(fields) >= 2:
                add(fields[0], fields[1])
    for split in ("train", "val"):
        with (
            gzip.open(shared / "multi30k" / f"{split}.en.gz", "rt", encoding="utf-8") as he,
            gzip.open(shared / "multi30k" / f"{split}.fr.gz", "rt", encoding="utf-8") as hf,
        ):
            for e, f in zip(he, hf, strict=True):
                add(e, f)
    return en, fr


def generate(pairs: int, out: Path, seed: int, shared: Path) -> dict:
    start = time.perf_counter()
    en, fr = read_pool(shared)
    en_len = np.array([s.count(" ") + 1 for s in en], dtype=np.int64)
    fr_len = np.array([s.count(" ") + 1 for s in fr], dtype=np.int64)
    rng = np.random.default_rng(seed)
    out.mkdir(parents=True, exist_ok=True)
    words = np.zeros(2, dtype=np.int64)
    longest = np.zeros(2, dtype=np.int64)
    hist = np.zeros(MAX_WORDS + 1, dtype=np.int64)
    with (
        open(out / "train.en", "w", encoding="utf-8") as fe,
        open(out / "train.fr", "w", encoding="utf-8") as ff,
    ):
        done = 0
        while done < pairs:
            n = min(BLOCK, pairs - done)
            wanted = np.minimum(
                np.maximum(rng.lognormal(np.log(MEDIAN_WORDS), SIGMA, n).round(), 1), MAX_WORDS
            ).astype(np.int64)
            draws = rng.integers(0, len(en), size=n * 16).tolist()  # more than enough per block
            k = 0
            en_lines, fr_lines = [], []
            for target in wanted.tolist():
                e_parts, f_parts = [], []
                e_n = f_n = 0
                while e_n < target:
                    j = draws[k]
                    k += 1
                    if k == len(draws):
                        draws, k = rng.integers(0, len(en), size=n * 16).tolist(), 0
                    le, lf = en_len[j], fr_len[j]
                    if e_parts and (e_n + le > MAX_WORDS or f_n + lf > MAX_WORDS):
                        break
                    e_parts.append(en[j])
                    f_parts.append(fr[j])
                    e_n += le
                    f_n += lf
                en_lines.append(" ".join(e_parts))
                fr_lines.append(" ".join(f_parts))
                words += (e_n, f_n)
                longest[:] = np.maximum(longest, (e_n, f_n))
                hist[min(e_n, MAX_WORDS)] += 1
            fe.write("\n".join(en_lines) + "\n")
            ff.write("\n".join(fr_lines) + "\n")
            done += n
            print(f"\r{done:,} / {pairs:,} pairs", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)
    seconds = time.perf_counter() - start
    cumulative = np.cumsum(hist) / pairs
    info = {
        "command": " ".join(["python", *sys.argv]),
        "seed": seed,
        "pairs": pairs,
        "pool_pairs": len(en),
        "en_words": int(words[0]),
        "fr_words": int(words[1]),
        "en_words_mean": round(words[0] / pairs, 2),
        "fr_words_mean": round(words[1] / pairs, 2),
        "en_words_max": int(longest[0]),
        "fr_words_max": int(longest[1]),
        "en_words_median": int(np.searchsorted(cumulative, 0.5)),
        "en_words_p99": int(np.searchsorted(cumulative, 0.99)),
        "seconds": round(seconds, 1),
        "pairs_per_second": round(pairs / seconds),
        "bytes": sum((out / f"train.{lang}").stat().st_size for lang in ("en", "fr")),
    }
    (out / "corpus.json").write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
    return info


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pairs", type=int, default=12_000_000, help="pairs to write")
    parser.add_argument("--out", type=Path, required=True, help="directory for train.en/train.fr")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--shared", type=Path, default=SHARED, help="the ../shared/data folder")
    args = parser.parse_args(argv)
    if args.pairs < 1:
        parser.error("--pairs must be positive")
    info = generate(args.pairs, args.out, args.seed, args.shared)
    print(json.dumps(info, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
