"""Process-wide settings that make PyTorch on a CPU faster, applied once by the `seq2seq` command,
and the one way a device name ('cpu', 'cuda:1', 'auto') becomes a device (`resolve_device`).

glibc's malloc hands every buffer above 128 KB (its dynamic threshold grows to at most 32 MB)
straight to the kernel with mmap and gives it back on free. Search and training allocate the
same large tensors at every step (a beam of 5 x 64 sentences over an 8k vocabulary makes
10 MB of log-probabilities per step), so each step page-faults those megabytes in again
(a large share of a bfloat16 beam search's time; docs/results.md). Serving them from the heap, and keeping freed memory there, removes the faults; the process's peak memory is
unchanged, it simply does not shrink between steps.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

M_TRIM_THRESHOLD = -1  # glibc <malloc.h>
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 32 << 20  # glibc's largest allowed value on 64-bit systems
TRIM_THRESHOLD = 1 << 30


def keep_freed_memory() -> bool:
    """Tune glibc's malloc as the module docstring says; False where there is no glibc."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # not glibc (musl has no mallopt)
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    ok = mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD) == 1
    return bool(mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD) == 1 and ok)


def resolve_device(name: str, setting: str = "--device", local_rank: int | None = None):
    """'cpu', 'cuda', 'cuda:N' or 'auto' -> a torch.device; `setting` names where the name came
    from in the one-sentence error (`--device`, `train.device`). A bare 'cuda' (or 'auto' on a
    GPU) becomes `cuda:local_rank` when `local_rank` is given (torchrun's rank on this node)."""
    import torch

    from seq2seq.errors import ConfigError

    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    try:
        device = torch.device(name)
    except RuntimeError:
        raise ConfigError(
            f"{setting} '{name}' is not a device; use cpu, cuda, cuda:N or auto"
        ) from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(
            f"{setting} is '{name}' but PyTorch sees no CUDA GPU here; use cpu or auto"
        )
    if device.type == "cuda" and device.index is None and local_rank is not None:
        device = torch.device("cuda", local_rank)
    return device
