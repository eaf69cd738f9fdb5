"""Batches built ahead: on a CUDA device, a thread builds the next batches in pinned memory while
the device trains on this one, and each is copied over without blocking the loop.

On a CPU the batches come as they are built: there is nothing to overlap with, and a thread would
only take a core from the step.
"""

from __future__ import annotations

import dataclasses
import queue
import threading
from collections.abc import Iterable, Iterator

import torch

from seq2seq.data.batching import Batch

DEPTH = 2  # batches built ahead
_MOVED = ("src", "src_lengths", "tgt_in", "tgt_out")  # the tensors `Batch.to` moves


def ahead(batches: Iterable[Batch], device: torch.device, depth: int = DEPTH) -> Iterator[Batch]:
    """`batches` on `device`, in order; built `depth` ahead in pinned memory on a CUDA device."""
    if device.type != "cuda":
        for batch in batches:
            yield batch.to(device)
        return
    built: queue.Queue = queue.Queue(maxsize=depth)
    done = threading.Event()
    end = object()

    def build() -> None:
        try:
            for batch in batches:
                pinned = dataclasses.replace(
                    batch, **{k: getattr(batch, k).pin_memory() for k in _MOVED}
                )
                while not done.is_set():
                    try:
                        built.put(pinned, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if done.is_set():
                    return
            built.put(end)
        except BaseException as err:  # noqa: BLE001 - handed to the loop, which raises it
            built.put(err)

    worker = threading.Thread(target=build, name="seq2seq-batches", daemon=True)
    worker.start()
    try:
        while (item := built.get()) is not end:
            if isinstance(item, BaseException):
                raise item
            yield item.to(device, non_blocking=True)
    finally:
        done.set()
