"""The encoder's RNN as ONNX's fused LSTM / GRU / RNN operators, with a free length axis.

Traced as it is, the dynamo exporter decomposes a tanh RNN into its steps, unrolled over the
example's length, and for some LSTM encoders (two layers feeding an attention memory) fixes the
length axis to the example's; torch.onnx then silently falls back to a static graph. `run_rnn`
calls the same fused kernels through custom operators (`seq2seq::lstm`, `seq2seq::gru`,
`seq2seq::rnn_tanh`) that `torch.export` keeps whole, and `RNN_TRANSLATIONS` writes each as one
ONNX node per layer: weights W_ih, W_hh and biases b_ih, b_hh in ONNX's layout, the gates
reordered (PyTorch's LSTM i, f, g, o to ONNX's i, o, f, c; GRU r, z, n to z, r, h, with
linear_before_reset as PyTorch computes it).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
from onnxscript import opset18
from torch import Tensor, nn

op: Any = opset18  # onnxscript's operator stubs want its own tensor types, not our values

GATES = {"lstm": [0, 3, 1, 2], "gru": [1, 0, 2], "rnn": [0]}  # ONNX gate i <- PyTorch gate


def _fake(input: Tensor, hx: Tensor, bidirectional: bool) -> Tensor:
    dirs = 2 if bidirectional else 1
    return input.new_empty(input.size(0), input.size(1), dirs * hx.size(2))


@torch.library.custom_op("seq2seq::rnn_tanh", mutates_args=())
def rnn_tanh(
    input: Tensor, hx: Tensor, params: list[Tensor], num_layers: int, bidirectional: bool
) -> tuple[Tensor, Tensor]:
    """A batch-first tanh RNN with biases: input (B, T, I), hx (layers * dirs, B, H)."""
    output, h_n = torch._VF.rnn_tanh(
        input, hx, params, True, num_layers, 0.0, False, bidirectional, True
    )
    return output, h_n


@rnn_tanh.register_fake
def _(input, hx, params, num_layers, bidirectional):
    return _fake(input, hx, bidirectional), hx.new_empty(hx.shape)


@torch.library.custom_op("seq2seq::gru", mutates_args=())
def gru(
    input: Tensor, hx: Tensor, params: list[Tensor], num_layers: int, bidirectional: bool
) -> tuple[Tensor, Tensor]:
    """A batch-first GRU with biases: input (B, T, I), hx (layers * dirs, B, H)."""
    output, h_n = torch._VF.gru(
        input, hx, params, True, num_layers, 0.0, False, bidirectional, True
    )
    return output, h_n


@gru.register_fake
def _(input, hx, params, num_layers, bidirectional):
    return _fake(input, hx, bidirectional), hx.new_empty(hx.shape)


@torch.library.custom_op("seq2seq::lstm", mutates_args=())
def lstm(
    input: Tensor,
    hx: Tensor,
    cx: Tensor,
    params: list[Tensor],
    num_layers: int,
    bidirectional: bool,
) -> tuple[Tensor, Tensor, Tensor]:
    """A batch-first LSTM with biases: input (B, T, I), hx and cx (layers * dirs, B, H)."""
    output, h_n, c_n = torch._VF.lstm(
        input, (hx, cx), params, True, num_layers, 0.0, False, bidirectional, True
    )
    return output, h_n, c_n


@lstm.register_fake
def _(input, hx, cx, params, num_layers, bidirectional):
    return _fake(input, hx, bidirectional), hx.new_empty(hx.shape), cx.new_empty(cx.shape)


def run_rnn(rnn: nn.RNNBase, x: Tensor) -> tuple[Tensor, Any]:
    """`rnn(x)` from a zero state through the custom operators; x (B, T, I) -> as `rnn(x)`."""
    dirs = 2 if rnn.bidirectional else 1
    hx = x.new_zeros(rnn.num_layers * dirs, x.size(0), rnn.hidden_size)
    params = list(rnn._flat_weights)
    if isinstance(rnn, nn.LSTM):
        output, h, c = torch.ops.seq2seq.lstm(x, hx, hx, params, rnn.num_layers, rnn.bidirectional)
        return output, (h, c)
    kind = torch.ops.seq2seq.gru if isinstance(rnn, nn.GRU) else torch.ops.seq2seq.rnn_tanh
    return kind(x, hx, params, rnn.num_layers, rnn.bidirectional)


def _weights(params: Sequence[Any], first: int, kind: str) -> tuple[Any, Any, Any]:
    """One direction's W (1, G*H, I), R (1, G*H, H), B (1, 2*G*H) in ONNX's gate order."""
    order = GATES[kind]

    def reorder(tensor: Any) -> Any:
        if len(order) == 1:
            return tensor
        parts = op.Split(tensor, axis=0, num_outputs=len(order))
        return op.Concat(*[parts[i] for i in order], axis=0)

    w = op.Unsqueeze(reorder(params[first]), [0])
    r = op.Unsqueeze(reorder(params[first + 1]), [0])
    b = op.Concat(reorder(params[first + 2]), reorder(params[first + 3]), axis=0)
    return w, r, op.Unsqueeze(b, [0])


def _layers(
    kind: str, input: Any, states: list[Any], params: Sequence[Any], layers: int, bi: bool
) -> tuple[Any, list[Any]]:
    """ONNX nodes for a batch-first multi-layer RNN; returns (output, final states)."""
    dirs = 2 if bi else 1
    hidden = states[0].shape[2]
    x = op.Transpose(input, perm=[1, 0, 2])  # (T, B, I)
    finals: list[list[Any]] = [[] for _ in states]
    for layer in range(layers):
        per_dir = [_weights(params, (layer * dirs + d) * 4, kind) for d in range(dirs)]
        w, r, b = (op.Concat(*parts, axis=0) if dirs > 1 else parts[0] for parts in zip(*per_dir))
        initial = [op.Slice(s, [layer * dirs], [(layer + 1) * dirs], axes=[0]) for s in states]
        attrs: dict[str, Any] = {
            "hidden_size": hidden,
            "direction": "bidirectional" if bi else "forward",
        }
        if kind == "lstm":
            y, *last = op.LSTM(x, w, r, b, None, *initial, **attrs)
        elif kind == "gru":
            y, *last = op.GRU(x, w, r, b, None, *initial, linear_before_reset=1, **attrs)
        else:
            y, *last = op.RNN(x, w, r, b, None, *initial, activations=["Tanh"] * dirs, **attrs)
        y = op.Transpose(y, perm=[0, 2, 1, 3])  # (T, dirs, B, H) -> (T, B, dirs, H)
        x = op.Reshape(y, op.Constant(value_ints=[0, 0, -1]))  # (T, B, dirs * H)
        for found, state in zip(finals, last, strict=True):
            found.append(state)
    outputs = [op.Concat(*f, axis=0) if layers > 1 else f[0] for f in finals]
    return op.Transpose(x, perm=[1, 0, 2]), outputs


def _rnn_tanh(input, hx, params, num_layers, bidirectional):
    output, (h,) = _layers("rnn", input, [hx], params, num_layers, bidirectional)
    return output, h


def _gru(input, hx, params, num_layers, bidirectional):
    output, (h,) = _layers("gru", input, [hx], params, num_layers, bidirectional)
    return output, h


def _lstm(input, hx, cx, params, num_layers, bidirectional):
    output, (h, c) = _layers("lstm", input, [hx, cx], params, num_layers, bidirectional)
    return output, h, c


RNN_TRANSLATIONS: dict[Callable, Callable] = {
    torch.ops.seq2seq.rnn_tanh.default: _rnn_tanh,
    torch.ops.seq2seq.gru.default: _gru,
    torch.ops.seq2seq.lstm.default: _lstm,
}
