"""Export round trip: for every cell, context mode and attention, the runtime's output from the
exported graphs equals PyTorch's from the checkpoint, greedy and beam (n-best and scores too).

The models are untrained, with weights drawn wide (uniform +-0.5) so that their distributions are
peaked enough for an output to be decided by the model, not by rounding; each export takes a few
seconds, hence slow.
"""

from __future__ import annotations

import pytest
import torch
from decode_standins import TARGET_WORDS, WORDS, copy_config, copy_sentences, save
from seq2seq_runtime import Translator

from seq2seq.data.vocab import WordVocab
from seq2seq.decode.translator import Translator as TorchTranslator
from seq2seq.export.onnx import export_onnx
from seq2seq.model.seq2seq import Seq2Seq

ARCHITECTURES = {
    "lstm-init": dict(cell="lstm", context="init", layers=2),
    "gru-bi-bridge": dict(cell="gru", context="bridge", bidirectional=True),
    "rnn-concat": dict(cell="rnn", context="concat", layers=2),
    "lstm-bi-peeky": dict(cell="lstm", context="peeky", bidirectional=True, layers=2),
    "lstm-general-feed": dict(cell="lstm", attention="general", input_feeding=True, layers=2),
    "gru-dot": dict(cell="gru", attention="dot", input_feeding=False),
    "rnn-bi-bahdanau-feed": dict(
        cell="rnn", attention="bahdanau", bidirectional=True, input_feeding=True
    ),
    "lstm-bahdanau-bridge": dict(
        cell="lstm", attention="bahdanau", decoder_hidden_size=48, layers=2
    ),
}


def _checkpoint(folder, name: str, seed: int):
    spec = dict(ARCHITECTURES[name])
    spec.setdefault("context", "attention")
    torch.manual_seed(seed)
    config = copy_config(init_range=0.5, **spec)
    src_vocab, tgt_vocab = WordVocab(WORDS), WordVocab(TARGET_WORDS)
    model = Seq2Seq(config.model, len(src_vocab), len(tgt_vocab))
    return save(folder / f"{name}.safetensors", model, config, src_vocab, tgt_vocab)


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


# A known defect, open in issue 26: the tanh RNN read both ways with Bahdanau attention and input
# feeding parts from PyTorch on 3 of 24 sentences (step scores differ by ~3e-4 relative).
KNOWN_APART = {"rnn-bi-bahdanau-feed"}


@pytest.mark.parametrize(
    "name",
    [
        pytest.param(n, marks=pytest.mark.xfail(reason="issue 26: known defect", strict=True))
        if n in KNOWN_APART
        else n
        for n in ARCHITECTURES
    ],
)
@pytest.mark.slow
def test_runtime_output_equals_pytorch(name, tmp_path):
    checkpoint = _checkpoint(tmp_path, name, seed=len(name))
    export_onnx([checkpoint], tmp_path / "onnx")
    ours, theirs = TorchTranslator.load(checkpoint), Translator.from_dir(tmp_path / "onnx")
    lines = copy_sentences(24, seed=7, min_len=1, max_len=9)
    for beam_size, n_best in ((1, 1), (5, 3)):
        expected = ours.translate_hypotheses(
            lines, ours.settings(beam_size=beam_size, n_best=n_best, batch_size=8)
        )
        got = theirs.translate_hypotheses(
            lines, theirs.settings(beam_size=beam_size, n_best=n_best, batch_size=8)
        )
        assert sum(len(t[0].tokens) for t in got) > 0  # the outputs are not all empty
        _same(expected, got)


@pytest.mark.slow
def test_an_ensemble_exports_one_step_graph_per_member(tmp_path):
    paths = [_checkpoint(tmp_path, "lstm-general-feed", 1), _checkpoint(tmp_path, "gru-dot", 2)]
    manifest = export_onnx(paths, tmp_path / "onnx")
    assert [m["step"] for m in manifest["members"]] == ["model0.step.onnx", "model1.step.onnx"]
    ours, theirs = TorchTranslator.load(paths), Translator.from_dir(tmp_path / "onnx")
    lines = copy_sentences(16, seed=3)
    settings = dict(beam_size=4, n_best=2, length_penalty=0.6)
    _same(
        ours.translate_hypotheses(lines, ours.settings(**settings)),
        theirs.translate_hypotheses(lines, theirs.settings(**settings)),
    )
