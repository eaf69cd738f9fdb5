"""Search and ensembles with the real Seq2Seq; random weights, as search invariants need no training."""

from __future__ import annotations

import pytest
import torch
from decode_standins import random_batch, settings

from seq2seq.config import ModelConfig
from seq2seq.decode.ensemble import Ensemble
from seq2seq.decode.search import beam_search, greedy_search
from seq2seq.errors import CheckpointError
from seq2seq.model.seq2seq import Seq2Seq
from seq2seq.scoring import target_log_probs

torch.set_num_threads(1)
PAD, BOS, EOS = 0, 2, 3
SRC_V, TGT_V = 40, 30

VARIANTS = {
    "lstm-init": dict(cell="lstm", context="init", layers=2),
    "gru-attention-bi": dict(
        cell="gru", context="attention", bidirectional=True, attention="bahdanau"
    ),
    "lstm-attention-fed": dict(cell="lstm", context="attention", attention="general"),
    "rnn-peeky": dict(cell="rnn", context="peeky"),
}


def make_model(variant: str, seed: int, tgt_vocab: int = TGT_V) -> Seq2Seq:
    torch.manual_seed(seed)
    # A wide init makes the random distributions peaked, so sentences end at varied lengths.
    cfg = ModelConfig(embedding_size=16, hidden_size=16, init_range=0.6, **VARIANTS[variant])
    return Seq2Seq(cfg, SRC_V, tgt_vocab).eval()


def search_both(model, src, lengths, **kw):
    greedy = greedy_search(model, src, lengths, settings(**kw), attention=True)
    beam = beam_search(model, src, lengths, settings(beam_size=1, **kw), attention=True)
    return greedy, beam


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_beam_one_equals_greedy_and_beam_wins_overall(variant):
    model = make_model(variant, seed=1)
    src, lengths = random_batch(24, SRC_V, 9, seed=1)
    greedy, beam1 = search_both(model, src, lengths, length_penalty=0.0)
    lengths_seen = {len(g.tokens) for [g] in greedy}
    assert len(lengths_seen) > 2  # the test means something only if outputs end at varied lengths
    for [g], [b] in zip(greedy, beam1, strict=True):
        assert b.tokens == g.tokens and b.log_prob == g.log_prob
        assert (b.attention is None) == (g.attention is None)
        if g.attention is not None:
            assert torch.equal(b.attention, g.attention)
    beam5 = beam_search(model, src, lengths, settings(beam_size=5, length_penalty=0.0))
    below = sum(b.log_prob < g.log_prob - 1e-5 for [g], [b] in zip(greedy, beam5, strict=True))
    assert below <= 2
    assert sum(b.log_prob for [b] in beam5) > sum(g.log_prob for [g] in greedy)


def test_scores_match_teacher_forcing_and_batching():
    model = make_model("lstm-attention-fed", seed=2)
    src, lengths = random_batch(8, SRC_V, 7, seed=2)
    results = beam_search(model, src, lengths, settings(beam_size=4, n_best=3), attention=True)
    for i, hyps in enumerate(results):
        [alone] = beam_search(
            model, src[i : i + 1, : lengths[i]], lengths[i : i + 1], settings(beam_size=4, n_best=3)
        )
        assert [h.tokens for h in alone] == [h.tokens for h in hyps]
        for h in hyps:
            tgt_in = torch.tensor([[BOS, *h.tokens]])
            gold = torch.tensor([[*h.tokens, EOS]])
            with torch.no_grad():
                log_probs = model(src[i : i + 1], lengths[i : i + 1], tgt_in).log_softmax(-1)
            assert h.log_prob == pytest.approx(
                log_probs.gather(2, gold.unsqueeze(2)).sum().item(), abs=1e-4
            )
            assert h.attention.shape == (len(h.tokens) + 1, int(lengths[i]))


def test_ensemble_of_two_copies_is_the_single_model():
    model = make_model("gru-attention-bi", seed=3)
    twin = make_model("gru-attention-bi", seed=3)
    src, lengths = random_batch(16, SRC_V, 8, seed=3)
    three = settings(beam_size=3, n_best=2)
    single = beam_search(model, src, lengths, three, attention=True)
    double = beam_search(Ensemble([model, twin]), src, lengths, three, attention=True)
    for s, d in zip(single, double, strict=True):
        assert [h.tokens for h in s] == [h.tokens for h in d]
        assert [h.log_prob for h in s] == pytest.approx([h.log_prob for h in d], abs=1e-4)
        assert torch.allclose(s[0].attention, d[0].attention, atol=1e-5)


def test_ensemble_averages_probabilities_of_different_architectures():
    members = [make_model("lstm-init", seed=4), make_model("rnn-peeky", seed=5)]
    ensemble = Ensemble(members)
    src, lengths = random_batch(5, SRC_V, 6, seed=4)
    tgt_in = torch.randint(4, TGT_V, (5, 4))
    with torch.no_grad():
        probs = [m(src, lengths, tgt_in).softmax(-1) for m in members]
        expected = ((probs[0] + probs[1]) / 2).log()
        tgt_out = torch.randint(4, TGT_V, (5, 4))
        scored = target_log_probs(ensemble, src, lengths, tgt_in, tgt_out)  # teacher forcing
        gold = expected.gather(2, tgt_out.unsqueeze(2)).squeeze(2).sum(1)
        assert torch.allclose(scored, gold, atol=1e-4)
        state = ensemble.init_state(ensemble.encode(src, lengths))
        log_probs, _ = ensemble.step(tgt_in[:, 0], state)
        assert torch.allclose(log_probs, expected[:, 0], atol=1e-5)
    [[h]] = greedy_search(ensemble, src[:1], lengths[:1], settings(), attention=True)
    assert h.attention is None  # neither member attends


def test_ensemble_of_different_target_vocabularies_is_refused_when_built():
    members = [make_model("lstm-init", 6), make_model("lstm-init", 7, tgt_vocab=TGT_V + 5)]
    with pytest.raises(
        CheckpointError,
        match=f"target vocabularies of different sizes \\({TGT_V} vs {TGT_V + 5}\\)",
    ):
        Ensemble(members)  # once, at construction: the search never checks again
