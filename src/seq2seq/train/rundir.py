"""A training run's directory: its config, log, rotating checkpoints and the best one.

RUN/config.yaml                  the resolved config the run was started with
RUN/log.jsonl                    one JSON record per log line and validation
RUN/checkpoints/step-00001000.safetensors ...   the last `keep_last` checkpoints
RUN/best.safetensors             the best by the chosen dev metric
RUN/last.safetensors             a copy of the newest, for `translate` without a step number
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import yaml

from seq2seq.checkpoint import write_atomic
from seq2seq.config import Config
from seq2seq.errors import Seq2SeqError

_STEP = re.compile(r"step-(\d+)\.safetensors$")


class RunDir:
    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.checkpoints = self.path / "checkpoints"
        self.best = self.path / "best.safetensors"
        self.last = self.path / "last.safetensors"
        self.log = self.path / "log.jsonl"

    def step_checkpoints(self) -> list[tuple[int, Path]]:
        if not self.checkpoints.is_dir():
            return []
        found = []
        for file in self.checkpoints.iterdir():
            match = _STEP.match(file.name)
            if match:
                found.append((int(match.group(1)), file))
        return sorted(found)

    def latest(self) -> Path | None:
        found = self.step_checkpoints()
        return found[-1][1] if found else None

    def start(self, config: Config, resume: bool, overwrite: bool) -> None:
        """Check the directory may be used as asked; never silently clobber earlier work."""
        latest = self.latest()
        if latest is not None and not (resume or overwrite):
            raise Seq2SeqError(
                f"run directory {self.path} already holds checkpoints (latest {latest.name}); "
                "pass --resume to continue that run or --overwrite to start again"
            )
        if resume and latest is None:
            raise Seq2SeqError(f"--resume was given but {self.checkpoints} holds no checkpoint")
        if overwrite and not resume:
            for _, file in self.step_checkpoints():
                file.unlink()
            for file in (self.best, self.last, self.log):
                file.unlink(missing_ok=True)
            shutil.rmtree(self.path / "tensorboard", ignore_errors=True)
        self.path.mkdir(parents=True, exist_ok=True)
        (self.path / "config.yaml").write_text(
            yaml.safe_dump(config.to_dict(), sort_keys=False), encoding="utf-8"
        )

    def save(self, data: bytes, step: int, keep_last: int, is_best: bool) -> Path:
        """Write the step checkpoint (and `last`, and `best` when it is), then prune old ones."""
        path = self.checkpoints / f"step-{step:08d}.safetensors"
        write_atomic(path, data)
        write_atomic(self.last, data)
        if is_best:
            write_atomic(self.best, data)
        for _, old in self.step_checkpoints()[:-keep_last]:
            old.unlink(missing_ok=True)
        return path

    def truncate_log(self, step: int) -> None:
        """On resume, forget log records written after the checkpoint we continue from."""
        if not self.log.is_file():
            return
        kept = [
            line
            for line in self.log.read_text(encoding="utf-8").splitlines()
            if line.strip() and json.loads(line).get("step", 0) <= step
        ]
        write_atomic(self.log, ("\n".join(kept) + "\n" if kept else "").encode())
