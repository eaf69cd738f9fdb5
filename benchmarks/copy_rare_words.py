"""The copy mechanism on translation's rare words: how many source words outside the vocabulary
reach the output, with and without copy (issue 24).

    python benchmarks/copy_rare_words.py \\
        --system "no copy=runs/experiments/luong-word/test.beam5.txt" \\
        --system "copy=runs/experiments/luong-word-copy/test.beam5.txt" \\
        --checkpoint runs/experiments/luong-word/best.safetensors

A source word is *rare* when the model's source vocabulary (the checkpoint's word vocabulary:
here every word seen at least twice in training) does not hold it. The words that matter are the
rare words the reference also writes as they are (names, numbers, brands: "Starbucks" stays
"Starbucks" in French); a system *recovers* one when its output holds it too. Beside that recall,
the table gives each system's BLEU (sacreBLEU, cased) on the sentences with such a word and on
all of them, and how many `<unk>` its outputs still hold. Words are compared as the vocabulary
splits them (punctuation apart), case kept. Results: benchmarks/results/copy_rare_words.{md,json}.
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
from collections import Counter
from pathlib import Path

import sacrebleu

from seq2seq.data.vocab import UNK_ID

ROOT = Path(__file__).resolve().parents[1]
MULTI30K = ROOT.parent / "shared" / "data" / "multi30k"
OUT = ROOT / "benchmarks" / "results" / "copy_rare_words"


def read(path: Path) -> list[str]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as handle:
        return [line.rstrip("\n") for line in handle]


def rare_words(sources: list[str], refs: list[str], vocab) -> list[list[str]]:
    """Per sentence: its source words outside `vocab` that the reference writes as they are."""
    out = []
    for source, ref in zip(sources, refs, strict=True):
        ref_words = set(vocab.words_of(ref, False, vocab.split_punct))
        words = vocab.words_of(source, vocab.lowercase, vocab.split_punct)
        out.append([w for w in words if vocab.encode(w) == [UNK_ID] and w in ref_words])
    return out


def measure(name: str, hyps: list[str], refs: list[str], rare: list[list[str]], vocab) -> dict:
    found = total = 0
    for hyp, words in zip(hyps, rare, strict=True):
        have = Counter(vocab.words_of(hyp, False, vocab.split_punct))
        for word, count in Counter(words).items():
            found += min(count, have[word])
            total += count
    with_rare = [i for i, words in enumerate(rare) if words]
    return {
        "system": name,
        "recall": round(100 * found / max(total, 1), 2),
        "recovered": found,
        "rare_words": total,
        "sentences_with_rare": len(with_rare),
        "bleu_with_rare": round(
            sacrebleu.corpus_bleu(
                [hyps[i] for i in with_rare], [[refs[i] for i in with_rare]]
            ).score,
            2,
        ),
        "bleu_all": round(sacrebleu.corpus_bleu(hyps, [refs]).score, 2),
        "unk_left": sum(h.split().count("<unk>") for h in hyps),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--src", type=Path, default=MULTI30K / "test_2016_flickr.en.gz")
    parser.add_argument("--ref", type=Path, default=MULTI30K / "test_2016_flickr.fr.gz")
    parser.add_argument("--system", action="append", required=True, metavar="NAME=HYPFILE")
    parser.add_argument("--checkpoint", type=Path, required=True, help="its source vocabulary")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    from seq2seq import Translator

    vocab = Translator.load(args.checkpoint).src_vocab
    if not hasattr(vocab, "words_of"):
        sys.exit("copy_rare_words: the checkpoint's source vocabulary is not a word vocabulary")
    sources, refs = read(args.src), read(args.ref)
    rare = rare_words(sources, refs, vocab)
    rows = []
    for spec in args.system:
        name, _, path = spec.partition("=")
        rows.append(measure(name, read(Path(path)), refs, rare, vocab))
        print(json.dumps(rows[-1]), file=sys.stderr)
    lines = [
        "# The copy mechanism on rare words (Multi30k EN→FR test_2016_flickr)",
        "",
        f"`{' '.join(['python', 'benchmarks/copy_rare_words.py', *sys.argv[1:]])}`",
        "",
        f"Rare: a source word outside {args.checkpoint}'s {len(vocab):,}-entry source vocabulary "
        "that the reference writes as it is.",
        "",
        "| system | rare words recovered | recall % | sentences with one | BLEU on them | BLEU "
        "all | `<unk>` left |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['system']} | {r['recovered']} of {r['rare_words']} | {r['recall']:.2f} | "
            f"{r['sentences_with_rare']} | {r['bleu_with_rare']:.2f} | {r['bleu_all']:.2f} | "
            f"{r['unk_left']} |"
        )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps(rows, indent=2) + "\n", encoding="utf-8")
    args.out.with_suffix(".md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
