"""int8: dynamic quantisation of an exported graph with ONNX Runtime's own tool.

Weights of the matrix products (MatMul, Gemm), of the LSTM nodes (ONNX Runtime has no int8 GRU
or RNN kernel: those stay float32) and the embedding tables (Gather) are stored as int8
with a scale per tensor; activations are quantised on the fly, step by step, from their own
range (`quantize_dynamic`), so there is no calibration set to choose. ONNX Runtime runs the
quantised LSTM with its int8 kernel (DynamicQuantizeLSTM) and the products with MatMulInteger.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def quantize_int8(path: Path) -> None:
    """Replace the float32 graph at `path` by its dynamically int8-quantised form."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    with tempfile.TemporaryDirectory(dir=path.parent) as tmp:
        target = Path(tmp) / path.name
        quantize_dynamic(
            str(path),
            str(target),
            weight_type=QuantType.QInt8,
            op_types_to_quantize=["MatMul", "Gemm", "LSTM", "Gather"],
            extra_options={"MatMulConstBOnly": True},
        )
        os.replace(target, path)
