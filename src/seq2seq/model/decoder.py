"""The decoder for every context mode, with one `forward` for T >= 1 steps.

Training calls it once with the whole target (T = length), search once per token (T = 1); both
go through the same code, so the variants cannot drift apart. The fused ``nn.LSTM``/``GRU``/``RNN``
runs over all T steps at once for every mode except attention with input feeding, the only one
whose next input depends on this step's output (Luong et al. 2015, §3.3); that one steps the same
fused module one token at a time.

How the context reaches the decoder (``model.context``):
  init       the encoder's final state (every layer's h and c) is the initial state (paper §2);
  bridge     learned linear maps (tanh for h) take the encoder's final state to the initial one;
  concat     the context vector (the encoder's top-layer final h) joins every input embedding;
  peeky      as concat, and the context also joins the output features (Cho et al. 2014, §2.2);
  attention  Luong / Bahdanau attention over the encoder outputs, optional input feeding.
For concat, peeky and attention the initial state is the encoder's final state when sizes and
depths agree, and the bridge's output otherwise (see `Seq2Seq.init_state`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch
from torch import Tensor, nn

from seq2seq.config import ModelConfig
from seq2seq.model.attention import LocationAttention, build_attention
from seq2seq.model.cells import Hidden, join_hidden, make_rnn, split_hidden
from seq2seq.model.encoder import Encoded


@dataclass
class DecoderState:
    """Everything the decoder carries from one step to the next; B rows, one per hypothesis.

    `memory`, `keys` and `mask` have N <= B rows, each shared by `group` consecutive decoder rows
    (B = N * group): the beams of one sentence read the same encoder outputs without copies.
    """

    h: Tensor  # (layers, B, H_dec)
    c: Tensor | None = None  # (layers, B, H_dec), LSTM only
    context: Tensor | None = None  # (B, H_enc) context vector, concat / peeky
    memory: Tensor | None = None  # (N, S, H_enc) encoder outputs, attention
    keys: Tensor | None = None  # (N, S, A) precomputed attention keys (None for dot)
    mask: Tensor | None = None  # (N, S) True on real source tokens
    feed: Tensor | None = None  # (B, H_dec) previous attentional vector, input feeding
    attn: Tensor | None = None  # (B, T, S) attention weights of the last decode call
    alignment: Tensor | None = None  # (B, S) the last step's weights, location attention only
    group: int = 1  # decoder rows per memory row
    src_map: Tensor | None = None  # (N, S) extended target id of each source token, copy only
    copy_size: int = 0  # V + the extra slots of src_map, copy only (model/copy.py)

    @property
    def batch_size(self) -> int:
        return self.h.size(1)

    def hidden(self) -> Hidden:
        """The recurrent state in the form the fused RNN takes."""
        return join_hidden(self.h, self.c)

    def select(self, index: Tensor) -> DecoderState:
        """A new state whose row i is row index[i] of this one; index (B',) may repeat rows."""
        state = DecoderState(
            h=self.h.index_select(1, index),
            c=_pick(self.c, index, dim=1),
            context=_pick(self.context, index),
            feed=_pick(self.feed, index),
            attn=_pick(self.attn, index),
            alignment=_pick(self.alignment, index),
            copy_size=self.copy_size,
        )
        if self.memory is None:
            return state
        rows, group = _regroup(index, self.group, self.memory.size(0))
        state.group = group
        state.memory, state.keys, state.mask = self.memory, self.keys, self.mask
        state.src_map = self.src_map
        if rows is not None:
            rows = rows.to(self.memory.device)
            state.memory = self.memory.index_select(0, rows)
            state.keys = _pick(self.keys, rows)
            state.mask = _pick(self.mask, rows)
            state.src_map = _pick(self.src_map, rows)
        return state


def _pick(tensor: Tensor | None, index: Tensor, dim: int = 0) -> Tensor | None:
    return None if tensor is None else tensor.index_select(dim, index)


def _regroup(index: Tensor, group: int, memory_rows: int) -> tuple[Tensor | None, int]:
    """Which memory rows the selected decoder rows need, and how many rows share each.

    Returns (None, g) when the memory can stay as it is (beams reordered within their sentence),
    (rows, g) when memory rows must be picked (sentences dropped or beams expanded), and falls back
    to (one memory row per decoder row, 1) for any other pattern.
    """
    wanted = torch.div(index.to("cpu"), group, rounding_mode="floor")  # memory row of each new row
    n = wanted.numel()
    if n == 0:
        return wanted, 1
    starts = torch.ones(n, dtype=torch.bool)
    starts[1:] = wanted[1:] != wanted[:-1]
    runs = int(starts.sum())
    if n % runs == 0:
        blocks = wanted.view(runs, n // runs)
        if bool((blocks == blocks[:, :1]).all()):
            first = blocks[:, 0]
            if runs == memory_rows and torch.equal(first, torch.arange(runs)):
                return None, n // runs
            return first, n // runs
    return wanted, 1


class Decoder(nn.Module):
    """Target embeddings -> RNN (with context / attention as the mode wants) -> features."""

    def __init__(self, cfg: ModelConfig, vocab_size: int, enc_size: int, pad_id: int = 0) -> None:
        super().__init__()
        hidden = cfg.dec_hidden
        self.mode = cfg.context
        self.context_size = enc_size if self.mode in ("concat", "peeky") else 0
        self.input_feeding = self.mode == "attention" and cfg.input_feeding
        input_size = cfg.embedding_size + self.context_size + (hidden if self.input_feeding else 0)
        self.embedding = nn.Embedding(vocab_size, cfg.embedding_size, padding_idx=pad_id)
        self.dropout = nn.Dropout(cfg.dropout)
        self.rnn = make_rnn(cfg.cell, input_size, hidden, cfg.dec_layers, cfg.dropout)
        self.attention = (
            build_attention(cfg.attention, hidden, enc_size) if self.mode == "attention" else None
        )
        self.hidden_size = hidden
        self.output_size = hidden + (enc_size if self.mode == "peeky" else 0)

    def init_state(self, enc: Encoded, h: Tensor, c: Tensor | None) -> DecoderState:
        """The state before the first target token; h, c: (dec_layers, B, H_dec)."""
        state = DecoderState(h=h, c=c)
        if self.context_size:
            state.context = enc.h[-1]  # (B, H_enc): top layer, directions concatenated
        if self.attention is not None:
            state.memory, state.mask = enc.outputs, enc.mask
            state.keys = self.attention.project_keys(enc.outputs)
            if self.input_feeding:
                state.feed = h.new_zeros(h.size(1), self.hidden_size)
        return state

    def forward(self, tgt_in: Tensor, state: DecoderState) -> tuple[Tensor, DecoderState]:
        """tgt_in (B, T) -> features (B, T, output_size) and the state after the T steps."""
        embedded = self.dropout(self.embedding(tgt_in))  # (B, T, E)
        if self.input_feeding:
            return self._forward_fed(embedded, state)
        steps = tgt_in.size(1)
        if state.context is not None:
            context = state.context.unsqueeze(1).expand(-1, steps, -1)  # (B, T, H_enc)
            embedded = torch.cat([embedded, context], dim=-1)
        outputs, hidden = self.rnn(embedded, state.hidden())  # (B, T, H_dec)
        h, c = split_hidden(hidden)
        attn = None
        if self.attention is not None:
            outputs, attn = self._attend(outputs, state, state.alignment)
        elif self.mode == "peeky":
            outputs = torch.cat([outputs, context], dim=-1)  # (B, T, H_dec + H_enc)
        alignment = _last_alignment(self.attention, attn)
        return self.dropout(outputs), replace(state, h=h, c=c, attn=attn, alignment=alignment)

    def _forward_fed(self, embedded: Tensor, state: DecoderState) -> tuple[Tensor, DecoderState]:
        """Luong et al. (2015) §3.3: h~_{t-1} joins the input at step t, so step one at a time."""
        hidden, feed, attention = state.hidden(), state.feed, self.attention
        assert feed is not None and attention is not None, "input feeding is attention's"
        vectors, weights = [], []
        alignment = state.alignment
        for t in range(embedded.size(1)):
            step_in = torch.cat([embedded[:, t : t + 1], feed.unsqueeze(1)], dim=-1)
            output, hidden = self.rnn(step_in, hidden)  # (B, 1, H_dec)
            vector, weight = self._attend(output, state, alignment)
            alignment = _last_alignment(attention, weight)
            feed = vector.squeeze(1)  # (B, H_dec)
            vectors.append(vector)
            weights.append(weight)
        h, c = split_hidden(hidden)
        features = vectors[0] if len(vectors) == 1 else torch.cat(vectors, dim=1)  # (B, T, H_dec)
        attn = weights[0] if len(weights) == 1 else torch.cat(weights, dim=1)  # (B, T, S)
        return self.dropout(features), replace(
            state, h=h, c=c, feed=feed, attn=attn, alignment=alignment
        )

    def _attend(
        self, query: Tensor, state: DecoderState, alignment: Tensor | None
    ) -> tuple[Tensor, Tensor]:
        """query (B, T, H_dec) -> attentional vectors (B, T, H_dec), weights (B, T, S); location
        attention also reads the alignment (B, S) of the step before."""
        assert self.attention is not None and state.memory is not None and state.mask is not None
        if isinstance(self.attention, LocationAttention):
            return self.attention(query, state.memory, state.mask, state.keys, alignment)
        return self.attention(query, state.memory, state.mask, state.keys)


def _last_alignment(attention: nn.Module | None, weights: Tensor | None) -> Tensor | None:
    """The weights (B, S) of the last step, which location attention carries to the next."""
    if not isinstance(attention, LocationAttention) or weights is None:
        return None
    return weights[:, -1]
