"""Deployment: ONNX export and the PyTorch-free runtime against PyTorch, on Multi30k EN->FR
test_2016_flickr (1,000 sentences), beam 5.

    python benchmarks/deploy.py                      # the three runs/onnx-* models
    python benchmarks/deploy.py --limit 100          # a quick look (not for the record)

    python benchmarks/deploy.py --train 12           # first train the three models (see below)

For each of a no-attention, a Luong and a Bahdanau model (runs/onnx-{plain,luong,bahdanau}; with
`--train MINUTES` they are first trained by the peers harness's recipe, benchmarks/peers/
peer_configs.py: 2 x 256 LSTM, Adam 1e-3, batches of 64, source reversed; Bahdanau's additive
score without input feeding, as in its paper; `--train-threads` threads each):
  1. export float32 and int8 graphs (`seq2seq export`, `--int8`) and their file sizes;
  2. translate the test set in this process, batch 64: PyTorch float32, ONNX float32 and int8
     (the runtime): the share of sentences whose ONNX float32 output equals PyTorch's (goal
     >= 99%), BLEU of each (float32 within 0.1 of PyTorch, int8 within 0.5), sentences/s;
For the speed model (Luong, `--speed-model`), also:
  3. PyTorch bfloat16, each PyTorch engine also with the lexical shortlist (a copy of the
     checkpoint given one by `seq2seq shortlist`; the runtime has no shortlist), and sentences/s
     at batch 1 on the first `--batch1` sentences;
  4. whole commands, timed from outside (process start to last line), with the child's peak
     RSS: `seq2seq translate --checkpoint` (fp32, bf16, bf16 + shortlist), `seq2seq-runtime
     translate --model` (fp32, int8) and `seq2seq translate --model`, over the 1,000 sentences;
     the time to the first translation of one sentence piped into each (median of `--repeats`);
     and each command's speed against OpenNMT-py's whole-command beam-5 time for the same model
     in the peers harness (benchmarks/results/peers.json; its own weights of the same recipe).
Two threads everywhere (torch.set_num_threads, ONNX Runtime intra-op threads). Results go to
benchmarks/results/deploy.{json,md}; the header records the machine's load average, since the
figures are only as good as the idle CPU they had.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MULTI30K = ROOT.parent / "shared" / "data" / "multi30k"
RESULTS = ROOT / "benchmarks" / "results"
MODELS = {"no attention": "onnx-plain", "Luong": "onnx-luong", "Bahdanau": "onnx-bahdanau"}
THREADS = 2
ONE_SENTENCE = "A man in a blue shirt is standing on a ladder cleaning windows.\n"
VENV_BIN = Path(sys.executable).parent


PEERS = RESULTS / "peers.json"
DOCS_BEGIN, DOCS_END = (
    "<!-- deploy: begin (benchmarks/results/deploy.md) -->",
    "<!-- deploy: end -->",
)
README_BEGIN, README_END = "<!-- deploy: begin -->", "<!-- deploy: end -->"
SPEED_PEER_MODEL = {"no attention": "plain", "Luong": "attention"}  # peers.json's model names


def train_models(args: argparse.Namespace) -> None:
    """`seq2seq train` each model of MODELS by the peers recipe for args.train minutes."""
    import yaml

    sys.path.insert(0, str(ROOT / "benchmarks" / "peers"))
    import peer_configs

    data = ROOT / "data" / "multi30k-en-fr"
    for name, run in MODELS.items():
        if name not in args.train_models:
            continue
        out = args.runs / run
        kind = "plain" if name == "no attention" else "attention"
        # bfloat16 training as in the peers harness; the checkpoint's search default stays fp32
        config = peer_configs.ours_config(kind, data, out, args.train, 500, precision="bf16")
        config["train"]["threads"] = args.train_threads
        config["decode"]["precision"] = "fp32"
        if name == "Bahdanau":
            config["model"].update(attention="bahdanau", input_feeding=False)
        path = args.work / f"{run}.yaml"
        path.write_text(yaml.safe_dump(config), encoding="utf-8")
        print(f"training {run} for {args.train} minutes", file=sys.stderr)
        command = [str(VENV_BIN / "seq2seq"), "train", str(path), "--overwrite"]
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL)


def with_shortlist(checkpoint: Path, work: Path) -> Path:
    """A copy of `checkpoint` in `work` with a lexical shortlist added (`seq2seq shortlist`)."""
    copy = work / f"{checkpoint.parent.name}-shortlist.safetensors"
    if not copy.is_file():
        copy.write_bytes(checkpoint.read_bytes())
        command = [str(VENV_BIN / "seq2seq"), "shortlist", "--checkpoint", str(copy)]
        subprocess.run(command, check=True, capture_output=True)
    return copy


def read_gz(path: Path, limit: int | None) -> list[str]:
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        lines = [line.rstrip("\n") for line in handle]
    return lines[:limit] if limit else lines


def bleu(hyps: list[str], refs: list[str]) -> float:
    import sacrebleu

    return round(sacrebleu.corpus_bleu(hyps, [refs[: len(hyps)]]).score, 2)


def size_mb(folder: Path, suffix: str = ".onnx") -> float:
    return round(sum(f.stat().st_size for f in folder.iterdir() if f.suffix == suffix) / 1e6, 1)


def export(checkpoint: Path, out: Path, int8: bool) -> float:
    """`seq2seq export` as a user runs it; returns its seconds."""
    command = [str(VENV_BIN / "seq2seq"), "export", str(checkpoint), "--out", str(out)]
    start = time.perf_counter()
    subprocess.run(command + (["--int8"] if int8 else []), check=True, capture_output=True)
    return round(time.perf_counter() - start, 1)


def timed(translate, lines: list[str], batch: int) -> tuple[list[str], float]:
    """(outputs, seconds) of one call after a short warm-up."""
    translate(lines[:8], batch)
    start = time.perf_counter()
    outputs = translate(lines, batch)
    return outputs, time.perf_counter() - start


def torch_translator(checkpoint: Path, precision: str, shortlist: bool = False):
    from seq2seq import Translator

    translator = Translator.load(checkpoint)

    def translate(lines: list[str], batch: int) -> list[str]:
        return translator.translate(
            lines, beam_size=5, batch_size=batch, precision=precision, shortlist=shortlist
        )

    return translate


def onnx_translator(folder: Path):
    from seq2seq_runtime import Translator

    translator = Translator.from_dir(folder, threads=THREADS)

    def translate(lines: list[str], batch: int) -> list[str]:
        return translator.translate(lines, beam_size=5, batch_size=batch)

    return translate


def quality(name: str, run: Path, lines: list[str], refs: list[str], work: Path) -> dict:
    """Export, translate with the three engines, compare (steps 1 and 2 of the docstring)."""
    checkpoint = run / "best.safetensors"
    row: dict = {"model": name, "checkpoint": os.path.relpath(checkpoint, ROOT)}
    folders = {p: work / f"{run.name}-{p}" for p in ("fp32", "int8")}
    for precision, folder in folders.items():
        row[f"export_s_{precision}"] = export(checkpoint, folder, precision == "int8")
        row[f"onnx_{precision}_mb"] = size_mb(folder)
    row["checkpoint_mb"] = round(checkpoint.stat().st_size / 1e6, 1)
    outputs = {}
    engines = {
        "torch_fp32": torch_translator(checkpoint, "fp32"),
        "onnx_fp32": onnx_translator(folders["fp32"]),
        "onnx_int8": onnx_translator(folders["int8"]),
    }
    for engine, translate in engines.items():
        outputs[engine], seconds = timed(translate, lines, 64)
        row[f"{engine}_sent_s_b64"] = round(len(lines) / seconds, 1)
        row[f"{engine}_bleu"] = bleu(outputs[engine], refs)
    same = sum(a == b for a, b in zip(outputs["torch_fp32"], outputs["onnx_fp32"], strict=True))
    row["same_fp32"] = round(same / len(lines), 4)
    row["same_int8"] = round(
        sum(a == b for a, b in zip(outputs["onnx_fp32"], outputs["onnx_int8"], strict=True))
        / len(lines),
        4,
    )
    print(json.dumps(row), file=sys.stderr)
    return row


def speed(run: Path, lines: list[str], refs: list[str], work: Path, batch1: int) -> dict:
    """Step 3: every engine at batch 64 (bf16 added) and at batch 1."""
    checkpoint = run / "best.safetensors"
    listed = with_shortlist(checkpoint, work)
    engines = {
        "PyTorch fp32": torch_translator(checkpoint, "fp32"),
        "PyTorch fp32 + shortlist": torch_translator(listed, "fp32", shortlist=True),
        "PyTorch bf16": torch_translator(checkpoint, "bf16"),
        "PyTorch bf16 + shortlist": torch_translator(listed, "bf16", shortlist=True),
        "ONNX fp32": onnx_translator(work / f"{run.name}-fp32"),
        "ONNX int8": onnx_translator(work / f"{run.name}-int8"),
    }
    rows = {}
    for engine, translate in engines.items():
        outputs, seconds = timed(translate, lines, 64)
        _, seconds1 = timed(translate, lines[:batch1], 1)
        rows[engine] = {
            "sent_s_b64": round(len(lines) / seconds, 1),
            "sent_s_b1": round(batch1 / seconds1, 1),
            "bleu": bleu(outputs, refs),
        }
        print(json.dumps({engine: rows[engine]}), file=sys.stderr)
    return rows


def run_command(command: list[str], stdin: str | None = None) -> tuple[float, float]:
    """(wall seconds from process start to exit, the child's peak RSS in MB)."""
    env = {**os.environ, "OMP_NUM_THREADS": str(THREADS)}
    start = time.perf_counter()
    child = subprocess.Popen(
        command,
        stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=env,
    )
    if stdin is not None:
        assert child.stdin is not None
        child.stdin.write(stdin.encode())
        child.stdin.close()
    peak_kb = 0  # the child's VmHWM, read until it exits: ru_maxrss would carry this process's
    while True:  # own peak, since Linux keeps a forked child's maximum across execve
        pid, status, _ = os.wait4(child.pid, os.WNOHANG)
        if pid:
            break
        peak_kb = max(peak_kb, high_water_kb(child.pid))
        time.sleep(0.005)
    seconds = time.perf_counter() - start
    if status != 0:
        error = child.stderr.read().decode() if child.stderr else ""
        raise RuntimeError(f"{' '.join(command)} failed: {error.strip()[-300:]}")
    return round(seconds, 2), round(peak_kb / 1024, 1)


def high_water_kb(pid: int) -> int:
    """The peak resident memory (VmHWM, kB) of a running process, 0 once it is gone."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    line = next((x for x in status.splitlines() if x.startswith("VmHWM:")), "VmHWM: 0 kB")
    return int(line.split()[1])


def commands(run: Path, source: Path, work: Path, repeats: int) -> dict:
    """Step 4: whole commands over the test set, and the time to a first translation."""
    checkpoint = str(run / "best.safetensors")
    seq2seq, runtime = str(VENV_BIN / "seq2seq"), str(VENV_BIN / "seq2seq-runtime")
    beam = ["--beam-size", "5"]
    variants = {
        "seq2seq translate --checkpoint (PyTorch fp32)": [
            seq2seq, "translate", "--checkpoint", checkpoint, "--quiet", *beam],
        "seq2seq translate --checkpoint --precision bf16": [
            seq2seq, "translate", "--checkpoint", checkpoint, "--quiet", "--precision", "bf16",
            *beam],
        "seq2seq translate --checkpoint --precision bf16 --shortlist": [
            seq2seq, "translate", "--checkpoint", str(with_shortlist(Path(checkpoint), work)),
            "--quiet", "--precision", "bf16", "--shortlist", *beam],
        "seq2seq-runtime translate --model (ONNX fp32)": [
            runtime, "translate", "--model", str(work / f"{run.name}-fp32"), *beam],
        "seq2seq-runtime translate --model (ONNX int8)": [
            runtime, "translate", "--model", str(work / f"{run.name}-int8"), *beam],
        "seq2seq translate --model (ONNX fp32)": [
            seq2seq, "translate", "--model", str(work / f"{run.name}-fp32"), *beam],
    }  # fmt: skip
    rows = {}
    for name, command in variants.items():
        seconds, rss = run_command(command + ["--input", str(source)])
        first = [run_command(command, stdin=ONE_SENTENCE)[0] for _ in range(repeats)]
        rows[name] = {
            "whole_s": seconds,
            "peak_rss_mb": rss,
            "first_translation_s": statistics.median(first),
        }
        print(json.dumps({name: rows[name]}), file=sys.stderr)
    return rows


def peer_seconds(speed_model: str) -> dict | None:
    """OpenNMT-py's whole-command beam-5 seconds for the speed model's recipe (peers.json)."""
    model = SPEED_PEER_MODEL.get(speed_model)
    if model is None or not PEERS.is_file():
        return None
    peers = json.loads(PEERS.read_text(encoding="utf-8"))
    for row in peers["rows"]:
        if row["system"] == "onmt" and row["model"] == model:
            return {"system": "OpenNMT-py", "date": peers["date"], "seconds": row["beam5_seconds"]}
    return None


def load() -> str:
    one, five, _ = os.getloadavg()
    return f"{one:.2f} (1 min), {five:.2f} (5 min)"


def goal(met: bool) -> str:
    return "met" if met else "missed"


def quality_table(rows: list[dict]) -> list[str]:
    """Each model's agreement and BLEU across the three engines, and the issue's goals."""
    out = [
        "| model | ONNX fp32 = PyTorch fp32 | BLEU PyTorch fp32 | BLEU ONNX fp32 | BLEU ONNX int8 "
        "| int8 = fp32 | sent/s PyTorch | sent/s ONNX fp32 | sent/s ONNX int8 | goals |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        d32 = row["onnx_fp32_bleu"] - row["torch_fp32_bleu"]
        d8 = row["onnx_int8_bleu"] - row["onnx_fp32_bleu"]
        goals = (
            f"same ≥ 99%: {goal(row['same_fp32'] >= 0.99)}; |ΔBLEU| ≤ 0.1: "
            f"{goal(abs(d32) <= 0.1)}; int8 |ΔBLEU| ≤ 0.5: {goal(abs(d8) <= 0.5)}"
        )
        out.append(
            f"| {row['model']} | {100 * row['same_fp32']:.1f}% | {row['torch_fp32_bleu']:.2f} "
            f"| {row['onnx_fp32_bleu']:.2f} ({d32:+.2f}) | {row['onnx_int8_bleu']:.2f} "
            f"({d8:+.2f}) | {100 * row['same_int8']:.1f}% | {row['torch_fp32_sent_s_b64']} "
            f"| {row['onnx_fp32_sent_s_b64']} | {row['onnx_int8_sent_s_b64']} | {goals} |"
        )
    return out


def markdown(result: dict) -> str:
    out = [
        "# Deployment: ONNX export and the PyTorch-free runtime",
        "",
        f"{result['date']} · {result['machine']} · {THREADS} threads · load average at start "
        f"{result['load_start']}, at end {result['load_end']} · Multi30k EN→FR test_2016_flickr "
        f"({result['sentences']} sentences), beam 5, sacreBLEU (13a, cased).",
        "",
        "## Exactness and BLEU (batch 64, in one process)",
        "",
        *quality_table(result["quality"]),
        "",
        "## File sizes (MB)",
        "",
        "| model | checkpoint (.safetensors) | ONNX fp32 graphs | ONNX int8 graphs | export s "
        "(fp32 / int8) |",
        "|---|---|---|---|---|",
    ]
    for row in result["quality"]:
        out.append(
            f"| {row['model']} | {row['checkpoint_mb']} | {row['onnx_fp32_mb']} "
            f"| {row['onnx_int8_mb']} | {row['export_s_fp32']} / {row['export_s_int8']} |"
        )
    out += _speed_tables(result)
    return "\n".join(out) + "\n"


def _speed_tables(result: dict) -> list[str]:
    model = result["speed_model"]
    out = [
        "",
        f"## Speed of the {model} model in one process (beam 5)",
        "",
        f"| engine | sent/s batch 1 (first {result['batch1']} sentences) | sent/s batch 64 | BLEU |",
        "|---|---|---|---|",
    ]
    for engine, row in result["speed"].items():
        out.append(f"| {engine} | {row['sent_s_b1']} | {row['sent_s_b64']} | {row['bleu']:.2f} |")
    out += [
        "",
        f"## Whole commands, {model} model: {result['sentences']} sentences, beam 5, batch 64",
        "",
        "Process start to exit, timed from outside; peak RSS of the process; first translation: "
        f"one sentence piped in, median of {result['repeats']} runs.",
        "",
        "| command | seconds | sent/s | × OpenNMT-py | peak RSS MB | first translation s |",
        "|---|---|---|---|---|---|",
    ]
    peer = result.get("peer")
    for name, row in result["commands"].items():
        rate = round(result["sentences"] / row["whole_s"], 1)
        times = f"{peer['seconds'] / row['whole_s']:.2f}x" if peer else "—"
        out.append(
            f"| `{name}` | {row['whole_s']} | {rate} | {times} | {row['peak_rss_mb']} "
            f"| {row['first_translation_s']} |"
        )
    return out + _command_goals(result)


def _command_goals(result: dict) -> list[str]:
    """Issue 26's goals on the whole commands: ≥ 3x OpenNMT-py, first translation ≤ 0.3 s."""
    peer, rows = result.get("peer"), result["commands"]
    runtime = {n: r for n, r in rows.items() if "--model" in n}
    if not runtime:
        return []
    out = ["", "Goals (issue 26):", ""]
    if peer:
        name, row = min(runtime.items(), key=lambda item: item[1]["whole_s"])
        ratio = peer["seconds"] / row["whole_s"]
        out.append(
            f"- **{goal(ratio >= 3)}**: whole-command beam-5 translation at least 3x "
            f"{peer['system']} ({peer['seconds']} s in the peers harness, {peer['date']}): "
            f"`{name}` {row['whole_s']} s, {ratio:.2f}x"
        )
    name, row = min(runtime.items(), key=lambda item: item[1]["first_translation_s"])
    first = row["first_translation_s"]
    out.append(
        f"- **{goal(first <= 0.3)}**: first translation of one sentence at most 0.3 s with the "
        f"runtime: `{name}` {first} s"
    )
    return out


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=Path, default=ROOT / "runs", help="folder of the runs")
    parser.add_argument("--work", type=Path, default=ROOT / "runs" / "deploy-exports")
    parser.add_argument("--limit", type=int, default=None, help="first N test sentences only")
    parser.add_argument("--batch1", type=int, default=200, help="sentences run at batch 1")
    parser.add_argument("--repeats", type=int, default=3, help="first-translation repeats")
    parser.add_argument("--speed-model", default="Luong", choices=list(MODELS))
    parser.add_argument("--out", type=Path, default=RESULTS / "deploy")
    parser.add_argument(
        "--train",
        type=float,
        metavar="MINUTES",
        help="first train the three models for MINUTES each (peers recipe)",
    )
    parser.add_argument("--train-threads", type=int, default=THREADS, help="threads of --train")
    parser.add_argument("--train-models", nargs="+", choices=list(MODELS), default=list(MODELS),
                        help="the models --train trains (default: all three)")  # fmt: skip
    parser.add_argument("--only-train", action="store_true", help="stop after --train")
    parser.add_argument("--check", nargs="+", type=Path, metavar="RUN",
                        help="measure only the exactness and int8 BLEU of these run folders "
                        "(their best.safetensors); results to OUT_check.{json,md}")  # fmt: skip
    parser.add_argument("--rewrite", action="store_true",
                        help="measure nothing: rewrite the tables and docs from --out's .json")  # fmt: skip
    return parser.parse_args()


def main() -> int:
    import torch

    args = parse_args()
    torch.set_num_threads(THREADS)
    lines = read_gz(MULTI30K / "test_2016_flickr.en.gz", args.limit)
    refs = read_gz(MULTI30K / "test_2016_flickr.fr.gz", args.limit)
    args.work.mkdir(parents=True, exist_ok=True)
    if args.rewrite:
        result = json.loads(args.out.with_suffix(".json").read_text(encoding="utf-8"))
        result["peer"] = peer_seconds(result["speed_model"])
        args.out.with_suffix(".json").write_text(json.dumps(result, indent=2) + "\n")
        args.out.with_suffix(".md").write_text(markdown(result))
        write_docs(result)
        return 0
    if args.check:
        return check(args.check, lines, refs, args)
    if args.train:
        train_models(args)
        if args.only_train:
            return 0
    source = args.work / "test.en"
    source.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result: dict = {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": f"{platform.processor() or platform.machine()}, Python "
        f"{platform.python_version()}, torch {torch.__version__}",
        "load_start": load(),
        "sentences": len(lines),
        "batch1": min(args.batch1, len(lines)),
        "repeats": args.repeats,
        "speed_model": args.speed_model,
        "peer": peer_seconds(args.speed_model),
    }
    result["quality"] = [
        quality(name, args.runs / run, lines, refs, args.work) for name, run in MODELS.items()
    ]
    speed_run = args.runs / MODELS[args.speed_model]
    result["speed"] = speed(speed_run, lines, refs, args.work, result["batch1"])
    result["commands"] = commands(speed_run, source, args.work, args.repeats)
    result["load_end"] = load()
    if args.limit:
        args.out = args.out.with_name(args.out.name + "-limited")
    args.out.with_suffix(".json").write_text(json.dumps(result, indent=2) + "\n")
    args.out.with_suffix(".md").write_text(markdown(result))
    print(markdown(result))
    if not args.limit:
        write_docs(result)
    return 0


def check(runs: list[Path], lines: list[str], refs: list[str], args: argparse.Namespace) -> int:
    """`--check`: the quality table for other run folders (say, longer-trained models)."""
    date = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    rows = [quality(run.resolve().name, run, lines, refs, args.work / "check") for run in runs]
    out = args.out.with_name(args.out.name + "_check")
    out.with_suffix(".json").write_text(json.dumps({"date": date, "quality": rows}, indent=2))
    text = "\n".join([f"# Deployment: exactness and int8 of other models ({date})", "",
                      f"{len(lines)} test sentences, beam 5, batch 64; `python "
                      f"benchmarks/deploy.py --check {' '.join(map(str, runs))}`.", "",
                      *quality_table(rows)])  # fmt: skip
    out.with_suffix(".md").write_text(text + "\n", encoding="utf-8")
    print(text)
    return 0


def write_docs(result: dict) -> None:
    """The tables into docs/deploy.md and the short one into the README (marked blocks)."""
    sys.path.insert(0, str(ROOT))
    from benchmarks.tasks.common import replace_between

    body = markdown(result).split("\n", 2)[2].rstrip("\n").replace("\n## ", "\n### ")
    docs = ROOT / "docs" / "deploy.md"
    if not replace_between(docs, DOCS_BEGIN, DOCS_END, [body]):
        print(f"deploy: docs/deploy.md has no {DOCS_BEGIN} block; left alone", file=sys.stderr)
    if not replace_between(ROOT / "README.md", README_BEGIN, README_END, readme_lines(result)):
        print(f"deploy: README.md has no {README_BEGIN} block; left alone", file=sys.stderr)


def readme_lines(result: dict) -> list[str]:
    """Whole commands of the speed model beside OpenNMT-py, and each model's exactness."""
    peer, model = result.get("peer"), result["speed_model"]
    lines = [f"{result['sentences']:,} sentences, beam 5, {model} model, {THREADS} cores, process "
             "start to last line ([docs/deploy.md](docs/deploy.md)):", "",
             "| command | seconds | × OpenNMT-py | first sentence s | peak RSS MB |",
             "|---|---|---|---|---|"]  # fmt: skip
    for name, row in result["commands"].items():
        times = f"{peer['seconds'] / row['whole_s']:.2f}x" if peer else "—"
        lines.append(f"| `{name}` | {row['whole_s']} | {times} | {row['first_translation_s']} "
                     f"| {row['peak_rss_mb']} |")  # fmt: skip
    if peer:
        lines.append(f"| {peer['system']} (peers harness, {peer['date']}) | {peer['seconds']} "
                     "| 1.00x | — | — |")  # fmt: skip
    lines += ["", "| model | ONNX fp32 = PyTorch fp32 | BLEU PyTorch / ONNX fp32 / ONNX int8 | "
              "MB checkpoint / ONNX fp32 / int8 |", "|---|---|---|---|"]  # fmt: skip
    for row in result["quality"]:
        lines.append(
            f"| {row['model']} | {100 * row['same_fp32']:.1f}% | {row['torch_fp32_bleu']:.2f} / "
            f"{row['onnx_fp32_bleu']:.2f} / {row['onnx_int8_bleu']:.2f} | {row['checkpoint_mb']} / "
            f"{row['onnx_fp32_mb']} / {row['onnx_int8_mb']} |"
        )
    return lines


if __name__ == "__main__":
    sys.exit(main())
