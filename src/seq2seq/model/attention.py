"""Attention over the encoder outputs: the answer to a fixed-size context on long inputs.

Every attention here follows the global attention of Luong et al. (2015), §3 and §3.1: score the
decoder's top hidden state h_t against every source position, softmax over the real (unmasked)
positions, take the weighted average c_t of the encoder outputs, and return the attentional vector
h~_t = tanh(W_c [c_t; h_t]) (eq. 5). The classes differ only in the score function;
`LocationAttention`'s score also reads the previous step's weights (Chorowski et al. 2015).

Keys that depend only on the source (W_a h_s for "general", U h_s for Bahdanau) are computed once
per sentence by `project_keys` and carried in the decoder state, so a search step does not redo
them. Memory may be shared by several consecutive query rows (the beams of one sentence): with
N memory rows and B = N * g query rows, row r attends over memory row r // g, with no copy.

Bahdanau's score adds every query to every key before the tanh: over a whole target at once (the
teacher-forced training path) that is a (N, T, S, A) tensor, 3.3 GB in float32 for batch 128,
80-token sentences and A = 1,000, and autograd would keep it for the backward pass.
`additive_scores` computes the same scores block by block and keeps only the (N, T, A) queries and
(N, S, A) keys, recomputing each block's tanh in the backward pass; memory per decoder step is then
linear in the source length, and a block holds at most `chunk_elements` numbers.
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
        self.chunk_elements: int | None = None  # block size of `additive_scores`; None: default

    def project_keys(self, memory: Tensor) -> Tensor:
        return self.key_proj(memory)  # (N, S, A)

    def score(self, query: Tensor, memory: Tensor, keys: Tensor | None) -> Tensor:
        if keys is None:
            keys = self.key_proj(memory)
        q = self.query_proj(query)  # (N, M, A)
        return additive_scores(q, keys, self.energy.weight.view(-1), self.chunk_elements)


# Elements of one block of `additive_scores`: 4 MB of float32 on a CPU (a block's tanh, its product
# and its sums then run in cache), 256 MB on a GPU (few, large kernels).
CPU_CHUNK_ELEMENTS = 1 << 20
GPU_CHUNK_ELEMENTS = 1 << 26


def additive_scores(
    q: Tensor, keys: Tensor, v: Tensor, chunk_elements: int | None = None
) -> Tensor:
    """Bahdanau's scores ``v . tanh(q[n, m] + keys[n, s])``: q (N, M, A), keys (N, S, A), v (A,)
    -> (N, M, S), computed in blocks of at most `chunk_elements` (N, M, S, A) entries without
    keeping any of them for the backward pass (which recomputes them, block by block)."""
    if chunk_elements is None:
        chunk_elements = GPU_CHUNK_ELEMENTS if q.is_cuda else CPU_CHUNK_ELEMENTS
    return _AdditiveScores.apply(q, keys, v, chunk_elements)


def _blocks(n: int, m: int, per_row: int, budget: int) -> list[tuple[slice, slice]]:
    """(sentence rows, query rows) blocks of an (n, m, per_row) product, each at most `budget`
    entries where possible (one query row of one sentence is the smallest block)."""
    rows_m = max(1, min(m, budget // max(per_row, 1)))
    rows_n = max(1, min(n, budget // max(per_row * m, 1))) if rows_m == m else 1
    return [
        (slice(i, i + rows_n), slice(j, j + rows_m))
        for i in range(0, n, rows_n)
        for j in range(0, m, rows_m)
    ]


class _AdditiveScores(torch.autograd.Function):
    """The additive score by blocks; saves only its inputs (see the module docstring)."""

    @staticmethod
    def forward(ctx, q: Tensor, keys: Tensor, v: Tensor, chunk_elements: int) -> Tensor:
        dtype = torch.promote_types(q.dtype, keys.dtype)
        n, m, size = q.shape
        src = keys.size(1)
        out = q.new_empty(n, m, src, dtype=dtype)
        vv = v.to(dtype)
        for rows, cols in _blocks(n, m, src * size, chunk_elements):
            energy = q[rows, cols].to(dtype).unsqueeze(2) + keys[rows].to(dtype).unsqueeze(1)
            out[rows, cols] = torch.matmul(energy.tanh_(), vv)  # (n', m', S)
        ctx.save_for_backward(q, keys, v)
        ctx.chunk_elements = chunk_elements
        return out

    @staticmethod
    def backward(ctx, grad: Tensor):
        q, keys, v = ctx.saved_tensors
        dtype = torch.promote_types(q.dtype, keys.dtype)
        n, m, size = q.shape
        src = keys.size(1)
        need_q, need_k, need_v = ctx.needs_input_grad[:3]
        vf = v.float()
        grad_q = torch.zeros(n, m, size, dtype=torch.float32, device=q.device) if need_q else None
        grad_k = torch.zeros(n, src, size, dtype=torch.float32, device=q.device) if need_k else None
        grad_v = torch.zeros(size, dtype=torch.float32, device=q.device) if need_v else None
        for rows, cols in _blocks(n, m, src * size, ctx.chunk_elements):
            energy = q[rows, cols].to(dtype).unsqueeze(2) + keys[rows].to(dtype).unsqueeze(1)
            energy.tanh_()  # (n', m', S, A)
            g = grad[rows, cols].to(dtype)  # (n', m', S)
            if need_v:  # d/dv = sum over n, m, s of g * tanh
                grad_v += (g.reshape(1, -1) @ energy.reshape(-1, size)).float().view(-1)
            if need_q or need_k:  # g * (1 - tanh^2), one fused kernel; v multiplies the sums
                energy = torch.ops.aten.tanh_backward(g.unsqueeze(-1).expand_as(energy), energy)
                if grad_q is not None:
                    grad_q[rows, cols] = energy.sum(2, dtype=torch.float32) * vf
                if grad_k is not None:
                    grad_k[rows] += energy.sum(1, dtype=torch.float32) * vf
        return (
            None if grad_q is None else grad_q.to(q.dtype),
            None if grad_k is None else grad_k.to(keys.dtype),
            None if grad_v is None else grad_v.to(v.dtype),
            None,
        )


def build_attention(kind: str, query_size: int, memory_size: int) -> _GlobalAttention:
    """The attention named by ``model.attention``: dot | general | bahdanau | location."""
    if kind == "bahdanau":
        return BahdanauAttention(query_size, memory_size)
    if kind == "location":
        return LocationAttention(query_size, memory_size)
    return LuongAttention(query_size, memory_size, kind)


class LocationAttention(_GlobalAttention):
    """Location-aware attention of Chorowski, Bahdanau, Serdyuk, Cho & Bengio (2015), §2.1-2.2.

    score(h_t, h_s) = v . tanh(W h_t + U h_s + V f_{t,s} + b), with f_t = F * alpha_{t-1}
    (eq. 8-9): `filters` convolution filters slide over the previous step's alignment, so the
    score knows where the decoder looked last and can move along the input (speech is monotonic:
    content alone confuses repeated sounds). The query is the current top decoder state, as in
    `BahdanauAttention`. The previous alignment (B, S) travels in the decoder state
    (``DecoderState.alignment``); before the first step it is uniform over the real positions.
    Chorowski et al. used 10 filters of width 201 over frames; these defaults (10, 31) suit a
    memory already shortened by the acoustic encoder (model/acoustic.py).

    Each step depends on the last one's weights, so T query steps are scored one after another;
    only the (B, S, A) energies of one step exist at a time.
    """

    def __init__(
        self,
        query_size: int,
        memory_size: int,
        attention_size: int | None = None,
        filters: int = 10,
        width: int = 31,
    ) -> None:
        super().__init__(query_size, memory_size)
        size = attention_size or query_size
        self.query_proj = nn.Linear(query_size, size, bias=False)  # W
        self.key_proj = nn.Linear(memory_size, size, bias=True)  # U (its bias is b)
        self.conv = nn.Conv1d(1, filters, width, padding=width // 2, bias=False)  # F
        self.location_proj = nn.Linear(filters, size, bias=False)  # V
        self.energy = nn.Linear(size, 1, bias=False)  # v

    def project_keys(self, memory: Tensor) -> Tensor:
        return self.key_proj(memory)  # (N, S, A)

    def forward(
        self,
        query: Tensor,
        memory: Tensor,
        mask: Tensor,
        keys: Tensor | None = None,
        previous: Tensor | None = None,
    ) -> tuple[Tensor, Tensor]:
        """As `_GlobalAttention.forward`, and previous (B, S): the alignment of the step before
        the first query (None: uniform). The last row of the weights is the next `previous`."""
        batch, steps, _ = query.shape
        rows, src_len, _ = memory.shape
        group = batch // rows
        if group * rows != batch:
            raise ValueError(f"{batch} query rows cannot share {rows} memory rows evenly")
        keys = self.key_proj(memory) if keys is None else keys  # (N, S, A)
        row_mask = mask.repeat_interleave(group, dim=0) if group > 1 else mask  # (B, S)
        if previous is None:
            real = row_mask.to(query.dtype)
            previous = real / real.sum(dim=1, keepdim=True)
        q = self.query_proj(query)  # (B, T, A)
        v = self.energy.weight.view(-1)  # (A,)
        weights = []
        for t in range(steps):
            location = self.location_proj(self.conv(previous.unsqueeze(1)).transpose(1, 2))
            energy = (
                q[:, t].view(rows, group, 1, -1)
                + keys.unsqueeze(1)
                + location.view(rows, group, src_len, -1)
            )  # (N, g, S, A)
            scores = torch.matmul(energy.tanh(), v.to(energy.dtype)).view(batch, src_len)
            previous = torch.softmax(scores.masked_fill(~row_mask, float("-inf")), dim=-1)
            weights.append(previous)
        alignment = torch.stack(weights, dim=1)  # (B, T, S)
        flat = alignment.view(rows, group * steps, src_len)  # query order of the other classes
        context = torch.bmm(flat.to(memory.dtype), memory)  # (N, g*T, H_enc)
        q_rows = query.reshape(rows, group * steps, query.size(-1))
        vector = torch.tanh(self.combine(torch.cat([context, q_rows], dim=-1)))
        return vector.view(batch, steps, -1), alignment
