"""What the training steps since the last log line add up to, kept on the device.

A step adds its summed loss and its gradient norm as device tensors and never waits for the
device: reading them (`totals`) is the loop's one wait per log interval. Divergence is watched the
same way: a step whose loss is NaN, infinite or beyond `DIVERGED` nats per target token, or whose
gradient norm is not finite, is remembered on the device (the first such step, its loss and norm),
and `check` turns it into a `TrainingError` at the next log line, validation or save, so a
diverged model is never validated or saved. The window travels in checkpoints (`to_dict`), so a
resumed run's next log line is the one the unbroken run writes.
"""

from __future__ import annotations

import torch

from seq2seq.errors import TrainingError

# Nats per target token beyond which training has diverged: guessing uniformly over a vocabulary
# costs ln V (about 11 for 50,000 words); only a model whose weights blew up is this sure of the
# wrong words.
DIVERGED = 100.0


def diverged(when: str, what: str, last_saved: int, lr: float) -> TrainingError:
    """The one sentence for every kind of divergence: `when` ("at step 7"), `what` went bad."""
    return TrainingError(
        f"training diverged {when}: {what}; nothing after step {last_saved} was saved; "
        f"lower train.lr (now {lr:g}) or check the data, then --resume or --overwrite"
    )


class Window:
    """Sums since the last log line; `loss` and `norm` (and the divergence record) on `device`."""

    def __init__(self, device: torch.device, record: dict[str, float] | None = None) -> None:
        record = record or {}
        self.device = device
        self.loss = torch.tensor(record.get("loss", 0.0), dtype=torch.float64, device=device)
        self.norm = torch.tensor(record.get("norm", 0.0), dtype=torch.float64, device=device)
        self.tokens = int(record.get("tokens", 0))
        self.seconds = float(record.get("seconds", 0.0))
        self.steps = int(record.get("steps", 0))
        # (step, loss per token, norm) of the first diverged step; step 0 while there is none
        self.bad = torch.zeros(3, dtype=torch.float64, device=device)

    def add(self, step: int, nll: torch.Tensor, tokens: int, norm: torch.Tensor) -> None:
        """One step's summed loss over `tokens` target tokens and its gradient norm; no wait."""
        nll, norm = nll.detach().double(), norm.detach().double()
        self.loss += nll
        self.norm += norm
        self.tokens += tokens
        self.steps += 1
        per_token = nll / max(tokens, 1)
        ok = torch.isfinite(per_token) & torch.isfinite(norm) & (per_token <= DIVERGED)
        first = ~ok & (self.bad[0] == 0)
        self.bad = torch.where(first, torch.stack([per_token.new_tensor(step), per_token, norm]),
                               self.bad)  # fmt: skip

    def totals(self) -> tuple[float, float, float]:
        """(summed loss, summed norm, first diverged step or 0): the one wait on the device."""
        loss, norm, bad_step = torch.stack([self.loss, self.norm, self.bad[0]]).tolist()
        return loss, norm, bad_step

    def check(self, last_saved: int, lr: float, bad_step: float | None = None) -> None:
        """Raise the divergence error when a step since the last log line diverged."""
        if bad_step is None:
            bad_step = float(self.bad[0])
        if bad_step:
            step, per_token, norm = self.bad.tolist()
            what = f"the loss is {per_token:.3g} nats per target token and the gradient norm {norm:.3g}"
            raise diverged(f"at step {int(step)}", what, last_saved, lr)

    def to_dict(self) -> dict[str, float]:
        loss, norm, _ = self.totals()
        return {"loss": loss, "tokens": self.tokens, "seconds": self.seconds, "norm": norm,
                "steps": self.steps}  # fmt: skip
