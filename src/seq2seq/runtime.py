"""Process-wide settings that make PyTorch on a CPU faster or leaner, applied once by the `seq2seq`
command, and the one way a device name ('cpu', 'cuda:1', 'auto') becomes a device (`resolve_device`).

`seq2seq train` runs on tcmalloc where it is installed (`preload_allocator`, called by cli.py before
anything else is imported): glibc's heap fragments under training's ever-changing tensor shapes,
and the process grows by megabytes a step (benchmarks/results/train_memory.md: peak RSS and speed
per allocator). SEQ2SEQ_MALLOC=glibc keeps glibc's malloc; =jemalloc asks for jemalloc. Training
also caps oneDNN's cache of compiled kernels at 64 shapes (ONEDNN_PRIMITIVE_CACHE_CAPACITY, unless
set): with 1,024, its default, the cache grew the attention model by 270 MB in 400 steps.

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
import os
import sys

ALLOCATOR_ENV = "SEQ2SEQ_MALLOC"  # auto (tcmalloc where installed) | tcmalloc | jemalloc | glibc
LIBRARIES = {"tcmalloc": "tcmalloc_minimal", "jemalloc": "jemalloc"}  # lib<name>.so
PACKAGES = {"tcmalloc": "libtcmalloc-minimal4", "jemalloc": "libjemalloc2"}  # Debian / Ubuntu
# oneDNN (bfloat16 matrix products) keeps a compiled kernel for each of the last 1,024 matrix
# shapes by default; training's shapes change with every batch. 64 holds the recurring ones.
ONEDNN_CACHE_ENV, ONEDNN_CACHE = "ONEDNN_PRIMITIVE_CACHE_CAPACITY", "64"
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


def preload_allocator(argv: list[str], environ: dict[str, str] | None = None) -> None:
    """For `seq2seq train` (`argv` without the program): run this process again with the chosen
    allocator in LD_PRELOAD (os.execve: it does not return). Stays on glibc's malloc when asked,
    off Linux, or when `auto` finds no tcmalloc; a named allocator that is missing is a ValueError."""
    env = os.environ if environ is None else environ
    choice = env.get(ALLOCATOR_ENV, "auto")
    if choice not in ("auto", "glibc", *LIBRARIES):
        raise ValueError(
            f"{ALLOCATOR_ENV}={choice!r} is not an allocator; use auto, tcmalloc, jemalloc or glibc"
        )
    command = next((a for a in argv if not a.startswith("-")), None)
    if command == "train":  # read by oneDNN at its first kernel, so set before torch is imported
        env.setdefault(ONEDNN_CACHE_ENV, ONEDNN_CACHE)
    if command != "train" or choice == "glibc" or not sys.platform.startswith("linux"):
        return
    name = "tcmalloc" if choice == "auto" else choice
    library = ctypes.util.find_library(LIBRARIES[name])
    if library is None and choice == "auto":
        return
    if library is None:
        raise ValueError(
            f"{ALLOCATOR_ENV}={choice} but lib{LIBRARIES[name]}.so is not installed "
            f"(Debian and Ubuntu: apt install {PACKAGES[name]}); or use {ALLOCATOR_ENV}=glibc"
        )
    preloaded = env.get("LD_PRELOAD", "")
    if library in preloaded.split(":") or env.get("SEQ2SEQ_PRELOADED") == library:
        return  # in place (the second time round, or preloaded by hand)
    child = {**env, "LD_PRELOAD": ":".join(filter(None, [library, preloaded])),
             "SEQ2SEQ_PRELOADED": library}  # fmt: skip
    os.execve(sys.executable, [sys.executable, *sys.orig_argv[1:]], child)


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
