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
import re
import signal
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load as st_load
from safetensors.torch import save as st_save

from seq2seq.config import Config, config_from_dict
from seq2seq.data.io import fsync_dir  # noqa: F401  (train.rundir imports it from here)
from seq2seq.data.io import write_atomic as atomic_bytes
from seq2seq.errors import CheckpointError, ConfigError, DataError
from seq2seq.tasks import Task, get_task

FORMAT = "seq2seq-checkpoint"
VERSION = "2"  # a file of a newer version is refused (`_check_version`)


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
    tensors, aliases = {}, {}
    seen: dict[tuple[int, torch.Size, tuple[int, ...]], str] = {}  # storage -> first name
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
    languages: tuple[str | None, str | None] = (None, None),
    task: str | None = None,
) -> bytes:
    """Serialise a model (and optionally its training state) into safetensors bytes.

    `extras` are further named tensors that travel with the model (a lexical shortlist);
    `languages` the (source, target) codes of its data, e.g. ("en", "fr"), read back by
    `read_languages` (the server's language pair); `task` what its pairs are (seq2seq/tasks.py),
    read back by `read_task`.
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
    if any(languages):
        meta["languages"] = json.dumps(dict(zip(("src", "tgt"), languages)))
    if task is not None:
        meta["task"] = get_task(task).name
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
    """Write bytes so that `path` is either the old file or the complete new one, never a mix
    (`seq2seq.data.io.write_atomic`, with the crash battery's fault point before the rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_bytes(path, data, before_rename=lambda: fault_point(write_point(path)))


def write_point(path: str | Path) -> str:
    """The fault point of a write to `path`: `step-00000300.safetensors` -> `write.step`."""
    return "write." + re.sub(r"[-_]?\d+$", "", Path(path).name.split(".")[0])


# The crash battery's hook (tests/train/test_crash_battery.py): SEQ2SEQ_FAULT=POINT[@N][:SIGNAL]
# makes this process send itself SIGNAL (KILL, the default, INT or TERM) the N-th time (default 1)
# it passes the named point: `write.KIND` (a temporary file of `write_atomic` or of a best/last
# link is complete, not yet renamed; KIND as `write_point` names it), `commit` (a run's manifest
# renamed into place), `prune`, `recover` (train/rundir.py), `train.forward`, `train.update`,
# `valid.metrics` (train/trainer.py). Without the variable a point costs one dictionary lookup.
FAULT_ENV = "SEQ2SEQ_FAULT"
_fault_passes: dict[str, int] = {}


def fault_point(name: str) -> None:
    spec = os.environ.get(FAULT_ENV)
    if not spec:
        return
    point, _, signame = spec.partition(":")
    point, _, nth = point.partition("@")
    if point != name:
        return
    _fault_passes[name] = _fault_passes.get(name, 0) + 1
    if _fault_passes[name] == int(nth or 1):
        os.kill(os.getpid(), getattr(signal, f"SIG{signame or 'KILL'}"))


# ---------------------------------------------------------------------------------------------
# Loading


def _missing(path: Path) -> CheckpointError:
    """A checkpoint path that is not a file: missing, or a directory (a run directory, often)."""
    if path.is_dir():
        hint = next(
            (f" (did you mean {path / n}?)" for n in ("best.safetensors", "last.safetensors")
             if (path / n).is_file()),
            "",
        )  # fmt: skip
        return CheckpointError(f"checkpoint {path} is a directory, not a checkpoint file{hint}")
    return CheckpointError(f"checkpoint {path} does not exist")


def _check_version(meta: dict[str, str], path: Path) -> None:
    """Refuse a checkpoint written by a newer format version than this code reads."""
    written = meta.get("version", "1")
    try:
        number = int(written)
    except ValueError:
        raise CheckpointError(
            f"checkpoint {path} has format version '{written}', which this seq2seq "
            f"(format version {VERSION}) does not know"
        ) from None
    if number > int(VERSION):
        raise CheckpointError(
            f"checkpoint {path} was written by a newer seq2seq (format version {number}); this "
            f"one reads format versions up to {VERSION}: upgrade seq2seq to load it"
        )


_META_WHAT = {
    "config": "config",
    "src_vocab": "source vocabulary",
    "tgt_vocab": "target vocabulary",
    "aliases": "list of tied weights",
    "optim": "optimiser state",
    "train_state": "training state",
}


def _meta_json(meta: dict[str, str], key: str, path: Path, default: Any = None) -> Any:
    """The JSON object stored under `key`; a missing required key (no `default`) or malformed
    JSON is a CheckpointError naming the file and the key."""
    what = _META_WHAT.get(key, key)
    if key not in meta:
        if default is not None:
            return default
        raise CheckpointError(f"checkpoint {path} lacks its {what} (metadata key '{key}')")
    try:
        value = json.loads(meta[key])
    except ValueError as err:
        raise CheckpointError(
            f"checkpoint {path} has a malformed {what} (metadata key '{key}' is not JSON: {err})"
        ) from None
    if not isinstance(value, dict):
        raise CheckpointError(
            f"checkpoint {path} has a malformed {what} (metadata key '{key}' is not a JSON object)"
        )
    return value


def read_checkpoint(path: str | Path) -> Checkpoint:
    """Parse a checkpoint file; every failure is a CheckpointError naming the file: missing, a
    directory, unreadable, not safetensors, not a seq2seq checkpoint, a newer format version,
    malformed or missing metadata (config, vocabularies, training state)."""
    path = Path(path)
    if not path.is_file():
        raise _missing(path)
    try:
        data = path.read_bytes()
    except OSError as err:
        raise CheckpointError(f"cannot read checkpoint {path} ({err.strerror or err})") from None
    try:
        tensors = st_load(data)
        with safe_open(str(path), framework="pt") as handle:
            meta = handle.metadata() or {}
    except (SafetensorError, ValueError, OSError):
        raise CheckpointError(
            f"{path} is not a readable checkpoint (truncated or not safetensors)"
        ) from None
    if meta.get("format") != FORMAT:
        raise CheckpointError(f"{path} is a safetensors file but not a seq2seq checkpoint")
    _check_version(meta, path)
    try:
        config = config_from_dict(_meta_json(meta, "config", path))
    except ConfigError as err:
        raise CheckpointError(f"checkpoint {path} holds an invalid config: {err}") from None
    src_vocab = _meta_json(meta, "src_vocab", path)
    tgt_vocab = _meta_json(meta, "tgt_vocab", path)
    model_state = {k[len("model.") :]: v for k, v in tensors.items() if k.startswith("model.")}
    for alias, target in _meta_json(meta, "aliases", path, default={}).items():
        if target not in model_state:
            raise CheckpointError(
                f"checkpoint {path} ties {alias} to {target}, which it does not hold"
            )
        model_state[alias] = model_state[target]
    optim_state = None
    if "optim" in meta:
        optim_meta = _meta_json(meta, "optim", path)
        try:
            optim_state = {"param_groups": optim_meta["param_groups"], "state": {}}
            for key, value in tensors.items():
                if key.startswith("optim."):
                    _, idx, slot = key.split(".", 2)
                    optim_state["state"].setdefault(int(idx), {})[slot] = value
            for key, value in optim_meta["scalars"].items():
                idx, slot = key.split(".", 1)
                optim_state["state"].setdefault(int(idx), {})[slot] = value
        except (KeyError, ValueError, AttributeError, TypeError) as err:
            raise CheckpointError(
                f"checkpoint {path} has a malformed optimiser state ({type(err).__name__}: {err})"
            ) from None
    train_state = _meta_json(meta, "train_state", path) if "train_state" in meta else None
    return Checkpoint(
        path=path,
        config=config,
        model_state=model_state,
        src_vocab=src_vocab,
        tgt_vocab=tgt_vocab,
        optim_state=optim_state,
        train_state=train_state,
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
    from seq2seq.audio.features import AudioSource
    from seq2seq.data.vocab import vocab_from_dict
    from seq2seq.model.seq2seq import Seq2Seq

    ckpt = read_checkpoint(path)
    try:
        where = f"checkpoint {path}: the source"
        src_vocab: Any = (  # a speech model's source is audio (audio/features.py)
            AudioSource.from_dict(ckpt.src_vocab, where)
            if ckpt.config.model.acoustic
            else vocab_from_dict(ckpt.src_vocab, f"{where} vocabulary")
        )
        tgt_vocab = vocab_from_dict(ckpt.tgt_vocab, f"checkpoint {path}: the target vocabulary")
    except DataError as err:
        raise CheckpointError(str(err)) from None
    cfg = ckpt.config
    src_size = 0 if cfg.model.acoustic else len(src_vocab)  # audio: model.features
    model = Seq2Seq(cfg.model, src_size, len(tgt_vocab), ctc=cfg.train.ctc_weight > 0)
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


def read_task(path: str | Path) -> Task:
    """The task a checkpoint was trained for (seq2seq/tasks.py); translation when it records none."""
    with safe_open(str(path), framework="pt") as handle:
        meta = handle.metadata() or {}
    try:
        return get_task(meta.get("task"), f"checkpoint {path}")
    except ConfigError as err:
        raise CheckpointError(str(err)) from None


def add_shortlist(path: str | Path, data_dir: str | Path | None, k: int, frequent: int):
    """Build the lexical shortlist of a prepared data directory (default: the checkpoint's own)
    and store it in the checkpoint, rewritten atomically. Returns the shortlist."""
    from safetensors.torch import save as st_save

    from seq2seq.data.shortlist import PREFIX, build_from_data

    if k < 1 or frequent < 0:
        raise ConfigError(
            f"shortlist.k must be >= 1 and shortlist.frequent >= 0 (got {k}, {frequent})"
        )
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
