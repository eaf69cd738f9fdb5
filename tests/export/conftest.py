"""Exports shared by the export tests: the decoding tests' copy-task model, trained in a few
seconds (tests/decode/decode_standins.py), exported once per session in float32 and int8."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "decode"))  # decode_standins

from decode_standins import copy_config, save, train_copy_model  # noqa: E402


@pytest.fixture(scope="session")
def copy_run(tmp_path_factory) -> Path:
    """A trained attention model that copies its input; w15..w19 are <unk> on the target side."""
    torch.set_num_threads(1)
    config = copy_config()
    model, src_vocab, tgt_vocab = train_copy_model(config, steps=200)
    folder = tmp_path_factory.mktemp("copy")
    return save(folder / "copy.safetensors", model, config, src_vocab, tgt_vocab)


@pytest.fixture(scope="session")
def copy_export(copy_run, tmp_path_factory) -> Path:
    from seq2seq.export.onnx import export_onnx

    out = tmp_path_factory.mktemp("copy-onnx") / "fp32"
    export_onnx([copy_run], out)
    return out


@pytest.fixture(scope="session")
def copy_export_int8(copy_run, tmp_path_factory) -> Path:
    from seq2seq.export.onnx import export_onnx

    out = tmp_path_factory.mktemp("copy-onnx") / "int8"
    export_onnx([copy_run], out, int8=True)
    return out
