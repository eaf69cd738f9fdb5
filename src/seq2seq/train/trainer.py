"""The training loop, split into steps a reader can name.

    trainer = build_trainer(config)      # seq2seq/experiment.py assembles the parts
    trainer.fit()
      ├─ train_step(batch)     forward, loss / batch size, backward, clip at 5, SGD step (paper §3.4)
      ├─ validate()            dev perplexity and greedy BLEU; best-checkpoint and early-stop bookkeeping
      └─ save()                a checkpoint with everything needed to resume, committed by the
                               run's manifest (train/rundir.py)

A run killed at any point resumes with ``--resume`` from its newest checkpoint and continues
exactly as if it had never stopped: weights, optimiser, schedule, random generators and the
position in the epoch's batch order are all restored. That holds because a checkpoint is only ever
taken at a step boundary: SIGINT and SIGTERM ask for a stop, which comes once the step under way
(with its validation and save, when due) is complete; a validation under way is abandoned, and
its step's state saved as it was before it (the resumed run validates first). The same signal a
second time stops at once without saving: the last commit stands. Validation runs with the random
generators put back as they were, so whether and where it stopped never shifts a dropout mask.
See docs/reliability.md.

A loss or gradient norm that is NaN, infinite or beyond `DIVERGED` nats per target token stops
training with a `TrainingError` before the update; so does such a dev loss before the step is
saved, and a weight that is NaN or infinite at a save: a diverged model is never saved.
"""

from __future__ import annotations

import logging
import math
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

import torch
from tqdm import tqdm

from seq2seq.checkpoint import checkpoint_bytes, fault_point, load_weights, read_checkpoint
from seq2seq.config import Config
from seq2seq.data.batching import BatchIterator
from seq2seq.data.prepare import PreparedData
from seq2seq.data.shortlist import build_from_data
from seq2seq.errors import CheckpointError, TrainingError
from seq2seq.precision import autocast
from seq2seq.train import distributed
from seq2seq.train.loss import SequenceLoss
from seq2seq.train.metrics_log import MetricsLog
from seq2seq.train.optim import Schedule, build_optimizer, clip_gradients, set_lr
from seq2seq.train.rundir import Best, RunDir
from seq2seq.train.validation import dev_loss, perplexity

log = logging.getLogger(__name__)

# Nats per target token beyond which training has diverged: guessing uniformly over a vocabulary
# costs ln V (about 11 for 50,000 words); only a model whose weights blew up is this sure of the
# wrong words.
DIVERGED = 100.0


class Interrupted(KeyboardInterrupt):
    """Training stopped on a signal (SIGINT, SIGTERM); `signum` says which."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


class _ValidationAbandoned(BaseException):
    """A stop was asked for during validation: it is dropped, to be done again on resume."""


@dataclass
class TrainState:
    """Everything about the run's position that is not a tensor."""

    step: int = 0
    epoch: int = 0
    batch_in_epoch: int = 0  # batches of `epoch` already consumed
    target_tokens: int = 0
    train_seconds: float = 0.0
    best: float | None = None
    bad_validations: int = 0
    last_valid_step: int = 0
    last_save_step: int = 0


class Trainer:
    """Trains one model on prepared data into a run directory; every part comes ready-made.

    `dev_bleu(model) -> float`, when given, scores the dev set by search: the command that
    assembles the trainer builds it on the decode package, which train itself does not import.
    """

    def __init__(
        self,
        config: Config,
        model: torch.nn.Module,
        data: PreparedData,
        train_batches: BatchIterator,
        valid_batches: BatchIterator | None,
        run: RunDir,
        ctx: distributed.DistContext,
        dev_bleu: Callable[[torch.nn.Module], float] | None = None,
    ) -> None:
        self.config = cfg = config
        self.model, self.data, self.run, self.ctx = model, data, run, ctx
        self.src_vocab, self.tgt_vocab = data.src_vocab, data.tgt_vocab
        self.train_batches, self.valid_batches = train_batches, valid_batches
        self.dev_bleu = dev_bleu
        self.steps_per_epoch = train_batches.num_batches()
        self.total_steps = math.ceil(cfg.train.epochs * self.steps_per_epoch)
        if cfg.train.max_steps:
            self.total_steps = min(self.total_steps, cfg.train.max_steps)
        objective = SequenceLoss(model, self.tgt_vocab.pad_id, cfg.train.label_smoothing)
        if ctx.distributed:
            device_ids = [ctx.device.index] if ctx.device.type == "cuda" else None
            objective = torch.nn.parallel.DistributedDataParallel(objective, device_ids=device_ids)
        self.objective = objective
        self.optimizer = build_optimizer(model.parameters(), cfg.train)
        self.schedule = Schedule(cfg.train, self.steps_per_epoch)
        self.state = TrainState()
        self.log: MetricsLog | None = None  # opened by fit()
        self._improved = False
        self._best_metric = cfg.train.best_metric
        self._dev_loss = math.nan  # rank 0's, from the last validation
        self._shortlist: dict[str, torch.Tensor] | None = None
        self._window = _empty_window()
        self._signal: int | None = None  # the stop signal received, if any
        self._stop_agreed = False  # under DDP: some rank received one (all ranks stop together)
        self._in_validation = False  # a stop signal now abandons the validation
        self._rng_before_validation: tuple[torch.Tensor, torch.Tensor | None] | None = None

    # -----------------------------------------------------------------------------------------
    # The loop

    def fit(self) -> TrainState:
        """Train to the end; on SIGINT / SIGTERM save the state of the last complete step and
        raise `Interrupted`; on divergence raise `TrainingError` (see the module docstring)."""
        state, cfg = self.state, self.config.train
        self.log = MetricsLog(
            self.run.path,
            enabled=self.ctx.is_main,
            tensorboard=cfg.tensorboard,
            resumed_from=state.step or None,
        )
        if self.ctx.is_main:
            params = self.model.num_parameters()
            log.info(
                f"training {params:,} parameters on {self.ctx.device} x{self.ctx.world_size}; "
                f"{self.steps_per_epoch} batches/epoch, {self.total_steps} steps"
            )
        bar = tqdm(
            total=self.total_steps,
            initial=state.step,
            disable=not self.ctx.is_main,
            desc="train",
            unit="step",
            dynamic_ncols=True,
            mininterval=0.5 if sys.stderr.isatty() else 30.0,  # a log file gets a line every 30 s
        )
        previous = self._catch_stop_signals()
        try:
            finished = False
            try:
                if state.last_valid_step != state.step and state.step % cfg.valid_every == 0:
                    self._after_step(bar, log_train=False)  # stopped during this validation
                while not self._should_stop() and not self._stop_requested():
                    for batch in self.train_batches.iter_epoch(
                        state.epoch,
                        skip=state.batch_in_epoch,
                        rank=self.ctx.rank,
                        world_size=self.ctx.world_size,
                    ):
                        self.train_step(batch)
                        bar.update(1)
                        self._after_step(bar)
                        if self._should_stop() or self._stop_requested():
                            break
                    else:
                        state.epoch, state.batch_in_epoch = state.epoch + 1, 0
                if not self._stop_requested():
                    stale = state.last_save_step != state.step
                    if state.last_valid_step != state.step:
                        self.validate(bar)
                        stale = True
                    if stale:
                        self.save()
                    finished = True
            except _ValidationAbandoned:
                self._end_validation()
            if not finished:
                if state.last_save_step != state.step:
                    self.save()
                bar.close()
                log.warning(
                    f"{signal.Signals(self._signal or signal.SIGINT).name}: saved step "
                    f"{state.step} in {self.run.path}; resume with --resume"
                )
                raise Interrupted(self._signal or signal.SIGINT)
        finally:
            self._restore_signals(previous)
            bar.close()
            self.log.close()
        return state

    def _should_stop(self) -> bool:
        state, cfg = self.state, self.config.train
        if state.step >= self.total_steps:
            return True
        if cfg.max_minutes is not None and state.train_seconds >= cfg.max_minutes * 60:
            return True
        return cfg.patience is not None and state.bad_validations >= cfg.patience

    def _after_step(self, bar: tqdm, log_train: bool = True) -> None:
        """Log, validate and save as the step count asks; an improving validation always saves,
        so that best is a checkpoint of its own."""
        cfg, state = self.config.train, self.state
        if log_train and state.step % cfg.log_every == 0:
            self._log_train(bar)
        validated = state.step % cfg.valid_every == 0
        if validated:
            self.validate(bar)
        if state.step % (cfg.save_every or cfg.valid_every) == 0 or (validated and self._improved):
            self.save()

    # -----------------------------------------------------------------------------------------
    # Stop signals: a stop comes at a step boundary (see the module docstring)

    def _catch_stop_signals(self) -> dict[int, object]:
        previous = {}
        for signum in (signal.SIGINT, signal.SIGTERM):
            try:
                if signal.getsignal(signum) is not signal.SIG_IGN:  # `cmd &` ignores SIGINT
                    previous[signum] = signal.signal(signum, self._on_stop_signal)
            except ValueError:  # not the main thread (an embedding program): leave signals alone
                pass
        return previous

    @staticmethod
    def _restore_signals(previous: dict[int, object]) -> None:
        for signum, handler in previous.items():
            signal.signal(signum, signal.SIG_DFL if handler is None else handler)

    def _on_stop_signal(self, signum: int, frame) -> None:
        if self._signal == signum:  # the same signal again: stop now; the last commit stands
            raise Interrupted(signum)
        first = self._signal is None
        self._signal = signum
        if first and self.ctx.is_main:
            log.warning(
                f"{signal.Signals(signum).name}: stopping at the end of the step under way, "
                "once it is saved (send it again to stop at once, losing the steps since the "
                "last checkpoint)"
            )
        if self._in_validation:
            raise _ValidationAbandoned

    def _stop_requested(self) -> bool:
        return self._stop_agreed if self.ctx.distributed else self._signal is not None

    # -----------------------------------------------------------------------------------------
    # One step

    def train_step(self, batch) -> float:
        """Forward, backward, clip and update on one batch; returns the batch's summed NLL."""
        cfg, state, ctx = self.config.train, self.state, self.ctx
        start = time.perf_counter()
        self.objective.train()
        batch = batch.to(ctx.device)
        with autocast(cfg.precision, ctx.device):
            loss, nll = self.objective(batch.src, batch.src_lengths, batch.tgt_in, batch.tgt_out)
        # Paper §3.4: the gradient is divided by the batch size (global over ranks; DDP averages
        # gradients over ranks, hence the factor world_size).
        denominator = (
            batch.global_sentences if cfg.normalize == "sentences" else batch.global_tgt_tokens
        )
        fault_point("train.forward")
        (loss * (ctx.world_size / denominator)).backward()
        norm = clip_gradients(self.model.parameters(), cfg)
        self._check_diverged(float(nll), batch.n_tgt_tokens, norm)
        set_lr(self.optimizer, self.schedule.lr(state.step))
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        fault_point("train.update")

        state.step += 1
        state.batch_in_epoch += 1
        elapsed = time.perf_counter() - start
        state.train_seconds += elapsed
        state.target_tokens += batch.global_tgt_tokens
        window = self._window
        window["loss"] += float(nll)
        window["tokens"] += batch.n_tgt_tokens
        window["seconds"] += elapsed
        window["norm"] += norm
        window["steps"] += 1
        return float(nll)

    def _check_diverged(self, nll: float, tokens: int, norm: float) -> None:
        """Raise TrainingError, before the update, when the loss or gradient went bad. Under DDP
        the ranks pool the loss and their stop requests here, so they all decide alike."""
        stop = 1.0 if self._signal is not None else 0.0
        if self.ctx.distributed:
            nll, tokens, stop = distributed.all_reduce_sum([nll, tokens, stop], self.ctx)
            self._stop_agreed = self._stop_agreed or stop > 0
        per_token = nll / max(tokens, 1)
        if math.isfinite(per_token) and math.isfinite(norm) and per_token <= DIVERGED:
            return
        raise TrainingError(
            f"training diverged at step {self.state.step + 1}: the loss is {per_token:.3g} nats "
            f"per target token and the gradient norm {norm:.3g}; nothing after step "
            f"{self.state.last_save_step} was saved; lower train.lr (now "
            f"{self.config.train.lr:g}) or check the data, then --resume or --overwrite"
        )

    def _log_train(self, bar: tqdm) -> None:
        loss, tokens, seconds, norm, steps = distributed.all_reduce_sum(
            [self._window[k] for k in ("loss", "tokens", "seconds", "norm", "steps")], self.ctx
        )
        self._window = _empty_window()
        if tokens == 0:
            return
        per_token = loss / tokens
        tok_s = tokens / (seconds / self.ctx.world_size)
        lr = self.schedule.lr(self.state.step - 1)
        bar.set_postfix(
            loss=f"{per_token:.3f}",
            ppl=f"{math.exp(min(per_token, 50)):.1f}",
            tok_s=f"{tok_s:,.0f}",
            lr=f"{lr:.3g}",
        )
        self.log.write(
            "train",
            self.state.step,
            epoch=round(self.state.step / self.steps_per_epoch, 4),
            loss=per_token,
            ppl=math.exp(min(per_token, 50)),
            lr=lr,
            grad_norm=norm / max(steps, 1),
            tgt_tok_s=tok_s,
        )

    # -----------------------------------------------------------------------------------------
    # Validation

    def validate(self, bar: tqdm | None = None) -> dict[str, float]:
        """Dev perplexity (and BLEU); keeps the best score and counts validations without gain.

        Rank 0 computes the metrics; every rank takes part in sharing its verdict.
        """
        state, cfg = self.state, self.config.train
        if self.valid_batches is None:
            state.last_valid_step = state.step
            return {}
        metrics = self._dev_metrics() if self.ctx.is_main else {}
        key = "bleu" if "bleu" in metrics and cfg.best_metric == "bleu" else "ppl"
        value = metrics.get(key)
        diverged = self.ctx.is_main and not (self._dev_loss <= DIVERGED and math.isfinite(value))
        improved = (
            value is not None
            and not diverged
            and (
                state.best is None or (value > state.best if key == "bleu" else value < state.best)
            )
        )
        verdict = distributed.broadcast_float(-1.0 if diverged else float(improved), self.ctx)
        if verdict < 0:
            raise TrainingError(
                f"training diverged by step {state.step}: the dev loss is {self._dev_loss:.3g} "
                f"nats per target token; nothing after step {state.last_save_step} was saved; "
                f"lower train.lr (now {cfg.lr:g}) or check the data, then --resume or --overwrite"
            )
        improved = verdict > 0
        state.last_valid_step = state.step
        self._best_metric = key
        if improved:
            state.best = value
            state.bad_validations = 0
        else:
            state.bad_validations += 1
        self._improved = improved
        self.schedule.validated(improved)
        self.schedule.scale = distributed.broadcast_float(self.schedule.scale, self.ctx)
        if self.ctx.is_main:
            self.log.write(
                "valid", state.step, epoch=round(state.step / self.steps_per_epoch, 4), **metrics
            )
            text = ", ".join(f"{k} {v:.2f}" for k, v in metrics.items())
            message = f"step {state.step}: dev {text}" + (" (best)" if improved else "")
            if bar is not None:
                bar.write(message, file=sys.stderr)
            else:
                log.info(message)
        return metrics

    def _dev_metrics(self) -> dict[str, float]:
        """Dev metrics, leaving the random generators as they were; a stop signal meanwhile
        abandons them (single process: under DDP the other ranks wait for rank 0's verdict)."""
        self._rng_before_validation = _rng_state(self.ctx.device)
        self.model.eval()
        self._in_validation = not self.ctx.distributed
        try:
            loss = dev_loss(self.model, self.valid_batches, self.tgt_vocab.pad_id, self.ctx.device)
            metrics = {"ppl": perplexity(loss)}
            self._dev_loss = loss
            if self.config.train.valid_bleu and self.dev_bleu is not None:
                metrics["bleu"] = self.dev_bleu(self.model)
            fault_point("valid.metrics")
        finally:
            self._end_validation()
        return metrics

    def _end_validation(self) -> None:
        self._in_validation = False  # first: no signal abandons the validation after this
        if self._rng_before_validation is not None:
            _set_rng_state(self._rng_before_validation, self.ctx.device)
        self.model.train()

    # -----------------------------------------------------------------------------------------
    # Checkpoints

    def save(self) -> None:
        """Commit the state of the step just completed (train/rundir.py: step file, manifest)."""
        state = self.state
        bad = next((n for n, p in self.model.named_parameters() if not p.isfinite().all()), None)
        if bad is not None:
            raise TrainingError(
                f"training diverged by step {state.step}: weight {bad} holds NaN or infinite "
                f"values; nothing after step {state.last_save_step} was saved; lower train.lr "
                f"(now {self.config.train.lr:g}) or check the data, then --resume or --overwrite"
            )
        state.last_save_step = state.step
        if not self.ctx.is_main:
            return
        best = None
        if self.valid_batches is None:  # no dev set, no metric: the newest is the best there is
            best = Best(state.step)
        elif self._improved and state.last_valid_step == state.step:
            best = Best(state.step, self._best_metric, state.best)
        data = checkpoint_bytes(
            self.model,
            self.config,
            self.src_vocab,
            self.tgt_vocab,
            optimizer=self.optimizer,
            train_state={
                "run": asdict(state),
                "schedule": self.schedule.state_dict(),
                "window": dict(self._window),
            },
            extras=self._shortlist_tensors(),
            languages=(self.data.src_lang, self.data.tgt_lang),
        )
        self.run.save(data, state.step, self.config.train.keep_last, best)

    def _shortlist_tensors(self) -> dict[str, torch.Tensor]:
        """The lexical shortlist of the training data (data/shortlist.py), built once per run."""
        if self._shortlist is None:
            self._shortlist = build_from_data(self.config.data.dir).to_tensors()
        return self._shortlist

    def restore(self) -> None:
        """Continue from the run directory's newest checkpoint, exactly where it stopped."""
        path = self.run.latest()
        if path is None:
            raise CheckpointError(
                f"--resume was given but {self.run.checkpoints} holds no checkpoint"
            )
        ckpt = read_checkpoint(path)
        if ckpt.config.model != self.config.model:
            diff = next(
                k
                for k, v in self.config.model.model_dump().items()
                if ckpt.config.model.model_dump()[k] != v
            )
            raise CheckpointError(
                f"checkpoint {path} was trained with model.{diff}={getattr(ckpt.config.model, diff)!r} "
                f"but the config asks for {getattr(self.config.model, diff)!r}"
            )
        if ckpt.train_state is None or ckpt.optim_state is None:
            raise CheckpointError(
                f"checkpoint {path} holds weights only and cannot resume training"
            )
        load_weights(self.model, ckpt)
        self.optimizer.load_state_dict(ckpt.optim_state)
        self.state = TrainState(**ckpt.train_state["run"])
        self.schedule.load_state_dict(ckpt.train_state["schedule"])
        self._window = {**_empty_window(), **ckpt.train_state.get("window", {})}
        if "torch" in ckpt.rng_state:
            torch.set_rng_state(ckpt.rng_state["torch"])
        if "cuda" in ckpt.rng_state and torch.cuda.is_available():
            torch.cuda.set_rng_state(ckpt.rng_state["cuda"])
        if self.ctx.is_main:
            log.info(f"resumed from {path} at step {self.state.step}")


def _empty_window() -> dict[str, float]:
    """The training records accumulated since the last log line (saved: a resumed run's next
    line is the one the unbroken run writes)."""
    return {"loss": 0.0, "tokens": 0, "seconds": 0.0, "norm": 0.0, "steps": 0}


def _rng_state(device: torch.device) -> tuple[torch.Tensor, torch.Tensor | None]:
    cuda = torch.cuda.get_rng_state(device) if device.type == "cuda" else None
    return torch.get_rng_state(), cuda


def _set_rng_state(state: tuple[torch.Tensor, torch.Tensor | None], device: torch.device) -> None:
    torch.set_rng_state(state[0])
    if state[1] is not None:
        torch.cuda.set_rng_state(state[1], device)


# ---------------------------------------------------------------------------------------------
# CLI
