"""`seq2seq evaluate`: translate a test set (or take a hypotheses file) and score it."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from seq2seq.commands.options import (
    add_checkpoints,
    add_decode_settings,
    add_device,
    add_lowercase,
    add_test_set,
    decode_overrides,
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_checkpoints(
        parser,
        required=False,
        help="one checkpoint, or several for an ensemble (needed unless --hyp is given)",
    )
    add_test_set(parser)
    parser.add_argument(
        "--hyp", type=Path, default=None, help="score this hypotheses file instead of translating"
    )
    add_lowercase(parser)
    parser.add_argument(
        "--output", type=Path, default=None, help="also write the translations to this file"
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    add_decode_settings(
        parser, only=("beam_size", "batch_size", "length_penalty", "precision", "shortlist")
    )
    add_device(parser)


def run(args: argparse.Namespace) -> int:
    from seq2seq.evaluate.evaluate import evaluate, format_result

    result = evaluate(
        args.src,
        args.ref,
        checkpoints=args.checkpoint or [],
        hyp=args.hyp,
        lowercase=args.lowercase,
        output=args.output,
        device=args.device,
        decode=decode_overrides(args),
    )
    print(json.dumps(result) if args.json else format_result(result))
    return 0
