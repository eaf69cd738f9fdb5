"""Arithmetic precision: float32 everywhere, or bfloat16 matrix products under autocast.

On CPUs with AVX512-BF16 (and on recent GPUs) bfloat16 matrix products run several times faster
than float32 ones (measured figures: docs/results.md, "Decoding speed"). Autocast keeps what needs the range in float32
(log-softmax, the loss, the optimiser's weights), so only the products lose mantissa bits.
``auto`` picks bfloat16 where the hardware has it and float32 elsewhere, where emulated bfloat16
would be slower.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:  # torch is imported where it is used: `--help` stays fast
    import torch

Precision = Literal["fp32", "bf16", "auto"]


def has_fast_bf16(device: torch.device) -> bool:
    """Whether `device` multiplies bfloat16 matrices natively."""
    import torch

    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    if device.type == "cpu":
        check = getattr(torch.cpu, "_is_avx512_bf16_supported", None)
        return bool(check is not None and check())
    return False


def resolve(precision: Precision, device: torch.device) -> Literal["fp32", "bf16"]:
    """'auto' -> 'bf16' on hardware with fast bfloat16, else 'fp32'; the others unchanged."""
    if precision == "auto":
        return "bf16" if has_fast_bf16(device) else "fp32"
    return precision


def autocast(precision: Precision, device: torch.device) -> torch.autocast:
    """The autocast context for `precision` on `device` (disabled for float32)."""
    import torch

    enabled = resolve(precision, device) == "bf16"
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=enabled)
