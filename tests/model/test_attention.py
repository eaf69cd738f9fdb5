"""Attention: golden values for each score, masking, normalisation, and shared memory rows."""

from __future__ import annotations

import pytest
import torch

from seq2seq.errors import ConfigError
from seq2seq.model.attention import BahdanauAttention, LuongAttention, build_attention

torch.set_num_threads(1)


def reference(query, memory, mask, score_fn, combine):
    """Luong eq. 5-7 written out per query row and source position, with Python loops."""
    batch, steps, _ = query.shape
    vectors = torch.zeros(batch, steps, combine.out_features)
    weights = torch.zeros(batch, steps, memory.size(1))
    for b in range(batch):
        real = [s for s in range(memory.size(1)) if mask[b, s]]
        for t in range(steps):
            scores = torch.stack([score_fn(query[b, t], memory[b, s]) for s in real])
            probs = torch.softmax(scores, 0)
            weights[b, t, real] = probs
            context = sum(p * memory[b, s] for p, s in zip(probs, real, strict=True))
            vectors[b, t] = torch.tanh(combine(torch.cat([context, query[b, t]])))
    return vectors, weights


@pytest.fixture
def inputs():
    gen = torch.Generator().manual_seed(3)
    query = torch.randn(2, 3, 4, generator=gen)  # (B, T, H_dec)
    memory = torch.randn(2, 5, 4, generator=gen)  # (B, S, H_enc)
    mask = torch.tensor([[True] * 5, [True, True, False, False, False]])
    return query, memory, mask


def scorer(att):
    if isinstance(att, BahdanauAttention):
        return lambda q, m: att.energy(torch.tanh(att.query_proj(q) + att.key_proj(m))).squeeze(-1)
    if att.method == "dot":
        return lambda q, m: q @ m
    return lambda q, m: q @ att.key_proj(m)


@pytest.mark.parametrize("kind", ["dot", "general", "bahdanau"])
def test_matches_the_equations_and_masks_padding(kind: str, inputs) -> None:
    torch.manual_seed(0)
    att = build_attention(kind, 4, 4)
    query, memory, mask = inputs
    vectors, weights = att(query, memory, mask, att.project_keys(memory))
    want_vectors, want_weights = reference(query, memory, mask, scorer(att), att.combine)
    torch.testing.assert_close(weights, want_weights, atol=1e-6, rtol=1e-5)
    torch.testing.assert_close(vectors, want_vectors, atol=1e-6, rtol=1e-5)
    assert torch.all(weights[1, :, 2:] == 0)  # exactly zero on padding
    torch.testing.assert_close(weights.sum(-1), torch.ones(2, 3))


def test_dot_attention_golden_value() -> None:
    att = LuongAttention(2, 2, "dot")
    with torch.no_grad():
        att.combine.weight.copy_(torch.tensor([[1.0, 0, 0, 0], [0, 1.0, 0, 0]]))  # h~ = tanh(c)
    query = torch.tensor([[[1.0, 0.0]]])
    memory = torch.tensor([[[2.0, 0.0], [0.0, 1.0], [9.0, 9.0]]])
    mask = torch.tensor([[True, True, False]])
    vectors, weights = att(query, memory, mask)
    e = torch.exp(torch.tensor(2.0))
    want = torch.tensor([e / (e + 1), 1 / (e + 1), 0.0])
    torch.testing.assert_close(weights[0, 0], want)
    torch.testing.assert_close(
        vectors[0, 0], torch.tanh(want[0] * memory[0, 0] + want[1] * memory[0, 1])
    )


@pytest.mark.parametrize("kind", ["dot", "general", "bahdanau"])
def test_memory_shared_by_groups_of_rows_equals_repeated_memory(kind: str, inputs) -> None:
    torch.manual_seed(0)
    att = build_attention(kind, 4, 4)
    query, memory, mask = inputs
    beams = torch.randn(6, 3, 4)  # 2 sentences x 3 beams
    shared = att(beams, memory, mask, att.project_keys(memory))
    rows = torch.arange(2).repeat_interleave(3)
    repeated = att(beams, memory[rows], mask[rows], att.project_keys(memory[rows]))
    torch.testing.assert_close(shared[0], repeated[0])
    torch.testing.assert_close(shared[1], repeated[1])


def test_precomputed_keys_are_the_projected_memory(inputs) -> None:
    _, memory, _ = inputs
    assert LuongAttention(4, 4, "dot").project_keys(memory) is None
    general = LuongAttention(3, 4, "general")
    torch.testing.assert_close(general.project_keys(memory), memory @ general.key_proj.weight.T)
    bahdanau = BahdanauAttention(3, 4)
    assert bahdanau.project_keys(memory).shape == (2, 5, 3)


def test_dot_attention_with_unequal_sizes_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="'dot' needs the decoder hidden size \\(8\\)"):
        LuongAttention(8, 16, "dot")
