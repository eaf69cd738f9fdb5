"""Search invariants on a trained model over 1,000 real sentences (the Tatoeba slice):
batch 1 == batch 64, beam 1 == greedy, and the top of every n-best list == the 1-best,
for several beam sizes and length penalties."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from decode_standins import train_small_model

from seq2seq.decode.translator import Translator

pytestmark = pytest.mark.slow
SENTENCES = 1000


@pytest.fixture(scope="module")
def trained(data_dir, tmp_path_factory) -> Translator:
    """A small Luong-attention model trained for 300 steps on the slice's 2,000 pairs."""
    out = tmp_path_factory.mktemp("invariants") / "run"
    checkpoint = train_small_model(
        data_dir, out, steps=300, batch_size=64, embedding_size=64, hidden_size=128,
        context="attention",
    )  # fmt: skip
    return Translator.load(checkpoint)


@pytest.fixture(scope="module")
def sentences(corpus) -> list[str]:
    import gzip

    with gzip.open(Path(corpus) / "train.en.gz", "rt", encoding="utf-8") as handle:
        lines = [line.rstrip("\n") for line in handle]
    return lines[:SENTENCES]


def _tokens(results) -> list[list[list[int]]]:
    return [[h.tokens for h in hyps] for hyps in results]


def test_the_model_learned_something(trained, sentences, test_set):
    outputs = trained.translate(sentences[:50], beam_size=1)
    assert sum(bool(o.strip()) for o in outputs) == 50
    assert len(set(outputs)) > 10, outputs  # outputs depend on the input
    assert trained.model.training is False
    # Floors with margin under what this model reaches on the slice's 150 test sentences
    # (lower-cased; each <unk> costs three wrong tokens); random weights score 0 on both.
    from seq2seq.evaluate.scores import corpus_bleu

    src, ref = (path.read_text(encoding="utf-8").splitlines() for path in test_set)
    bleu = corpus_bleu(trained.translate(src, beam_size=1), ref, lowercase=True)
    assert bleu.score > 0.1 and bleu.precisions[0] > 3.0, bleu


@pytest.mark.parametrize("beam_size", [1, 5])
def test_batch_of_one_equals_batch_of_64(trained, sentences, beam_size):
    one = trained.translate_hypotheses(
        sentences, trained.settings(beam_size=beam_size, batch_size=1)
    )
    many = trained.translate_hypotheses(
        sentences, trained.settings(beam_size=beam_size, batch_size=64)
    )
    assert _tokens(one) == _tokens(many)


def test_beam_of_one_equals_greedy(trained, sentences):
    torch.manual_seed(0)
    greedy = trained.translate_hypotheses(sentences, trained.settings(beam_size=1))
    from seq2seq.data.batching import make_source_batch
    from seq2seq.decode.search import beam_search

    # beam_search itself with a beam of one (the translator sends beam 1 to greedy_search)
    ids = trained.src_vocab.encode_batch(sentences[:200])
    src, lengths = make_source_batch(ids, 0, trained.reverse_source)
    with torch.inference_mode():
        beam = beam_search(trained.model, src, lengths, trained.settings(beam_size=1))
    assert [h[0].tokens for h in beam] == [h[0].tokens for h in greedy[:200]]
    assert [h[0].log_prob for h in beam] == pytest.approx([h[0].log_prob for h in greedy[:200]])


@pytest.mark.parametrize(("beam_size", "length_penalty"), [(2, 0.0), (5, 1.0), (5, 0.6), (8, 1.0)])
def test_the_top_of_every_n_best_list_is_the_1_best(trained, sentences, beam_size, length_penalty):
    one = trained.translate_hypotheses(
        sentences, trained.settings(beam_size=beam_size, length_penalty=length_penalty)
    )
    listed = trained.translate_hypotheses(
        sentences,
        trained.settings(beam_size=beam_size, n_best=beam_size, length_penalty=length_penalty),
    )
    assert [h[0].tokens for h in one] == [h[0].tokens for h in listed]
    for hyps in listed:
        assert [h.score for h in hyps] == sorted((h.score for h in hyps), reverse=True)
