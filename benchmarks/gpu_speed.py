"""The paper's model at the paper's batch size: target tokens per second and peak memory.

    python benchmarks/gpu_speed.py                     # on the GPU when there is one
    python benchmarks/gpu_speed.py --device cpu --batch 32 --steps 2 --warmup 1   # CPU figures
    torchrun --nproc-per-node 8 benchmarks/gpu_speed.py   # data parallel, one process per GPU

The model of Sutskever et al. (2014), §3.4: a 4 x 1000 LSTM encoder and decoder, 1000-dim
embeddings, 160,000 source and 80,000 target words (a full 80k softmax), about 384M parameters;
plain SGD at 0.7 with the gradient norm clipped at 5, batches of 128 pairs. It trains on
synthetic batches: each step draws a length L from the generated corpus's law (log-normal, median
22 words, at most 80: benchmarks/scale/make_corpus.py) and fills a batch of pairs with L source and
L target tokens, as length-bucketed batches nearly are. Arithmetic is bfloat16 under autocast
with float32 weights (train.precision bf16); on a GPU the LSTMs run as cuDNN's fused kernels and
SGD as PyTorch's fused update. Each step is the toolkit's own `train_step`
(seq2seq/train/trainer.py: the step `seq2seq train` runs, with the trainer's optimiser and
clipping); only the batches are made here. `--compile` adds torch.compile.

It reports target tokens per second (median over the timed steps), peak memory (CUDA's peak
allocation on a GPU; the peak resident set on a CPU), the model FLOP rate (3x the forward
matrix products) and the wall time of the paper's 7.5 epochs over its 348M French words (360M
target tokens an epoch with EOS) at that speed, on one device and, from the measured speed alone,
on 8. Results go to benchmarks/results/scale_gpu_speed.{json,md} (a CUDA device) or
scale_cpu_speed.{json,md} (no GPU).
"""

from __future__ import annotations

import argparse
import math
import os
import resource
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent / "scale"))
from common import command, machine, table, write_results  # noqa: E402

PAPER_TARGET_TOKENS_PER_EPOCH = 348_000_000 + 12_000_000  # French words + one EOS per pair
PAPER_EPOCHS = 7.5
GOAL_TOK_S = 150_000  # one H200 (issue 17)


def forward_flops(emb: int, hid: int, layers: int, vocab: int, src: int, tgt: int) -> int:
    """Matrix-product FLOPs of one forward pass (4 gates a layer, the full output softmax)."""
    lstm = sum(2 * 4 * hid * ((emb if i == 0 else hid) + hid) for i in range(layers))
    return lstm * src + (lstm + 2 * hid * vocab) * tgt


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="auto", help="auto | cuda | cpu")
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--steps", type=int, default=30, help="timed steps")
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--hidden", type=int, default=1000)
    parser.add_argument("--embedding", type=int, default=1000)
    parser.add_argument("--src-vocab", type=int, default=160_000)
    parser.add_argument("--tgt-vocab", type=int, default=80_000)
    parser.add_argument("--length", type=int, help="every batch this many tokens (default: drawn)")
    parser.add_argument("--precision", default="bf16", choices=["bf16", "fp32"])
    parser.add_argument("--compile", action="store_true", help="torch.compile the loss module")
    parser.add_argument("--threads", type=int, default=0, help="CPU threads (0: PyTorch's)")
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args()

    from seq2seq.config import Config
    from seq2seq.data.batching import Batch
    from seq2seq.model.seq2seq import Seq2Seq
    from seq2seq.train.distributed import DistContext
    from seq2seq.train.loss import SequenceLoss
    from seq2seq.train.optim import Schedule, build_optimizer
    from seq2seq.train.trainer import TrainState, train_step
    from seq2seq.train.window import Window

    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    if args.device == "auto":
        args.device = "cuda" if torch.cuda.is_available() else "cpu"
    if args.device == "cuda":
        local = int(os.environ.get("LOCAL_RANK", "0"))
        torch.cuda.set_device(local)
        device = torch.device("cuda", local)
        torch.backends.cudnn.benchmark = True
        torch.backends.cuda.matmul.allow_tf32 = True
    else:
        device = torch.device("cpu")
        from seq2seq.runtime import keep_freed_memory

        keep_freed_memory()
        if args.threads:
            torch.set_num_threads(args.threads)
    if world > 1:
        torch.distributed.init_process_group("nccl" if device.type == "cuda" else "gloo")
    torch.manual_seed(1 + rank)

    cfg = Config.model_validate(
        {
            "model": {
                "cell": "lstm",
                "embedding_size": args.embedding,
                "hidden_size": args.hidden,
                "layers": args.layers,
                "context": "init",
                "init_range": 0.08,
            },
            # paper §3.4: plain SGD at 0.7, the gradient of the loss / batch size clipped at 5
            "train": {
                "precision": args.precision,
                "optimizer": "sgd",
                "lr": 0.7,
                "clip": 5.0,
                "schedule": "constant",
                "normalize": "sentences",
            },
        }
    )
    model = Seq2Seq(cfg.model, args.src_vocab, args.tgt_vocab).to(device)
    params = sum(p.numel() for p in model.parameters())
    objective: torch.nn.Module = SequenceLoss(model, 0)
    if world > 1:
        ids = [device.index] if device.type == "cuda" else None
        objective = torch.nn.parallel.DistributedDataParallel(objective, device_ids=ids)
    step_fn = torch.compile(objective) if args.compile else objective
    optimizer = build_optimizer(model.parameters(), cfg.train)  # the trainer's own parts
    schedule = Schedule(cfg.train, steps_per_epoch=1)
    ctx = DistContext(rank=rank, world_size=world, device=device)
    state, window = TrainState(), Window(device)

    rng = np.random.default_rng(7 + rank)

    def draw_length() -> int:
        if args.length:
            return args.length
        return int(min(80, max(1, round(rng.lognormal(math.log(22.0), 0.55)))))

    def batch(length: int) -> Batch:
        """A global batch of `args.batch` pairs per rank, `length` source and target tokens."""
        b = args.batch
        src = torch.randint(4, args.src_vocab, (b, length))
        tgt = torch.randint(4, args.tgt_vocab, (b, length))
        return Batch(
            src=src,
            src_lengths=torch.full((b,), length, dtype=torch.long),
            tgt_in=torch.cat([torch.full((b, 1), 2), tgt], dim=1),
            tgt_out=torch.cat([tgt, torch.full((b, 1), 3)], dim=1),
            n_tgt_tokens=b * (length + 1),
            indices=torch.arange(b),
            n_src_tokens=b * length,
            global_sentences=b * world,
            global_tgt_tokens=b * (length + 1) * world,
        )

    def sync() -> None:
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    def step(length: int) -> int:
        """The toolkit's own step (seq2seq.train.trainer.train_step), on a batch built here."""
        train_step(batch(length), step_fn, optimizer, schedule, cfg.train, ctx, state, window)
        return args.batch * (length + 1)

    for _ in range(args.warmup):
        step(draw_length())
    sync()
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    rates, tokens_all, src_all, seconds_all = [], 0, 0, 0.0
    for _ in range(args.steps):
        length = draw_length()
        sync()
        start = time.perf_counter()
        tokens = step(length)
        sync()
        elapsed = time.perf_counter() - start
        rates.append(tokens / elapsed)
        tokens_all += tokens
        src_all += args.batch * length
        seconds_all += elapsed
    if world > 1:
        torch.distributed.destroy_process_group()
    if rank != 0:
        return 0
    tok_s = float(np.median(rates)) * world
    tok_s_mean = tokens_all / seconds_all * world
    if device.type == "cuda":
        peak_mb = torch.cuda.max_memory_allocated(device) / 2**20
        peak_kind = "CUDA peak allocated"
    else:
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        peak_kind = "peak resident set"
    flops = 3 * forward_flops(
        args.embedding, args.hidden, args.layers, args.tgt_vocab, src_all, tokens_all
    )
    total_tokens = PAPER_TARGET_TOKENS_PER_EPOCH * PAPER_EPOCHS
    one = total_tokens / tok_s_mean / 3600
    info = {
        "command": command(),
        "machine": machine(),
        "device": str(device) if device.type == "cpu" else torch.cuda.get_device_name(device),
        "world_size": world,
        "model": {
            "layers": args.layers,
            "hidden": args.hidden,
            "embedding": args.embedding,
            "src_vocab": args.src_vocab,
            "tgt_vocab": args.tgt_vocab,
            "parameters": params,
        },  # fmt: skip
        "batch": args.batch,
        "precision": args.precision,
        "compile": args.compile,
        "lengths": f"fixed {args.length}" if args.length else "log-normal, median 22, max 80",
        "warmup_steps": args.warmup,
        "timed_steps": args.steps,
        "target_tokens": tokens_all * world,
        "tgt_tok_s_median": round(tok_s),
        "tgt_tok_s_mean": round(tok_s_mean),
        "model_tflop_s": round(flops * world / seconds_all / 1e12, 2),
        "peak_memory_mb": round(peak_mb),
        "peak_memory_kind": peak_kind,
        "goal_tok_s_one_h200": GOAL_TOK_S,
        "paper_7_5_epochs_hours_at_this_speed": round(one, 1),
        "paper_7_5_epochs_hours_at_goal_speed": round(total_tokens / GOAL_TOK_S / 3600, 1),
    }
    md = f"""# The paper's model: training speed ({info["machine"]["date"]}, {info["device"]})

`{info["command"]}`

{params:,} parameters (4 x {args.hidden} LSTM encoder and decoder, {args.embedding}-dim
embeddings, {args.src_vocab:,} / {args.tgt_vocab:,} words), batch {args.batch}, {args.precision},
lengths {info["lengths"]}, {args.steps} timed steps after {args.warmup} warm-up, {
        world
    } process(es).

{
        table(
            [
                [
                    "target tok/s (median)",
                    "target tok/s (mean)",
                    "model TFLOP/s",
                    "peak memory MB",
                    "7.5 epochs (h)",
                ],
                [
                    f"{info['tgt_tok_s_median']:,}",
                    f"{info['tgt_tok_s_mean']:,}",
                    f"{info['model_tflop_s']}",
                    f"{info['peak_memory_mb']:,} ({peak_kind})",
                    f"{info['paper_7_5_epochs_hours_at_this_speed']:,}",
                ],
            ]
        )
    }

The paper's 7.5 epochs are {total_tokens / 1e9:.2f}B target tokens: {
        info["paper_7_5_epochs_hours_at_this_speed"]:,} h
at this speed; {info["paper_7_5_epochs_hours_at_goal_speed"]} h at the goal of {
        GOAL_TOK_S:,} tok/s on one H200.
"""
    print(md)
    if not args.no_write:
        name = "gpu_speed" if device.type == "cuda" else "cpu_speed"
        print(f"wrote {write_results(name, info, md)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
