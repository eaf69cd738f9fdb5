"""Attention over the encoder outputs: the answer to a fixed-size context on long inputs.

Every attention here follows the global attention of Luong et al. (2015), §3 and §3.1: score the
decoder's top hidden state h_t against every source position, softmax over the real (unmasked)
positions, take the weighted average c_t of the encoder outputs, and return the attentional vector
h~_t = tanh(W_c [c_t; h_t]) (eq. 5). The classes differ only in the score function.

Keys that depend only on the source (W_a h_s for "general", U h_s for Bahdanau) are computed once
per sentence by `project_keys` and carried in the decoder state, so a search step does not redo
them. Memory may be shared by several consecutive query rows (the beams of one sentence): with
N memory rows and B = N * g query rows, row r attends over memory row r // g, with no copy.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from seq2seq.errors import ConfigError


class _GlobalAttention(nn.Module):
    """Masked softmax, context vector and attentional vector; subclasses give the score."""

    def __init__(self, query_size: int, memory_size: int) -> None:
        super().__init__()
        self.query_size = query_size
        self.memory_size = memory_size
        # W_c of Luong et al. (2015), eq. 5: h~_t = tanh(W_c [c_t; h_t]).
        self.combine = nn.Linear(memory_size + query_size, query_size, bias=False)

    def project_keys(self, memory: Tensor) -> Tensor | None:
        """memory (N, S, H_enc) -> keys to carry in the decoder state; None when memory is the key."""
        return None

    def score(self, query: Tensor, memory: Tensor, keys: Tensor | None) -> Tensor:
        """query (N, M, H_dec), memory (N, S, H_enc) -> scores (N, M, S)."""
        raise NotImplementedError

    def forward(
        self, query: Tensor, memory: Tensor, mask: Tensor, keys: Tensor | None = None
    ) -> tuple[Tensor, Tensor]:
        """Attend from every query row over its sentence's memory.

        query: (B, T, H_dec) decoder top-layer states; memory: (N, S, H_enc) with B = N * g;
        mask: (N, S) True on real tokens; keys: `project_keys(memory)`.
        Returns the attentional vectors (B, T, H_dec) and the weights (B, T, S).
        """
        batch, steps, _ = query.shape
        rows, src_len, _ = memory.shape
        group = batch // rows
        if group * rows != batch:
            raise ValueError(f"{batch} query rows cannot share {rows} memory rows evenly")
        q = query.reshape(rows, group * steps, query.size(-1))  # (N, g*T, H_dec)
        scores = self.score(q, memory, keys).masked_fill(~mask.unsqueeze(1), float("-inf"))
        weights = torch.softmax(scores, dim=-1)  # (N, g*T, S)
        context = torch.bmm(weights, memory)  # (N, g*T, H_enc)
        vector = torch.tanh(self.combine(torch.cat([context, q], dim=-1)))
        return vector.view(batch, steps, -1), weights.view(batch, steps, src_len)


class LuongAttention(_GlobalAttention):
    """Luong, Pham & Manning (2015), "Effective Approaches to Attention-based NMT", §3.1.

    ``dot``: score(h_t, h_s) = h_t . h_s (needs equal decoder and encoder sizes);
    ``general``: score(h_t, h_s) = h_t . W_a h_s, with W_a h_s precomputed once per sentence.
    """

    def __init__(self, query_size: int, memory_size: int, method: str = "general") -> None:
        super().__init__(query_size, memory_size)
        if method not in ("dot", "general"):
            raise ConfigError(
                f"model.attention '{method}' is not a Luong score; use dot or general"
            )
        if method == "dot" and query_size != memory_size:
            raise ConfigError(
                f"model.attention 'dot' needs the decoder hidden size ({query_size}) to equal the "
                f"encoder output size ({memory_size}); use 'general' or 'bahdanau'"
            )
        self.method = method
        self.key_proj = (
            nn.Linear(memory_size, query_size, bias=False) if method == "general" else None
        )

    def project_keys(self, memory: Tensor) -> Tensor | None:
        return None if self.key_proj is None else self.key_proj(memory)  # (N, S, H_dec)

    def score(self, query: Tensor, memory: Tensor, keys: Tensor | None) -> Tensor:
        if keys is None:
            keys = memory if self.key_proj is None else self.key_proj(memory)
        return torch.bmm(query, keys.transpose(1, 2))  # (N, M, S)


class BahdanauAttention(_GlobalAttention):
    """Additive attention of Bahdanau, Cho & Bengio (2015), §3.1 and appendix A.1.2.

    score(h_t, h_s) = v . tanh(W h_t + U h_s), with U h_s precomputed once per sentence. As in
    Luong et al. (2015, §3.1, "concat"), the query is the current top decoder state and the result
    feeds the attentional vector h~_t, so it plugs into the same decoder as `LuongAttention`.
    """

    def __init__(
        self, query_size: int, memory_size: int, attention_size: int | None = None
    ) -> None:
        super().__init__(query_size, memory_size)
        size = attention_size or query_size
        self.query_proj = nn.Linear(query_size, size, bias=False)  # W
        self.key_proj = nn.Linear(memory_size, size, bias=True)  # U (its bias is the score's bias)
        self.energy = nn.Linear(size, 1, bias=False)  # v

    def project_keys(self, memory: Tensor) -> Tensor:
        return self.key_proj(memory)  # (N, S, A)

    def score(self, query: Tensor, memory: Tensor, keys: Tensor | None) -> Tensor:
        if keys is None:
            keys = self.key_proj(memory)
        q = self.query_proj(query)  # (N, M, A)
        energy = torch.tanh(q.unsqueeze(2) + keys.unsqueeze(1))  # (N, M, S, A)
        return self.energy(energy).squeeze(-1)  # (N, M, S)


def build_attention(kind: str, query_size: int, memory_size: int) -> _GlobalAttention:
    """The attention named by ``model.attention``: dot | general | bahdanau."""
    if kind == "bahdanau":
        return BahdanauAttention(query_size, memory_size)
    return LuongAttention(query_size, memory_size, kind)
