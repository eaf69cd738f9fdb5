"""Process-wide settings that make PyTorch on a CPU faster, applied once by the `seq2seq` command.

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
