"""The runtime installs and translates in a fresh virtual environment without PyTorch.

`python -m venv`, `pip install runtime/` (numpy, onnxruntime and sentencepiece come from the
package index; pip's cache makes a second run fast), then a model exported here is translated
there through the Python API and the command line, with the same output as PyTorch's, and
`torch` is neither installed nor imported.
"""

from __future__ import annotations

import json
import subprocess
import venv
from pathlib import Path

import pytest
from decode_standins import copy_sentences

from seq2seq.decode.translator import Translator as TorchTranslator

REPO = Path(__file__).resolve().parents[2]
SCRIPT = """
import json, sys
from seq2seq_runtime import Translator
lines = json.loads(sys.argv[2])
out = Translator.from_dir(sys.argv[1]).translate(lines, beam_size=3)
print(json.dumps({"out": out, "torch": "torch" in sys.modules}))
"""


@pytest.mark.slow
def test_runtime_translates_in_a_fresh_venv_without_torch(copy_run, copy_export, tmp_path):
    folder = tmp_path / "venv"
    venv.create(folder, with_pip=True)
    python = folder / "bin" / "python"
    install = subprocess.run(
        [str(python), "-m", "pip", "install", "-q", str(REPO / "runtime")],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert install.returncode == 0, install.stderr[-2000:]
    lines = copy_sentences(12, seed=5)
    done = subprocess.run(
        [str(python), "-c", SCRIPT, str(copy_export), json.dumps(lines)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,  # not the repository: nothing of the project on the path
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["torch"] is False
    assert result["out"] == TorchTranslator.load(copy_run).translate(lines, beam_size=3)
    find_torch = subprocess.run(
        [str(python), "-c", "import importlib.util; print(importlib.util.find_spec('torch'))"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert find_torch.stdout.strip() == "None"
    command = subprocess.run(
        [str(folder / "bin" / "seq2seq-runtime"), "translate", "--model", str(copy_export)],
        input="\n".join(lines) + "\n",
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )
    assert command.returncode == 0, command.stderr
    assert command.stdout.splitlines() == result["out"]
