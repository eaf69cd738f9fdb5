"""A tanh RNN that exports as ONNX's RNN operator.

The dynamo exporter maps LSTM and GRU to ONNX's fused operators but decomposes a tanh RNN into
its steps, unrolled over the example's length. `run_rnn` calls the same fused kernel through a
custom operator, `seq2seq::rnn_tanh`, that `torch.export` keeps whole, and `RNN_TRANSLATIONS`
turns it into one ONNX RNN node per layer (weights W_ih, W_hh and the biases b_ih, b_hh in
ONNX's layout), so the length axis stays free.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
from onnxscript import opset18
from torch import Tensor, nn

op: Any = opset18  # onnxscript's operator stubs want its own tensor types, not our values


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
    dirs = 2 if bidirectional else 1
    output = input.new_empty(input.size(0), input.size(1), dirs * hx.size(2))
    return output, hx.new_empty(hx.shape)


def run_rnn(rnn: nn.RNNBase, x: Tensor) -> tuple[Tensor, Any]:
    """`rnn(x)` from a zero state, through `seq2seq::rnn_tanh` for a tanh RNN; x (B, T, I)."""
    if not isinstance(rnn, nn.RNN):
        return rnn(x)
    dirs = 2 if rnn.bidirectional else 1
    hx = x.new_zeros(rnn.num_layers * dirs, x.size(0), rnn.hidden_size)
    params = list(rnn._flat_weights)
    return torch.ops.seq2seq.rnn_tanh(x, hx, params, rnn.num_layers, rnn.bidirectional)


def _rnn_tanh(
    input: Any, hx: Any, params: Sequence[Any], num_layers: int, bidirectional: bool
) -> tuple[Any, Any]:
    """seq2seq::rnn_tanh in ONNX: input (B, T, I), hx (layers * dirs, B, H) -> (output, h_n)."""
    has_biases, batch_first = True, True
    dirs = 2 if bidirectional else 1
    hidden = hx.shape[2]
    x = op.Transpose(input, perm=[1, 0, 2]) if batch_first else input  # (T, B, I)
    per_dir = 4 if has_biases else 2
    finals = []
    for layer in range(num_layers):
        weights, recurrent, biases = [], [], []
        for d in range(dirs):
            first = (layer * dirs + d) * per_dir
            weights.append(op.Unsqueeze(params[first], [0]))  # (1, H, I)
            recurrent.append(op.Unsqueeze(params[first + 1], [0]))  # (1, H, H)
            if has_biases:
                both = op.Concat(params[first + 2], params[first + 3], axis=0)
                biases.append(op.Unsqueeze(both, [0]))  # (1, 2H)
        w = op.Concat(*weights, axis=0) if dirs > 1 else weights[0]
        r = op.Concat(*recurrent, axis=0) if dirs > 1 else recurrent[0]
        b = (op.Concat(*biases, axis=0) if dirs > 1 else biases[0]) if has_biases else None
        h0 = op.Slice(hx, [layer * dirs], [(layer + 1) * dirs], axes=[0])
        y, y_h = op.RNN(
            x,
            w,
            r,
            b,
            None,
            h0,
            hidden_size=hidden,
            direction="bidirectional" if bidirectional else "forward",
            activations=["Tanh"] * dirs,
        )  # y (T, dirs, B, H), y_h (dirs, B, H)
        y = op.Transpose(y, perm=[0, 2, 1, 3])  # (T, B, dirs, H)
        x = op.Reshape(y, op.Constant(value_ints=[0, 0, -1]))  # (T, B, dirs * H)
        finals.append(y_h)
    output = op.Transpose(x, perm=[1, 0, 2]) if batch_first else x
    h_n = op.Concat(*finals, axis=0) if num_layers > 1 else finals[0]
    return output, h_n


RNN_TRANSLATIONS: dict[Callable, Callable] = {torch.ops.seq2seq.rnn_tanh.default: _rnn_tanh}
