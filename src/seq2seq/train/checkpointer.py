"""A run's checkpoints: what a save holds, how a resume reads it back, and the random generators.

A checkpoint holds the weights, the optimiser, the schedule, the run's position (`TrainState`), the
log window, the random generators, and the training data's lexical shortlist (built once per run);
`save` commits it through the run directory (train/rundir.py: step file, manifest), `restore`
puts all of it back, so that the resumed run continues exactly as if it had never stopped.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch

from seq2seq.checkpoint import checkpoint_bytes, load_weights, read_checkpoint
from seq2seq.config import Config
from seq2seq.data.audio_batching import is_audio
from seq2seq.data.prepare import PreparedData
from seq2seq.data.shortlist import build_from_data
from seq2seq.errors import CheckpointError
from seq2seq.model.seq2seq import Seq2Seq
from seq2seq.train.rundir import Best, RunDir

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


class Checkpointer:
    """Saves and restores one run's model and optimiser in its run directory."""

    def __init__(
        self,
        config: Config,
        model: Seq2Seq,
        optimizer: torch.optim.Optimizer,
        data: PreparedData,
        run: RunDir,
    ) -> None:
        self.config, self.model, self.optimizer, self.data, self.run = (
            config, model, optimizer, data, run
        )  # fmt: skip
        self._shortlist: dict[str, torch.Tensor] | None = None
        self.restored_from: Path | None = None  # the checkpoint `restore` read

    def save(
        self,
        step: int,
        best: Best | None,
        train_state: dict[str, Any],
        rank_rng: dict[str, torch.Tensor] | None = None,
    ) -> None:
        """Commit step `step` (`best`: when it is the new best) with `train_state`; `rank_rng`:
        the other DDP ranks' random generators (train/distributed.py's `rank_rng_states`)."""
        if self._shortlist is None:  # the lexical shortlist of the training data
            self._shortlist = (  # none for audio: a shortlist maps source tokens to targets
                {} if is_audio(self.data) else build_from_data(self.config.data.dir).to_tensors()
            )
        data = checkpoint_bytes(
            self.model,
            self.config,
            self.data.src_vocab,
            self.data.tgt_vocab,
            optimizer=self.optimizer,
            train_state=train_state,
            extras={**self._shortlist, **(rank_rng or {})},
            languages=(self.data.src_lang, self.data.tgt_lang),
            task=self.data.task,
        )
        self.run.save(data, step, self.config.train.keep_last, best)

    def restore(self, rng_key: str = "torch") -> dict[str, Any]:
        """Load the newest committed checkpoint into the model, the optimiser and the random
        generators (`rng_key`: this DDP rank's CPU generator, where the checkpoint has one);
        returns its training state (`run`, `schedule`, `window`)."""
        path = self.run.latest()
        if path is None:
            raise CheckpointError(
                f"--resume was given but {self.run.checkpoints} holds no checkpoint"
            )
        ckpt = read_checkpoint(path)
        mine, theirs = self.config.model.model_dump(), ckpt.config.model.model_dump()
        diff = next((k for k, v in mine.items() if theirs[k] != v), None)
        if diff is not None:
            raise CheckpointError(
                f"checkpoint {path} was trained with model.{diff}={theirs[diff]!r} "
                f"but the config asks for {mine[diff]!r}"
            )
        if ckpt.train_state is None or ckpt.optim_state is None:
            raise CheckpointError(
                f"checkpoint {path} holds weights only and cannot resume training"
            )
        load_weights(self.model, ckpt)
        self.optimizer.load_state_dict(ckpt.optim_state)
        rng_key = rng_key if rng_key in ckpt.rng_state else "torch"
        if rng_key in ckpt.rng_state:
            torch.set_rng_state(ckpt.rng_state[rng_key])
        if "cuda" in ckpt.rng_state and torch.cuda.is_available():
            torch.cuda.set_rng_state(ckpt.rng_state["cuda"])
        self.restored_from = path
        return ckpt.train_state


def train_state(state: TrainState, schedule: dict, window: dict) -> dict[str, Any]:
    """The training state a checkpoint records."""
    return {"run": asdict(state), "schedule": schedule, "window": window}


class RandomState:
    """The random generators as they were, put back after a validation (so that whether and where
    a run stopped never shifts a dropout mask)."""

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self.cpu = torch.get_rng_state()
        self.cuda = torch.cuda.get_rng_state(device) if device.type == "cuda" else None

    def put_back(self) -> None:
        torch.set_rng_state(self.cpu)
        if self.cuda is not None:
            torch.cuda.set_rng_state(self.cuda, self.device)
