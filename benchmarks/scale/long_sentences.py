"""Attention training on long sentences: peak memory and speed per token at 20 and 80 tokens.

    python benchmarks/scale/long_sentences.py [--steps 3] [--precision auto] [--naive]

The model is the attention recipe of configs/multi30k-en-fr.yaml (a bidirectional 2 x 256 LSTM
encoder, a 2 x 512 LSTM decoder, Bahdanau attention without input feeding, 256-dim embeddings,
an 8,000-piece vocabulary, label smoothing 0.1), trained on synthetic batches of 128 pairs whose
sources and targets all have exactly L tokens, L = 20 and L = 80, one training step (forward,
backward, clipping, Adam) after another as the trainer takes them. Each length runs in a fresh
process, under the malloc settings of `seq2seq train`, and reports the peak resident set (VmHWM)
and target tokens per second over `--steps` steps after one warm-up step. `--naive` also runs
L = 80 once with the previous attention, which built the whole (batch, target, source, attention)
tensor, for comparison. Results go to benchmarks/results/scale_long_sentences.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ROOT, command, machine, peak_rss_mb, table, write_results  # noqa: E402

BATCH = 128
VOCAB = 8000


def child(length: int, steps: int, precision: str, naive: bool, threads: int) -> dict:
    import torch
    import yaml

    from seq2seq.config import Config
    from seq2seq.model import attention
    from seq2seq.model.seq2seq import Seq2Seq
    from seq2seq.precision import autocast, resolve
    from seq2seq.runtime import keep_freed_memory
    from seq2seq.train.loss import SequenceLoss

    keep_freed_memory()
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    if naive:  # the attention as it was: the whole 4-D tensor, kept for the backward pass

        def naive_scores(q, keys, v, chunk_elements=None):
            return torch.tanh(q.unsqueeze(2) + keys.unsqueeze(1)) @ v.to(q.dtype)

        attention.additive_scores = naive_scores
    raw = yaml.safe_load((ROOT / "configs" / "multi30k-en-fr.yaml").read_text(encoding="utf-8"))
    cfg = Config.model_validate({"model": raw["model"], "train": {"precision": precision}})
    device = torch.device("cpu")
    model = Seq2Seq(cfg.model, VOCAB, VOCAB)
    objective = SequenceLoss(model, 0, 0.1)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    gen = torch.Generator().manual_seed(1)
    src = torch.randint(4, VOCAB, (BATCH, length), generator=gen)
    lengths = torch.full((BATCH,), length, dtype=torch.long)
    tgt = torch.randint(4, VOCAB, (BATCH, length), generator=gen)
    tgt_in = torch.cat([torch.full((BATCH, 1), 2), tgt], dim=1)
    tgt_out = torch.cat([tgt, torch.full((BATCH, 1), 3)], dim=1)
    tokens = BATCH * (length + 1)

    def step() -> None:
        with autocast(cfg.train.precision, device):
            loss, _ = objective(src, lengths, tgt_in, tgt_out)
        (loss / tokens).backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    start = time.perf_counter()
    step()  # warm-up
    warm = time.perf_counter() - start
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    best = min(times) if times else warm
    return {
        "length": length,
        "naive": naive,
        "precision": resolve(cfg.train.precision, device),
        "batch": BATCH,
        "target_tokens_per_step": tokens,
        "warmup_s": round(warm, 2),
        "step_s": [round(t, 2) for t in times],
        "tgt_tok_s_median": round(tokens / sorted(times)[len(times) // 2]) if times else None,
        "tgt_tok_s_best": round(tokens / best),
        "peak_rss_mb": round(peak_rss_mb(), 1),
        "parameters": sum(p.numel() for p in model.parameters()),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--precision", default="auto", choices=["auto", "fp32", "bf16"])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--naive", action="store_true", help="also run L=80 with the 4-D tensor")
    parser.add_argument("--child", nargs=2, metavar=("LENGTH", "NAIVE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        length, naive = int(args.child[0]), args.child[1] == "1"
        print(json.dumps(child(length, args.steps, args.precision, naive, args.threads)))
        return 0
    runs = [(20, False), (80, False)] + ([(80, True)] if args.naive else [])
    rows = []
    for length, naive in runs:
        cmd = [sys.executable, __file__, "--steps", str(args.steps if not naive else 1),
               "--precision", args.precision, "--threads", str(args.threads),
               "--child", str(length), "1" if naive else "0"]  # fmt: skip
        out = subprocess.run(cmd, stdout=subprocess.PIPE, text=True, check=True).stdout
        rows.append(json.loads(out.strip().splitlines()[-1]))
        print(rows[-1], file=sys.stderr)
    short, long = rows[0], rows[1]
    ratio = long["tgt_tok_s_best"] / short["tgt_tok_s_best"]
    info = {
        "command": command(),
        "machine": machine(),
        "model": "configs/multi30k-en-fr.yaml (bi-LSTM 2x256 encoder, 2x512 decoder, Bahdanau)",
        "runs": rows,
        "speed_per_token_80_vs_20": round(ratio, 3),
        "goal": {"peak_rss_mb_at_80": 4096, "speed_ratio": 0.70},
        "meets_memory_goal": long["peak_rss_mb"] <= 4096,
        "meets_speed_goal": ratio >= 0.70,
    }
    md_rows = [
        ["L (source = target)", "attention", "peak RSS MB", "step s (timed)", "target tok/s (best)"]
    ]
    for r in rows:
        md_rows.append([str(r["length"]), "4-D tensor (before)" if r["naive"] else "blocks",
                        f"{r['peak_rss_mb']:,.0f}", ", ".join(f"{t:.2f}" for t in r["step_s"]),
                        f"{r['tgt_tok_s_best']:,}"])  # fmt: skip
    md = f"""# Attention training on long sentences ({info["machine"]["date"]})

`{info["command"]}`: {info["model"]}, {short["parameters"]:,} parameters, batch {BATCH},
{short["precision"]}, synthetic batches whose sources and targets all have L tokens; each row a
fresh process (peak RSS is the whole process's, PyTorch included).

{table(md_rows)}

- Peak memory at L = 80: **{long["peak_rss_mb"]:,.0f} MB** (goal: at most 4,096 MB).
- Speed per target token at L = 80 against L = 20: **{100 * ratio:.0f}%** (goal: at least 70%).
- Load average: {info["machine"]["load_average"]} on {info["machine"]["cores"]} cores (other jobs
  ran alongside; the best of the timed steps is used).
"""
    path = write_results("long_sentences", info, md)
    print(md)
    print(f"wrote {path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
