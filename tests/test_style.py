"""The code style is enforced, not suggested: `ruff check` (pyflakes, pycodestyle, isort, bugbear,
pyupgrade; pyproject.toml) and `ruff format --check` pass on every Python file of the project."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PATHS = ["src", "tests", "benchmarks", "scripts"]


@pytest.mark.parametrize("command", [["check"], ["format", "--check"]], ids=["lint", "format"])
def test_ruff_passes_on_the_whole_project(command):
    result = subprocess.run(
        [sys.executable, "-m", "ruff", *command, *PATHS],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, (
        f"ruff {' '.join(command)} failed (run `ruff {' '.join(command[:1])} {' '.join(PATHS)}` "
        f"to fix):\n{result.stdout}{result.stderr}"
    )
