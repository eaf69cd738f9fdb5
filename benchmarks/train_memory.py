"""Training memory: peak RSS and speed of the peers harness's two models under each cure for the
allocator's fragmentation (docs/results.md: the heap grows under ever-changing tensor shapes).

    nice -n 10 python benchmarks/train_memory.py --steps 1500              # every cure, both models
    python benchmarks/train_memory.py --cures baseline jemalloc --models attention --steps 300

Each run is `seq2seq train` on the prepared Multi30k EN->FR data (SentencePiece 8k joint) with the
model of benchmarks/peers/peer_configs.py (2 x 256 LSTM, Adam, batches of 64; `plain` or Luong
`attention` with input feeding), one thread, no validation, stopped by SIGKILL once its log has
reached `--steps` (so no final validation or save lands in the figure). Every run trains on the same
batches in the same order. Measured:

* peak RSS: the largest resident memory of the process tree, polled every 0.2 s (as the peers
  harness does), and the RSS curve the training log records at each log line;
* speed: target tokens per second of CPU time between the first and last log line (batches of 64
  x the corpus's mean target length, counted as the peers harness counts them). On a shared
  machine CPU time is the fair clock for a one-thread run; the log's wall-clock tok/s is kept too.

A cure is a set of `--set` overrides and environment variables (an allocator through LD_PRELOAD,
skipped where the library is not installed). Results: benchmarks/results/train_memory.{md,json}.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "peers"))

import peer_configs as pc  # noqa: E402
from peer_process import run_measured, thread_env  # noqa: E402

REPO = HERE.parent
RESULTS = HERE / "results"
PEERS_ONMT_PEAK_MB = {"plain": 1174, "attention": 1322}  # benchmarks/results/peers.md
LIBDIR = Path("/usr/lib/x86_64-linux-gnu")


@dataclass
class Cure:
    name: str
    what: str
    overrides: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    needs: Path | None = None  # a library that must be installed

    def available(self) -> bool:
        return self.needs is None or self.needs.exists()


CURES = {
    cure.name: cure
    for cure in [
        Cure(
            "baseline",
            "at first: glibc malloc with runtime.py's mallopt (SEQ2SEQ_MALLOC=glibc), oneDNN's "
            "kernel cache at its default 1,024",
            env={"SEQ2SEQ_MALLOC": "glibc", "ONEDNN_PRIMITIVE_CACHE_CAPACITY": "1024"},
        ),
        Cure(
            "tcmalloc",
            "`seq2seq train` runs itself again with tcmalloc 2.10 (Debian libtcmalloc-minimal4) "
            "in LD_PRELOAD; oneDNN's kernel cache at its default 1,024",
            env={"SEQ2SEQ_MALLOC": "auto", "ONEDNN_PRIMITIVE_CACHE_CAPACITY": "1024"},
            needs=LIBDIR / "libtcmalloc_minimal.so.4",
        ),
        Cure(
            "tcmalloc-decommit",
            "tcmalloc returning freed pages to the system at once (TCMALLOC_AGGRESSIVE_DECOMMIT)",
            env={"SEQ2SEQ_MALLOC": "auto", "TCMALLOC_AGGRESSIVE_DECOMMIT": "true"},
            needs=LIBDIR / "libtcmalloc_minimal.so.4",
        ),
        Cure(
            "tcmalloc-onednn64",
            "now the default: tcmalloc, and oneDNN's cache of compiled kernels (one per matrix "
            "shape; bfloat16 products go through oneDNN) cut from 1,024 to 64 "
            "(ONEDNN_PRIMITIVE_CACHE_CAPACITY, runtime.py)",
            env={"SEQ2SEQ_MALLOC": "auto", "ONEDNN_PRIMITIVE_CACHE_CAPACITY": "64"},
            needs=LIBDIR / "libtcmalloc_minimal.so.4",
        ),
        Cure(
            "jemalloc-decay",
            "jemalloc purging freed pages after 1 s (MALLOC_CONF dirty_decay_ms:1000)",
            env={
                "SEQ2SEQ_MALLOC": "jemalloc",
                "MALLOC_CONF": "dirty_decay_ms:1000,muzzy_decay_ms:0",
            },
            needs=LIBDIR / "libjemalloc.so.2",
        ),
        Cure(
            "jemalloc",
            "jemalloc 5.3 (Debian libjemalloc2), SEQ2SEQ_MALLOC=jemalloc",
            env={"SEQ2SEQ_MALLOC": "jemalloc", "ONEDNN_PRIMITIVE_CACHE_CAPACITY": "1024"},
            needs=LIBDIR / "libjemalloc.so.2",
        ),
    ]
}


def mean_target_tokens(data: Path) -> float:
    """Training target tokens per sentence, the end symbol included (as the peers harness counts)."""
    from seq2seq.config import DataConfig
    from seq2seq.data.batching import make_batches
    from seq2seq.data.prepare import load_prepared

    batches = make_batches(load_prepared(data), "train", DataConfig(dir=str(data)), shuffle=False)
    lengths = batches.corpus.range_lengths([(0, len(batches.corpus))])
    if lengths is None:
        raise SystemExit(f"{data} has no ids files; prepare it without --no-ids")
    tgt = lengths[1]
    return float(tgt.sum() + len(tgt)) / len(tgt)


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds of `pid` (its threads included), or None once it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def mapped_allocator(pid: int) -> str:
    """The malloc the process runs on, from its memory map: tcmalloc, jemalloc or glibc."""
    try:
        maps = Path(f"/proc/{pid}/maps").read_text()
    except OSError:
        return "unknown"
    return next((name for name in ("tcmalloc", "jemalloc") if name in maps), "glibc")


def last_records(log: Path) -> list[dict]:
    if not log.exists():
        return []
    records = []
    for line in log.read_text(encoding="utf-8").splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if record.get("kind") == "train":
            records.append(record)
    return records


def run_one(model: str, cure: Cure, args: argparse.Namespace, mean_tgt: float) -> dict:
    """Train `model` under `cure` for `args.steps` steps; its figures."""
    work = args.work / f"{model}-{cure.name}"
    config = pc.ours_config(model, args.data, work / "run", 1000.0, args.steps + 1, args.precision)
    config["train"].update({"threads": args.threads, "max_steps": args.steps + 1, "seed": 1})
    load = round(os.getloadavg()[0], 2)
    shutil.rmtree(work, ignore_errors=True)  # no log of an earlier run to stop this one early
    work.mkdir(parents=True)
    path = work / "config.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    cmd = [sys.executable, "-m", "seq2seq.cli", "train", str(path), "--overwrite"]
    for override in cure.overrides:
        cmd += ["--set", override]
    env = {**thread_env(args.threads), **cure.env}
    if args.src is not None:
        env["PYTHONPATH"] = str(args.src)
    log = work / "run" / "log.jsonl"
    clock: dict[str, float] = {}  # CPU seconds at the first and the latest log line

    def stop_when(_elapsed: float) -> bool:
        records = last_records(log)
        pid = _child_pid()
        cpu = cpu_seconds(pid) if pid else None
        if records and cpu is not None:
            clock.setdefault("malloc", mapped_allocator(pid))  # type: ignore[arg-type]
            clock.setdefault("first_step", records[0]["step"])
            clock.setdefault("first_cpu", cpu)
            clock["last_step"], clock["last_cpu"] = records[-1]["step"], cpu
        return bool(records) and records[-1]["step"] >= args.steps

    result = run_measured(cmd, work / "train.log", env=env, cwd=REPO, stop_when=stop_when,
                          stop_signal=signal.SIGKILL)  # fmt: skip
    records = last_records(log)
    steps = clock.get("last_step", 0) - clock.get("first_step", 0)
    cpu = clock.get("last_cpu", 0.0) - clock.get("first_cpu", 0.0)
    wall = [r["tgt_tok_s"] for r in records[1:]]
    return {
        "model": model,
        "cure": cure.name,
        "steps": records[-1]["step"] if records else 0,
        "peak_rss_mb": round(max(result.peak_rss_mb, records[-1].get("peak_rss_mb") or 0))
        if records
        else round(result.peak_rss_mb),
        "log_peak_rss_mb": records[-1].get("peak_rss_mb") if records else None,
        "rss_curve": [(r["step"], r.get("rss_mb")) for r in records],
        "tok_per_cpu_s": round(steps * pc.BATCH * mean_tgt / cpu, 1) if cpu > 0 else None,
        "wall_tok_s": round(sum(wall) / len(wall), 1) if wall else None,
        "seconds": round(result.seconds, 1),
        "malloc": clock.get("malloc"),
        "load_average_at_start": load,
        "command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]),
    }


def _child_pid() -> int | None:
    """The training process: our newest child (run_measured starts one at a time; the command
    re-executes itself with the allocator preloaded, which keeps its pid)."""
    me = os.getpid()
    try:
        children = Path(f"/proc/{me}/task/{me}/children").read_text().split()
    except OSError:
        return None
    return int(children[-1]) if children else None


def write_results(rows: list[dict], args: argparse.Namespace, mean_tgt: float) -> None:
    """Write the result files; rows of other (model, cure) pairs already there are kept, so the
    two models may be measured by two runs of this script."""
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / "train_memory.json"
    if path.exists():
        mine = {(r["model"], r["cure"]) for r in rows}
        earlier = json.loads(path.read_text(encoding="utf-8"))["rows"]
        rows = [r for r in earlier if (r["model"], r["cure"]) not in mine] + rows
        rows.sort(key=lambda r: (pc.MODELS.index(r["model"]), list(CURES).index(r["cure"])))
    meta = {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "threads": args.threads,
        "precision": args.precision,
        "mean_tgt_tokens": round(mean_tgt, 3),
    }
    path.write_text(json.dumps({"meta": meta, "rows": rows}, indent=1) + "\n", encoding="utf-8")
    (RESULTS / "train_memory.md").write_text(markdown(rows, meta), encoding="utf-8")


def markdown(rows: list[dict], meta: dict) -> str:
    lines = [
        "# Training memory: peak RSS and speed per cure",
        "",
        f"{meta['date']} · {meta['threads']} thread, precision {meta['precision']}, batches of "
        "64, Multi30k EN→FR (SentencePiece 8k joint), no validation; each run stopped at its "
        "step count. Commands and the load average at each run's start are in the .json file.",
        "",
        "| model | cure | steps | peak RSS MB | vs baseline | vs OpenNMT-py | tok / CPU s "
        "| vs baseline | wall tok/s |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    base = {r["model"]: r for r in rows if r["cure"] == "baseline"}
    for r in rows:
        b = base.get(r["model"])
        peer = PEERS_ONMT_PEAK_MB[r["model"]]
        rss_ratio = f"{r['peak_rss_mb'] / b['peak_rss_mb']:.2f}x" if b else ""
        speed = r["tok_per_cpu_s"]
        speed_ratio = (
            f"{speed / b['tok_per_cpu_s']:.3f}x" if b and speed and b["tok_per_cpu_s"] else ""
        )
        lines.append(
            f"| {r['model']} | {r['cure']} | {r['steps']:,} | {r['peak_rss_mb']:,} | {rss_ratio} | "
            f"{r['peak_rss_mb'] / peer:.2f}x of {peer:,} | {speed or 0:,.0f} | {speed_ratio} | "
            f"{r['wall_tok_s'] or 0:,.0f} |"
        )
    lines += ["", "Cures:", ""]
    lines += [
        f"- `{c.name}`: {c.what}" for c in CURES.values() if any(r["cure"] == c.name for r in rows)
    ]
    lines += [
        "",
        "RSS over the run (MB at steps, from the training log's `rss_mb`):",
        "",
    ]
    for r in rows:
        curve = r.get("rss_curve") or []
        if not curve:
            continue
        picks = curve[:: max(1, len(curve) // 6)] + curve[-1:]
        text = ", ".join(f"{s}: {m:,.0f}" for s, m in picks if m is not None)
        lines.append(f"- {r['model']} / {r['cure']}: {text}")
    lines += [
        "",
        "OpenNMT-py's figures are its peak RSS over a 12-minute, 2-thread run in the peers harness "
        "(benchmarks/results/peers.md).",
        "",
    ]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=REPO / "data" / "multi30k-en-fr")
    parser.add_argument("--work", type=Path, default=Path("/tmp/train_memory"))
    parser.add_argument("--models", nargs="+", default=list(pc.MODELS), choices=pc.MODELS)
    parser.add_argument("--cures", nargs="+", default=list(CURES), choices=list(CURES))
    parser.add_argument("--steps", type=int, default=1500, help="training steps per run")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--precision", default="auto", choices=["fp32", "bf16", "auto"])
    parser.add_argument("--src", type=Path, help="run this copy of the package (PYTHONPATH)")
    parser.add_argument("--no-write", action="store_true", help="print the table only")
    parser.add_argument(
        "--rows",
        type=Path,
        help="train nothing: write the result files from the JSON rows earlier runs printed",
    )
    args = parser.parse_args()
    if args.rows is not None:
        rows = [json.loads(line) for line in args.rows.read_text().splitlines() if line.strip()]
        rows = [r for r in rows if r["cure"] in CURES and r["model"] in args.models]
        write_results(rows, args, mean_target_tokens(args.data))
        print(markdown(rows, {**vars(args), "date": ""}))
        return 0
    mean_tgt = mean_target_tokens(args.data)
    rows = []
    for model in args.models:
        for name in args.cures:
            cure = CURES[name]
            if not cure.available():
                print(f"skipped {name}: {cure.needs} is not installed", file=sys.stderr)
                continue
            row = run_one(model, cure, args, mean_tgt)
            rows.append(row)
            print(json.dumps({k: v for k, v in row.items() if k != "rss_curve"}), flush=True)
    print(markdown(rows, {**vars(args), "date": ""}))
    if not args.no_write:
        write_results(rows, args, mean_tgt)
    return 0


if __name__ == "__main__":
    sys.exit(main())
