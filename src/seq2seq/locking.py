"""One writer per folder: an operating-system lock that dies with the process holding it.

    lock = hold(run_dir, "run directory")    # refuses with one sentence naming the holder
    ...                                      # the whole run; released on close or exit

`hold` takes `fcntl.flock` on `FOLDER/.seq2seq.lock` without waiting. The kernel releases the lock
when the process ends however it ends (`kill -9` included), so a dead holder never leaves a folder
locked; the file itself stays, holding the last holder's pid, command line and start time, which
the refusal quotes. Readers (`translate` reading best.safetensors) take no lock.
"""

from __future__ import annotations

import fcntl
import json
import os
import sys
import time
from pathlib import Path

from seq2seq.errors import Seq2SeqError

LOCK_NAME = ".seq2seq.lock"


class FolderInUse(Seq2SeqError):
    """Another process holds the folder's lock."""


class FolderLock:
    """A held lock; `close` releases it (so does the end of the process)."""

    def __init__(self, path: Path, fd: int) -> None:
        self.path = path
        self._fd: int | None = fd

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor releases the lock
            self._fd = None

    def __del__(self) -> None:
        self.close()

    def __enter__(self) -> FolderLock:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def hold(folder: str | Path, what: str) -> FolderLock:
    """Lock `folder` (created if missing) for this process, or raise `FolderInUse` naming the
    holder; `what` names the folder in that sentence ("run directory", "--out")."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / LOCK_NAME
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = _holder(fd)
        os.close(fd)
        raise FolderInUse(
            f"{what} {folder} is in use by {holder}; wait for it to finish or stop it"
        ) from None
    except BaseException:
        os.close(fd)
        raise
    record = {"pid": os.getpid(), "command": _command(), "since": _now()}
    os.ftruncate(fd, 0)
    os.pwrite(fd, (json.dumps(record) + "\n").encode("utf-8"), 0)
    return FolderLock(path, fd)


def _holder(fd: int) -> str:
    """The holder as its lock file describes it: pid, command line, since when."""
    try:
        record = json.loads(os.pread(fd, 4096, 0).decode("utf-8"))
        return f"process {record['pid']} (`{record['command']}`, since {record['since']})"
    except (OSError, ValueError, KeyError, TypeError):
        return "another process (it has not said which yet)"


def _command() -> str:
    """This process's command line, as a user typed it (`seq2seq train ...`, not `.../cli.py`)."""
    program = Path(sys.argv[0]).stem if sys.argv and sys.argv[0] else "python"
    program = "seq2seq" if program in ("cli", "seq2seq", "__main__") else program
    return " ".join([program, *sys.argv[1:]])


def _now() -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S %Z", time.localtime())
