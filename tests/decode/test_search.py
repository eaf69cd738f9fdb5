"""Greedy and beam search on stand-in models with known distributions, and search invariants."""

from __future__ import annotations

import itertools
import math

import pytest
import torch
from decode_standins import (
    BOS,
    EOS,
    TRAP,
    A,
    B,
    TableModel,
    TinyRNNModel,
    random_batch,
    settings,
)

from seq2seq.decode.search import beam_search, greedy_search, max_output_lengths
from seq2seq.decode.search import search as either_search

torch.set_num_threads(1)


def one_source(length: int = 3) -> tuple[torch.Tensor, torch.Tensor]:
    return torch.full((1, length), 7), torch.tensor([length])


def test_greedy_falls_into_the_trap_with_the_exact_probability():
    model = TableModel(TRAP, vocab_size=6)
    [[hyp]] = greedy_search(model, *one_source(), settings(length_penalty=0.0))
    assert hyp.tokens == [A, A]
    assert hyp.log_prob == pytest.approx(math.log(0.6 * 0.4 * 1.0))
    assert hyp.score == hyp.log_prob


def test_beam_of_two_escapes_the_trap_with_golden_n_best():
    model = TableModel(TRAP, vocab_size=6)
    [hyps] = beam_search(model, *one_source(), settings(beam_size=2, n_best=2, length_penalty=0.0))
    assert [h.tokens for h in hyps] == [[B], [A, A]]
    assert [h.log_prob for h in hyps] == pytest.approx([math.log(0.4 * 0.9), math.log(0.24)])


def test_length_penalty_reranks_by_score_per_token():
    # "a a" (0.24 over 3 steps) vs 'b' (0.36 over 2 steps): alpha=1 prefers the longer one.
    model = TableModel(TRAP, vocab_size=6)
    [hyps] = beam_search(model, *one_source(), settings(beam_size=2, n_best=2, length_penalty=1.0))
    assert [h.tokens for h in hyps] == [[A, A], [B]]
    assert hyps[0].score == pytest.approx(math.log(0.24) / 3)
    assert hyps[1].score == pytest.approx(math.log(0.36) / 2)


def test_wide_beam_finds_the_exhaustive_optimum():
    # Every sequence of up to 3 words over {a, b}, each with its own distribution.
    gen = torch.Generator().manual_seed(3)
    table = {}
    for n in range(3):
        for prefix in itertools.product((A, B), repeat=n):
            probs = torch.rand(3, generator=gen, dtype=torch.float64)
            probs = (probs / probs.sum()).tolist()
            table[prefix] = {A: probs[0], B: probs[1], EOS: probs[2]}
    model = TableModel(table, vocab_size=6)
    candidates = [list(p) for n in range(4) for p in itertools.product((A, B), repeat=n)]
    best = max(candidates, key=model.sequence_log_prob)
    [[hyp]] = beam_search(model, *one_source(), settings(beam_size=16, length_penalty=0.0))
    assert hyp.tokens == best
    assert hyp.log_prob == pytest.approx(model.sequence_log_prob(best))


def test_forced_eos_at_the_maximum_length():
    model = TinyRNNModel(20, 12, seed=1, eos_bias=-30.0)  # EOS is never chosen freely
    src, lengths = random_batch(6, 20, 5, seed=1)
    limits = max_output_lengths(lengths, 1.5, 2).tolist()
    for hyps in (
        greedy_search(model, src, lengths, settings(max_len_ratio=1.5, max_len_offset=2)),
        beam_search(
            model, src, lengths, settings(beam_size=3, max_len_ratio=1.5, max_len_offset=2)
        ),
    ):
        assert [len(h[0].tokens) for h in hyps] == limits
        assert all(EOS not in h[0].tokens and BOS not in h[0].tokens for h in hyps)


def test_beam_one_is_exactly_greedy():
    model = TinyRNNModel(30, 15, seed=2)
    src, lengths = random_batch(25, 30, 9, seed=2)
    for alpha in (0.0, 1.0):
        greedy = greedy_search(model, src, lengths, settings(length_penalty=alpha), attention=True)
        beam = beam_search(
            model, src, lengths, settings(beam_size=1, length_penalty=alpha), attention=True
        )
        for [g], [b] in zip(greedy, beam, strict=True):
            assert b.tokens == g.tokens
            assert b.log_prob == g.log_prob and b.score == g.score
            assert torch.equal(b.attention, g.attention)


def test_beam_beats_greedy_on_random_models():
    # Beam search prunes, so on a given sentence it can in principle end below greedy (the greedy
    # path may fall out of the beam); what must hold is that it almost never does, and wins overall.
    for seed in range(3):
        model = TinyRNNModel(30, 10, seed=seed)
        src, lengths = random_batch(40, 30, 8, seed=seed)
        greedy = [h.log_prob for [h] in greedy_search(model, src, lengths, settings())]
        beam = [
            h.log_prob
            for [h] in beam_search(model, src, lengths, settings(beam_size=5, length_penalty=0.0))
        ]
        below = sum(b < g - 1e-9 for b, g in zip(beam, greedy, strict=True))
        above = sum(b > g + 1e-9 for b, g in zip(beam, greedy, strict=True))
        assert below <= 2 and above >= 25, (seed, below, above)
        assert sum(beam) > sum(greedy) + 10


def test_hypotheses_carry_their_true_log_probability_and_attention():
    model = TinyRNNModel(25, 12, seed=4)
    src, lengths = random_batch(10, 25, 7, seed=4)
    wide = settings(beam_size=4, n_best=4, length_penalty=0.5)
    results = beam_search(model, src, lengths, wide, attention=True)
    for i, hyps in enumerate(results):
        assert len(hyps) == 4
        assert [h.score for h in hyps] == sorted((h.score for h in hyps), reverse=True)
        assert len({tuple(h.tokens) for h in hyps}) == 4
        for h in hyps:
            tgt_in = torch.tensor([[BOS, *h.tokens]])
            tgt_out = torch.tensor([[*h.tokens, EOS]])
            log_probs = model(src[i : i + 1], lengths[i : i + 1], tgt_in)
            assert h.log_prob == pytest.approx(
                log_probs.gather(2, tgt_out.unsqueeze(2)).sum().item()
            )
            assert h.score == pytest.approx(h.log_prob / (len(h.tokens) + 1) ** 0.5)
            assert h.attention.shape == (len(h.tokens) + 1, int(lengths[i]))
            assert torch.allclose(
                h.attention.sum(-1), torch.ones(len(h.tokens) + 1, dtype=torch.float64)
            )


def test_batched_search_equals_one_sentence_at_a_time():
    model = TinyRNNModel(30, 12, seed=5)
    src, lengths = random_batch(12, 30, 8, seed=5)
    batched = beam_search(model, src, lengths, settings(beam_size=3, n_best=3))
    for i in range(12):
        [alone] = beam_search(
            model, src[i : i + 1, : lengths[i]], lengths[i : i + 1], settings(beam_size=3, n_best=3)
        )
        assert [h.tokens for h in alone] == [h.tokens for h in batched[i]]
        assert [h.score for h in alone] == pytest.approx([h.score for h in batched[i]])


def test_finished_sentences_leave_the_batch():
    # Sentence 0 ends at once; sentence 1 runs for 10 steps. Steps after the first pay for one row.
    table = {(A,) * n: {A: 0.9, EOS: 0.1} for n in range(10)}
    model = TableModel(table, vocab_size=6)
    src, lengths = torch.tensor([[7, 0], [7, 7]]), torch.tensor([1, 2])
    short = TableModel({(): {EOS: 1.0}}, vocab_size=6)
    greedy_search(short, src, lengths, settings())
    assert short.calls == 2
    [[g0], [g1]] = greedy_search(model, src, lengths, settings(max_len_ratio=1.0, max_len_offset=0))
    assert len(g0.tokens) == 1 and len(g1.tokens) == 2
    assert model.calls == 2 + 2 + 1  # both rows twice, then only the longer sentence


def test_n_best_larger_than_beam_is_refused():
    with pytest.raises(ValueError, match="n_best=3"):
        beam_search(TableModel(TRAP, 6), *one_source(), settings(beam_size=2, n_best=3))


def test_min_len_bans_eos_until_that_many_tokens_in_both_searches():
    model = TinyRNNModel(30, 15, seed=7, eos_bias=3.0)  # EOS is likely: outputs are short
    src, lengths = random_batch(12, 30, 9, seed=7)
    for search, beam in ((greedy_search, 1), (beam_search, 3)):
        plain = search(model, src, lengths, settings(beam_size=beam))
        longer = search(model, src, lengths, settings(beam_size=beam, min_len=4))
        assert min(len(h[0].tokens) for h in plain) < 4
        assert all(len(h[0].tokens) >= 4 for h in longer)
        assert all(EOS not in h[0].tokens for h in longer)
    # The length cap still wins over min_len: a 1-token cap forces EOS after one token.
    capped = greedy_search(
        model, src, lengths, settings(min_len=5, max_len_ratio=0.01, max_len_offset=1)
    )
    assert all(len(h[0].tokens) == 1 for h in capped)


def test_the_length_cap_ends_a_sentence_even_where_the_model_rules_eos_out():
    # TRAP's prefix (A, A) continues only with EOS; past the table everything but EOS has no
    # probability and EOS is banned by min_len: the cap must still end every hypothesis.
    model = TableModel(TRAP, vocab_size=6)
    src, lengths = one_source()
    for search, beam in ((greedy_search, 1), (beam_search, 2)):
        capped = settings(beam_size=beam, min_len=8, max_len_ratio=1.0, max_len_offset=0)
        [hyps] = search(model, src, lengths, capped)
        # it ended (before the fix greedy search looped forever here), within the cap; beam
        # search may find no hypothesis of non-zero probability at all and return none
        assert all(len(h.tokens) <= 3 for h in hyps)
        assert hyps or beam > 1


def test_attention_is_collected_only_when_asked():
    model = TinyRNNModel(25, 12, seed=4)
    src, lengths = random_batch(6, 25, 7, seed=4)
    for beam in (1, 3):
        plain = either_search(model, src, lengths, settings(beam_size=beam))
        kept = either_search(model, src, lengths, settings(beam_size=beam), attention=True)
        assert all(h.attention is None for hyps in plain for h in hyps)
        assert all(h.attention is not None for hyps in kept for h in hyps)
        assert [[h.tokens for h in x] for x in plain] == [[h.tokens for h in x] for x in kept]
