"""The training loop: a flat loop over a few collaborators, each with one job.

    trainer = build_trainer(config)      # seq2seq/experiment.py assembles the parts
    trainer.fit(progress)                # progress(step, total, record): the command's bar
      ├─ train_step(batch)   forward, loss / batch size, backward, clip at 5, SGD step (paper §3.4)
      ├─ validate()          dev perplexity (and BLEU); the verdict (train/verdict.py) decides best
      └─ save()              a checkpoint with everything needed to resume (train/checkpointer.py),
                             committed by the run's manifest (train/rundir.py)

A run killed at any point resumes with ``--resume`` from its newest checkpoint and continues
exactly as if it had never stopped: weights, optimiser, schedule, random generators and the
position in the epoch's batch order are all restored. That holds because a checkpoint is only ever
taken at a step boundary: SIGINT and SIGTERM ask for a stop (train/stopping.py), which comes once
the step under way (with its validation and save, when due) is complete; a validation under way is
abandoned and its step saved as it was before it (the resumed run validates first). A second
signal stops at once without saving: the last commit stands. Validation runs with the random
generators put back as they were, so whether and where it stopped never shifts a dropout mask.
See docs/reliability.md.

The step never waits for the device: its loss and gradient norm stay device tensors in the log
window (train/window.py), read once per log interval. A loss or gradient norm that is NaN,
infinite or beyond `DIVERGED` nats per target token stops training with a `TrainingError` at the
next log line, validation or save; so does such a dev loss, and a weight that is NaN or infinite
at a save: a diverged model is never validated or saved. Under DDP the ranks agree on stop
requests and divergence at the same boundaries, with no collective of their own in a step.
"""

from __future__ import annotations

import logging
import math
import signal
import time
from collections.abc import Callable

import torch

from seq2seq.checkpoint import fault_point
from seq2seq.config import Config, TrainConfig
from seq2seq.data.batching import Batch, BatchIterator
from seq2seq.data.prepare import PreparedData
from seq2seq.errors import TrainingError
from seq2seq.model.seq2seq import Seq2Seq
from seq2seq.precision import autocast
from seq2seq.train import distributed
from seq2seq.train.checkpointer import Checkpointer, RandomState, TrainState, train_state
from seq2seq.train.loss import SequenceLoss
from seq2seq.train.metrics_log import MetricsLog, memory_mb
from seq2seq.train.optim import Schedule, build_optimizer, clip_gradients, set_lr
from seq2seq.train.prefetch import ahead
from seq2seq.train.rundir import Best, RunDir
from seq2seq.train.stopping import Interrupted, StopRequest, ValidationAbandoned
from seq2seq.train.validation import dev_loss, perplexity
from seq2seq.train.verdict import DevVerdict
from seq2seq.train.window import DIVERGED, Window, diverged

__all__ = ["DIVERGED", "Interrupted", "Progress", "TrainState", "Trainer", "train_step"]

log = logging.getLogger(__name__)

# progress(step, total steps, record): after every step; `record` holds the log line's figures
# (loss, ppl, tgt_tok_s, lr; rss_mb and peak_rss_mb: this rank's resident memory) at a log line
# and is empty otherwise. The command layer draws it.
Progress = Callable[[int, int, dict[str, float]], None]


class Trainer:
    """Trains one model on prepared data into a run directory; every part comes ready-made.

    `dev_bleu(model) -> float`, when given, scores the dev set by search: the command that
    assembles the trainer builds it on the decode package, which train itself does not import.
    """

    def __init__(
        self,
        config: Config,
        model: Seq2Seq,
        data: PreparedData,
        train_batches: BatchIterator,
        valid_batches: BatchIterator | None,
        run: RunDir,
        ctx: distributed.DistContext,
        dev_bleu: Callable[[Seq2Seq], float] | None = None,
    ) -> None:
        cfg = config.train
        self.config, self.model, self.data, self.run, self.ctx = config, model, data, run, ctx
        self.tgt_vocab = data.tgt_vocab
        self.train_batches, self.valid_batches = train_batches, valid_batches
        self.dev_bleu = dev_bleu
        self.steps_per_epoch = train_batches.num_batches()
        self.total_steps = math.ceil(cfg.epochs * self.steps_per_epoch)
        self.total_steps = min(self.total_steps, cfg.max_steps or self.total_steps)
        objective: torch.nn.Module = SequenceLoss(
            model, self.tgt_vocab.pad_id, cfg.label_smoothing, cfg.ctc_weight
        )
        if ctx.distributed:
            device_ids = [ctx.device.index] if ctx.device.type == "cuda" else None
            objective = torch.nn.parallel.DistributedDataParallel(objective, device_ids=device_ids)
        self.objective = objective
        self.optimizer = build_optimizer(model.parameters(), cfg)
        self.schedule = Schedule(cfg, self.steps_per_epoch)
        self.state = TrainState()
        self.window = Window(ctx.device)
        self.checkpointer = Checkpointer(config, model, self.optimizer, data, run)
        self.verdict = DevVerdict(cfg.best_metric, self.schedule, ctx)
        self.stop = StopRequest(announce=ctx.is_main)
        self.log: MetricsLog  # opened by fit()
        self._dev_loss = math.nan  # rank 0's, from the last validation
        self._stop_agreed = False  # under DDP: some rank was asked to stop (all stop together)
        self._rng_before_validation: RandomState | None = None

    # -----------------------------------------------------------------------------------------
    # The loop

    def fit(self, progress: Progress | None = None) -> TrainState:
        """Train to the end; on SIGINT / SIGTERM save the state of the last complete step and
        raise `Interrupted`; on divergence raise `TrainingError` (see the module docstring)."""
        state, cfg, ctx = self.state, self.config.train, self.ctx
        self.progress = progress or (lambda step, total, record: None)
        self.log = MetricsLog(self.run.path, enabled=ctx.is_main, tensorboard=cfg.tensorboard,
                              resumed_from=state.step or None)  # fmt: skip
        if ctx.is_main:
            log.info(f"training {self.model.num_parameters():,} parameters on {ctx.device} "
                     f"x{ctx.world_size}; {self.steps_per_epoch} batches/epoch, "
                     f"{self.total_steps} steps")  # fmt: skip
        with self.stop.catching():
            try:
                self._loop()
            except Exception as err:
                if distributed.lost_rank(err, ctx):
                    raise self._lost_rank(err) from err
                raise
            finally:
                self.log.close()
                self.run.release()
        if self._stopping():
            signum = self.stop.signum or signal.SIGTERM  # under DDP: another rank's signal
            log.warning(f"{signal.Signals(signum).name}: saved step {state.step} in "
                        f"{self.run.path}; resume with --resume")  # fmt: skip
            raise Interrupted(signum)
        return state

    def _loop(self) -> None:
        """The epochs, from where the run stands to the end or a stop; then the last step is
        validated (unless a stop came) and saved."""
        state, cfg, ctx = self.state, self.config.train, self.ctx
        try:
            if state.last_valid_step != state.step and state.step % cfg.valid_every == 0:
                self._after_step(log_train=False)  # stopped during this validation
            while not self._finished() and not self._stopping():
                epoch = self.train_batches.iter_epoch(state.epoch, skip=state.batch_in_epoch,
                                                      rank=ctx.rank, world_size=ctx.world_size)  # fmt: skip
                for batch in ahead(epoch, ctx.device):
                    self.train_step(batch)
                    self._after_step()
                    if self._finished() or self._stopping():
                        break
                else:
                    state.epoch, state.batch_in_epoch = state.epoch + 1, 0
            if not self._stopping() and state.last_valid_step != state.step:
                self.validate()
                self.save()  # the verdict changed the state: save it, saved or not
                return
        except ValidationAbandoned:
            self._end_validation()
        if state.last_save_step != state.step:
            self.save()

    def _lost_rank(self, err: BaseException) -> TrainingError:
        """The one sentence for a collective that failed because another rank is gone."""
        first = str(err).strip().splitlines()[0][:200] if str(err).strip() else type(err).__name__
        return TrainingError(
            f"rank {self.ctx.rank}: another training process stopped during step "
            f"{self.state.step + 1} ({first}); step {self.state.last_save_step} is the last "
            "checkpoint: relaunch every node with --resume"
        )

    def _stopping(self) -> bool:
        """A stop was asked for (under DDP: agreed by the ranks at a log line)."""
        return self._stop_agreed if self.ctx.distributed else self.stop.requested

    def _finished(self) -> bool:
        state, cfg = self.state, self.config.train
        if state.step >= self.total_steps:
            return True
        if cfg.max_minutes is not None and state.train_seconds >= cfg.max_minutes * 60:
            return True
        return cfg.patience is not None and state.bad_validations >= cfg.patience

    def _after_step(self, log_train: bool = True) -> None:
        """Log, validate and save as the step count asks; an improving validation always saves,
        so that best is a checkpoint of its own. Under DDP the ranks agree on a stop request at
        each log line."""
        cfg, state = self.config.train, self.state
        if log_train:
            self.progress(state.step, self.total_steps, {})
        if log_train and state.step % cfg.log_every == 0:
            self._log_train()
        validated = state.step % cfg.valid_every == 0
        if validated:
            self.validate()
        if state.step % (cfg.save_every or cfg.valid_every) == 0 or (
            validated and self.verdict.improved
        ):
            self.save()

    # -----------------------------------------------------------------------------------------
    # One step

    def train_step(self, batch: Batch) -> torch.Tensor:
        """One step (`train_step` below) of this run."""
        parts = (self.objective, self.optimizer, self.schedule, self.config.train, self.ctx)
        return train_step(batch, *parts, self.state, self.window)

    def _log_train(self) -> None:
        """The log line: the window's one wait on the device; ranks pool it, their divergence
        records and their stop requests."""
        start = time.perf_counter()
        window, (loss, norm, bad) = self.window, self.window.totals()
        window.seconds += time.perf_counter() - start  # the steps still running on the device
        self.state.train_seconds += time.perf_counter() - start
        pooled = [loss, window.tokens, window.seconds, norm, window.steps, bad, self.stop.requested]
        loss, tokens, seconds, norm, steps, any_bad, stops = distributed.all_reduce_sum(
            pooled, self.ctx
        )
        window.check(self.state.last_save_step, self.config.train.lr, bad)
        if any_bad:  # another rank's step diverged
            what = "the loss or gradient norm of another rank went bad"
            raise self._diverged(what)
        self._stop_agreed = self._stop_agreed or bool(stops)
        self.window = Window(self.ctx.device)
        if tokens == 0:
            return
        per_token = loss / tokens
        record = {"loss": per_token, "ppl": math.exp(min(per_token, 50)),
                  "lr": self.schedule.lr(self.state.step - 1), "grad_norm": norm / max(steps, 1),
                  "tgt_tok_s": tokens / (seconds / self.ctx.world_size),
                  **memory_mb()}  # fmt: skip
        epoch = round(self.state.step / self.steps_per_epoch, 4)
        self.log.write("train", self.state.step, epoch=epoch, **record)
        self.progress(self.state.step, self.total_steps, record)

    # -----------------------------------------------------------------------------------------
    # Validation

    def validate(self) -> dict[str, float]:
        """Dev perplexity (and BLEU), judged by the verdict; rank 0 computes the metrics, every
        rank takes part in sharing its verdict."""
        state = self.state
        self._check_diverged(weights=False)
        if self.valid_batches is None:
            state.last_valid_step = state.step
            return {}
        metrics = self._dev_metrics(self.valid_batches) if self.ctx.is_main else {}
        improved = self.verdict.judge(metrics, self._dev_loss, state, self.config.train.lr)
        if self.ctx.is_main:
            epoch = round(state.step / self.steps_per_epoch, 4)
            self.log.write("valid", state.step, epoch=epoch, **metrics)
            text = ", ".join(f"{k} {v:.2f}" for k, v in metrics.items())
            log.info(f"step {state.step}: dev {text}" + (" (best)" if improved else ""))
        return metrics

    def _dev_metrics(self, batches: BatchIterator) -> dict[str, float]:
        """Dev metrics, leaving the random generators as they were; a stop signal meanwhile
        abandons them (single process: under DDP the other ranks wait for rank 0's verdict)."""
        self._rng_before_validation = RandomState(self.ctx.device)
        self.model.eval()
        self.stop.abandons_validation = not self.ctx.distributed
        try:
            loss = dev_loss(self.model, batches, self.tgt_vocab.pad_id, self.ctx.device)
            metrics = {"ppl": perplexity(loss)}
            self._dev_loss = loss
            if self.config.train.valid_bleu and self.dev_bleu is not None:
                metrics["bleu"] = self.dev_bleu(self.model)
            fault_point("valid.metrics")
        finally:
            self._end_validation()
        return metrics

    def _end_validation(self) -> None:
        self.stop.abandons_validation = False  # first: no signal abandons it after this
        if self._rng_before_validation is not None:
            self._rng_before_validation.put_back()
        self.model.train()

    # -----------------------------------------------------------------------------------------
    # Checkpoints

    def _diverged(self, what: str) -> TrainingError:
        """The divergence error for something seen by this step (window.py's one sentence)."""
        state = self.state
        return diverged(f"by step {state.step}", what, state.last_save_step, self.config.train.lr)

    def _check_diverged(self, weights: bool = True) -> None:
        """Raise the divergence error when a step since the last log line diverged (on any rank:
        they pool their records here, at a validation or save every rank reaches)."""
        bad = self.window.totals()[2]
        if self.ctx.distributed and distributed.all_reduce_sum([bad], self.ctx)[0] and not bad:
            what = "the loss or gradient norm of another rank went bad"
            raise self._diverged(what)
        self.window.check(self.state.last_save_step, self.config.train.lr, bad)
        params = self.model.named_parameters() if weights else ()
        name = next((n for n, p in params if not p.isfinite().all()), None)
        if name is not None:
            what = f"weight {name} holds NaN or infinite values"
            raise self._diverged(what)

    def save(self) -> None:
        """Commit the state of the step just completed (train/checkpointer.py, train/rundir.py)."""
        state = self.state
        self._check_diverged()
        state.last_save_step = state.step
        rng = distributed.rank_rng_states(self.ctx)  # a collective: before rank 0 goes on alone
        if not self.ctx.is_main:
            return
        best = None
        if self.valid_batches is None:  # no dev set, no metric: the newest is the best there is
            best = Best(state.step)
        elif self.verdict.improved and state.last_valid_step == state.step:
            best = Best(state.step, self.verdict.metric, state.best)
        record = train_state(state, self.schedule.state_dict(), self.window.to_dict())
        self.checkpointer.save(state.step, best, record, rng)

    def restore(self) -> None:
        """Continue from the run directory's newest checkpoint, exactly where it stopped."""
        record = self.checkpointer.restore(distributed.own_rng_key(self.ctx))
        self.state = TrainState(**record["run"])
        distributed.check_same_step(self.state.step, self.ctx)
        self.schedule.load_state_dict(record["schedule"])
        self.window = Window(self.ctx.device, record.get("window"))


def train_step(batch: Batch, objective: torch.nn.Module, optimizer: torch.optim.Optimizer,
               schedule: Schedule, cfg: TrainConfig, ctx: distributed.DistContext,
               state: TrainState, window: Window) -> torch.Tensor:  # fmt: skip
    """Forward, backward, clip and update on one batch, counted in `state` and `window`; returns
    the batch's summed NLL as a device tensor. Nothing here waits for the device (the
    training-speed benchmarks time this very function)."""
    start = time.perf_counter()
    objective.train()
    batch = batch.to(ctx.device)
    with autocast(cfg.precision, ctx.device):
        loss, nll = objective(
            batch.src, batch.src_lengths, batch.tgt_in, batch.tgt_out, batch.src_map
        )
    # Paper §3.4: the gradient is divided by the batch size (global over ranks; DDP averages
    # gradients over ranks, hence the factor world_size).
    denominator = (
        batch.global_sentences if cfg.normalize == "sentences" else batch.global_tgt_tokens
    )
    fault_point("train.forward")
    (loss * (ctx.world_size / denominator)).backward()
    norm = clip_gradients([p for g in optimizer.param_groups for p in g["params"]], cfg)
    set_lr(optimizer, schedule.lr(state.step))
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    fault_point("train.update")
    state.step += 1
    state.batch_in_epoch += 1
    state.target_tokens += batch.global_tgt_tokens
    window.add(state.step, nll, batch.n_tgt_tokens, norm)
    elapsed = time.perf_counter() - start
    state.train_seconds += elapsed
    window.seconds += elapsed
    return nll
