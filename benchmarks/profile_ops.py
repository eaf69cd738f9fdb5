"""Where the time goes: torch.profiler over training steps and over beam search.

    python benchmarks/profile_ops.py [--steps 40] [--checkpoint CKPT] [--sentences 300] [--top 12]

Training: `--steps` steps of configs/small-cpu.yaml's model on Multi30k EN->FR (BPE 8k joint),
without attention (`init`, the paper) and with Luong attention (general, input feeding), after a
few warm-up steps that are not profiled. Decoding (when `--checkpoint` is given): greedy and beam 5
over the first `--sentences` sentences of test_2016_flickr, batch 64. For each, the operators
with the most self CPU time go to benchmarks/results/profile_ops.md (and .json).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import torch
from torch.profiler import ProfilerActivity, profile

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
from train_speed import MULTI30K, RESULTS, prepare_data  # noqa: E402

WARMUP = 5
MODELS = {
    "init": {},
    "attention": {"context": "attention", "attention": "general", "input_feeding": True},
}


def top_ops(prof: profile, top: int) -> list[dict]:
    """The operators with the most self CPU time, as shares of the profiled total."""
    events = [e for e in prof.key_averages() if e.self_cpu_time_total > 0]
    total = sum(e.self_cpu_time_total for e in events)
    events.sort(key=lambda e: e.self_cpu_time_total, reverse=True)
    return [
        {
            "op": e.key,
            "calls": e.count,
            "self_ms": round(e.self_cpu_time_total / 1000, 1),
            "share": round(e.self_cpu_time_total / total, 3),
        }
        for e in events[:top]
    ]


def profile_training(data_dir: Path, work: Path, context: str, steps: int, top: int) -> dict:
    """`steps` calls of the trainer's own train_step (forward, backward, clip, update), profiled
    after WARMUP unprofiled ones; no validation or checkpointing in between."""
    import yaml

    from seq2seq.config import config_from_dict
    from seq2seq.experiment import build_trainer

    raw = yaml.safe_load((ROOT / "configs" / "small-cpu.yaml").read_text(encoding="utf-8"))
    raw["data"]["dir"] = str(data_dir)
    raw["model"].update(MODELS[context])
    raw["train"].update(out_dir=str(work / context), tensorboard=False)
    trainer = build_trainer(config_from_dict(raw), overwrite=True)
    batches = iter(trainer.train_batches.iter_epoch(0))
    for _ in range(WARMUP):
        trainer.train_step(next(batches))
    todo = [next(batches) for _ in range(steps)]
    start = time.perf_counter()
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for batch in todo:
            trainer.train_step(batch)
    seconds = time.perf_counter() - start
    return {"what": f"training, {context}, {steps} steps", "seconds": round(seconds, 2),
            "ops": top_ops(prof, top)}  # fmt: skip


def profile_decoding(checkpoint: Path, sentences: int, beam: int, top: int) -> dict:
    from seq2seq.decode.translator import Translator
    from seq2seq.evaluate.scores import read_lines

    translator = Translator.load(checkpoint)
    sources = read_lines(MULTI30K / "test_2016_flickr.en.gz")[:sentences]
    translator.translate(sources[:64], beam_size=beam)  # warm-up
    start = time.perf_counter()
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        translator.translate(sources, beam_size=beam)
    seconds = time.perf_counter() - start
    label = "greedy" if beam == 1 else f"beam {beam}"
    return {"what": f"decoding, {label}, {len(sources)} sentences", "seconds": round(seconds, 2),
            "ops": top_ops(prof, top)}  # fmt: skip


def render(result: dict) -> str:
    lines = [f"# Profiles ({result['date']}; {result['machine']})", ""]
    lines += ["Self CPU time per operator (torch.profiler); the profiler's own overhead makes the",
              "totals longer than an unprofiled run.", ""]  # fmt: skip
    for section in result["profiles"]:
        lines += [f"## {section['what']} ({section['seconds']} s profiled)", ""]
        lines += ["| operator | calls | self ms | share |", "|---|---|---|---|"]
        for op in section["ops"]:
            lines.append(
                f"| `{op['op']}` | {op['calls']} | {op['self_ms']:,} | {100 * op['share']:.1f}% |"
            )
        lines.append("")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--checkpoint", type=Path, help="a trained model to profile decoding with")
    parser.add_argument("--sentences", type=int, default=300)
    parser.add_argument("--top", type=int, default=12)
    parser.add_argument("--contexts", nargs="+", default=list(MODELS), choices=list(MODELS))
    parser.add_argument("--out", type=Path, default=RESULTS / "profile_ops")
    args = parser.parse_args()
    if not MULTI30K.is_dir():
        sys.exit(f"Multi30k not found at {MULTI30K}")
    torch.set_num_threads(2)
    profiles = []
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = prepare_data(Path(tmp))
        for context in args.contexts:
            profiles.append(profile_training(data_dir, Path(tmp), context, args.steps, args.top))
            print(profiles[-1]["what"], profiles[-1]["seconds"], "s", file=sys.stderr)
    if args.checkpoint is not None:
        for beam in (1, 5):
            profiles.append(profile_decoding(args.checkpoint, args.sentences, beam, args.top))
            print(profiles[-1]["what"], profiles[-1]["seconds"], "s", file=sys.stderr)
    result = {
        "date": time.strftime("%Y-%m-%d"),
        "machine": f"{torch.get_num_threads()} threads, torch {torch.__version__}",
        "profiles": profiles,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps(result, indent=2) + "\n")
    args.out.with_suffix(".md").write_text(render(result))
    print(render(result))


if __name__ == "__main__":
    main()
