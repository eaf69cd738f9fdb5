"""The pointer-generator copy mechanism of See, Liu & Manning (2017), §2.2, over any attention.

At decoder step t a learned switch p_gen = sigmoid(w . [c_t; h~_t; x_t] + b) (their eq. 8: the
context vector, the decoder's output, its input embedding) mixes generating from the vocabulary
with copying a source token through the attention weights a_t (eq. 9):

    P(w) = p_gen * P_vocab(w) + (1 - p_gen) * sum_{i : w_i = w} a_t,i

over an extended vocabulary: per sentence, the V target ids, then id V + k for the k-th distinct
source token that the target vocabulary lacks (data/copymap.py builds that map). Here the decoder
output is Luong's attentional vector h~_t, which already joins c_t and h_t (model/attention.py).

A source sentence reaches the model as ``src_map (N, S)``: the extended target id of each of its
tokens, aligned with ``src`` (reversed with it). An extended id fed back as the next input is read
as <unk> (`vocab_ids`). Everything here is a tensor-in, tensor-out function, so the same
arithmetic serves the training loss (`gold_log_probs`, real target positions only) and every
search and ensemble step (`extended_log_probs`).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

UNK_ID = 1  # every vocabulary's <unk> (data/vocab.py); model may not import data
TINY = 1e-30  # the smallest probability a gold token is given (its log stays finite)


class CopySwitch(nn.Module):
    """p_gen = sigmoid(w . [c_t; h~_t; x_t] + b), See et al. (2017), eq. 8."""

    def __init__(self, context_size: int, feature_size: int, embedding_size: int) -> None:
        super().__init__()
        self.gate = nn.Linear(context_size + feature_size + embedding_size, 1)

    def forward(self, context: Tensor, features: Tensor, embedded: Tensor) -> Tensor:
        """context (..., H_enc), features (..., D), embedded (..., E) -> p_gen (..., 1) float32."""
        joined = torch.cat([context, features.to(context.dtype), embedded.to(context.dtype)], -1)
        return torch.sigmoid(self.gate(joined).float())


def vocab_ids(tokens: Tensor, vocab_size: int) -> Tensor:
    """Extended ids (any shape) -> target-vocabulary ids: a copied word is read as <unk>."""
    return tokens.masked_fill(tokens >= vocab_size, UNK_ID)


def extended_size(src_map: Tensor, vocab_size: int) -> int:
    """V plus the extra slots that any sentence of src_map (N, S) uses."""
    if src_map.numel() == 0:
        return vocab_size
    return max(vocab_size, int(src_map.max()) + 1)


def attention_context(attn: Tensor, memory: Tensor) -> Tensor:
    """attn (B, T, S) over memory (N, S, H) shared by B / N consecutive rows -> c_t (B, T, H)."""
    batch, steps, src_len = attn.shape
    rows = memory.size(0)
    grouped = attn.reshape(rows, (batch // rows) * steps, src_len).to(memory.dtype)
    return torch.bmm(grouped, memory).view(batch, steps, -1)


def row_map(src_map: Tensor, group: int) -> Tensor:
    """src_map (N, S) shared by `group` consecutive rows -> one row per decoder row (N * g, S)."""
    return src_map if group == 1 else src_map.repeat_interleave(group, dim=0)


def extended_log_probs(
    logits: Tensor, p_gen: Tensor, attn: Tensor, src_map: Tensor, size: int
) -> Tensor:
    """One step's final distribution, See et al. eq. 9, as log-probabilities.

    logits (B, V), p_gen (B, 1), attn (B, S), src_map (B, S) extended ids -> (B, size), size >= V;
    a slot no source word of the row fills has probability 0 (log -inf).
    """
    probs = torch.softmax(logits.float(), dim=-1) * p_gen  # (B, V)
    if size > probs.size(1):
        probs = torch.cat([probs, probs.new_zeros(probs.size(0), size - probs.size(1))], dim=1)
    probs.scatter_add_(1, src_map, attn.float() * (1.0 - p_gen))
    return probs.log()


def gold_log_probs(
    logits: Tensor, p_gen: Tensor, attn: Tensor, src_map: Tensor, gold: Tensor
) -> Tensor:
    """log P(gold) of eq. 9 at M positions, without forming the (M, V + X) distribution.

    logits (M, V), p_gen (M, 1), attn (M, S), src_map (M, S), gold (M,) extended ids -> (M,).
    """
    vocab = logits.size(-1)
    log_vocab = torch.log_softmax(logits.float(), dim=-1)
    in_vocab = gold < vocab
    generated = log_vocab.gather(1, gold.clamp(max=vocab - 1).unsqueeze(1)).squeeze(1).exp()
    copied = (attn.float() * (src_map == gold.unsqueeze(1))).sum(dim=1)  # (M,)
    gate = p_gen.squeeze(1)
    probs = gate * generated * in_vocab + (1.0 - gate) * copied
    return probs.clamp(min=TINY).log()
