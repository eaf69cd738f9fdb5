"""Virtual environments for the peer toolkits, installed as /work/shared/PEERS.md describes.

Each peer gets its own venv under `<work>/venvs/<name>`. `torch==2.13.0` (the local CPU wheel) goes
in first, and every later pip call gets a constraints file pinning it, so no peer can pull another
torch. A `.installed` marker makes a second run skip a finished venv.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

TORCH = "torch==2.13.0"
ONMT_NEEDS = [
    "configargparse",
    "pyyaml",
    "rapidfuzz",
    "six",
    "pyahocorasick",
    "ctranslate2>=4,<5",
    "pyonmttok>=1.37,<2",
    "tensorboard",
    "sacrebleu",
    "sentencepiece",
    "spacy",  # imported at start-up even when unused
    "fasttext-wheel",
]
# Joey NMT's recurrent encoder always reads the backward direction's final state; with a
# unidirectional encoder that index does not exist. One line, for an architecture-matched run.
JOEY_BWD = "bwd_hidden_last = hidden_layerwise[-1:, 1]"
JOEY_BWD_PATCHED = (
    "bwd_hidden_last = (hidden_layerwise[-1:, 1] if self.rnn.bidirectional "
    "else hidden_layerwise[-1:, 0, :, :0])  # patched: unidirectional encoder"
)


def _pip(venv: Path, constraints: Path, *args: str) -> None:
    cmd = [str(venv / "bin" / "pip"), "install", "-q", "-c", str(constraints), *args]
    subprocess.run(cmd, check=True)


def patch_joey_encoder(venv: Path) -> bool:
    """Apply the unidirectional-encoder patch; True if the file is (now) patched."""
    found = list(venv.glob("lib/python*/site-packages/joeynmt/encoders.py"))
    if not found:
        return False
    text = found[0].read_text(encoding="utf-8")
    if JOEY_BWD_PATCHED in text:
        return True
    if JOEY_BWD not in text:
        return False
    found[0].write_text(text.replace(JOEY_BWD, JOEY_BWD_PATCHED), encoding="utf-8")
    return True


def install_peer(name: str, work: Path) -> float:
    """Create and fill the venv for `name` ('onmt' or 'joey'); returns the seconds it took."""
    venv = work / "venvs" / name
    marker = venv / ".installed"
    if marker.exists():
        if name == "joey":
            patch_joey_encoder(venv)
        return 0.0
    start = time.perf_counter()
    constraints = work / "constraints.txt"
    constraints.write_text(TORCH + "\n", encoding="utf-8")
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    _pip(venv, constraints, TORCH)
    if name == "onmt":
        # OpenNMT-py 3.5.1 pins torch<2.3: install it without its declared needs, then those.
        _pip(venv, constraints, "--no-deps", "OpenNMT-py==3.5.1")
        _pip(venv, constraints, *ONMT_NEEDS)
    elif name == "joey":
        _pip(venv, constraints, "joeynmt==2.3.0")
        _pip(venv, constraints, "importlib_metadata")  # an undeclared need
        if not patch_joey_encoder(venv):
            raise RuntimeError(f"could not patch Joey NMT's encoders.py in {venv}")
    else:
        raise ValueError(f"unknown peer {name!r}")
    marker.write_text(f"{time.perf_counter() - start:.0f} s\n", encoding="utf-8")
    return time.perf_counter() - start
