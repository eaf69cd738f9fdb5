"""The encoder: source embeddings and a fused multi-layer RNN run over packed sequences.

Paper §2: a multi-layer LSTM reads the source one token at a time; its final state (h and c of
every layer) is the fixed-size vector v that stands for the whole sentence. Sequences are packed
(``pack_padded_sequence``) so padding never reaches the final state. The batcher pads at the end
whether or not it reversed the source (paper §3.3: reversed tokens, then padding), so packing is
right in both cases.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor, nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from seq2seq.config import ModelConfig
from seq2seq.errors import DataError
from seq2seq.model.cells import make_rnn, merge_directions, split_hidden


class Encoded(NamedTuple):
    """What the encoder hands to the decoder; everything batch-first except the RNN state."""

    outputs: Tensor  # (B, S, H_enc) top-layer outputs, zeros on padding
    mask: Tensor  # (B, S) bool, True on real source tokens
    h: Tensor  # (layers, B, H_enc) final hidden state, directions concatenated per layer
    c: Tensor | None  # (layers, B, H_enc) final LSTM cell state; None for GRU / RNN
    lengths: Tensor  # (B,) source lengths, on the device of `outputs`


class Encoder(nn.Module):
    """Embeddings -> dropout -> multi-layer (optionally bidirectional) RNN."""

    def __init__(self, cfg: ModelConfig, vocab_size: int, pad_id: int = 0) -> None:
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, cfg.embedding_size, padding_idx=pad_id)
        self.dropout = nn.Dropout(cfg.dropout)
        self.rnn = make_rnn(
            cfg.cell,
            cfg.embedding_size,
            cfg.hidden_size,
            cfg.layers,
            cfg.dropout,
            cfg.bidirectional,
        )
        self.bidirectional = cfg.bidirectional
        self.layers = cfg.layers
        self.output_size = cfg.hidden_size * (2 if cfg.bidirectional else 1)

    def forward(self, src: Tensor, src_lengths: Tensor) -> Encoded:
        """src: (B, S) token ids padded at the end; src_lengths: (B,) real lengths (>= 1)."""
        lengths = _check_lengths(src, src_lengths)
        batch, src_len = src.shape
        embedded = self.dropout(self.embedding(src))  # (B, S, E)
        if int(lengths.min()) == src_len:  # no padding at all: skip the pack / unpack copies
            outputs, hidden = self.rnn(embedded)
        else:
            packed = pack_padded_sequence(embedded, lengths, batch_first=True, enforce_sorted=False)
            packed_out, hidden = self.rnn(packed)
            outputs, _ = pad_packed_sequence(packed_out, batch_first=True, total_length=src_len)
        h, c = split_hidden(hidden)  # (layers * dirs, B, H)
        if self.bidirectional:
            h = merge_directions(h)
            c = None if c is None else merge_directions(c)
        device_lengths = src_lengths.to(src.device)
        mask = torch.arange(src_len, device=src.device) < device_lengths.unsqueeze(1)  # (B, S)
        return Encoded(outputs, mask, h, c, device_lengths)


def _check_lengths(src: Tensor, src_lengths: Tensor) -> Tensor:
    """The lengths on the CPU (as packing wants them), after checking they fit `src`."""
    if src.dim() != 2 or src_lengths.shape != (src.size(0),):
        raise ValueError(
            f"encoder expects src (B, S) and src_lengths (B,), got {tuple(src.shape)} "
            f"and {tuple(src_lengths.shape)}"
        )
    lengths = src_lengths.to("cpu", torch.int64)
    if lengths.numel() and int(lengths.min()) < 1:
        row = int(torch.argmin(lengths))
        raise DataError(
            f"source sentence {row} of the batch is empty; empty lines cannot be encoded"
        )
    if lengths.numel() and int(lengths.max()) > src.size(1):
        raise ValueError(
            f"a source length ({int(lengths.max())}) exceeds the padded width {src.size(1)}"
        )
    return lengths
