"""The training loop, split into steps a reader can name.

    trainer = build_trainer(config)      # seq2seq/experiment.py assembles the parts
    trainer.fit()
      ├─ train_step(batch)     forward, loss / batch size, backward, clip at 5, SGD step (paper §3.4)
      ├─ validate()            dev perplexity and greedy BLEU; best-checkpoint and early-stop bookkeeping
      └─ save()                atomic safetensors checkpoint with everything needed to resume

A run killed at any point resumes with ``--resume`` from its newest checkpoint and continues
exactly as if it had never stopped: weights, optimiser, schedule, random generators and the
position in the epoch's batch order are all restored.
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

from seq2seq.checkpoint import checkpoint_bytes, load_weights, read_checkpoint
from seq2seq.config import Config
from seq2seq.data.batching import BatchIterator
from seq2seq.data.prepare import PreparedData
from seq2seq.data.shortlist import build_from_data
from seq2seq.errors import CheckpointError
from seq2seq.precision import autocast
from seq2seq.train import distributed
from seq2seq.train.loss import SequenceLoss
from seq2seq.train.metrics_log import MetricsLog
from seq2seq.train.optim import Schedule, build_optimizer, clip_gradients, set_lr
from seq2seq.train.rundir import RunDir
from seq2seq.train.validation import dev_perplexity

log = logging.getLogger(__name__)


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
        self._shortlist: dict[str, torch.Tensor] | None = None
        self._window = {"loss": 0.0, "tokens": 0, "seconds": 0.0, "norm": 0.0, "steps": 0}

    # -----------------------------------------------------------------------------------------
    # The loop

    def fit(self) -> TrainState:
        state, cfg = self.state, self.config.train
        self.log = MetricsLog(self.run.path, enabled=self.ctx.is_main, tensorboard=cfg.tensorboard)
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
        previous_handler = signal.signal(signal.SIGTERM, _raise_interrupt)
        try:
            while not self._should_stop():
                for batch in self.train_batches.iter_epoch(
                    state.epoch,
                    skip=state.batch_in_epoch,
                    rank=self.ctx.rank,
                    world_size=self.ctx.world_size,
                ):
                    self.train_step(batch)
                    bar.update(1)
                    self._after_step(bar)
                    if self._should_stop():
                        break
                else:
                    state.epoch, state.batch_in_epoch = state.epoch + 1, 0
            if state.last_valid_step != state.step:
                self.validate(bar)
            if state.last_save_step != state.step:
                self.save()
        except KeyboardInterrupt:
            if state.last_save_step != state.step:
                self.save()
            bar.close()
            log.warning(
                f"interrupted: saved step {state.step} in {self.run.path}; resume with --resume"
            )
            raise
        finally:
            signal.signal(signal.SIGTERM, previous_handler)
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

    def _after_step(self, bar: tqdm) -> None:
        cfg, state = self.config.train, self.state
        if state.step % cfg.log_every == 0:
            self._log_train(bar)
        if state.step % cfg.valid_every == 0:
            self.validate(bar)
        if state.step % (cfg.save_every or cfg.valid_every) == 0:
            self.save()

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
        (loss * (ctx.world_size / denominator)).backward()
        norm = clip_gradients(self.model.parameters(), cfg)
        set_lr(self.optimizer, self.schedule.lr(state.step))
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)

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

    def _log_train(self, bar: tqdm) -> None:
        loss, tokens, seconds, norm, steps = distributed.all_reduce_sum(
            [self._window[k] for k in ("loss", "tokens", "seconds", "norm", "steps")], self.ctx
        )
        self._window = {key: 0 if key in ("tokens", "steps") else 0.0 for key in self._window}
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
        state.last_valid_step = state.step
        if self.valid_batches is None:
            return {}
        metrics = self._dev_metrics() if self.ctx.is_main else {}
        key = "bleu" if "bleu" in metrics and cfg.best_metric == "bleu" else "ppl"
        value = metrics.get(key)
        improved = value is not None and (
            state.best is None or (value > state.best if key == "bleu" else value < state.best)
        )
        improved = distributed.broadcast_flag(improved, self.ctx)
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
        self.model.eval()
        metrics = {
            "ppl": dev_perplexity(
                self.model, self.valid_batches, self.tgt_vocab.pad_id, self.ctx.device
            )
        }
        if self.config.train.valid_bleu and self.dev_bleu is not None:
            metrics["bleu"] = self.dev_bleu(self.model)
        self.model.train()
        return metrics

    # -----------------------------------------------------------------------------------------
    # Checkpoints

    def save(self) -> None:
        state = self.state
        state.last_save_step = state.step
        if not self.ctx.is_main:
            return
        is_best = self._improved and state.last_valid_step == state.step
        data = checkpoint_bytes(
            self.model,
            self.config,
            self.src_vocab,
            self.tgt_vocab,
            optimizer=self.optimizer,
            train_state={"run": asdict(state), "schedule": self.schedule.state_dict()},
            extras=self._shortlist_tensors(),
        )
        self.run.save(
            data, state.step, self.config.train.keep_last, is_best or not self.run.best.exists()
        )

    def _shortlist_tensors(self) -> dict[str, torch.Tensor]:
        """The lexical shortlist of the training data (data/shortlist.py), built once per run."""
        if self._shortlist is None:
            self._shortlist = build_from_data(self.config.data.dir).to_tensors()
        return self._shortlist

    def restore(self) -> None:
        """Continue from the run directory's newest checkpoint, exactly where it stopped."""
        path = self.run.latest()
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
        if "torch" in ckpt.rng_state:
            torch.set_rng_state(ckpt.rng_state["torch"])
        if "cuda" in ckpt.rng_state and torch.cuda.is_available():
            torch.cuda.set_rng_state(ckpt.rng_state["cuda"])
        if self.ctx.is_main:
            self.run.truncate_log(self.state.step)
            log.info(f"resumed from {path} at step {self.state.step}")


def _raise_interrupt(signum, frame):  # SIGTERM -> the same clean save as Ctrl-C
    raise KeyboardInterrupt


# ---------------------------------------------------------------------------------------------
# CLI


