"""Reading parallel text: plain or gzipped files, line-aligned pairs or TSV, with file:line errors.

Everything here streams: a corpus is read one line at a time, never loaded whole. Lines are decoded
as strict UTF-8 (an invalid byte is reported with its file and line), whitespace is normalised
(runs of spaces and tabs become one space, the ends are stripped), and each pair passes two filters
whose effect is counted in a `ReadStats`:

- empty lines: a pair with an empty side is skipped and counted (``empty_lines="skip"``) or stops
  the read with the file and line (``empty_lines="error"``);
- over-long lines: a pair with more than ``max_tokens`` whitespace tokens on either side is dropped
  and counted.

A source and target file of different lengths is reported at the end of the streaming pass, with
both file names and both line counts.

Writing: `AtomicTextFile` and `write_atomic`, the one atomic writer (a file that appears complete
or not at all, fsynced, under a temporary name that says its owner, ``.NAME.seq2seq-tmp-PID``, so
the next run removes what a killed one left: `remove_stale_temps`), and the checks a command runs
before its work starts, so that a bad path costs nothing: `check_writable` (an output file
or directory), `check_readable` (an input file) and `same_file` (an output that would replace an
input). Each raises a DataError naming the flag and the path.
"""

from __future__ import annotations

import gzip
import io
import os
import re
import tempfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from seq2seq.errors import DataError

EmptyPolicy = Literal["skip", "error"]
EMPTY_POLICIES: tuple[str, ...] = ("skip", "error")
_GZIP_MAGIC = b"\x1f\x8b"


@dataclass
class ReadStats:
    """What a read saw: pairs examined, yielded, and dropped by each filter."""

    lines: int = 0  # pairs (or TSV lines) examined
    pairs: int = 0  # pairs yielded
    empty: int = 0  # skipped because a side was empty
    too_long: int = 0  # dropped by the max_tokens filter


def clean_line(text: str) -> str:
    """Collapse every run of whitespace to one space and strip both ends."""
    return " ".join(text.split())


def open_binary(path: str | Path) -> io.BufferedIOBase:
    """Open a plain or gzipped file for binary reading; gzip is recognised by its magic bytes."""
    path = Path(path)
    if not path.exists():
        raise DataError(f"file {path} does not exist")
    if not path.is_file():
        raise DataError(f"{path} is not a regular file")
    try:
        with open(path, "rb") as probe:
            magic = probe.read(2)
        if magic == _GZIP_MAGIC:
            return gzip.open(path, "rb")
        return open(path, "rb")
    except OSError as err:
        raise DataError(f"cannot open {path}: {err.strerror or err}") from None


def iter_lines(path: str | Path) -> Iterator[str]:
    """Yield the lines of a plain or .gz UTF-8 file, without their line break, one at a time."""
    lineno = 0
    with open_binary(path) as handle:
        try:
            for lineno, raw in enumerate(handle, 1):
                yield _decode(raw, path, lineno)
        except (OSError, EOFError, zlib.error) as err:
            reason = str(err) or type(err).__name__
            raise DataError(
                f"{path}: cannot read past line {lineno} ({reason}); the file may be truncated or corrupt"
            ) from None


def _decode(raw: bytes, path: str | Path, lineno: int) -> str:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        bad = raw[err.start]
        raise DataError(
            f"{path}:{lineno}: invalid UTF-8 (byte 0x{bad:02x} at byte {err.start + 1} of the line); "
            "the file must be UTF-8 text"
        ) from None
    if lineno == 1 and text.startswith("\ufeff"):
        text = text[1:]  # a byte-order mark is not part of the first sentence
    return text.rstrip("\r\n")


def count_lines(path: str | Path) -> int:
    """Count lines cheaply (newline bytes, plus a last line without one); no decoding."""
    count, last = 0, b"\n"
    with open_binary(path) as handle:
        try:
            while chunk := handle.read(1 << 16):
                count += chunk.count(b"\n")
                last = chunk[-1:]
        except (OSError, EOFError, zlib.error) as err:
            raise DataError(
                f"{path}: cannot read it to the end ({err}); the file may be corrupt"
            ) from None
    return count + (last != b"\n")


def _check_policy(empty_lines: str) -> None:
    if empty_lines not in EMPTY_POLICIES:
        raise DataError(
            f"empty_lines must be one of {', '.join(EMPTY_POLICIES)}, not '{empty_lines}'"
        )


def _keep(
    src: str,
    tgt: str,
    where: tuple[str, str],
    empty_lines: str,
    max_tokens: int | None,
    stats: ReadStats,
) -> bool:
    """Apply the empty-line and length filters to one cleaned pair; `where` names each side."""
    stats.lines += 1
    if not src or not tgt:
        if empty_lines == "error":
            side = where[0] if not src else where[1]
            raise DataError(f"{side}: empty line (prepare --empty-lines skip drops such pairs)")
        stats.empty += 1
        return False
    if max_tokens is not None and (len(src.split()) > max_tokens or len(tgt.split()) > max_tokens):
        stats.too_long += 1
        return False
    stats.pairs += 1
    return True


def read_parallel(
    src: str | Path,
    tgt: str | Path,
    *,
    empty_lines: EmptyPolicy = "skip",
    max_tokens: int | None = None,
    stats: ReadStats | None = None,
) -> Iterator[tuple[str, str]]:
    """Yield cleaned (source, target) pairs from two line-aligned files, lazily.

    Raises DataError for a missing or unreadable file, invalid UTF-8 (file:line), an empty line
    when ``empty_lines="error"`` (file:line), and files of different lengths (both names and counts,
    found when the shorter file ends).
    """
    _check_policy(empty_lines)
    stats = stats if stats is not None else ReadStats()
    src_lines, tgt_lines = iter_lines(src), iter_lines(tgt)
    lineno = 0
    while True:
        s, t = next(src_lines, None), next(tgt_lines, None)
        if s is None or t is None:
            if s is not None or t is not None:
                _raise_misaligned(src, tgt, lineno, s is None, src_lines, tgt_lines)
            return
        lineno += 1
        s, t = clean_line(s), clean_line(t)
        if _keep(s, t, (f"{src}:{lineno}", f"{tgt}:{lineno}"), empty_lines, max_tokens, stats):
            yield s, t


def _raise_misaligned(
    src: str | Path,
    tgt: str | Path,
    done: int,
    src_ended: bool,
    src_lines: Iterator[str],
    tgt_lines: Iterator[str],
) -> None:
    """One side ended after `done` pairs: count the rest of the other and report both counts."""
    rest = tgt_lines if src_ended else src_lines
    longer = done + 1 + sum(1 for _ in rest)
    n_src, n_tgt = (done, longer) if src_ended else (longer, done)
    raise DataError(
        f"source {src} has {n_src} lines but target {tgt} has {n_tgt}; "
        "the two files must be aligned line by line"
    )


def read_tsv(
    path: str | Path,
    *,
    empty_lines: EmptyPolicy = "skip",
    max_tokens: int | None = None,
    stats: ReadStats | None = None,
) -> Iterator[tuple[str, str]]:
    """Yield cleaned (source, target) pairs from ``source<TAB>target`` lines, lazily.

    Columns after the second (e.g. an attribution) are ignored. A line without a tab is a DataError
    naming file:line; a blank line, or a line with an empty field, follows ``empty_lines``.
    """
    _check_policy(empty_lines)
    stats = stats if stats is not None else ReadStats()
    for lineno, line in enumerate(iter_lines(path), 1):
        where = f"{path}:{lineno}"
        if "\t" not in line:
            if line.strip():
                raise DataError(
                    f"{where}: no tab between source and target (expected 'source<TAB>target')"
                )
            s, t = "", ""
        else:
            s, t = line.split("\t", 2)[:2]
        s, t = clean_line(s), clean_line(t)
        if _keep(
            s,
            t,
            (f"{where} (source field)", f"{where} (target field)"),
            empty_lines,
            max_tokens,
            stats,
        ):
            yield s, t


@dataclass(frozen=True)
class ParallelSource:
    """Where one split's pairs come from: two aligned files (`src`, `tgt`) or one TSV file."""

    src: Path | None = None
    tgt: Path | None = None
    tsv: Path | None = None

    def __post_init__(self) -> None:
        files = self.src is not None or self.tgt is not None
        if self.tsv is not None and files:
            raise DataError("give either a TSV file or a source and a target file, not both")
        if self.tsv is None and (self.src is None or self.tgt is None):
            raise DataError(
                "a parallel corpus needs both a source and a target file (or one TSV file)"
            )

    def pairs(
        self,
        *,
        empty_lines: EmptyPolicy = "skip",
        max_tokens: int | None = None,
        stats: ReadStats | None = None,
    ) -> Iterator[tuple[str, str]]:
        """Stream the cleaned pairs of this source (see `read_parallel` and `read_tsv`)."""
        if self.tsv is not None:
            return read_tsv(self.tsv, empty_lines=empty_lines, max_tokens=max_tokens, stats=stats)
        assert self.src is not None and self.tgt is not None  # checked when made
        return read_parallel(
            self.src, self.tgt, empty_lines=empty_lines, max_tokens=max_tokens, stats=stats
        )

    def paths(self) -> list[str]:
        """The input files, as strings, for the manifest."""
        return [str(p) for p in (self.src, self.tgt, self.tsv) if p is not None]


_LANG_SUFFIX = re.compile(r"\.([a-z]{2,3})(?:\.gz)?$", re.IGNORECASE)


def guess_language(path: str | Path | None) -> str | None:
    """The language code a file name ends with: ``train.en.gz`` -> ``en``; None if there is none."""
    if path is None:
        return None
    match = _LANG_SUFFIX.search(Path(path).name)
    if match is None or match.group(1).lower() in {"txt", "tsv", "gz", "src", "tgt"}:
        return None
    return match.group(1).lower()


TEMP_MARK = ".seq2seq-tmp-"
_TEMP_NAME = re.compile(r"^\.(?P<name>.+)" + re.escape(TEMP_MARK) + r"(?P<pid>\d+)$")


def temp_path(path: str | Path) -> Path:
    """Where this process writes `path` before renaming it into place: ``.NAME.seq2seq-tmp-PID``
    beside it, a name that says which file it would become and which process owns it."""
    path = Path(path)
    return path.with_name(f".{path.name}{TEMP_MARK}{os.getpid()}")


def remove_stale_temps(folder: str | Path, name: str | None = None) -> list[Path]:
    """Remove the temporary files (`temp_path`) in `folder` whose process is dead, those of
    target `name` only when given; a live process's file is left alone. Returns those removed."""
    removed: list[Path] = []
    try:
        entries = list(Path(folder).iterdir())
    except OSError:
        return removed
    for entry in entries:
        match = _TEMP_NAME.match(entry.name)
        if match is None or (name is not None and match["name"] != name):
            continue
        if not _alive(int(match["pid"])) and entry.is_file():
            entry.unlink(missing_ok=True)
            removed.append(entry)
    return removed


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True  # another user's process (or a name we cannot judge): not ours to remove
    return True


def fsync_dir(path: str | Path) -> None:
    """Make a rename or unlink in directory `path` durable (a power cut cannot undo it)."""
    dir_fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


class AtomicTextFile:
    """A file written under `temp_path` and renamed into place only on success, so an
    interrupted write never leaves a file that looks complete: the one atomic writer (text, or
    bytes with ``binary=True``; `write_atomic` is its one-call form).

    On success the data is fsynced, renamed over the target and the directory fsynced, so that
    a power cut leaves the old file or the new one. The temporary file is removed whenever the
    block ends with an exception (Ctrl-C included, and SIGTERM where the command layer turns it
    into one), and when the final flush or rename fails; such a failure is a DataError naming the
    file. A kill -9 leaves it behind: the next write to the same target removes it (and any other
    dead process's), see `remove_stale_temps`. `before_rename` runs between the fsync and the
    rename (the crash battery's fault point). A device or a pipe (/dev/stdout, a FIFO) is written
    in place, never replaced.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        binary: bool = False,
        before_rename: Callable[[], None] | None = None,
    ) -> None:
        self.path = Path(path)
        self.binary = binary
        self.before_rename = before_rename

    def __enter__(self) -> Any:
        self.tmp: Path | None = None
        if self.path.exists() and not self.path.is_file() and not self.path.is_dir():
            self.handle = self._open(self.path)  # a device or a pipe: written directly
            return self.handle
        remove_stale_temps(self.path.parent, self.path.name)
        self.tmp = temp_path(self.path)
        self.handle = self._open(self.tmp)
        return self.handle

    def _open(self, path: Path) -> Any:
        try:
            if self.binary:
                return open(path, "wb")
            return open(path, "w", encoding="utf-8", newline="\n")
        except OSError as err:
            raise DataError(f"cannot write {self.path} ({err.strerror or err})") from None

    def __exit__(self, exc_type, exc, tb) -> None:
        if self.tmp is None:
            self.handle.close()
            return
        if exc_type is not None:
            try:
                self.handle.close()
            except OSError:
                pass  # the exception on its way out says what went wrong
            self.tmp.unlink(missing_ok=True)
            return
        try:
            self.handle.flush()
            os.fsync(self.handle.fileno())
            self.handle.close()
            if self.before_rename is not None:
                self.before_rename()
            os.replace(self.tmp, self.path)
            fsync_dir(self.path.parent)
        except OSError as err:
            self.tmp.unlink(missing_ok=True)
            raise DataError(f"cannot write {self.path} ({err.strerror or err})") from None
        except BaseException:
            self.tmp.unlink(missing_ok=True)
            raise


def write_atomic(
    path: str | Path, data: bytes, before_rename: Callable[[], None] | None = None
) -> None:
    """Write bytes so that `path` is either the old file or the complete new one, never a mix
    (`AtomicTextFile` with ``binary=True``)."""
    with AtomicTextFile(path, binary=True, before_rename=before_rename) as handle:
        handle.write(data)


def check_writable(
    path: str | Path, what: str, *, directory: bool = False, make_parents: bool = False
) -> None:
    """Raise DataError, before any work starts, unless `path` can be written.

    `what` names the path for the user (a flag such as ``--output``). A file (the default) must
    not be an existing directory, and its directory must exist (or, with `make_parents`, be
    creatable) and accept new files. A `directory` must not be an existing file and must accept
    new files, or be creatable. Writability is tried, not guessed: a probe file is created and
    removed, so permissions, ACLs and read-only file systems are all seen as they are.
    """
    path = Path(path)
    if directory:
        if path.exists() and not path.is_dir():
            raise DataError(f"{what} {path} is a file, not a directory")
        folder = path
    else:
        if path.is_dir():
            raise DataError(f"{what} {path} is a directory; give a file name")
        if path.exists() and not path.is_file():  # a device or a pipe: written in place
            if not os.access(path, os.W_OK):
                raise DataError(f"{what} {path} cannot be written (permission denied)")
            return
        folder = path.parent
    if not folder.exists():
        if not (make_parents or directory):
            raise DataError(f"{what} {path}: the directory {folder} does not exist")
        existing = next(p for p in folder.absolute().parents if p.exists())
        if not existing.is_dir():
            raise DataError(f"{what} {path}: {existing} is a file, not a directory")
        folder = existing
    elif not folder.is_dir():
        raise DataError(f"{what} {path}: {folder} is a file, not a directory")
    try:
        fd, probe = tempfile.mkstemp(dir=folder, prefix=".seq2seq-probe-", suffix=".tmp")
    except OSError as err:
        raise DataError(
            f"{what} {path}: cannot write in the directory {folder} ({err.strerror or err})"
        ) from None
    os.close(fd)
    os.unlink(probe)


def check_readable(path: str | Path, what: str) -> None:
    """Raise DataError unless `path` is a file that can be opened for reading (checked before
    the work starts; the reader itself reports bad content with file:line)."""
    path = Path(path)
    if not path.exists():
        raise DataError(f"{what} file {path} does not exist")
    if path.is_dir():
        raise DataError(f"{what} {path} is a directory, not a file")
    try:
        with open(path, "rb"):
            pass
    except OSError as err:
        raise DataError(f"{what} {path} cannot be read ({err.strerror or err})") from None


def same_file(a: str | Path | None, b: str | Path | None) -> bool:
    """Whether two paths name one existing regular file (an output that would replace an input;
    a terminal or pipe named twice, as /dev/stdin and /dev/stdout, is not that)."""
    if a is None or b is None or not (Path(a).is_file() and Path(b).is_file()):
        return False
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False
