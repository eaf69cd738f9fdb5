"""The type checker passes on the library: `python -m mypy` with pyproject.toml's [tool.mypy]
section (src/, Python 3.11, the pydantic plugin, no blanket ignores) reports no error."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.slow
@pytest.mark.skipif(
    importlib.util.find_spec("mypy") is None,
    reason="mypy is not installed (pip install -e '.[dev]' brings it)",
)
def test_mypy_passes_on_src():
    result = subprocess.run(
        [sys.executable, "-m", "mypy"], cwd=REPO, capture_output=True, text=True
    )
    assert result.returncode == 0, (
        f"mypy found type errors in src/ (run `python -m mypy` to see them):\n"
        f"{result.stdout}{result.stderr}"
    )


def test_mypy_reports_a_planted_error(tmp_path):
    """The check can fail: the same configuration flags an Optional used without narrowing."""
    if importlib.util.find_spec("mypy") is None:
        pytest.skip("mypy is not installed (pip install -e '.[dev]' brings it)")
    planted = tmp_path / "planted.py"
    planted.write_text("def first(x: list[int] | None) -> int:\n    return x[0]\n")
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--config-file", str(REPO / "pyproject.toml"),
         "--cache-dir", str(tmp_path / "cache"), str(planted)],
        cwd=tmp_path, capture_output=True, text=True,
    )  # fmt: skip
    assert result.returncode == 1, result.stdout + result.stderr
    assert "planted.py:2: error" in result.stdout
