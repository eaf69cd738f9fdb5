"""Where training reports go: a JSONL file any script can read, and TensorBoard when installed;
and the process's resident memory, which every train record carries (`memory_mb`)."""

from __future__ import annotations

import json
import resource
import sys
import time
from pathlib import Path
from typing import Any


class MetricsLog:
    """Appends one JSON object per event to ``log.jsonl``; mirrors scalars to TensorBoard."""

    def __init__(
        self,
        run_dir: Path,
        enabled: bool = True,
        tensorboard: bool = True,
        resumed_from: int | None = None,
    ):
        """`resumed_from`: the step a resumed run continues after. The run directory cut its
        log.jsonl back to that step; TensorBoard's event files are append-only, so the writer
        records a purge point instead, and TensorBoard hides the old files' events past it."""
        self.enabled = enabled
        self.path = run_dir / "log.jsonl"
        self.writer = None
        if enabled and tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter
            except ImportError:  # tensorboard is optional
                pass
            else:
                purge = None if resumed_from is None else resumed_from + 1
                self.writer = SummaryWriter(log_dir=str(run_dir / "tensorboard"), purge_step=purge)

    def write(self, kind: str, step: int, **values: Any) -> None:
        if not self.enabled:
            return
        record = {"kind": kind, "step": step, "time": round(time.time(), 3), **values}
        with open(self.path, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(record) + "\n")
        if self.writer is not None:
            for key, value in values.items():
                if isinstance(value, (int, float)):
                    self.writer.add_scalar(f"{kind}/{key}", value, step)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


def read_log(path: str | Path, kind: str | None = None) -> list[dict[str, Any]]:
    """Read a run's ``log.jsonl`` (optionally only one kind of record: 'train', 'valid'); a last
    line cut short (a run killed while appending it) is left out."""
    records = []
    with open(path, encoding="utf-8") as handle:
        lines = [line for line in handle if line.strip()]
    for number, line in enumerate(lines, start=1):
        try:
            record = json.loads(line)
        except ValueError:
            if number == len(lines) and not line.endswith("\n"):
                break
            raise
        if kind is None or record.get("kind") == kind:
            records.append(record)
    return records


def memory_mb(status: str | Path = "/proc/self/status") -> dict[str, float]:
    """This process's resident memory now and at its peak, in MB: `rss_mb` and `peak_rss_mb`
    (VmRSS and VmHWM of /proc/self/status; elsewhere the peak from getrusage, in both)."""
    found: dict[str, float] = {}
    try:
        with open(status, encoding="ascii") as handle:
            for line in handle:
                if line.startswith(("VmRSS:", "VmHWM:")):
                    found[line[:5]] = int(line.split()[1]) / 1024  # kB -> MB
    except OSError:
        pass
    if len(found) == 2:
        return {"rss_mb": round(found["VmRSS"], 1), "peak_rss_mb": round(found["VmHWM"], 1)}
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # kB on Linux, bytes on macOS
    peak_mb = round(peak / (1 << 20) if sys.platform == "darwin" else peak / 1024, 1)
    return {"rss_mb": peak_mb, "peak_rss_mb": peak_mb}
