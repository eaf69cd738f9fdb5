"""Running a system's command as a child process: wall time, peak memory, timestamped log lines.

Peak memory is the largest sum of resident set sizes over the child's whole process tree, polled
from /proc every 0.2 s (so data-loader workers count too). Every line the child prints (stdout and
stderr merged unless stdout goes to a file) is kept with the time it arrived, which gives the
peers' training throughput from their own step reports on one clock.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class RunResult:
    """What one child process did."""

    returncode: int
    seconds: float
    peak_rss_mb: float
    lines: list[tuple[float, str]] = field(default_factory=list)  # (seconds since start, text)
    stopped: bool = False  # ended by `stop_when`, not by itself


def _children(pid: int) -> list[int]:
    found = []
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            text = Path(f"/proc/{pid}/task/{task}/children").read_text()
            found += [int(c) for c in text.split()]
    except OSError:
        pass
    return found


def tree_rss_mb(pid: int) -> float:
    """Resident memory of `pid` and all its descendants, in MB."""
    total, todo = 0, [pid]
    while todo:
        current = todo.pop()
        try:
            for line in Path(f"/proc/{current}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            continue
        todo += _children(current)
    return total / 1024


def thread_env(threads: int = 2) -> dict[str, str]:
    """The environment for every child: `threads` CPU threads, unbuffered Python output."""
    env = dict(os.environ)
    for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        env[name] = str(threads)
    env["PYTHONUNBUFFERED"] = "1"
    env["TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD"] = "1"  # the peers' own, locally made checkpoints
    return env


STOP_GRACE = 120.0  # seconds a child may take to save and exit after the stop signal


def _default_signals() -> None:
    """In the child: SIGINT back to its default. A harness started in the background of a
    non-interactive shell inherits SIGINT ignored, and Python then installs no KeyboardInterrupt
    handler, so a peer told to save and stop by SIGINT would train on (seen with Joey NMT)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _stop(proc: subprocess.Popen, stop_signal: int) -> None:
    """Send `stop_signal` to the child's group; SIGTERM, then SIGKILL if it does not end."""
    for sig, grace in ((stop_signal, STOP_GRACE), (signal.SIGTERM, 10.0), (signal.SIGKILL, None)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=grace)
            return
        except subprocess.TimeoutExpired:
            continue


def run_measured(
    cmd: list[str],
    log: Path,
    stdin: Path | None = None,
    stdout: Path | None = None,
    stop_when: Callable[[float], bool] | None = None,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    stop_signal: int = signal.SIGTERM,
) -> RunResult:
    """Run `cmd`, writing its log to `log`; when `stop_when(elapsed)` (polled each 0.2 s) says
    so, the process group gets `stop_signal` and the run waits for it to exit (escalating to
    SIGTERM and SIGKILL after STOP_GRACE seconds)."""
    log.parent.mkdir(parents=True, exist_ok=True)
    out_handle = stdout.open("w", encoding="utf-8") if stdout else subprocess.PIPE
    in_handle = stdin.open("rb") if stdin else subprocess.DEVNULL
    start = time.perf_counter()
    proc = subprocess.Popen(
        cmd,
        stdin=in_handle,
        stdout=out_handle,
        stderr=subprocess.PIPE if stdout else subprocess.STDOUT,
        env=env or thread_env(),
        cwd=cwd,
        text=True,
        start_new_session=True,
        preexec_fn=_default_signals,
    )
    lines: list[tuple[float, str]] = []
    stream = proc.stderr if stdout else proc.stdout

    def reader() -> None:
        with log.open("w", encoding="utf-8") as handle:
            for line in stream:
                lines.append((time.perf_counter() - start, line.rstrip("\n")))
                handle.write(line)
                handle.flush()

    thread = threading.Thread(target=reader, daemon=True)
    thread.start()
    peak, stopped = 0.0, False
    while proc.poll() is None:
        peak = max(peak, tree_rss_mb(proc.pid))
        if stop_when is not None and stop_when(time.perf_counter() - start):
            _stop(proc, stop_signal)
            stopped = True
            break
        time.sleep(0.2)
    proc.wait()
    seconds = time.perf_counter() - start
    thread.join(timeout=5)
    for handle in (out_handle, in_handle):
        if hasattr(handle, "close"):
            handle.close()
    return RunResult(proc.returncode, seconds, peak, lines, stopped)
