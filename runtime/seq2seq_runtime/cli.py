"""`seq2seq-runtime translate --model DIR`: translate lines without PyTorch.

    seq2seq-runtime translate --model deploy/en-fr < input.en > output.fr
    seq2seq-runtime translate --model deploy/en-fr --beam-size 5 --n-best 3 --input test.en
    python -m seq2seq_runtime translate --model deploy/en-fr --input test.en.gz

One line in, one line out (with --n-best n, n Moses lines 'id ||| text ||| features ||| score').
A bad input or setting ends the command with one line on stderr and exit status 2.
"""

from __future__ import annotations

import argparse
import gzip
import logging
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO

CHUNK_LINES = 4096
SEARCH_FLAGS = {
    "beam_size": (int, "beam width; 1 = greedy search (default: the export's)"),
    "n_best": (int, "hypotheses written per line (Moses n-best lines when > 1)"),
    "batch_size": (int, "sentences per search batch"),
    "max_len_ratio": (float, "max output length = ratio * source length + offset"),
    "max_len_offset": (int, "see --max-len-ratio"),
    "min_len": (int, "output tokens before the end of sentence is allowed"),
    "length_penalty": (float, "rank by log-prob / length ** this; 0 = raw log-prob"),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="seq2seq-runtime", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", metavar="<command>", required=True)
    translate = sub.add_parser("translate", help="translate lines with an exported model")
    translate.add_argument("--model", type=Path, required=True, help="a `seq2seq export` folder")
    translate.add_argument("--input", type=Path, help="source file, plain or .gz (default: stdin)")
    translate.add_argument("--output", type=Path, help="output file (default: stdout)")
    for name, (kind, text) in SEARCH_FLAGS.items():
        translate.add_argument("--" + name.replace("_", "-"), type=kind, default=None, help=text)
    translate.add_argument(
        "--replace-unk", action="store_true", default=None,
        help="replace <unk> by the source word it attends to (attention models)",
    )  # fmt: skip
    translate.add_argument("--threads", type=int, default=None, help="ONNX Runtime threads")
    translate.add_argument(
        "--max-src-len", type=int, default=400, help="longer lines get an empty output"
    )
    return parser


def _lines(path: Path | None) -> Iterator[str]:
    if path is None:
        for raw in sys.stdin.buffer:
            yield raw.decode("utf-8", errors="replace").rstrip("\r\n")
        return
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as handle:
        for line in handle:
            yield line.rstrip("\r\n")


def _chunks(lines: Iterator[str]) -> Iterator[list[str]]:
    chunk: list[str] = []
    for line in lines:
        chunk.append(line)
        if len(chunk) == CHUNK_LINES:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def translate(args: argparse.Namespace, out: TextIO) -> None:
    from seq2seq_runtime.translator import Translator

    if args.input is not None and not args.input.is_file():
        raise FileNotFoundError(f"--input {args.input} does not exist")
    translator = Translator.from_dir(args.model, threads=args.threads, max_src_len=args.max_src_len)
    given = {name: getattr(args, name) for name in [*SEARCH_FLAGS, "replace_unk"]}
    settings = translator.settings(**given)
    sentence = 0
    for chunk in _chunks(_lines(args.input)):
        results = translator.translate_hypotheses(chunk, settings, first_line=sentence + 1)
        for hyps in results:
            if settings.n_best > 1:
                for h in hyps:
                    out.write(f"{sentence} ||| {h.text} ||| logprob={h.log_prob:.6f} ||| ")
                    out.write(f"{h.score:.6f}\n")
            else:
                out.write((hyps[0].text if hyps else "") + "\n")
            sentence += 1
        out.flush()


def main(argv: list[str] | None = None) -> int:
    from seq2seq_runtime.errors import RuntimeToolError

    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="seq2seq-runtime: warning: %(message)s")
    try:
        if args.output is None:
            translate(args, sys.stdout)
        else:
            with open(args.output, "w", encoding="utf-8") as handle:
                translate(args, handle)
    except (RuntimeToolError, OSError) as err:
        print(f"seq2seq-runtime {args.command}: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"seq2seq-runtime {args.command}: interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
