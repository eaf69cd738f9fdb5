"""Location-aware attention (Chorowski et al. 2015): its weights, the alignment it carries in the
decoder state, and the searches and ensembles that must reorder that state with the beams."""

from __future__ import annotations

import pytest
import torch
from test_acoustic import acoustic_model, frames

from seq2seq.config import DecodeConfig, ModelConfig
from seq2seq.decode.ensemble import Ensemble
from seq2seq.decode.search import beam_search, greedy_search
from seq2seq.model.attention import LocationAttention, build_attention
from seq2seq.model.seq2seq import Seq2Seq
from seq2seq.scoring import target_log_probs


def attention() -> LocationAttention:
    torch.manual_seed(0)
    module = build_attention("location", 6, 5)
    assert isinstance(module, LocationAttention)
    return module


def test_weights_are_a_distribution_over_real_positions_for_every_step():
    module = attention()
    memory = torch.randn(2, 7, 5)
    mask = torch.tensor([[True] * 7, [True] * 4 + [False] * 3])
    vectors, weights = module(torch.randn(2, 3, 6), memory, mask)
    assert vectors.shape == (2, 3, 6) and weights.shape == (2, 3, 7)
    torch.testing.assert_close(weights.sum(-1), torch.ones(2, 3))
    assert weights[1, :, 4:].abs().sum() == 0


def test_the_first_step_starts_from_a_uniform_alignment_over_the_real_positions():
    module = attention()
    memory, query = torch.randn(2, 7, 5), torch.randn(2, 1, 6)
    mask = torch.tensor([[True] * 7, [True] * 4 + [False] * 3])
    uniform = mask.float() / mask.float().sum(1, keepdim=True)
    torch.testing.assert_close(
        module(query, memory, mask)[1], module(query, memory, mask, previous=uniform)[1]
    )


def test_the_previous_alignment_moves_the_weights():
    module = attention()
    memory, query, mask = torch.randn(1, 9, 5), torch.randn(1, 1, 6), torch.ones(1, 9, dtype=bool)
    early = torch.zeros(1, 9)
    early[0, 1] = 1.0
    late = torch.zeros(1, 9)
    late[0, 7] = 1.0
    a = module(query, memory, mask, previous=early)[1]
    b = module(query, memory, mask, previous=late)[1]
    assert not torch.allclose(a, b, atol=1e-4)


def test_steps_one_at_a_time_equal_the_steps_at_once_and_carry_the_last_alignment():
    module = attention()
    memory, mask = torch.randn(2, 7, 5), torch.ones(2, 7, dtype=bool)
    query = torch.randn(2, 4, 6)
    vectors, weights = module(query, memory, mask)
    previous, stepped = None, []
    for t in range(4):
        vector, weight = module(query[:, t : t + 1], memory, mask, previous=previous)
        previous = weight[:, -1]
        stepped.append(vector)
    torch.testing.assert_close(torch.cat(stepped, 1), vectors)
    torch.testing.assert_close(previous, weights[:, -1])


def test_beams_sharing_one_memory_row_score_as_if_each_had_its_own():
    module = attention()
    memory, mask = torch.randn(2, 6, 5), torch.ones(2, 6, dtype=bool)
    query, previous = torch.randn(6, 1, 6), torch.softmax(torch.randn(6, 6), -1)
    shared = module(query, memory, mask, previous=previous)  # 3 beams per memory row
    own = module(
        query,
        memory.repeat_interleave(3, 0),
        mask.repeat_interleave(3, 0),
        previous=previous,
    )
    torch.testing.assert_close(shared[0], own[0])
    torch.testing.assert_close(shared[1], own[1])


@pytest.mark.parametrize("input_feeding", [True, False])
def test_the_decoder_state_carries_the_alignment_and_selecting_rows_picks_it(input_feeding):
    model = acoustic_model("pyramidal", input_feeding=input_feeding)
    src, lengths = frames([30, 17])
    state = model.init_state(model.encode(src, lengths))
    assert state.alignment is None
    tgt_in = torch.tensor([[2, 4, 5], [2, 6, 7]])
    _, after = model.decode(tgt_in, state)
    assert after.alignment is not None and after.attn is not None
    torch.testing.assert_close(after.alignment, after.attn[:, -1])
    picked = after.select(torch.tensor([1, 1, 0]))
    assert picked.alignment is not None
    torch.testing.assert_close(picked.alignment, after.alignment[[1, 1, 0]])
    # teacher forcing all at once equals stepping token by token
    logits = model(src, lengths, tgt_in)
    stepped, step_state = [], state
    for t in range(3):
        log_probs, step_state = model.step(tgt_in[:, t], step_state)
        stepped.append(log_probs)
    torch.testing.assert_close(torch.stack(stepped, 1), logits.log_softmax(-1))


def sharp_model(encoder: str) -> Seq2Seq:
    """A random acoustic model whose attention is sharp enough that where it looked last moves
    the log-probabilities by tenths of a nat (at ±0.08 it moves them by less than 1e-4)."""
    model = acoustic_model(encoder, init_range=0.5)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, LocationAttention):
                module.conv.weight.mul_(5.0)
                module.energy.weight.mul_(5.0)
    return model


def _settings(beam_size: int, n_best: int = 1) -> DecodeConfig:
    return DecodeConfig(
        beam_size=beam_size, n_best=n_best, max_len_ratio=0.25, max_len_offset=3,
        length_penalty=0.0,
    )  # fmt: skip


def _teacher_forced(model, src, lengths, rows, hyps):
    """log p(hypothesis <eos> | recording) by teacher forcing, for hypotheses of batch rows."""
    width = max(len(h.tokens) for h in hyps) + 1
    tgt_in = torch.zeros(len(hyps), width, dtype=torch.long)
    tgt_out = torch.zeros(len(hyps), width, dtype=torch.long)
    for i, h in enumerate(hyps):
        tgt_in[i, : len(h.tokens) + 1] = torch.tensor([2, *h.tokens])
        tgt_out[i, : len(h.tokens) + 1] = torch.tensor([*h.tokens, 3])
    index = torch.tensor(rows)
    return target_log_probs(model, src[index], lengths[index], tgt_in, tgt_out).tolist()


def test_beam_search_reorders_the_alignment_with_its_beams():
    """Every n-best hypothesis's search score equals its teacher-forced log-probability: had the
    beams' alignments not followed their prefixes, the location term would differ (by 0.33 nats
    when `DecoderState.select` leaves the alignment as it was)."""
    model = sharp_model("pyramidal")
    src, lengths = frames([40, 28, 13])
    results = beam_search(model, src, lengths, _settings(4, 4))
    rows = [r for r, hyps in enumerate(results) for _ in hyps]
    hyps = [h for row in results for h in row]
    assert len(hyps) == 12
    forced = _teacher_forced(model, src, lengths, rows, hyps)
    assert [h.log_prob for h in hyps] == pytest.approx(forced, abs=1e-4)


def test_a_beam_of_one_is_greedy_search():
    model = acoustic_model("conv")
    src, lengths = frames([40, 28, 13])
    greedy = greedy_search(model, src, lengths, _settings(1))
    beam = beam_search(model, src, lengths, _settings(1))
    assert [g[0].tokens for g in greedy] == [b[0].tokens for b in beam]
    assert [g[0].log_prob for g in greedy] == pytest.approx([b[0].log_prob for b in beam])


def test_an_ensemble_of_acoustic_models_searches_with_each_members_alignment():
    members = [sharp_model("pyramidal"), sharp_model("conv")]
    torch.manual_seed(5)
    other = ModelConfig(
        encoder="pyramidal", features=12, hidden_size=8, embedding_size=8, layers=2,
        context="attention", attention="bahdanau", time_reduction=2,
    )  # fmt: skip
    members.append(Seq2Seq(other, 0, 9).eval())  # members may differ in attention
    ensemble = Ensemble(members).eval()
    src, lengths = frames([33, 21])
    results = beam_search(ensemble, src, lengths, _settings(3, 3))
    rows = [r for r, hyps in enumerate(results) for _ in hyps]
    hyps = [h for row in results for h in row]
    forced = _teacher_forced(ensemble, src, lengths, rows, hyps)
    assert [h.log_prob for h in hyps] == pytest.approx(forced, abs=1e-4)
