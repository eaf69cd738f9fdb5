"""Recurrent cells shared by the encoder and the decoder: LSTM, GRU or a plain tanh RNN.

Every multi-step pass uses PyTorch's fused multi-layer kernels (cuDNN on a GPU, MKL-DNN/ATen on a
CPU); nothing here is a home-made cell. States keep PyTorch's layout, ``(layers * directions,
batch, hidden)``, and an LSTM state is the pair ``(h, c)``; the helpers below split, join and merge
such states so the rest of the model can treat the three cells alike.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor, nn

from seq2seq.errors import ConfigError

RNN_TYPES: dict[str, Callable[..., nn.RNNBase]] = {"lstm": nn.LSTM, "gru": nn.GRU, "rnn": nn.RNN}

Hidden = Tensor | tuple[Tensor, Tensor]


def make_rnn(
    cell: str,
    input_size: int,
    hidden_size: int,
    layers: int,
    dropout: float = 0.0,
    bidirectional: bool = False,
) -> nn.RNNBase:
    """A batch-first multi-layer RNN; `dropout` applies between layers (not after the last)."""
    if cell not in RNN_TYPES:
        raise ConfigError(f"model.cell '{cell}' is unknown; allowed: {', '.join(RNN_TYPES)}")
    extra = {"nonlinearity": "tanh"} if cell == "rnn" else {}
    return RNN_TYPES[cell](
        input_size,
        hidden_size,
        num_layers=layers,
        dropout=dropout if layers > 1 else 0.0,
        bidirectional=bidirectional,
        batch_first=True,
        **extra,
    )


def split_hidden(hidden: Hidden) -> tuple[Tensor, Tensor | None]:
    """``(h, c)`` for an LSTM state, ``(h, None)`` for a GRU/RNN state."""
    if isinstance(hidden, tuple):
        return hidden[0], hidden[1]
    return hidden, None


def join_hidden(h: Tensor, c: Tensor | None) -> Hidden:
    """The inverse of `split_hidden`: what ``nn.LSTM`` / ``nn.GRU`` / ``nn.RNN`` take as hx."""
    return h if c is None else (h, c)


def merge_directions(state: Tensor) -> Tensor:
    """(layers * 2, B, H) -> (layers, B, 2H): forward and backward concatenated per layer.

    The order (forward, backward) matches the encoder outputs of a bidirectional ``nn.LSTM``.
    """
    layers2, batch, hidden = state.shape
    pairs = state.view(layers2 // 2, 2, batch, hidden)
    return torch.cat([pairs[:, 0], pairs[:, 1]], dim=-1)
