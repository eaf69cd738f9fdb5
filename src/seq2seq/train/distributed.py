"""Devices and many processes: one code path for a CPU, a GPU, or `torchrun` with DDP, on one
machine or several.

Under ``torchrun -m seq2seq.cli train CONFIG`` every rank builds the same global batch and trains on
its rows; gradients are averaged by DistributedDataParallel (NCCL on GPUs, gloo on CPUs). The global
rank 0 alone validates, logs, holds the run directory's lock and writes checkpoints; a GPU is picked
by the local rank (the rank on its node). Every rank reads the prepared data and, on `--resume`,
the newest checkpoint, so both must be on a file system every node sees.

    # one machine, 4 GPUs
    torchrun --standalone --nproc-per-node 4 -m seq2seq.cli train configs/paper.yaml --set train.device=cuda
    # two CPU processes (what the tests run)
    torchrun --standalone --nproc-per-node 2 -m seq2seq.cli train configs/small-cpu.yaml
    # two nodes of 8 GPUs: the same line on each, NODE = 0 on the first (HOST), 1 on the other
    torchrun --nnodes 2 --nproc-per-node 8 --node-rank NODE --master-addr HOST --master-port 29500 \
        -m seq2seq.cli train configs/paper.yaml                   (docs/scaling.md: under Slurm)

A rank that dies (its node killed, say) makes the others fail at their next collective with one
sentence (`lost_rank`); the last checkpoint stands, and relaunching every node with `--resume`
continues from it. Each rank's random generators are saved (`rank_rng_states`), so a resumed run
draws the same dropout masks on every rank as one that never stopped.
"""

from __future__ import annotations

import logging
import os
import sys
from dataclasses import dataclass

import torch
import torch.distributed as dist

from seq2seq.errors import CheckpointError
from seq2seq.runtime import resolve_device

_joined = False  # set by `setup` when this process joins a process group


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
        global _joined
        _joined = True
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


def rank_rng_states(ctx: DistContext) -> dict[str, torch.Tensor]:
    """Every other rank's CPU random generator, gathered on all ranks for rank 0's checkpoint:
    ``{"rng.torch.rank1": state, ...}`` (rank 0's own is the checkpoint's ``rng.torch``). Ranks
    draw different amounts (their rows differ), so one state would not resume them all."""
    if not ctx.distributed:
        return {}
    states: list[torch.Tensor | None] = [None] * ctx.world_size
    dist.all_gather_object(states, torch.get_rng_state())
    return {f"rng.torch.rank{r}": s for r, s in enumerate(states) if r > 0 and s is not None}


def own_rng_key(ctx: DistContext) -> str:
    """The key of this rank's CPU generator in a checkpoint's random states."""
    return "torch" if ctx.rank == 0 else f"torch.rank{ctx.rank}"


def check_same_step(step: int, ctx: DistContext) -> None:
    """Refuse to resume when the ranks restored different steps (a run directory that is not on
    a file system every node sees, or was copied between them)."""
    if not ctx.distributed:
        return
    steps: list[int | None] = [None] * ctx.world_size
    dist.all_gather_object(steps, step)
    if len(set(steps)) > 1:
        raise CheckpointError(
            f"--resume: the ranks restored different steps ({', '.join(map(str, steps))} for "
            "ranks 0, 1, ...); put train.out_dir on a file system every node sees"
        )


def lost_rank(err: BaseException, ctx: DistContext) -> bool:
    """Whether `err` says another rank is gone (its process or node died): the collectives of
    gloo and NCCL then fail with a connection or backend error."""
    if not ctx.distributed:
        return False
    if isinstance(err, dist.DistError):
        return True
    text = str(err)
    return isinstance(err, RuntimeError) and any(
        mark in text for mark in ("gloo", "Connection reset", "Connection closed", "NCCL")
    )


def teardown(ctx: DistContext, together: bool) -> None:
    """Leave the process group; `together` (every rank ended the same way: finished, or stopped
    at an agreed step) first waits at a barrier, so that no rank leaves while rank 0 still
    validates or writes the last checkpoint with the group open. A rank that failed leaves at once."""
    if ctx.distributed and dist.is_initialized():
        if together:
            try:
                dist.barrier()
            except Exception as err:  # a rank that failed after the last step says so itself
                if not lost_rank(err, ctx):
                    raise
        dist.destroy_process_group()


def joined() -> bool:
    """Whether this process joined a process group (it may have left it since)."""
    return _joined


def end_process(status: int) -> None:
    """End a process that joined a process group with `status`, skipping the interpreter's and the
    C++ libraries' finalisation: the communication backend's threads can outlive the group and
    abort the exit ('terminate called without an active exception', SIGABRT), which torchrun
    reports as a failed run. Called after every file is written and every log line flushed."""
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe or stream: nothing left to say on it
            pass
    os._exit(status)
