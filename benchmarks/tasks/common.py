"""What every task harness under benchmarks/tasks/ shares: running a row's command line from the
repository root, the JSON a `--json` command prints, paths as the docs show them, and the marked
sections each harness owns in docs/tasks.md and in the README (a rerun replaces its own section
and leaves the others as they are).
"""

from __future__ import annotations

import shlex
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs" / "tasks.md"
README = ROOT / "README.md"

DOCS_HEADER = """# Beyond translation: the other tasks

The encoder–decoder does not know it translates: give it other pairs and it is another program.
Each section of this page is one task, written by its harness under benchmarks/tasks/ (never by
hand): the split, the recipe's command lines, the results table with the command line of every
row, the task's goals met or missed with their numbers, sample outputs chosen by a seed, and the
learning curves. Rerun a harness to refresh its section; the other sections stay as they are.
"""


def rel(path: Path | str) -> str:
    """`path` relative to the repository root when it lies inside it (as command lines show it)."""
    path = Path(path).resolve()
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def run_command(harness: str, argv: list[str]) -> str:
    """Run one row's command line from the repository root; what it printed (stdout, then stderr).
    Exits naming the harness and the command when it fails."""
    print(f"$ {shlex.join(argv)}", file=sys.stderr)
    done = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"{harness}: `{shlex.join(argv)}` failed ({done.returncode}):\n{done.stderr}")
    sys.stderr.write(done.stderr[-2000:])
    return done.stdout + done.stderr


def last_json(harness: str, argv: list[str]) -> str:
    """The JSON object that `argv` (a command run with --json) prints as its last stdout line."""
    print(f"$ {shlex.join(argv)}", file=sys.stderr)
    done = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"{harness}: `{shlex.join(argv)}` failed ({done.returncode}):\n{done.stderr}")
    return done.stdout.strip().splitlines()[-1]


def replace_between(path: Path, begin: str, end: str, lines: list[str]) -> bool:
    """Put `lines` between the `begin` and `end` markers of `path`; False when a marker is absent."""
    text = path.read_text(encoding="utf-8") if path.is_file() else ""
    if begin not in text or end not in text:
        return False
    head, rest = text.split(begin, 1)
    block = "\n".join([begin, *lines, end])
    path.write_text(head + block + rest.split(end, 1)[1], encoding="utf-8")
    return True


def write_docs_section(path: Path, name: str, body: list[str]) -> None:
    """Put `body` between `name`'s markers in `path` (created with DOCS_HEADER if missing),
    replacing that section only; a new section goes at the end."""
    begin, end = f"<!-- task: {name} -->", f"<!-- end of task: {name} -->"
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(DOCS_HEADER, encoding="utf-8")
    if not replace_between(path, begin, end, body):
        text = path.read_text(encoding="utf-8")
        section = "\n".join([begin, *body, end])
        path.write_text(text.rstrip("\n") + "\n\n" + section + "\n", encoding="utf-8")
