"""`seq2seq evaluate`: run a model on a test set (or take a hypotheses file) and score it by the
metrics of its task (seq2seq/tasks.py: the checkpoint's, else --task)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from seq2seq.commands.options import (
    add_checkpoints,
    add_decode_settings,
    add_device,
    add_lowercase,
    decode_overrides,
)
from seq2seq.tasks import TASKS


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_checkpoints(
        parser,
        required=False,
        help="one checkpoint, or several for an ensemble (needed unless --hyp is given)",
    )
    parser.add_argument("--src", type=Path, required=True, help="source sentences, plain or .gz")
    parser.add_argument(
        "--ref", type=Path, required=True, action="append",
        help="references, aligned line by line with --src; repeat the flag for several "
        "references per sentence (AESLC dev: --ref dev.ann0 --ref dev.ann1 --ref dev.ann2)",
    )  # fmt: skip
    parser.add_argument(
        "--hyp", type=Path, default=None, help="score this hypotheses file instead of translating"
    )
    add_lowercase(parser)
    parser.add_argument(
        "--output", type=Path, default=None, help="also write the translations to this file"
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument(
        "--tok-ref", type=Path, default=None, metavar="FILE",
        help="also score BLEU as the Multi30k papers do: hypotheses Moses-normalised, "
        "-tokenised (escaped) and lower-cased, against this official *.lc.norm.tok.LANG file",
    )  # fmt: skip
    parser.add_argument(
        "--tok-lang", default=None,
        help="language of --tok-ref for the Moses tokeniser (default: the checkpoint's target "
        "language, else the file name's)",
    )  # fmt: skip
    parser.add_argument(
        "--task", choices=list(TASKS), default=None,
        help="score by this task's metrics (default: the checkpoint's task, else translation)",
    )  # fmt: skip
    parser.add_argument(
        "--metrics", nargs="+", default=None, metavar="NAME",
        help="score by these metrics instead (bleu, chrf, distinct-1, distinct-2, length, wer, "
        "per, rouge1, rouge2, rougeL, ...: the names of seq2seq/evaluate/metrics.py)",
    )  # fmt: skip
    add_decode_settings(
        parser,
        only=("beam_size", "batch_size", "length_penalty", "precision", "shortlist", "ctc_weight"),
    )
    add_device(parser)


def run(args: argparse.Namespace) -> int:
    from seq2seq.data.io import check_readable, check_writable, same_file
    from seq2seq.errors import ConfigError, DataError
    from seq2seq.evaluate.evaluate import evaluate, format_result
    from seq2seq.evaluate.metrics import METRICS

    # Paths first, before anything is translated: a score is never lost to a bad --output.
    if not args.checkpoint and args.hyp is None:
        raise ConfigError("give --checkpoint to translate the source, or --hyp with translations")
    unknown = [name for name in args.metrics or () if name not in METRICS]
    if unknown:
        raise ConfigError(
            f"--metrics: unknown metric '{unknown[0]}'; metrics: {', '.join(METRICS)}"
        )
    inputs = [("--src", args.src), *(("--ref", ref) for ref in args.ref), ("--hyp", args.hyp)]
    for flag, path in inputs:
        if path is not None:
            check_readable(path, flag)
    if args.output is not None:
        check_writable(args.output, "--output")
        for flag, path in inputs:
            if same_file(path, args.output):
                raise DataError(
                    f"--output {args.output} is the {flag} file; give another name so it is "
                    "not overwritten"
                )
    result = evaluate(
        args.src,
        args.ref,
        checkpoints=args.checkpoint or [],
        hyp=args.hyp,
        lowercase=args.lowercase,
        output=args.output,
        device=args.device,
        decode=decode_overrides(args),
        tok_ref=args.tok_ref,
        tok_lang=args.tok_lang,
        task=args.task,
        metrics=args.metrics,
    )
    print(json.dumps(result) if args.json else format_result(result))
    return 0
