"""The two graphs a model leaves as: the encoder (with the decoder's initial state) and one
decoder step, as modules whose inputs and outputs are plain tensors with fixed names.

The runtime (runtime/seq2seq_runtime) feeds the step graph the state the previous step (or the
encoder) returned, by name: `STATE_ROWS` are per hypothesis (h, c: axis 1; context, feed: axis
0), `STATE_MEMORY` per sentence, repeated by the runtime for each hypothesis (one memory row per
decoder row, so the step graph's batch axis is one dynamic axis). Both graphs call the model's
own code (`Seq2Seq.init_state`, `Seq2Seq.step`); only the encoder's RNN runs without packing,
and the exporter gives the ONNX RNN node the lengths instead (`sequence_lens`), which is the
packed computation: padding never reaches a state.
"""

from __future__ import annotations

import types
from typing import Any, cast

import torch
from torch import Tensor, nn

from seq2seq.export.rnn import run_rnn
from seq2seq.model.attention import BahdanauAttention
from seq2seq.model.cells import merge_directions, split_hidden
from seq2seq.model.decoder import DecoderState
from seq2seq.model.encoder import Encoded
from seq2seq.model.seq2seq import Seq2Seq

STATE_ROWS = ("h", "c", "context", "feed")  # one row per hypothesis
STATE_MEMORY = ("memory", "keys", "mask")  # one row per sentence (the runtime repeats them)


def state_names(model: Seq2Seq) -> list[str]:
    """The state tensors `model` carries between steps, in graph order."""
    cfg = model.cfg
    names = ["h"] + (["c"] if cfg.cell == "lstm" else [])
    if cfg.context in ("concat", "peeky"):
        names.append("context")
    if cfg.context == "attention":
        names += ["feed"] if cfg.input_feeding else []
        names += ["memory"] + (["keys"] if cfg.attention != "dot" else []) + ["mask"]
    return names


def _state_tensors(state: DecoderState, names: list[str]) -> tuple[Tensor, ...]:
    return tuple(getattr(state, name) for name in names)


class EncoderGraph(nn.Module):
    """src (B, S) int64, src_lengths (B,) int64 -> the decoder's initial state, by `state_names`."""

    def __init__(self, model: Seq2Seq) -> None:
        super().__init__()
        self.model = model
        self.names = state_names(model)

    def forward(self, src: Tensor, src_lengths: Tensor) -> tuple[Tensor, ...]:
        encoder = self.model.encoder
        rnn, embedding = cast(nn.RNNBase, encoder.rnn), cast(nn.Embedding, encoder.embedding)
        outputs, hidden = run_rnn(rnn, embedding(src))  # (B, S, H_enc); lengths: see _give_lengths
        h, c = split_hidden(hidden)
        if encoder.bidirectional:
            h = merge_directions(h)
            c = None if c is None else merge_directions(c)
        mask = torch.arange(src.size(1), device=src.device) < src_lengths.unsqueeze(1)  # (B, S)
        state = self.model.init_state(Encoded(outputs, mask, h, c, src_lengths))
        return _state_tensors(state, self.names)


class StepGraph(nn.Module):
    """tokens (N,) int64 and the state -> log_probs (N, V), the next state[, attn (N, S)]."""

    def __init__(self, model: Seq2Seq) -> None:
        super().__init__()
        self.model = model
        self.names = state_names(model)
        self.rows = [n for n in self.names if n in STATE_ROWS]
        attention = model.decoder.attention
        if isinstance(attention, BahdanauAttention):
            # the blocked autograd Function is for training memory; one step needs none of it
            attention.score = types.MethodType(_additive_score, attention)  # type: ignore[method-assign]

    def forward(self, tokens: Tensor, *state: Tensor) -> tuple[Tensor, ...]:
        given: dict[str, Any] = dict(zip(self.names, state, strict=True))
        decoder_state = DecoderState(**given)  # one memory row per decoder row (group 1)
        log_probs, after = self.model.step(tokens, decoder_state)
        outputs = (log_probs, *_state_tensors(after, self.rows))
        if after.attn is not None:
            outputs += (after.attn[:, -1],)  # (N, S)
        return outputs


def _additive_score(
    self: BahdanauAttention, query: Tensor, memory: Tensor, keys: Tensor | None
) -> Tensor:
    """Bahdanau's score v . tanh(W q + U h_s) in one expression: (N, M, S)."""
    if keys is None:
        keys = self.key_proj(memory)
    energy = torch.tanh(self.query_proj(query).unsqueeze(2) + keys.unsqueeze(1))  # (N, M, S, A)
    return torch.matmul(energy, self.energy.weight.view(-1))
