"""Checkpoints: one safetensors file that holds everything needed to translate or to resume.

Tensors: ``model.*`` (weights), ``optim.*`` (optimiser state), ``rng.*`` (random generators).
Metadata (JSON strings): the experiment config, both vocabularies, the optimiser's scalar state and
the training state (step, data position, schedule, best score). Nothing is ever unpickled.

Writes are atomic: the bytes go to a temporary file in the same directory, are fsynced, then renamed
over the target, so a kill during a save leaves the previous checkpoint intact.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load as st_load
from safetensors.torch import save as st_save

from seq2seq.config import Config, config_from_dict
from seq2seq.errors import CheckpointError, ConfigError

FORMAT = "seq2seq-checkpoint"
# 2: the bridge maps an LSTM's cell state linearly (version 1 squashed it with tanh, model/bridge.py)
VERSION = "2"


@dataclass
class Checkpoint:
    """The parsed content of a checkpoint file."""

    path: Path
    config: Config
    model_state: dict[str, torch.Tensor]
    src_vocab: dict[str, Any]
    tgt_vocab: dict[str, Any]
    optim_state: dict[str, Any] | None
    train_state: dict[str, Any] | None
    rng_state: dict[str, torch.Tensor]


# ---------------------------------------------------------------------------------------------
# Saving


def _model_tensors(model: torch.nn.Module) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """State dict without shared storage (tied weights are stored once and aliased)."""
    tensors, aliases, seen = {}, {}, {}
    for name, tensor in model.state_dict().items():
        key = (tensor.data_ptr(), tensor.shape, tensor.stride())
        if key in seen:
            aliases[name] = seen[key]
            continue
        seen[key] = name
        tensors[f"model.{name}"] = tensor.detach().to("cpu").contiguous()
    return tensors, aliases


def _optim_tensors(optimizer: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], dict]:
    state = optimizer.state_dict()
    tensors, scalars = {}, {}
    for idx, slots in state["state"].items():
        for slot, value in slots.items():
            if torch.is_tensor(value):
                tensors[f"optim.{idx}.{slot}"] = value.detach().to("cpu").contiguous()
            else:
                scalars[f"{idx}.{slot}"] = value
    return tensors, {"param_groups": state["param_groups"], "scalars": scalars}


def checkpoint_bytes(
    model: torch.nn.Module,
    config: Config,
    src_vocab: Any,
    tgt_vocab: Any,
    optimizer: torch.optim.Optimizer | None = None,
    train_state: dict[str, Any] | None = None,
    extras: dict[str, torch.Tensor] | None = None,
) -> bytes:
    """Serialise a model (and optionally its training state) into safetensors bytes.

    `extras` are further named tensors that travel with the model (a lexical shortlist).
    """
    tensors, aliases = _model_tensors(model)
    tensors.update(extras or {})
    meta: dict[str, str] = {
        "format": FORMAT,
        "version": VERSION,
        "config": json.dumps(config.to_dict()),
        "src_vocab": json.dumps(src_vocab.to_dict()),
        "tgt_vocab": json.dumps(tgt_vocab.to_dict()),
        "aliases": json.dumps(aliases),
    }
    if optimizer is not None:
        optim_tensors, optim_meta = _optim_tensors(optimizer)
        tensors.update(optim_tensors)
        meta["optim"] = json.dumps(optim_meta)
    if train_state is not None:
        meta["train_state"] = json.dumps(train_state)
        tensors["rng.torch"] = torch.get_rng_state()
        if torch.cuda.is_available():
            tensors["rng.cuda"] = torch.cuda.get_rng_state()
    return st_save(tensors, metadata=meta)


def write_atomic(path: str | Path, data: bytes) -> None:
    """Write bytes so that `path` is either the old file or the complete new one, never a mix."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, 0o666 & ~_umask())  # mkstemp's 0600 would hide the file from other users
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


# ---------------------------------------------------------------------------------------------
# Loading


def read_checkpoint(path: str | Path) -> Checkpoint:
    """Parse a checkpoint file; every failure is a CheckpointError naming the file."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} does not exist")
    try:
        tensors = st_load(path.read_bytes())
        with safe_open(str(path), framework="pt") as handle:
            meta = handle.metadata() or {}
    except (SafetensorError, ValueError, OSError):
        raise CheckpointError(
            f"{path} is not a readable checkpoint (truncated or not safetensors)"
        ) from None
    if meta.get("format") != FORMAT:
        raise CheckpointError(f"{path} is a safetensors file but not a seq2seq checkpoint")
    try:
        config = config_from_dict(json.loads(meta["config"]))
    except ConfigError as err:
        raise CheckpointError(f"checkpoint {path} holds an invalid config: {err}") from None
    model_state = {k[len("model.") :]: v for k, v in tensors.items() if k.startswith("model.")}
    if meta.get("version") == "1" and "bridge.c.weight" in model_state:
        raise CheckpointError(
            f"checkpoint {path} has an LSTM bridge from checkpoint version 1, which squashed the "
            "cell state with tanh; this version maps it linearly, so the model must be retrained"
        )
    for alias, target in json.loads(meta.get("aliases", "{}")).items():
        model_state[alias] = model_state[target]
    optim_state = None
    if "optim" in meta:
        optim_meta = json.loads(meta["optim"])
        optim_state = {"param_groups": optim_meta["param_groups"], "state": {}}
        for key, value in tensors.items():
            if key.startswith("optim."):
                _, idx, slot = key.split(".", 2)
                optim_state["state"].setdefault(int(idx), {})[slot] = value
        for key, value in optim_meta["scalars"].items():
            idx, slot = key.split(".", 1)
            optim_state["state"].setdefault(int(idx), {})[slot] = value
    return Checkpoint(
        path=path,
        config=config,
        model_state=model_state,
        src_vocab=json.loads(meta["src_vocab"]),
        tgt_vocab=json.loads(meta["tgt_vocab"]),
        optim_state=optim_state,
        train_state=json.loads(meta["train_state"]) if "train_state" in meta else None,
        rng_state={k[len("rng.") :]: v for k, v in tensors.items() if k.startswith("rng.")},
    )


def load_weights(model: torch.nn.Module, ckpt: Checkpoint) -> None:
    """Load weights, turning a shape or key mismatch into one sentence."""
    own = model.state_dict()
    missing = sorted(set(own) - set(ckpt.model_state))
    unexpected = sorted(set(ckpt.model_state) - set(own))
    if missing or unexpected:
        detail = f"missing {missing[0]}" if missing else f"unexpected {unexpected[0]}"
        raise CheckpointError(
            f"checkpoint {ckpt.path} was made by a different model architecture ({detail}); "
            "check the model section of the config"
        )
    for name, tensor in own.items():
        if tensor.shape != ckpt.model_state[name].shape:
            raise CheckpointError(
                f"checkpoint {ckpt.path} does not fit this model: {name} has shape "
                f"{tuple(ckpt.model_state[name].shape)} there and {tuple(tensor.shape)} here"
            )
    model.load_state_dict(ckpt.model_state)


def load_model(path: str | Path, device: str | torch.device = "cpu"):
    """Rebuild `(model, config, src_vocab, tgt_vocab)` from a checkpoint alone, in eval mode."""
    from seq2seq.data.vocab import vocab_from_dict
    from seq2seq.model.seq2seq import Seq2Seq

    ckpt = read_checkpoint(path)
    src_vocab = vocab_from_dict(ckpt.src_vocab)
    tgt_vocab = vocab_from_dict(ckpt.tgt_vocab)
    model = Seq2Seq(ckpt.config.model, len(src_vocab), len(tgt_vocab))
    load_weights(model, ckpt)
    model.to(device).eval()
    return model, ckpt.config, src_vocab, tgt_vocab


def read_shortlist(path: str | Path):
    """A checkpoint's lexical shortlist (data/shortlist.py), reading only its own tensors;
    None when it has none."""
    from seq2seq.data.shortlist import PREFIX, Shortlist

    with safe_open(str(path), framework="pt") as handle:
        names = [k for k in handle.keys() if k.startswith(PREFIX)]
        return Shortlist.from_tensors({k: handle.get_tensor(k) for k in names})


def read_languages(path: str | Path) -> tuple[str | None, str | None]:
    """The (source, target) language codes a checkpoint was trained on; None where unknown."""
    with safe_open(str(path), framework="pt") as handle:
        meta = handle.metadata() or {}
    try:
        languages = json.loads(meta.get("languages", "{}"))
    except ValueError:
        languages = {}
    if not isinstance(languages, dict):
        languages = {}
    return languages.get("src"), languages.get("tgt")


def add_shortlist(path: str | Path, data_dir: str | Path | None, k: int, frequent: int):
    """Build the lexical shortlist of a prepared data directory (default: the checkpoint's own)
    and store it in the checkpoint, rewritten atomically. Returns the shortlist."""
    from safetensors.torch import save as st_save

    from seq2seq.data.shortlist import PREFIX, build_from_data

    if k < 1 or frequent < 0:
        raise ConfigError(f"--k must be >= 1 and --frequent >= 0 (got {k}, {frequent})")
    path = Path(path)
    ckpt = read_checkpoint(path)  # validates the file, one sentence if it is not ours
    data_dir = Path(data_dir or ckpt.config.data.dir)
    shortlist = build_from_data(data_dir, k, frequent)
    predicts = ckpt.model_state["generator.weight"].size(0)
    if shortlist.tgt_size != predicts:
        raise ConfigError(
            f"data directory {data_dir} has {shortlist.tgt_size} target tokens but checkpoint "
            f"{path} predicts {predicts}"
        )
    with safe_open(str(path), framework="pt") as handle:
        meta = handle.metadata()
    tensors = {k: v for k, v in st_load(path.read_bytes()).items() if not k.startswith(PREFIX)}
    tensors.update(shortlist.to_tensors())
    write_atomic(path, st_save(tensors, metadata=meta))
    return shortlist
