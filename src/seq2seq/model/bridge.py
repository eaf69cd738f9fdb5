"""The bridge: a learned map from the encoder's final state to the decoder's initial state.

A fully-connected layer reads the encoder's final state of all layers at once, so encoder and
decoder may differ in hidden size, in depth and in directions. For an LSTM both h and c are mapped,
each by its own layer: h through tanh, as an LSTM's h = o * tanh(c) lies in (-1, 1), and c
linearly, as a cell state is unbounded. Squashing c too saturates the map, and the decoder then
starts from the same cell state whatever the source (the measurements: docs/results.md, "How the
context reaches the decoder").
"""

from __future__ import annotations

import torch
from torch import Tensor, nn


class Bridge(nn.Module):
    """(enc_layers, B, H_enc) -> (dec_layers, B, H_dec) for h, and for c when the cell has one."""

    def __init__(
        self, enc_layers: int, enc_size: int, dec_layers: int, dec_size: int, has_cell: bool
    ) -> None:
        super().__init__()
        self.dec_layers = dec_layers
        self.dec_size = dec_size
        self.h = nn.Linear(enc_layers * enc_size, dec_layers * dec_size)
        self.c = nn.Linear(enc_layers * enc_size, dec_layers * dec_size) if has_cell else None

    def forward(self, h: Tensor, c: Tensor | None = None) -> tuple[Tensor, Tensor | None]:
        new_h = torch.tanh(self._map(self.h, h))
        new_c = None if self.c is None or c is None else self._map(self.c, c)
        return new_h, new_c

    def _map(self, linear: nn.Linear, state: Tensor) -> Tensor:
        batch = state.size(1)
        flat = state.transpose(0, 1).reshape(batch, -1)  # (B, enc_layers * H_enc)
        mapped = linear(flat).view(batch, self.dec_layers, self.dec_size)
        return mapped.transpose(0, 1).contiguous()  # (dec_layers, B, H_dec), as cuDNN wants
