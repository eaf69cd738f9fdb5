"""The `seq2seq` command: one entry point, one sub-command per stage of the pipeline.

This package is the only place that knows about a terminal: argparse, printing, exit codes. Each
sub-command is a module here with ``add_arguments(parser)`` and ``run(args) -> int``: it parses,
calls the library with plain values and prints. Flags shared by several commands are declared once
in `options`. Library errors (`Seq2SeqError`) become one sentence and exit status 2; library
warnings and progress (`logging`) go to stderr. Only the chosen command's module is imported, so
``seq2seq --help`` answers at once without loading PyTorch.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import logging
import sys

from seq2seq import __version__
from seq2seq.errors import Seq2SeqError
from seq2seq.runtime import keep_freed_memory

# name -> (module, one-line help). Order is the order of the pipeline.
COMMANDS: dict[str, tuple[str, str]] = {
    "demo": ("seq2seq.commands.demo", "train and translate a small synthetic task end to end (no download)"),
    "download": ("seq2seq.commands.download", "download a public parallel corpus (Multi30k)"),
    "prepare": ("seq2seq.commands.prepare", "clean parallel text and build vocabularies for training"),
    "train": ("seq2seq.commands.train", "train a model from a YAML config"),
    "translate": ("seq2seq.commands.translate", "translate text with one checkpoint or an ensemble"),
    "shortlist": (
        "seq2seq.commands.shortlist",
        "add a lexical output shortlist (faster CPU search) to a checkpoint",
    ),
    "rescore": ("seq2seq.commands.rescore", "re-rank an external n-best list with trained models"),
    "evaluate": ("seq2seq.commands.evaluate", "score translations: BLEU, chrF and perplexity"),
    "analyze": (
        "seq2seq.commands.analyze",
        "the paper's analyses as plots and CSV (length, PCA...)",
    ),
    "report": ("seq2seq.commands.report", "one self-contained HTML page about a training run"),
    "chat": ("seq2seq.commands.chat", "an interactive prompt: type a line, read the model's output"),
    "serve": ("seq2seq.commands.serve", "an HTTP translation server: LibreTranslate API, web page"),
}

DESCRIPTION = """\
Sequence-to-sequence learning with neural networks (Sutskever, Vinyals & Le, 2014)
and its variants: GRU/RNN cells, bridge, concat, peeky and attention decoders.

A typical run:
  seq2seq prepare --src train.en.gz --tgt train.fr.gz --out data/en-fr
  seq2seq train configs/small-cpu.yaml --set data.dir=data/en-fr
  seq2seq translate --checkpoint runs/small-cpu/best.safetensors < input.en
"""


def _available() -> dict[str, tuple[str, str]]:
    """Commands whose module ships in this installation (later stages may be absent)."""
    found = {}
    for name, (module, text) in COMMANDS.items():
        if importlib.util.find_spec(module) is not None:
            found[name] = (module, text)
    return found


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="seq2seq",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"seq2seq {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="<command>", title="commands")
    for name, (module, text) in _available().items():
        child = sub.add_parser(name, help=text, description=text[0].upper() + text[1:] + ".")
        if name == command:
            importlib.import_module(module).add_arguments(child)
    return parser


class _Formatter(logging.Formatter):
    """``PROGRAM: warning: ...`` for warnings and errors, the bare message for progress."""

    def __init__(self, program: str) -> None:
        super().__init__()
        self.program = program

    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        if record.levelno >= logging.WARNING:
            return f"{self.program}: {record.levelname.lower()}: {message}"
        return message


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever `sys.stderr` is at the time of each message."""

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, value) -> None:  # StreamHandler.__init__ assigns it; the property decides
        pass


def setup_logging(program: str) -> None:
    """Library messages (logger 'seq2seq' and its children) to stderr, INFO and above, as
    ``PROGRAM: warning: ...``; `program` is e.g. "seq2seq translate" (also used by benchmarks)."""
    handler = _StderrHandler()
    handler.setFormatter(_Formatter(program))
    root = logging.getLogger("seq2seq")
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)
    root.propagate = False


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    command = next((a for a in argv if not a.startswith("-")), None)
    parser = build_parser(command if command in COMMANDS else None)
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    setup_logging(f"seq2seq {args.command}")
    keep_freed_memory()  # before PyTorch allocates anything: see seq2seq/runtime.py
    module = importlib.import_module(COMMANDS[args.command][0])
    try:
        return int(module.run(args) or 0)
    except Seq2SeqError as err:
        print(f"seq2seq {args.command}: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"seq2seq {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
