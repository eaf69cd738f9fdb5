"""`seq2seq export`: checkpoints out as ONNX graphs for the PyTorch-free runtime.

    seq2seq export runs/en-fr/best.safetensors --format onnx --out deploy/en-fr
    seq2seq export a.safetensors b.safetensors --out deploy/ensemble     # one step graph each
    seq2seq export best.safetensors --out deploy/en-fr-int8 --int8       # int8 weights

The folder holds the encoder and decoder-step graphs, the vocabularies, the decode defaults and
a manifest; `seq2seq-runtime translate --model DIR` (runtime/, no PyTorch) or
`seq2seq translate --model DIR` translates with it. See docs/deploy.md.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "checkpoints", nargs="+", type=Path, metavar="CKPT",
        help="one checkpoint, or several for an ensemble (one step graph each)",
    )  # fmt: skip
    parser.add_argument(
        "--format", choices=["onnx"], default="onnx", help="graph format (only onnx today)"
    )
    parser.add_argument("--out", type=Path, required=True, help="the folder to write")
    parser.add_argument(
        "--int8", action="store_true",
        help="dynamic int8 quantisation of the graphs' weights (ONNX Runtime's quantize_dynamic)",
    )  # fmt: skip


def run(args: argparse.Namespace) -> int:
    from seq2seq.data.io import check_readable
    from seq2seq.errors import DataError
    from seq2seq.export.onnx import export_onnx

    for path in args.checkpoints:
        check_readable(path, "CKPT")
    if args.out.exists() and not args.out.is_dir():
        raise DataError(f"--out {args.out} is a file; give a folder to write the export into")
    manifest = export_onnx(args.checkpoints, args.out, int8=args.int8)
    size = sum(f.stat().st_size for f in args.out.iterdir() if f.suffix == ".onnx")
    print(
        f"exported {len(manifest['members'])} model(s) to {args.out} "
        f"({manifest['precision']}, graphs {size / 1e6:.1f} MB)"
    )
    return 0
