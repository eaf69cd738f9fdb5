"""A training run's directory: its config, log, checkpoints, and the manifest that commits them.

RUN/config.yaml          the resolved config the run was (last) started with
RUN/log.jsonl            one JSON record per log line and validation
RUN/checkpoints/step-00001000.safetensors ...   snapshots taken at step boundaries
RUN/manifest.json        the commit: the newest step, the best step and its metric, the steps kept
RUN/best.safetensors     the best step's file (a hard link to it; a copy where links fail)
RUN/last.safetensors     the newest step's file, likewise

A save has one commit point. It writes the step file, then `manifest.json` (both atomically: a
temporary file, fsync, rename); best and last are then made to follow the manifest and step files
it no longer names are deleted. A kill before the manifest's rename leaves the previous commit, one
after it the new one. Whatever a kill leaves half done, `start` finishes on the next start: it
removes the temporary files of killed writes and step files no commit names, and points best and
last at the manifest's steps again. The best step's file is never pruned.

A run directory written before manifests existed (step files, best and last only) gets its
manifest derived from the files on its first resume.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path

import yaml
from safetensors import SafetensorError, safe_open

from seq2seq.checkpoint import fault_point, fsync_dir, write_atomic, write_point
from seq2seq.config import Config
from seq2seq.data.io import remove_stale_temps, temp_path
from seq2seq.errors import CheckpointError, Seq2SeqError
from seq2seq.locking import FolderLock, hold

log = logging.getLogger(__name__)

_STEP = re.compile(r"step-(\d+)\.safetensors$")
MANIFEST_FORMAT = "seq2seq-run"


@dataclass
class Best:
    """The best step by the dev metric; `metric` is None in a run without a dev set, whose best
    is simply its newest step."""

    step: int
    metric: str | None = None
    value: float | None = None


@dataclass
class Manifest:
    """What the last save committed."""

    last: int
    best: Best | None = None
    steps: list[int] = field(default_factory=list)  # the step files kept, best's included

    def to_bytes(self) -> bytes:
        record = {"format": MANIFEST_FORMAT, "version": 1, **asdict(self)}
        return (json.dumps(record, indent=1) + "\n").encode()

    @classmethod
    def parse(cls, text: str, where: Path) -> Manifest:
        try:
            record = json.loads(text)
            if record.get("format") != MANIFEST_FORMAT:
                raise ValueError("not a run manifest")
            best = record["best"]
            return cls(
                last=int(record["last"]),
                best=None if best is None else Best(**best),
                steps=sorted(int(s) for s in record["steps"]),
            )
        except (ValueError, KeyError, TypeError, AttributeError) as err:
            raise CheckpointError(
                f"run manifest {where} is malformed ({err}); it names the run's committed "
                "checkpoints: restore it, or start again with --overwrite"
            ) from None


class RunDir:
    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.checkpoints = self.path / "checkpoints"
        self.best = self.path / "best.safetensors"
        self.last = self.path / "last.safetensors"
        self.log = self.path / "log.jsonl"
        self.manifest_path = self.path / "manifest.json"
        self.config_path = self.path / "config.yaml"
        self.manifest: Manifest | None = None  # the last commit, once `start` or `save` ran
        self.lock: FolderLock | None = None  # held from `claim` to `release` (or the process's end)

    def claim(self) -> None:
        """Make this process the directory's only writer (seq2seq/locking.py): a second `train`
        on it, fresh or resumed, or a `shortlist` into it, is refused naming this one."""
        if self.lock is None:
            self.lock = hold(self.path, "run directory")

    def release(self) -> None:
        if self.lock is not None:
            self.lock.close()
            self.lock = None

    def step_path(self, step: int) -> Path:
        return self.checkpoints / f"step-{step:08d}.safetensors"

    def step_checkpoints(self) -> list[tuple[int, Path]]:
        """Every step file on disk, committed or not, oldest first."""
        if not self.checkpoints.is_dir():
            return []
        found = []
        for file in self.checkpoints.iterdir():
            match = _STEP.match(file.name)
            if match:
                found.append((int(match.group(1)), file))
        return sorted(found)

    # -----------------------------------------------------------------------------------------
    # Reading what was committed (nothing is written)

    def committed(self) -> Manifest | None:
        """The last commit: the manifest, or for a run directory older than manifests, what its
        step files say; None when the run has committed nothing."""
        if self.manifest_path.is_file():
            return Manifest.parse(
                self.manifest_path.read_text(encoding="utf-8"), self.manifest_path
            )
        return self._derive()

    def latest(self) -> Path | None:
        """The newest committed step's file; where it is gone, the link that still holds it
        (last.safetensors, or best.safetensors when the last step was the best)."""
        manifest = self.committed()
        return None if manifest is None else self.file_of(manifest.last, manifest)

    def file_of(self, step: int, manifest: Manifest) -> Path:
        """Step `step`'s file, or else a best/last link whose header says it is that step; a
        CheckpointError saying what the manifest names and how to recover when none is."""
        path = self.step_path(step)
        if path.is_file():
            return path
        for link in (self.last, self.best):
            if _step_of(link) == step:
                return link
        role = "last" if step == manifest.last else "best"
        raise CheckpointError(
            f"{path} is missing, and neither {self.last.name} nor {self.best.name} holds step "
            f"{step}, which {self.manifest_path} names as the run's {role} checkpoint; put the "
            "file back, or start again with --overwrite"
        )

    def _derive(self) -> Manifest | None:
        """The manifest of a run directory without one: written before manifests existed, or
        killed before its first commit. Every step file is a complete snapshot (they are written
        atomically), so the newest is the last; the best is the newest checkpoint that was
        validated at its own step and improved there."""
        files = dict(self.step_checkpoints())
        if not files:
            return None
        best = None
        for path in [*files.values(), self.best]:
            found = _validated_best(path)
            if (
                found is not None
                and found.step <= max(files)
                and (best is None or found.step > best.step)
            ):
                best = found
        steps = sorted(files) + ([best.step] if best and best.step not in files else [])
        return Manifest(last=max(files), best=best, steps=steps)

    # -----------------------------------------------------------------------------------------
    # Starting: check, then recover or clear, then record the config

    def check(self, resume: bool, overwrite: bool) -> None:
        """Refuse to use the directory in a way that would lose work; writes nothing."""
        if overwrite and not resume:
            return
        manifest = self.committed()
        if not resume and (manifest is not None or self.best.exists() or self.last.exists()):
            latest = self.step_path(manifest.last) if manifest else self.last
            raise Seq2SeqError(
                f"run directory {self.path} already holds checkpoints (latest {latest.name}); "
                "pass --resume to continue that run or --overwrite to start again"
            )
        if resume and manifest is None:
            raise Seq2SeqError(f"--resume was given but {self.checkpoints} holds no checkpoint")

    def start(self, config: Config, resume: bool, overwrite: bool) -> None:
        """Claim the directory, once `check` (and, on resume, the checkpoint's config) passed:
        resume recovers the last commit and forgets log records after it, overwrite deletes the
        earlier run; then the config is recorded."""
        self.check(resume, overwrite)
        self.path.mkdir(parents=True, exist_ok=True)
        if resume:
            self.manifest = self.recover()
            self.truncate_log(self.manifest.last)
        else:  # overwrite, or nothing committed: a log there is a first try's, killed early
            self.manifest = None
            self.manifest_path.unlink(missing_ok=True)  # first: nothing is committed any more
            for _, file in self.step_checkpoints():
                file.unlink()
            for file in (self.best, self.last, self.log):
                file.unlink(missing_ok=True)
            shutil.rmtree(self.path / "tensorboard", ignore_errors=True)
            self._remove_temporary_files()
        write_atomic(
            self.config_path, yaml.safe_dump(config.to_dict(), sort_keys=False).encode("utf-8")
        )

    def recover(self) -> Manifest:
        """Make the directory what its last commit says: remove the temporary files of killed
        writes and the step files no commit names (written, never committed; or committed away and
        not yet pruned), and point best and last at the manifest's steps."""
        self._remove_temporary_files()
        manifest = self.committed()
        if manifest is None:
            raise Seq2SeqError(f"{self.checkpoints} holds no checkpoint")
        if not self.manifest_path.is_file():  # an older run directory: commit what it holds
            if manifest.best and not self.step_path(manifest.best.step).is_file():
                _link(self.best, self.step_path(manifest.best.step))  # the best outlived pruning
                fsync_dir(self.checkpoints)
            write_atomic(self.manifest_path, manifest.to_bytes())
            log.info(f"{self.path}: derived {self.manifest_path.name} from its checkpoints")
        fault_point("recover")
        for step, file in self.step_checkpoints():
            if step not in manifest.steps:
                file.unlink()
                log.info(f"removed {file}: written after the last commit or pruned by it")
        for step in sorted({manifest.last, *([manifest.best.step] if manifest.best else [])}):
            found = self.file_of(step, manifest)
            if found != self.step_path(step):  # the step file was deleted; a link holds it
                _link(found, self.step_path(step))
                log.warning(f"{self.step_path(step)} was missing: restored from {found.name}")
        self._follow(manifest)
        fsync_dir(self.checkpoints)
        return manifest

    def _remove_temporary_files(self) -> None:
        for folder in (self.path, self.checkpoints):
            for file in remove_stale_temps(folder):
                log.info(f"removed {file}, the remains of a killed write")
            for file in folder.glob(".*.tmp") if folder.is_dir() else ():  # older versions' names
                file.unlink()
                log.info(f"removed {file}, the remains of a killed write")

    # -----------------------------------------------------------------------------------------
    # Saving

    def save(self, data: bytes, step: int, keep_last: int, best: Best | None = None) -> Path:
        """Write step `step` (`best`: when it is the new best), commit it in the manifest, make
        best and last follow, and delete the step files the commit no longer keeps."""
        previous = self.manifest if self.manifest is not None else self.committed()
        path = self.step_path(step)
        write_atomic(path, data)
        best = best or (previous.best if previous else None)
        steps = sorted({*(previous.steps if previous else []), step})[-keep_last:]
        if best is not None and best.step not in steps:
            steps = sorted([*steps, best.step])
        manifest = Manifest(last=step, best=best, steps=steps)
        write_atomic(self.manifest_path, manifest.to_bytes())
        fault_point("commit")
        self.manifest = manifest
        self._follow(manifest)
        for old, file in self.step_checkpoints():
            if old not in manifest.steps:
                file.unlink(missing_ok=True)
                fault_point("prune")
        return path

    def _follow(self, manifest: Manifest) -> None:
        """Point last (and best) at the manifest's steps; a best-less manifest has no best file."""
        changed = _link(self.step_path(manifest.last), self.last)
        if manifest.best is not None:
            changed |= _link(self.step_path(manifest.best.step), self.best)
        elif self.best.exists():
            self.best.unlink()
            changed = True
        if changed:
            fsync_dir(self.path)

    def rewrite_target(self, path: Path) -> Path:
        """Where a rewrite of `path` (best, last or a step file of this run) must go: the step
        file the manifest names for it, so that the links keep following the manifest (a file
        written over best.safetensors itself would be replaced by the step file on resume)."""
        manifest = self.committed()
        if manifest is None:
            raise CheckpointError(f"{self.path} has committed no checkpoint")
        if path.name == self.best.name and manifest.best is not None:
            return self.file_of(manifest.best.step, manifest)
        if path.name == self.last.name:
            return self.file_of(manifest.last, manifest)
        return path

    def follow(self) -> None:
        """Point best and last at the manifest's step files again (after a rewrite of one)."""
        manifest = self.committed()
        if manifest is not None:
            self._follow(manifest)

    # -----------------------------------------------------------------------------------------
    # The log

    def truncate_log(self, step: int) -> None:
        """On resume, forget log records written after the checkpoint we continue from (and a
        record a kill cut short)."""
        if not self.log.is_file():
            return
        lines = self.log.read_text(encoding="utf-8").splitlines()
        kept = []
        for line in lines:
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if record.get("step", 0) <= step:
                kept.append(line)
        if kept != lines:
            write_atomic(self.log, ("\n".join(kept) + "\n" if kept else "").encode())


def _link(source: Path, target: Path) -> bool:
    """Make `target` the file `source` is, atomically: a hard link renamed over it (a copy on a
    file system without hard links); False when it already was. The caller fsyncs the folder."""
    try:
        if os.path.samefile(source, target):
            return False
    except OSError:
        pass  # target missing
    tmp = temp_path(target)
    try:
        try:
            os.link(source, tmp)
        except OSError:  # no hard links here: copy
            shutil.copyfile(source, tmp)
            with open(tmp, "rb") as handle:
                os.fsync(handle.fileno())
        fault_point(write_point(target))
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return True


def run_holding(path: str | Path) -> RunDir | None:
    """The run directory whose best.safetensors, last.safetensors or step file `path` is; None
    for a checkpoint outside a run directory."""
    path = Path(path)
    for folder in (path.parent, path.parent.parent):
        run = RunDir(folder)
        if run.manifest_path.is_file() and (
            path.name in (run.best.name, run.last.name)
            and folder == path.parent
            or _STEP.match(path.name)
            and path.parent == run.checkpoints
        ):
            return run
    return None


def _step_of(path: Path) -> int | None:
    """The step a checkpoint's header records; None for a missing or unreadable file."""
    try:
        with safe_open(str(path), framework="pt") as handle:
            return int(json.loads((handle.metadata() or {})["train_state"])["run"]["step"])
    except (OSError, SafetensorError, ValueError, KeyError, TypeError):
        return None


def _validated_best(path: Path) -> Best | None:
    """The best-score record of a checkpoint validated and improved at its own step, read from its
    header; None for any other checkpoint (or an unreadable file)."""
    try:
        with safe_open(str(path), framework="pt") as handle:
            meta = handle.metadata() or {}
        run = json.loads(meta["train_state"])["run"]
        train = json.loads(meta["config"]).get("train", {})
    except (OSError, SafetensorError, ValueError, KeyError, TypeError):
        return None
    step = run.get("step")
    if run.get("best") is None or run.get("last_valid_step") != step or run.get("bad_validations"):
        return None
    metric = "bleu" if train.get("best_metric") == "bleu" and train.get("valid_bleu") else "ppl"
    return Best(step=int(step), metric=metric, value=float(run["best"]))
