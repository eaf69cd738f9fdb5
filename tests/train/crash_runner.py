"""The crash battery's process runner (tests/train/test_crash_battery.py): runs `seq2seq train`
again and again in one run directory, stopping each run as its plan says, and records what every
run left behind.

    python tests/train/crash_runner.py PLAN.json RESULT.json

Each run is a real process that executes the command line's entry point (`seq2seq.commands.main`)
with its own environment (`SEQ2SEQ_FAULT`, checkpoint.py's hook) and is stopped by a real signal.
It is forked from this process, which has imported PyTorch and the package once, so a run starts
in milliseconds rather than seconds; nothing here touches PyTorch before forking.

A plan is `{"runs": [RUN, ...]}`; a RUN is
    {"name": str, "argv": [...], "fault": "POINT[@N][:SIGNAL]" or null, "log": path,
     "run_dir": path, "archive": path or null,
     "stop": null | {"signals": ["KILL", ...], "after": steps, "delay_steps": float, "gap": s}}
`stop` null waits for the run to end by itself (a fault, or the end of training). Otherwise the
runner waits until the run has logged a training step `after` steps or more past the step it
resumed from (so every stop lands somewhere in training proper), sleeps `delay_steps` times the time the plan's first
run took per step (so a stop lands as far into training on a fast machine as on a slow one), and
sends the signals `gap` seconds apart.
After each run the step files present are hard-linked into `archive` (once per file), for the
test to compare with an unbroken run's.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
import traceback
from pathlib import Path


def _committed_step(run_dir: Path) -> int:
    try:
        return json.loads((run_dir / "manifest.json").read_text(encoding="utf-8"))["last"]
    except (OSError, ValueError, KeyError):
        return 0


def _log_steps(path: Path) -> tuple[int | None, int]:
    """(inode, highest step) of a run's log.jsonl; (None, -1) while there is none."""
    try:
        inode = path.stat().st_ino
        text = path.read_text(encoding="utf-8")
    except OSError:
        return None, -1
    steps = [-1]
    for line in text.splitlines():
        try:
            steps.append(json.loads(line)["step"])
        except (ValueError, KeyError):
            pass  # a line being written
    return inode, max(steps)


def _child(run: dict) -> None:
    """In the forked process: run the command as `seq2seq` would, then leave without clean-up."""
    status = 99
    try:
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        os.environ.pop("SEQ2SEQ_FAULT", None)
        if run.get("fault"):
            os.environ["SEQ2SEQ_FAULT"] = run["fault"]
        out = os.open(run["log"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        os.dup2(out, 1)
        os.dup2(out, 2)
        from seq2seq.commands import main

        status = main(run["argv"])
    except BaseException:  # noqa: BLE001 - the status says it; the log holds the traceback
        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(status)


def _seconds_per_step(run_dir: Path) -> float:
    """The pace of a finished run, from its log's clock."""
    records = [json.loads(line) for line in (run_dir / "log.jsonl").read_text("utf-8").splitlines()]
    train = [r for r in records if r["kind"] == "train"]
    return (train[-1]["time"] - train[0]["time"]) / max(train[-1]["step"] - train[0]["step"], 1)


def _stop(pid: int, run: dict, step_seconds: float) -> int | None:
    """Stop the run as planned; its wait status when it ended first, else None."""
    stop = run["stop"]
    run_dir = Path(run["run_dir"])
    log = run_dir / "log.jsonl"
    committed = _committed_step(run_dir)
    inode, top = _log_steps(log)
    stale = top > committed  # records of a killed run, gone once this one truncates its log
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return status  # it ended before there was anything to stop
        now_inode, now_top = _log_steps(log)
        if now_top >= committed + stop["after"] and not (stale and now_inode == inode):
            break
        time.sleep(0.002)
    time.sleep(stop["delay_steps"] * step_seconds)
    for i, name in enumerate(stop["signals"]):
        if i:
            time.sleep(stop.get("gap", 0.0))
        try:
            os.kill(pid, getattr(signal, f"SIG{name}"))
        except ProcessLookupError:
            break
    return None


def _archive(run_dir: Path, archive: Path, seen: set[int]) -> list[str]:
    archive.mkdir(parents=True, exist_ok=True)
    linked = []
    folder = run_dir / "checkpoints"
    for file in sorted(folder.glob("step-*.safetensors")) if folder.is_dir() else []:
        inode = file.stat().st_ino
        if inode not in seen:
            seen.add(inode)
            target = archive / f"{len(seen):03d}-{file.name}"
            os.link(file, target)
            linked.append(target.name)
    return linked


def main(plan_path: str, result_path: str) -> None:
    import torch._dynamo  # noqa: F401 - the optimiser's first use imports it: seconds

    import seq2seq.commands.train  # noqa: F401 - everything a run imports, imported once
    import seq2seq.experiment  # noqa: F401

    plan = json.loads(Path(plan_path).read_text(encoding="utf-8"))
    results, seen = [], set()
    step_seconds = 0.0
    for i, run in enumerate(plan["runs"]):
        started = time.monotonic()
        pid = os.fork()
        if pid == 0:
            _child(run)
        status = _stop(pid, run, step_seconds) if run.get("stop") else None
        stopped = status is None
        if status is None:
            _, status = os.waitpid(pid, 0)
        if os.WIFSIGNALED(status):
            code = -os.WTERMSIG(status)
        else:
            code = os.WEXITSTATUS(status)
        run_dir = Path(run["run_dir"])
        manifest = run_dir / "manifest.json"
        results.append(
            {
                "name": run["name"],
                "code": code,
                "stopped": stopped and bool(run.get("stop")),  # False: it ended before the stop
                "seconds": round(time.monotonic() - started, 3),
                "manifest": json.loads(manifest.read_text("utf-8")) if manifest.is_file() else None,
                "archived": _archive(run_dir, Path(run["archive"]), seen)
                if run.get("archive")
                else [],
            }
        )
        if i == 0:
            step_seconds = _seconds_per_step(Path(run["run_dir"]))
    Path(result_path).write_text(json.dumps(results, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
