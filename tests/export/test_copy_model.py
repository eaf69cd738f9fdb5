"""The runtime on a trained model (the copy task): `<unk>` replacement and attention as PyTorch
gives them, int8 graphs that keep the outputs, and the commands around an export."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import numpy as np
import pytest
from decode_standins import copy_sentences
from seq2seq_runtime import Translator

from seq2seq.cli import main
from seq2seq.decode.translator import Translator as TorchTranslator

pytestmark = pytest.mark.slow  # each module's fixtures train and export a model

LINES = copy_sentences(40, seed=11)


def test_the_trained_model_copies_and_the_runtime_agrees(copy_run, copy_export):
    ours, theirs = TorchTranslator.load(copy_run), Translator.from_dir(copy_export)
    expected = ours.translate(LINES, beam_size=3)
    got = theirs.translate(LINES, beam_size=3)
    assert got == expected
    known = [line for line in LINES if not any(f"w{i}" in line.split() for i in range(15, 20))]
    assert sum(out == line for out, line in zip(got, LINES, strict=True) if line in known) >= (
        0.9 * len(known)
    )  # it learnt the task: the comparison is not between two kinds of noise


def test_unk_replacement_and_attention_match_pytorch(copy_run, copy_export):
    ours, theirs = TorchTranslator.load(copy_run), Translator.from_dir(copy_export)
    unk_lines = [line for line in LINES if any(f"w{i}" in line.split() for i in range(15, 20))]
    assert unk_lines
    replaced = theirs.translate(unk_lines, beam_size=3, replace_unk=True)
    assert replaced == ours.translate(unk_lines, beam_size=3, replace_unk=True)
    assert sum(out == line for out, line in zip(replaced, unk_lines, strict=True)) >= 0.8 * len(
        unk_lines
    )
    line = unk_lines[0]
    ours_t = ours.translate_hypotheses([line], ours.settings(beam_size=3), attention=True)[0][0]
    theirs_t = theirs.translate_hypotheses([line], theirs.settings(beam_size=3), attention=True)
    a, b = ours.alignment(line, ours_t), theirs.alignment(line, theirs_t[0][0])
    assert a is not None and b is not None
    assert b.source_tokens == a.source_tokens and b.target_tokens == a.target_tokens
    np.testing.assert_allclose(b.weights, a.weights, atol=1e-5)


def test_int8_graphs_are_quantised_smaller_and_keep_the_outputs(copy_export, copy_export_int8):
    import onnx

    ops = {n.op_type for n in onnx.load(str(copy_export_int8 / "model0.step.onnx")).graph.node}
    assert {"DynamicQuantizeLSTM", "MatMulInteger"} & ops, ops
    size = {
        folder: sum(f.stat().st_size for f in folder.glob("*.onnx"))
        for folder in (copy_export, copy_export_int8)
    }
    assert size[copy_export_int8] < 0.6 * size[copy_export]
    manifest = json.loads((copy_export_int8 / "manifest.json").read_text())
    assert manifest["precision"] == "int8"
    fp32 = Translator.from_dir(copy_export).translate(LINES, beam_size=3)
    int8 = Translator.from_dir(copy_export_int8).translate(LINES, beam_size=3)
    assert sum(a == b for a, b in zip(fp32, int8, strict=True)) >= 0.9 * len(LINES)


def test_export_and_translate_commands(copy_run, tmp_path, capsys):
    source = tmp_path / "in.txt"
    source.write_text("\n".join(LINES[:10]) + "\n", encoding="utf-8")
    assert main(["export", str(copy_run), "--format", "onnx", "--out", str(tmp_path / "m")]) == 0
    assert "exported 1 model(s)" in capsys.readouterr().out
    for flag, where in (("--checkpoint", copy_run), ("--model", tmp_path / "m")):
        out = tmp_path / f"{flag[2:]}.txt"
        args = ["translate", flag, str(where), "--input", str(source), "--output", str(out)]
        assert main([*args, "--beam-size", "3", "--n-best", "2"]) == 0
    runtime, pytorch = (
        (tmp_path / f).read_text().splitlines() for f in ("model.txt", "checkpoint.txt")
    )
    assert [r.split(" ||| ")[:2] for r in runtime] == [p.split(" ||| ")[:2] for p in pytorch]
    for r, p in zip(runtime, pytorch, strict=True):  # scores agree to the last printed digits
        assert [
            float(x) for x in re.findall(r"-?\d+\.\d+", r.split(" ||| ", 2)[2])
        ] == pytest.approx(
            [float(x) for x in re.findall(r"-?\d+\.\d+", p.split(" ||| ", 2)[2])], abs=1e-5
        )
    assert main(["translate", "--model", str(tmp_path / "m"), "--sampling"]) == 2
    assert "--sampling is not done by the runtime" in capsys.readouterr().err


def test_the_runtime_command_translates_without_torch(copy_export, tmp_path):
    code = (
        "import sys; from seq2seq_runtime.cli import main; rc = main(sys.argv[1:]); "
        "assert 'torch' not in sys.modules, 'torch was imported'; sys.exit(rc)"
    )
    args = ["translate", "--model", str(copy_export), "--beam-size", "3"]
    done = subprocess.run(
        [sys.executable, "-c", code, *args],
        input="w1 w2 w3\n\nw4 w5\n",
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == "w1 w2 w3\n\nw4 w5\n"
    assert "input line 2 is empty" in done.stderr
    missing = subprocess.run(
        [sys.executable, "-m", "seq2seq_runtime", "translate", "--model", str(tmp_path)],
        input="w1\n",
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert missing.returncode == 2
    assert missing.stderr.strip().endswith("is it a `seq2seq export` folder?")
