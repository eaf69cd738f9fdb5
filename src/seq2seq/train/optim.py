"""Optimisers, learning-rate schedules and gradient clipping.

The paper's recipe (§3.4): plain SGD without momentum at a learning rate of 0.7; "after 5 epochs,
we began halving the learning rate every half epoch", 7.5 epochs in all; for each batch, the
gradient of the loss divided by the batch size is rescaled to norm 5 when its norm exceeds 5.
Adam with linear warm-up and decay on a dev-perplexity plateau is the modern alternative.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import torch

from seq2seq.config import TrainConfig


def build_optimizer(
    params: Iterable[torch.nn.Parameter], cfg: TrainConfig
) -> torch.optim.Optimizer:
    """SGD without momentum (paper §3.4) or Adam; the fused single-pass kernels where available."""
    params = list(params)
    sgd = cfg.optimizer == "sgd"
    kind = torch.optim.SGD if sgd else torch.optim.Adam
    options: dict[str, Any] = {"lr": cfg.lr, "momentum": 0.0} if sgd else {"lr": cfg.lr}
    try:
        return kind(params, fused=True, **options)  # one pass over the weights instead of several
    except (RuntimeError, TypeError):  # older PyTorch, or a device without the fused kernel
        return kind(params, **options)


class Schedule:
    """The learning rate as a function of training progress, plus plateau-decay state.

    `progress` is measured in epochs (fractional), so "halve every half epoch" is exact whatever
    the number of batches per epoch.
    """

    def __init__(self, cfg: TrainConfig, steps_per_epoch: int):
        self.cfg = cfg
        self.steps_per_epoch = max(1, steps_per_epoch)
        self.scale = 1.0  # plateau decay accumulated so far
        self.bad_validations = 0

    def lr(self, step: int) -> float:
        """Learning rate for optimiser step number `step` (0-based)."""
        cfg = self.cfg
        lr = cfg.lr * self.scale
        if cfg.warmup_steps:
            lr *= min(1.0, (step + 1) / cfg.warmup_steps)
        if cfg.schedule == "halving":
            progress = step / self.steps_per_epoch
            if progress >= cfg.halve_after_epochs:  # paper §3.4: halve every half epoch after 5
                halvings = (
                    math.floor((progress - cfg.halve_after_epochs) / cfg.halve_every_epochs) + 1
                )
                lr *= 0.5**halvings
        return lr

    def validated(self, improved: bool) -> None:
        """Record a validation result; decays the rate on a plateau when that schedule is chosen."""
        if self.cfg.schedule != "plateau":
            return
        self.bad_validations = 0 if improved else self.bad_validations + 1
        if self.bad_validations > self.cfg.plateau_patience:
            self.scale *= self.cfg.plateau_factor
            self.bad_validations = 0

    def state_dict(self) -> dict[str, Any]:
        return {"scale": self.scale, "bad_validations": self.bad_validations}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.scale = float(state["scale"])
        self.bad_validations = int(state["bad_validations"])


def set_lr(optimizer: torch.optim.Optimizer, lr: float) -> None:
    for group in optimizer.param_groups:
        group["lr"] = lr


def clip_gradients(params, cfg: TrainConfig) -> torch.Tensor:
    """Rescale the gradient to norm `cfg.clip` when it is larger (paper §3.4); returns the norm
    before clipping, a 0-d tensor on the gradients' device (reading it waits for the device)."""
    params = [p for p in params if p.grad is not None]
    if cfg.clip_mode == "none":
        norms = [p.grad.detach().norm() for p in params]
        return torch.linalg.vector_norm(torch.stack(norms)) if norms else torch.zeros(())
    return torch.nn.utils.clip_grad_norm_(params, cfg.clip)
