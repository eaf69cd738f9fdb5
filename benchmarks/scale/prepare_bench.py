"""`seq2seq prepare` at scale: pairs per second, CPU use and peak memory, phase by phase.

    python benchmarks/scale/make_corpus.py --pairs 1000000 --out /tmp/scale/c1m
    python benchmarks/scale/prepare_bench.py --corpus /tmp/scale/c1m [--project 12000000]
        [-- extra prepare flags, e.g. --sp-sample 500000]

Runs the real command, ``seq2seq prepare --src train.en --tgt train.fr --vocab bpe --joint
--src-vocab-size 32000`` (SentencePiece trained on a sample of --sp-sample sentences, then every
pair encoded once and written as text and as ids), in a fresh child process, and times its three
phases: reading and cleaning the text, building the vocabulary, encoding and writing. For each it
records wall time, CPU time (all threads), the CPU's use (CPU / wall, 2.0 = both cores busy) and
the peak resident set (VmHWM, reset between phases). Then it projects the wall time to `--project`
pairs by scaling every phase linearly; for the vocabulary phase that is an upper bound, since
SentencePiece trains on at most --sp-sample sentences whatever the corpus size. Results go to
benchmarks/results/scale_prepare.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import command, machine, peak_rss_mb, table, write_results  # noqa: E402

PHASES = (
    ("_clean_split", "read + clean"),
    ("_build_vocabs", "vocabulary"),
    ("_finish_split", "encode + write"),
)


def child(args: argparse.Namespace) -> None:
    """Run prepare in this process with the phases timed; print one JSON line."""
    import seq2seq.data.prepare as prep
    from seq2seq.cli import main

    phases: dict[str, dict[str, float]] = {}

    def timed(fn, label):
        def wrapper(*a, **k):
            try:  # reset the peak resident set, so each phase reports its own
                with open("/proc/self/clear_refs", "w") as handle:
                    handle.write("5")
            except OSError:
                pass
            wall, cpu = time.perf_counter(), time.process_time()
            try:
                return fn(*a, **k)
            finally:
                entry = phases.setdefault(label, {"wall_s": 0.0, "cpu_s": 0.0, "peak_rss_mb": 0.0})
                entry["wall_s"] += time.perf_counter() - wall
                entry["cpu_s"] += time.process_time() - cpu
                entry["peak_rss_mb"] = max(entry["peak_rss_mb"], peak_rss_mb())

        return wrapper

    for name, label in PHASES:
        setattr(prep, name, timed(getattr(prep, name), label))
    corpus = Path(args.corpus)
    argv = [
        "prepare",
        "--src", str(corpus / "train.en"),
        "--tgt", str(corpus / "train.fr"),
        "--out", args.out,
        "--vocab", "bpe",
        "--joint",
        "--src-vocab-size", str(args.vocab_size),
        *args.extra,
    ]  # fmt: skip
    wall, cpu = time.perf_counter(), time.process_time()
    stdout = sys.stdout
    sys.stdout = sys.stderr  # the summary table goes to stderr; stdout carries the JSON line
    try:
        code = main(argv)
    finally:
        sys.stdout = stdout
    total = {
        "wall_s": time.perf_counter() - wall,
        "cpu_s": time.process_time() - cpu,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }
    manifest = json.loads((Path(args.out) / "manifest.json").read_text(encoding="utf-8"))
    print(
        json.dumps(
            {"code": code, "argv": argv, "phases": phases, "total": total, "manifest": manifest}
        )
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", required=True, help="a make_corpus.py output directory")
    parser.add_argument("--out", help="the data directory to write (default: a temporary one)")
    parser.add_argument("--vocab-size", type=int, default=32_000)
    parser.add_argument("--project", type=int, default=12_000_000, help="pairs to project to")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("extra", nargs="*", help="more prepare flags (after --)")
    args = parser.parse_args()
    if args.child:
        child(args)
        return 0
    with tempfile.TemporaryDirectory(prefix="prepare-bench-") as tmp:
        out = args.out or str(Path(tmp) / "data")
        cmd = [sys.executable, __file__, "--child", "--corpus", args.corpus, "--out", out,
               "--vocab-size", str(args.vocab_size), "--", *args.extra]  # fmt: skip
        load_before = os.getloadavg()
        proc = subprocess.run(cmd, stdout=subprocess.PIPE, text=True, check=True)
        result = json.loads(proc.stdout.strip().splitlines()[-1])
        data_bytes = {p.name: p.stat().st_size for p in Path(out).iterdir() if p.is_file()}
    corpus_info = json.loads((Path(args.corpus) / "corpus.json").read_text(encoding="utf-8"))
    pairs = result["manifest"]["splits"]["train"]["pairs"]
    scale = args.project / pairs
    total = result["total"]
    phases = result["phases"]
    projected = sum(p["wall_s"] for p in phases.values()) * scale
    info = {
        "command": command(),
        "prepare_command": "seq2seq " + " ".join(result["argv"]),
        "machine": {**machine(), "load_average_before": [round(x, 2) for x in load_before]},
        "corpus": corpus_info,
        "pairs": pairs,
        "wall_s": round(total["wall_s"], 1),
        "cpu_s": round(total["cpu_s"], 1),
        "cores_used": round(total["cpu_s"] / total["wall_s"], 2),
        "pairs_per_s_wall": round(pairs / total["wall_s"]),
        "pairs_per_cpu_s": round(pairs / total["cpu_s"]),
        "peak_rss_mb": round(total["peak_rss_mb"], 1),
        "phases": {k: {kk: round(vv, 1) for kk, vv in v.items()} for k, v in phases.items()},
        "bytes_written": data_bytes,
        "projected_pairs": args.project,
        "projected_wall_min_linear": round(projected / 60, 1),
        "projected_wall_min_if_both_cores": round(total["cpu_s"] * scale / 2 / 60, 1),
        "manifest_train": result["manifest"]["splits"]["train"],
    }
    rows = [["phase", "wall s", "CPU s", "cores used", "peak RSS MB"]]
    for label, p in info["phases"].items():
        rows.append([label, f"{p['wall_s']:.1f}", f"{p['cpu_s']:.1f}",
                     f"{p['cpu_s'] / max(p['wall_s'], 1e-9):.2f}", f"{p['peak_rss_mb']:.0f}"])  # fmt: skip
    rows.append(["**total**", f"{info['wall_s']:.1f}", f"{info['cpu_s']:.1f}",
                 f"{info['cores_used']:.2f}", f"{info['peak_rss_mb']:.0f}"])  # fmt: skip
    ids_bytes = sum(v for k, v in data_bytes.items() if k.endswith((".ids", ".offsets")))
    text_bytes = sum(v for k, v in data_bytes.items() if k.endswith((".src", ".tgt")))
    if pairs >= args.project:
        scale_line = (
            f"Measured at full scale ({pairs:,} pairs, no projection): **"
            f"{info['wall_s'] / 60:.1f} min** wall clock."
        )
    else:
        scale_line = (
            f"Projected to {args.project:,} pairs, every phase scaled linearly: **"
            f"{info['projected_wall_min_linear']} min** at this run's CPU share; "
            f"{info['projected_wall_min_if_both_cores']} min if both cores were fully "
            "ours (CPU time / 2)."
        )
    md = f"""# `seq2seq prepare` at scale ({info["machine"]["date"]})

`{info["prepare_command"]}`

on {pairs:,} generated pairs (`{corpus_info["command"]}`: {corpus_info["en_words_mean"]} English /
{corpus_info["fr_words_mean"]} French words a pair, at most {corpus_info["fr_words_max"]}), measured by
`{info["command"]}`.

{table(rows)}

- **{info["pairs_per_s_wall"]:,} pairs/s** wall clock, {info["pairs_per_cpu_s"]:,} pairs per CPU second;
  peak RSS **{info["peak_rss_mb"]:.0f} MB**.
- Written: ids {ids_bytes / 1e6:,.0f} MB, text {text_bytes / 1e6:,.0f} MB.
- {scale_line}
  Load average before the run: {info["machine"]["load_average_before"]} on
  {info["machine"]["cores"]} cores.
"""
    path = write_results("prepare", info, md)
    print(md)
    print(f"wrote {path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
