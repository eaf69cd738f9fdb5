"""Training throughput on Multi30k EN->FR, as a fraction of what this machine can compute.

    python benchmarks/train_speed.py [--steps 150] [--device cpu] [--shapes small-cpu paper-shape]
                                     [--precision fp32|bf16] [--out benchmarks/results/train_speed]

For each model shape it trains `--steps` steps with the real trainer and reports target tokens/s,
the model FLOP/s (forward + backward = 3x the forward matrix products of the LSTM layers and the
output layer) and that rate as a fraction of the matrix-multiply rate measured here, in the same
run, in the run's arithmetic (float32, or bfloat16 for `--precision bf16`). Peak memory is the
process's maximum resident set. Results go to benchmarks/results/train_speed.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
MULTI30K = ROOT.parent / "shared" / "data" / "multi30k"
RESULTS = ROOT / "benchmarks" / "results"

SHAPES = {
    # configs/small-cpu.yaml's model
    "small-cpu": {
        "embedding_size": 256,
        "hidden_size": 256,
        "layers": 2,
        "batch": 64,
        "share": 1.0,
    },
    # the paper's layer shape (4 x 1000, 1000-dim embeddings) with the 8k subword vocabulary
    # (about 7 s a step on 2 CPU cores, so it runs a tenth of --steps)
    "paper-shape": {
        "embedding_size": 1000,
        "hidden_size": 1000,
        "layers": 4,
        "batch": 128,
        "share": 0.1,
    },
}


def matmul_flops(
    device: torch.device, size: int = 2048, trials: int = 7, dtype: torch.dtype = torch.float32
) -> float:
    """This machine's GEMM rate (FLOP/s) in `dtype`: the best of several timed trials, so a
    moment of interference from other processes does not lower the bar."""
    a = torch.randn(size, size, device=device, dtype=dtype)
    b = torch.randn(size, size, device=device, dtype=dtype)
    best = float("inf")
    for trial in range(trials + 2):
        if device.type == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        for _ in range(3):
            a @ b
        if device.type == "cuda":
            torch.cuda.synchronize()
        if trial >= 2:  # the first two are warm-up
            best = min(best, time.perf_counter() - start)
    return 2 * size**3 * 3 / best


def forward_flops(shape: dict, vocab: int, src_tokens: float, tgt_tokens: float) -> float:
    """Matrix-product FLOPs of one forward pass (4 gates per LSTM layer, output softmax)."""
    emb, hid, layers = shape["embedding_size"], shape["hidden_size"], shape["layers"]
    lstm = sum(2 * 4 * hid * ((emb if i == 0 else hid) + hid) for i in range(layers))
    return lstm * src_tokens + (lstm + 2 * hid * vocab) * tgt_tokens


def prepare_data(work: Path) -> Path:
    from seq2seq.data.io import ParallelSource
    from seq2seq.data.prepare import prepare

    out = work / "multi30k-en-fr"
    prepare(
        out,
        ParallelSource(MULTI30K / "train.en.gz", MULTI30K / "train.fr.gz"),
        vocab="bpe",
        joint=True,
        src_vocab_size=8000,
        progress=False,
    )
    return out


def bench_shape(
    name: str, data_dir: Path, steps: int, device: str, work: Path, precision: str = "fp32"
) -> dict:
    from seq2seq.config import Config
    from seq2seq.experiment import build_trainer
    from seq2seq.train.metrics_log import read_log

    shape = SHAPES[name]
    steps = max(5, round(steps * shape["share"]))
    cfg = Config.model_validate(
        {
            "data": {"dir": str(data_dir), "batch_size": shape["batch"]},
            "model": {k: shape[k] for k in ("embedding_size", "hidden_size", "layers")},
            "train": {
                "out_dir": str(work / name),
                "optimizer": "adam",
                "lr": 0.001,
                "schedule": "constant",
                "normalize": "tokens",
                "max_steps": steps,
                "log_every": steps,
                "valid_every": 10**9,
                "tensorboard": False,
                "device": device,
                "precision": precision,
            },
        }
    )
    trainer = build_trainer(cfg, overwrite=True)
    trainer.fit()
    record = read_log(Path(cfg.train.out_dir) / "log.jsonl", "train")[-1]
    state = trainer.state
    seconds = state.train_seconds
    src_tokens = sum(b.n_src_tokens for b in _first_batches(trainer, steps))
    vocab = len(trainer.tgt_vocab)
    flops = 3 * forward_flops(shape, vocab, src_tokens, state.target_tokens)
    return {
        "shape": name,
        **{k: v for k, v in shape.items() if k != "share"},
        "vocab": vocab,
        "parameters": trainer.model.num_parameters(),
        "steps": state.step,
        "target_tokens": state.target_tokens,
        "seconds": round(seconds, 2),
        "tgt_tok_s": round(state.target_tokens / seconds, 1),
        "tgt_tok_s_last_window": round(record["tgt_tok_s"], 1),
        "model_gflop_s": round(flops / seconds / 1e9, 2),
    }


def _first_batches(trainer, steps: int):
    seen = 0
    for batch in trainer.train_batches.iter_epoch(0):
        if seen == steps:
            return
        seen += 1
        yield batch


def main() -> None:
    from seq2seq.runtime import keep_freed_memory

    keep_freed_memory()  # as the `seq2seq` command does
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--steps", type=int, default=150)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--shapes", nargs="+", default=list(SHAPES), choices=list(SHAPES))
    parser.add_argument("--precision", choices=["fp32", "bf16"], default="fp32",
                        help="bf16: autocast matrix products to bfloat16 (train.precision)")  # fmt: skip
    parser.add_argument("--out", type=Path, default=RESULTS / "train_speed",
                        help="results path without suffix (.json and .md are written)")  # fmt: skip
    args = parser.parse_args()
    if not MULTI30K.is_dir():
        sys.exit(f"Multi30k not found at {MULTI30K}")
    device = torch.device(args.device)
    # The bar is the GEMM rate in the arithmetic the run uses (bfloat16 is several times faster).
    dtype = torch.bfloat16 if args.precision == "bf16" else torch.float32
    peak = matmul_flops(device, dtype=dtype)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = prepare_data(Path(tmp))
        for name in args.shapes:
            row = bench_shape(name, data_dir, args.steps, args.device, Path(tmp), args.precision)
            rows.append(row)
            print(json.dumps(row), file=sys.stderr)
    peak = max(peak, matmul_flops(device, dtype=dtype))  # again after the runs; the higher counts
    for row in rows:
        row["fraction_of_matmul_peak"] = round(row["model_gflop_s"] * 1e9 / peak, 3)
    result = {
        "date": time.strftime("%Y-%m-%d"),
        "machine": f"{platform.machine()}, {torch.get_num_threads()} threads, torch {torch.__version__}, {device}, {args.precision}",
        "matmul_gflop_s": round(peak / 1e9, 1),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "rows": rows,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps(result, indent=2) + "\n")
    lines = [
        f"# Training speed ({result['date']}; {result['machine']}; {args.precision} GEMM "
        f"{result['matmul_gflop_s']} GFLOP/s)",
        "",
        "| shape | params | batch | steps | target tok/s | model GFLOP/s | of GEMM peak |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['shape']} ({r['layers']}x{r['hidden_size']}, V={r['vocab']}) | {r['parameters']:,} | "
            f"{r['batch']} | {r['steps']} | {r['tgt_tok_s']:,.0f} | {r['model_gflop_s']} | "
            f"{100 * r['fraction_of_matmul_peak']:.0f}% |"
        )
    lines.append(f"\nPeak RSS of the whole run: {result['peak_rss_mb']} MB.")
    args.out.with_suffix(".md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
