"""Our test translations scored the way the Multi30k literature scores them, beside sacreBLEU.

    python benchmarks/tokenized_bleu.py [--runs luong reversed ...] [--runs-dir runs/experiments]

Papers on Multi30k (the shared tasks of 2016-2018 and the systems compared there) report BLEU
on lower-cased text that Moses' `normalize-punctuation.perl` and `tokenizer.perl -l LANG` have
normalised and split, counted on the resulting tokens (`multi-bleu.perl`), against the official
tokenised references (multi30k/tok/*.lc.norm.tok.LANG): `seq2seq evaluate --tok-ref`
(`seq2seq.evaluate.scores.tokenized_bleu`) does exactly that, and this script calls it. Our tables report
sacreBLEU on detokenised text (13a tokenisation), which is reproducible but not the same number:
the Moses French tokeniser splits elisions ("l'homme" -> "l' homme") and both split more
punctuation than 13a, which changes the n-gram counts. This script scores every run's
test.beam*.txt both ways, so a figure of ours can be set against a published one.

Writes benchmarks/results/tokenized_bleu.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from pathlib import Path

import sacrebleu

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

from reproduce import MULTI30K, RESULTS_DIR, TEST_SET  # noqa: E402

from seq2seq.evaluate.scores import corpus_bleu, read_lines, tokenized_bleu  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"


def score_run(name: str, runs_dir: Path, multi30k: Path) -> list[dict]:
    """One row per test.beam*.txt of run `name`: sacreBLEU cased / lc and tokenised lc BLEU."""
    result = json.loads((RESULTS_DIR / f"{name}.json").read_text(encoding="utf-8"))
    lang = "de" if name.startswith("en-de") else "fr"
    refs = read_lines(multi30k / f"{TEST_SET}.{lang}.gz")
    tok_refs = read_lines(multi30k / "tok" / f"{TEST_SET}.lc.norm.tok.{lang}.gz")  # the official
    rows = []
    for decode in result["decodes"]:
        beam = re.search(r"\d+", decode["search"])
        path = runs_dir / name / f"test.beam{beam.group() if beam else 1}.txt"
        if not path.exists():
            print(f"tokenized_bleu: {path} is missing; run {name} is skipped", file=sys.stderr)
            continue
        hyps = read_lines(path)
        tok = tokenized_bleu(hyps, tok_refs, lang)  # = seq2seq evaluate --tok-ref
        rows.append(
            {
                "run": name,
                "search": decode["search"],
                "target": lang,
                "sacrebleu": corpus_bleu(hyps, refs).score,
                "sacrebleu_lc": corpus_bleu(hyps, refs, lowercase=True).score,
                "tokenized_lc": tok.bleu,
                "tokenized_lc_text": tok.text,
                "tokenized_signature": tok.signature,
            }
        )
    return rows


def write_report(rows: list[dict], out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y-%m-%d", time.gmtime())
    (out.with_suffix(".json")).write_text(
        json.dumps({"date": stamp, "rows": rows}, indent=1) + "\n", encoding="utf-8"
    )
    lines = [
        "# BLEU as the Multi30k literature counts it",
        "",
        f"{stamp} · `python benchmarks/tokenized_bleu.py` · {TEST_SET} · sacreBLEU "
        f"{sacrebleu.__version__}. *tokenised lc*: `seq2seq evaluate --tok-ref`: the hypotheses "
        "Moses-normalised, -tokenised and escaped (sacremoses, the target language), lower-cased, "
        "BLEU on those tokens (`multi-bleu.perl`'s counting) against the official "
        "`*.lc.norm.tok` references.",
        "",
        "| run | search | sacreBLEU cased | sacreBLEU lc | tokenised lc | difference |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['run']} | {r['search']} | {r['sacrebleu']:.2f} | {r['sacrebleu_lc']:.2f} | "
            f"{r['tokenized_lc']:.2f} | {r['tokenized_lc'] - r['sacrebleu_lc']:+.2f} |"
        )
    out.with_suffix(".md").write_text("\n".join(lines) + "\n", encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", nargs="+", help="runs to score (default: every trained row)")
    parser.add_argument("--runs-dir", type=Path, default=ROOT / "runs" / "experiments")
    parser.add_argument("--multi30k", type=Path, default=MULTI30K)
    parser.add_argument("--out", type=Path, default=RESULTS / "tokenized_bleu")
    args = parser.parse_args(argv)
    names = args.runs or sorted(
        p.stem for p in RESULTS_DIR.glob("*.json") if (args.runs_dir / p.stem).is_dir()
    )
    rows = [row for name in names for row in score_run(name, args.runs_dir, args.multi30k)]
    if not rows:
        sys.exit(f"tokenized_bleu: no test translations found under {args.runs_dir}")
    write_report(rows, args.out)
    for r in rows:
        print(
            f"{r['run']:16} {r['search']:8} lc {r['sacrebleu_lc']:6.2f}  tok-lc {r['tokenized_lc']:6.2f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
