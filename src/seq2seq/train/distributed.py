"""Devices and many processes: one code path for a CPU, a GPU, or `torchrun` with DDP.

Under ``torchrun --nproc-per-node N -m seq2seq.cli train CONFIG`` every rank builds the same global
batch and trains on its rows; gradients are averaged by DistributedDataParallel (NCCL on GPUs,
gloo on CPUs). Rank 0 alone validates, logs and writes checkpoints.

    # one machine, 4 GPUs
    torchrun --standalone --nproc-per-node 4 -m seq2seq.cli train configs/paper.yaml --set train.device=cuda
    # two CPU processes (what the tests run)
    torchrun --standalone --nproc-per-node 2 -m seq2seq.cli train configs/small-cpu.yaml
    # two nodes
    torchrun --nnodes 2 --nproc-per-node 8 --rdzv-backend c10d --rdzv-endpoint HOST:29500 -m seq2seq.cli train ...
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

from seq2seq.runtime import resolve_device


@dataclass
class DistContext:
    rank: int
    world_size: int
    device: torch.device

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1


def setup(device: str) -> DistContext:
    """Join the process group when launched by torchrun; otherwise a single-process context."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    dev = resolve_device(device, "train.device", local_rank)
    if world_size > 1 and not dist.is_initialized():
        if dev.type == "cuda":
            torch.cuda.set_device(dev)
        dist.init_process_group(backend="nccl" if dev.type == "cuda" else "gloo")
    rank = dist.get_rank() if dist.is_initialized() else 0
    return DistContext(rank=rank, world_size=world_size, device=dev)


def all_reduce_sum(values: list[float], ctx: DistContext) -> list[float]:
    """Sum a few scalars over all ranks (identity in a single process)."""
    if not ctx.distributed:
        return values
    tensor = torch.tensor(values, dtype=torch.float64, device=ctx.device)
    dist.all_reduce(tensor)
    return tensor.tolist()


def broadcast_float(value: float, ctx: DistContext) -> float:
    if not ctx.distributed:
        return value
    tensor = torch.tensor([value], dtype=torch.float64, device=ctx.device)
    dist.broadcast(tensor, src=0)
    return float(tensor.item())


def teardown(ctx: DistContext) -> None:
    if ctx.distributed and dist.is_initialized():
        dist.destroy_process_group()
