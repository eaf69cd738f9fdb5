"""The dev verdict: whether a validation improved on the best so far, and what that does to the run.

Rank 0 computes the dev metrics; its verdict (improved, not improved, or diverged) reaches every
rank, and so does the schedule it steers (the learning rate halves on a plateau), so all ranks
decide alike. The best is by dev BLEU when `train.best_metric` is bleu and BLEU was measured,
else by perplexity.
"""

from __future__ import annotations

import math

from seq2seq.train import distributed
from seq2seq.train.checkpointer import TrainState
from seq2seq.train.optim import Schedule
from seq2seq.train.window import DIVERGED, diverged


class DevVerdict:
    """Judges each validation; `metric` names what the best is measured by, `improved` the last
    verdict."""

    def __init__(self, best_metric: str, schedule: Schedule, ctx: distributed.DistContext) -> None:
        self.metric = best_metric
        self.schedule, self.ctx = schedule, ctx
        self.improved = False

    def judge(
        self, metrics: dict[str, float], dev_loss: float, state: TrainState, lr: float
    ) -> bool:
        """Record the verdict on `metrics` (rank 0's; empty elsewhere) in `state` and the schedule;
        a dev loss that is NaN, infinite or beyond `DIVERGED` raises the divergence error."""
        key = "bleu" if "bleu" in metrics and self.metric == "bleu" else "ppl"
        value = metrics.get(key)
        bad = self.ctx.is_main and not (
            dev_loss <= DIVERGED and value is not None and math.isfinite(value)
        )
        better = value is not None and not bad and (
            state.best is None or (value > state.best if key == "bleu" else value < state.best)
        )  # fmt: skip
        verdict = distributed.broadcast_float(-1.0 if bad else float(better), self.ctx)
        if verdict < 0:
            what = f"the dev loss is {dev_loss:.3g} nats per target token"
            raise diverged(f"by step {state.step}", what, state.last_save_step, lr)
        self.improved = verdict > 0
        state.last_valid_step = state.step
        self.metric = key
        if self.improved:
            state.best, state.bad_validations = value, 0
        else:
            state.bad_validations += 1
        self.schedule.validated(self.improved)
        self.schedule.scale = distributed.broadcast_float(self.schedule.scale, self.ctx)
        return self.improved
