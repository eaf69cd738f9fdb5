"""Export round trip: for every cell, context mode and attention, the runtime's output from the
exported graphs equals PyTorch's from the checkpoint, greedy and beam (n-best and scores too).

The models are export_standins.py's: untrained, peaked, and not chaotic (each export takes a few
seconds, hence slow). `test_stand_ins_are_not_chaotic` holds every one of them to that: on a
chaotic model no two float32 computations agree, PyTorch's with itself at another batch size
included, and a round trip would test rounding, not the export.
"""

from __future__ import annotations

import pytest
import torch
from decode_standins import copy_sentences
from export_standins import ARCHITECTURES, LINES, MAX_STEPS, build, checkpoint, fp32_fp64_gap
from seq2seq_runtime import Translator

from seq2seq.decode.translator import Translator as TorchTranslator
from seq2seq.export.onnx import export_onnx


@pytest.mark.parametrize("name", list(ARCHITECTURES))
def test_stand_ins_are_not_chaotic(name):
    """Float32 rounding (PyTorch's, against its own float64) stays below 1e-3 nats over the
    longest output, so that any larger gap between the runtime and PyTorch is the export's."""
    torch.set_num_threads(1)
    gaps = fp32_fp64_gap(build(name, seed=len(name))[0])
    assert len(gaps) == MAX_STEPS
    assert max(gaps) < 1e-3, f"float32 rounding grows to {max(gaps):.2g} nats in {name}"


def _same(torch_results, runtime_results) -> None:
    """Equal n-best lists with equal scores, allowing one sentence in 24 to part ways: float32
    sums in another order can flip a near-tie between two words of these untrained, peaked
    models (issue 26 asks for the same output on at least 99% of real test sentences)."""
    apart = 0
    for ours, theirs in zip(torch_results, runtime_results, strict=True):
        if [t.text for t in theirs] != [t.text for t in ours]:
            apart += 1
            continue
        for a, b in zip(ours, theirs, strict=True):
            assert b.score == pytest.approx(a.score, rel=1e-3, abs=1e-5)
    assert apart <= 1, f"{apart} of {len(torch_results)} sentences differ"


@pytest.mark.parametrize("name", list(ARCHITECTURES))
@pytest.mark.slow
def test_runtime_output_equals_pytorch(name, tmp_path):
    path = checkpoint(tmp_path, name, seed=len(name))
    export_onnx([path], tmp_path / "onnx")
    ours, theirs = TorchTranslator.load(path), Translator.from_dir(tmp_path / "onnx")
    for beam_size, n_best in ((1, 1), (5, 3)):
        expected = ours.translate_hypotheses(
            LINES, ours.settings(beam_size=beam_size, n_best=n_best, batch_size=8)
        )
        got = theirs.translate_hypotheses(
            LINES, theirs.settings(beam_size=beam_size, n_best=n_best, batch_size=8)
        )
        assert sum(len(t[0].tokens) for t in got) > 0  # the outputs are not all empty
        _same(expected, got)


@pytest.mark.slow
def test_an_ensemble_exports_one_step_graph_per_member(tmp_path):
    paths = [checkpoint(tmp_path, "lstm-general-feed", 1), checkpoint(tmp_path, "gru-dot", 2)]
    manifest = export_onnx(paths, tmp_path / "onnx")
    assert [m["step"] for m in manifest["members"]] == ["model0.step.onnx", "model1.step.onnx"]
    ours, theirs = TorchTranslator.load(paths), Translator.from_dir(tmp_path / "onnx")
    lines = copy_sentences(16, seed=3)
    settings = dict(beam_size=4, n_best=2, length_penalty=0.6)
    _same(
        ours.translate_hypotheses(lines, ours.settings(**settings)),
        theirs.translate_hypotheses(lines, theirs.settings(**settings)),
    )
