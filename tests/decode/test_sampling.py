"""Sampling (decode/search.py `sample_search`): seeded, batched, and faithful to the distribution.

The empirical distribution of first tokens over thousands of draws from a fixed table must match
softmax(log p / T) cut to top-k / top-p (a chi-square bound; tokens outside the cut never appear);
seeds repeat exactly and differ from each other; top_k=1 is greedy search; n samples come back
ranked by score with their true log-probabilities.
"""

from __future__ import annotations

import math

import pytest
import torch
from decode_standins import EOS, TableModel, TinyRNNModel, random_batch, settings

from seq2seq import Translator
from seq2seq.config import TEMPERATURE_LIMIT
from seq2seq.data.vocab import BOS_ID, PAD_ID
from seq2seq.decode.ensemble import Ensemble
from seq2seq.decode.search import draw_tokens, greedy_search, sample_search, search
from seq2seq.errors import ConfigError

FIRST = {4: 0.5, 5: 0.3, 6: 0.15, 7: 0.05}  # then EOS: one token per sample
TABLE = {(): FIRST, **{(t,): {EOS: 1.0} for t in FIRST}}
# chi-square 0.999 quantiles by degrees of freedom: a wrong distribution of this many draws
# lands far above them, a right one below (and the draws are seeded, so the test is stable)
CHI2_999 = {1: 10.83, 2: 13.82, 3: 16.27}


def _first_tokens(n: int, **overrides) -> torch.Tensor:
    """The first output token of `n` sentences, one sample each, drawn in one batch."""
    model = TableModel(TABLE, vocab_size=8)
    src, lengths = torch.full((n, 1), 4), torch.ones(n, dtype=torch.long)
    hyps = sample_search(model, src, lengths, settings(sampling=True, beam_size=1, **overrides))
    return torch.tensor([h[0].tokens[0] for h in hyps])


def _expected(temperature: float, top_k: int, top_p: float) -> dict[int, float]:
    """softmax(log p / T), cut to the top_k likeliest, then to the nucleus top_p, by hand."""
    tempered = {t: math.exp(math.log(p) / temperature) for t, p in FIRST.items()}
    ranked = sorted(tempered, key=tempered.get, reverse=True)[: top_k or None]
    total = sum(tempered[t] for t in ranked)
    kept, mass = [], 0.0
    for t in ranked:
        if mass >= top_p:
            break
        kept.append(t)
        mass += tempered[t] / total
    norm = sum(tempered[t] for t in kept)
    return {t: tempered[t] / norm for t in kept}


@pytest.mark.parametrize(
    "temperature, top_k, top_p",
    [(1.0, 0, 1.0), (0.5, 0, 1.0), (2.0, 0, 1.0), (1.0, 2, 1.0), (1.0, 0, 0.75), (1.0, 0, 0.85)],
)
def test_draws_follow_the_tempered_and_truncated_distribution(temperature, top_k, top_p):
    n = 4000
    tokens = _first_tokens(n, temperature=temperature, top_k=top_k, top_p=top_p)
    expected = _expected(temperature, top_k, top_p)
    counts = {t: int((tokens == t).sum()) for t in FIRST}
    for t in FIRST:
        if t not in expected:
            assert counts[t] == 0, f"token {t} lies outside the cut but was drawn {counts[t]} times"
    chi2 = sum((counts[t] - n * p) ** 2 / (n * p) for t, p in expected.items())
    assert chi2 < CHI2_999.get(len(expected) - 1, 0.0 if len(expected) == 1 else 99), (
        counts,
        expected,
    )


def test_a_wrong_distribution_fails_the_bound():
    """The bound has teeth: the untempered draws are far from the T = 0.5 distribution."""
    n = 4000
    tokens = _first_tokens(n)
    expected = _expected(0.5, 0, 1.0)
    chi2 = sum((int((tokens == t).sum()) - n * p) ** 2 / (n * p) for t, p in expected.items())
    assert chi2 > 10 * CHI2_999[3]


def test_seeded_runs_repeat_and_seeds_differ():
    model = TinyRNNModel(12, 10, seed=3)
    src, lengths = random_batch(16, 12, 6, seed=1)
    run = dict(sampling=True, beam_size=1, n_best=3, temperature=1.5)

    def outputs(seed: int) -> list[list[tuple[list[int], float]]]:
        hyps = sample_search(model, src, lengths, settings(seed=seed, **run))
        return [[(h.tokens, h.log_prob) for h in sent] for sent in hyps]

    torch.manual_seed(0)
    first = outputs(1)
    torch.manual_seed(99)  # the global RNG plays no part
    assert outputs(1) == first
    assert outputs(2) != first


def test_a_sentence_draws_the_same_samples_whatever_its_batch():
    model = TinyRNNModel(12, 10, seed=3)
    src, lengths = random_batch(8, 12, 6, seed=2)
    run = settings(sampling=True, beam_size=1, n_best=2, seed=5, temperature=1.5)
    together = sample_search(model, src, lengths, run, lines=list(range(10, 18)))
    for i in (0, 5, 7):
        [alone] = sample_search(model, src[i : i + 1], lengths[i : i + 1], run, lines=[10 + i])
        assert [h.tokens for h in alone] == [h.tokens for h in together[i]]


def test_top_k_of_one_is_greedy_search():
    model = TinyRNNModel(12, 10, seed=4)
    src, lengths = random_batch(20, 12, 6, seed=3)
    greedy = greedy_search(model, src, lengths, settings(beam_size=1))
    sampled = search(model, src, lengths, settings(sampling=True, beam_size=1, top_k=1, seed=7))
    assert [h[0].tokens for h in sampled] == [h[0].tokens for h in greedy]
    assert [h[0].log_prob for h in sampled] == pytest.approx([h[0].log_prob for h in greedy])


def test_n_samples_are_ranked_by_score_with_their_true_log_probs():
    table = {
        (): {4: 0.5, 5: 0.5},
        (4,): {EOS: 0.5, 6: 0.5},
        (5,): {EOS: 0.2, 4: 0.8},
        (4, 6): {EOS: 1.0},
        (5, 4): {EOS: 1.0},
    }
    model = TableModel(table, vocab_size=8)
    src, lengths = torch.full((3, 1), 4), torch.ones(3, dtype=torch.long)
    hyps = sample_search(model, src, lengths, settings(sampling=True, beam_size=1, n_best=6))
    for sentence in hyps:
        assert len(sentence) == 6
        scores = [h.score for h in sentence]
        assert scores == sorted(scores, reverse=True)
        for h in sentence:
            assert h.log_prob == pytest.approx(model.sequence_log_prob(h.tokens))
            assert h.score == pytest.approx(h.log_prob / (len(h.tokens) + 1))


def test_min_len_and_the_length_cap_hold_while_sampling():
    model = TinyRNNModel(12, 10, seed=5, eos_bias=4.0)  # EOS is very likely
    src, lengths = random_batch(12, 12, 6, seed=4)
    run = settings(sampling=True, beam_size=1, n_best=4, min_len=2, max_len_ratio=1.0)
    for sentence, length in zip(sample_search(model, src, lengths, run), lengths.tolist()):
        for h in sentence:
            assert 2 <= len(h.tokens) <= length + 10


def test_banned_and_cut_tokens_are_never_drawn():
    log_probs = torch.log(torch.tensor([[0.0, 0.1, 0.6, 0.3]] * 5000))
    uniforms = torch.rand(5000, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    uniforms[:3] = torch.tensor([0.0, 1.0 - 2**-53, 0.5])  # the edges of [0, 1)
    drawn = draw_tokens(log_probs, uniforms, settings(sampling=True, beam_size=1))
    assert 0 not in drawn.tolist()
    cut = draw_tokens(log_probs, uniforms, settings(sampling=True, beam_size=1, top_k=2))
    assert set(cut.tolist()) == {2, 3}


def test_an_ensemble_samples_from_its_averaged_distribution(random_checkpoints):
    from seq2seq.checkpoint import load_model

    members = [load_model(random_checkpoints[name])[0] for name in ("gru", "lstm")]
    ensemble = Ensemble(members).eval()
    n = 3000
    src, lengths = torch.full((n, 3), 5), torch.full((n,), 3)
    with torch.no_grad():
        state = ensemble.init_state(ensemble.encode(src[:1], lengths[:1]))
        probs = ensemble.step(torch.tensor([BOS_ID]), state)[0].exp()[0].double()
    probs[[BOS_ID, PAD_ID]] = 0.0  # never emitted by any search
    probs /= probs.sum()
    run = settings(sampling=True, beam_size=1, max_len_ratio=0.01, max_len_offset=1, seed=3)
    hyps = sample_search(ensemble, src, lengths, run)
    tokens = torch.tensor([h[0].tokens[0] if h[0].tokens else EOS for h in hyps])
    counts = torch.bincount(tokens, minlength=probs.numel()).double()
    assert counts[probs == 0].sum() == 0
    likely = probs * n >= 20  # bins expected to hold 20 draws or more; the rest pooled
    observed = torch.cat([counts[likely], counts[~likely].sum().view(1)])
    expected = torch.cat([probs[likely], probs[~likely].sum().view(1)]) * n
    chi2 = float(((observed - expected) ** 2 / expected.clamp(min=1.0)).sum())
    df = int(likely.sum())
    assert chi2 < df + 5 * math.sqrt(2 * df) + 10, (chi2, df)


@pytest.mark.parametrize(
    "overrides",
    [
        {"temperature": 5e-324},
        {"temperature": 1e-300},
        {"temperature": TEMPERATURE_LIMIT},
        {"top_p": 5e-324},
        {"top_p": 1.0, "top_k": 10_000},
    ],
)
def test_the_edges_of_the_sampling_ranges_sample_without_error(overrides):
    model = TinyRNNModel(20, 10, seed=3)
    src, lengths = random_batch(6, 20, 6, seed=3)
    run = settings(sampling=True, beam_size=1, n_best=2, **overrides)
    for hyps in search(model, src, lengths, run):
        assert len(hyps) == 2 and all(math.isfinite(h.log_prob) for h in hyps)


def test_sampling_settings_are_checked_in_one_sentence(copy_checkpoint):
    translator = Translator.load(copy_checkpoint)
    assert translator.settings(sampling=True).beam_size == 1  # the checkpoint's beam gives way
    assert translator.settings(sampling=True, n_best=8).n_best == 8  # samples, not a beam
    sampling = translator.settings(sampling=True, temperature=0.8, top_p=0.9)
    beam = translator.settings(sampling, beam_size=3)  # a beam asked for turns sampling off
    assert (beam.sampling, beam.temperature, beam.top_p, beam.beam_size) == (False, 1.0, 1.0, 3)
    refusals = {
        "decode.beam_size=1, not 5": dict(sampling=True, beam_size=5),
        "decode.temperature=0.7 applies only to sampling": dict(temperature=0.7),
        "decode.top_k=3 applies only to sampling": dict(top_k=3),
        "decode.n_best=65": dict(sampling=True, n_best=65),
    }
    for expected, overrides in refusals.items():
        with pytest.raises(ConfigError) as refused:
            translator.settings(**overrides)
        assert expected in str(refused.value) and "\n" not in str(refused.value)


def test_the_python_api_samples_repeatably(copy_checkpoint):
    translator = Translator.load(copy_checkpoint)
    lines = ["w1 w2 w3", "w4 w5", "w6 w7 w8 w9"]
    first = translator.translate(lines, sampling=True, temperature=2.0, seed=1, n_best=3)
    assert translator.translate(lines, sampling=True, temperature=2.0, seed=1, n_best=3) == first
    assert translator.translate(lines, sampling=True, temperature=2.0, seed=2, n_best=3) != first
    # a line's samples depend on its number in the call, not on its batch
    alone = translator.translate_hypotheses(
        lines[2:],
        translator.settings(sampling=True, temperature=2.0, seed=1, n_best=3),
        first_line=3,
    )
    assert [t.text for t in alone[0]] == first[2]


def test_the_nucleus_pool_draws_what_a_full_sort_draws(monkeypatch):
    import seq2seq.decode.search as search_module

    gen = torch.Generator().manual_seed(0)
    scale = torch.tensor([8.0, 4.0, 1.0, 0.1, 0.01]).repeat(40).unsqueeze(1)  # peaked ... flat
    log_probs = torch.log_softmax(torch.randn(200, 1000, generator=gen) * scale, dim=1)
    uniforms = torch.rand(200, generator=gen, dtype=torch.float64)
    run = settings(sampling=True, beam_size=1, top_p=0.9, temperature=0.8)
    pooled = draw_tokens(log_probs, uniforms, run)  # flat rows fall back to the full sort
    monkeypatch.setattr(search_module, "NUCLEUS_POOL", 10_000)  # always the full sort
    assert torch.equal(draw_tokens(log_probs, uniforms, run), pooled)
