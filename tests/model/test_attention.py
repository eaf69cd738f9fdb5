"""Attention: golden values for each score, masking, normalisation, shared memory rows, and Bahdanau's
scores by blocks (equal to the whole 4-D tensor, gradients included, without building it)."""

from __future__ import annotations

import pytest
import torch

from seq2seq.errors import ConfigError
from seq2seq.model import attention as attention_module
from seq2seq.model.attention import (
    BahdanauAttention,
    LuongAttention,
    additive_scores,
    build_attention,
)

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


# ---------------------------------------------------------------------------------------------
# Bahdanau scores by blocks: the same numbers and gradients as the whole 4-D tensor, without it


def _naive_scores(q, keys, v):
    return torch.tanh(q.unsqueeze(2) + keys.unsqueeze(1)) @ v.to(q.dtype)


@pytest.mark.parametrize("chunk", [1, 7, 40, 1 << 20])
def test_additive_scores_by_blocks_equal_the_whole_tensor(chunk: int) -> None:
    gen = torch.Generator().manual_seed(5)
    q = torch.randn(3, 4, 5, generator=gen, dtype=torch.double, requires_grad=True)
    keys = torch.randn(3, 6, 5, generator=gen, dtype=torch.double, requires_grad=True)
    v = torch.randn(5, generator=gen, dtype=torch.double, requires_grad=True)
    torch.testing.assert_close(additive_scores(q, keys, v, chunk), _naive_scores(q, keys, v))
    assert torch.autograd.gradcheck(lambda a, b, c: additive_scores(a, b, c, chunk), (q, keys, v))


def test_bahdanau_training_path_matches_the_whole_tensor_in_float32_and_bfloat16() -> None:
    torch.manual_seed(0)
    att = BahdanauAttention(6, 5, attention_size=4)
    query = torch.randn(2, 7, 6, requires_grad=True)  # a whole target at once (teacher forcing)
    memory = torch.randn(2, 9, 5, requires_grad=True)
    mask = torch.ones(2, 9, dtype=torch.bool)
    mask[1, 6:] = False

    def run(blocks: bool, dtype: torch.dtype):
        att.zero_grad()
        for t in (query, memory):
            t.grad = None
        att.chunk_elements = 11 if blocks else None
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=dtype == torch.bfloat16):
            if blocks:
                vectors, weights = att(query, memory, mask, att.project_keys(memory))
            else:
                original = attention_module.additive_scores
                attention_module.additive_scores = lambda q, k, v, c=None: _naive_scores(q, k, v)
                try:
                    vectors, weights = att(query, memory, mask, att.project_keys(memory))
                finally:
                    attention_module.additive_scores = original
        (vectors.float().square().sum() + weights.float()[:, :, 0].sum()).backward()
        grads = [query.grad, memory.grad] + [p.grad for p in att.parameters()]
        return [vectors.float(), weights.float()] + [g.clone() for g in grads]

    for dtype, tol in ((torch.float32, 1e-5), (torch.bfloat16, 2e-2)):
        for got, want in zip(run(True, dtype), run(False, dtype), strict=True):
            torch.testing.assert_close(got, want, atol=tol, rtol=tol)


def test_bahdanau_memory_per_step_is_linear_in_the_source_length() -> None:
    """Forward and backward over a whole target never make a tensor of (batch, target, source,
    attention) entries: the largest is one block, or a (batch, target or source, attention) one."""
    from torch.utils._python_dispatch import TorchDispatchMode

    class Largest(TorchDispatchMode):
        numel = 0

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            out = func(*args, **(kwargs or {}))
            for t in out if isinstance(out, (tuple, list)) else [out]:
                if isinstance(t, torch.Tensor):
                    Largest.numel = max(Largest.numel, t.numel())
            return out

    batch, steps, src, size = 4, 30, 40, 16
    att = BahdanauAttention(size, size)
    att.chunk_elements = 2_000
    query = torch.randn(batch, steps, size, requires_grad=True)
    memory = torch.randn(batch, src, size, requires_grad=True)
    mask = torch.ones(batch, src, dtype=torch.bool)
    with Largest():
        vectors, _ = att(query, memory, mask, att.project_keys(memory))
        vectors.sum().backward()
    whole = batch * steps * src * size  # 76,800 entries: what the 4-D tensor would hold
    bound = max(att.chunk_elements, src * size, batch * steps * max(src, 2 * size))
    assert Largest.numel <= bound < whole
