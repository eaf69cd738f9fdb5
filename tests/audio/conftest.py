"""The `write` fixture: audio files written with soundfile in the test's folder (sounds.py makes
the waves)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest


@pytest.fixture
def write(tmp_path):
    """write(name, wave, rate) -> path: a file in the test's folder, its format from the suffix."""
    import soundfile

    def _write(name: str, wave: np.ndarray, rate: int, subtype: str | None = None) -> Path:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        soundfile.write(str(path), wave, rate, subtype=subtype)
        return path

    return _write
