"""Training memory over whole peers-harness runs: our peak RSS and speed under each allocator
setting, against the peers' figures, with the RSS curve from each run's log.

    python benchmarks/peers/run.py --systems seq2seq --work W1 --out R1            # the default
    SEQ2SEQ_MALLOC=glibc ONEDNN_PRIMITIVE_CACHE_CAPACITY=1024 \\
        python benchmarks/peers/run.py --systems seq2seq --work W2 --out R2         # as before
    python benchmarks/peers/memory_table.py --run "tcmalloc, oneDNN cache 64" R1.json W1 \\
        --run "glibc, oneDNN cache 1,024" R2.json W2

The peers' rows come from benchmarks/results/peers.json (their code did not change). Writes
benchmarks/results/train_memory_12min.{md,json}.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

RESULTS = Path(__file__).resolve().parents[1] / "results"
MODELS = {"plain": "no attention", "attention": "Luong attention"}


def curve(log: Path, every: int = 500) -> list[tuple[int, float]]:
    """(step, RSS MB) at every `every` steps of a run's log.jsonl, and the last line."""
    rows = [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines() if line]
    train = [r for r in rows if r.get("kind") == "train" and r.get("rss_mb") is not None]
    picked = [r for r in train if r["step"] % every == 0]
    picked += [r for r in train[-1:] if r not in picked]
    return [(r["step"], round(r["rss_mb"])) for r in picked]


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--run", nargs=3, action="append", required=True,
                   metavar=("LABEL", "REPORT_JSON", "WORK_DIR"))  # fmt: skip
    p.add_argument("--out", type=Path, default=RESULTS / "train_memory_12min")
    args = p.parse_args()
    peers = json.loads((RESULTS / "peers.json").read_text(encoding="utf-8"))
    onmt = {r["model"]: r for r in peers["rows"] if r["system"].startswith("onmt")}
    rows = []
    for label, report_path, work in args.run:
        report = json.loads(Path(report_path).read_text(encoding="utf-8"))
        for r in report["rows"]:
            log = Path(work) / "runs" / f"seq2seq-{r['model']}" / "run" / "log.jsonl"
            rows.append({"setting": label, "date": report["date"], "model": r["model"],
                         "steps": r["steps"], "peak_mb": r["train_peak_mb"],
                         "onmt_peak_mb": onmt[r["model"]]["train_peak_mb"],
                         "tok_s": round(r["train_tok_s"]), "bleu_beam5": r["bleu_beam5"],
                         "rss_curve": curve(log)})  # fmt: skip
    args.out.with_suffix(".json").write_text(json.dumps({"rows": rows}, indent=1) + "\n")
    args.out.with_suffix(".md").write_text(markdown(rows, peers["date"]), encoding="utf-8")
    print(markdown(rows, peers["date"]))
    return 0


def markdown(rows: list[dict], peers_date: str) -> str:
    lines = [
        "# Training memory over whole 12-minute runs (peers harness)",
        "",
        "Our two peers-harness models, trained for 12 minutes of wall clock at 2 threads (validation "
        "every 500 steps included), under each allocator setting; peak RSS of the process tree. "
        f"OpenNMT-py 3.5.1's figures: its run of {peers_date} (benchmarks/results/peers.md). "
        "Commands: benchmarks/peers/memory_table.py.",
        "",
        "| model | setting | run | steps | peak RSS MB | × OpenNMT-py | train tok/s | BLEU beam 5 |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in sorted(rows, key=lambda r: (list(MODELS).index(r["model"]), r["setting"])):
        lines.append(
            f"| {MODELS[r['model']]} | {r['setting']} | {r['date']} | {r['steps']:,} | "
            f"{r['peak_mb']:,} | {r['peak_mb'] / r['onmt_peak_mb']:.2f}x of {r['onmt_peak_mb']:,} "
            f"| {r['tok_s']:,} | {r['bleu_beam5']:.2f} |"
        )
    lines += ["", "RSS over each run (MB at steps, from its log.jsonl's `rss_mb`):", ""]
    for r in rows:
        points = ", ".join(f"{step:,}: {mb:,}" for step, mb in r["rss_curve"])
        lines.append(f"- {MODELS[r['model']]}, {r['setting']}: {points}")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    raise SystemExit(main())
