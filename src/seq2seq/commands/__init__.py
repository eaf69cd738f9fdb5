"""The `seq2seq` command: one entry point, one sub-command per stage of the pipeline.

This package is the only place that knows about a terminal: argparse, printing, exit codes. Each
sub-command is a module here with ``add_arguments(parser)`` and ``run(args) -> int``: it parses,
calls the library with plain values and prints. Flags shared by several commands are declared once
in `options`. Library warnings and progress (`logging`) go to stderr. Only the chosen command's
module is imported, so ``seq2seq --help`` answers at once without loading PyTorch.

How a command ends, for every command (`main`):

- success: exit status 0;
- a library error (`Seq2SeqError`), or an operating-system error no check caught (a full disk):
  one line ``seq2seq CMD: error: SENTENCE`` on stderr, exit status 2, no traceback. Library
  errors name settings (``config key 'decode.beam_size'``, ``analyze.groups``); the line says
  the flag that sets each one on this command (``--beam-size``) where there is one (`in_flags`);
- Ctrl-C: ``seq2seq CMD: interrupted``, exit status 130 (128 + SIGINT);
- SIGTERM: raised as `Terminated` (a KeyboardInterrupt) wherever the program is, so the same
  clean-up runs as for Ctrl-C (temporary files removed, nothing half-written left behind), then
  ``seq2seq CMD: terminated``, exit status 143 (128 + SIGTERM). A command that needs SIGTERM
  for itself (train saves a checkpoint, serve drains its requests) installs its own handler;
- stdout closed by its reader (``seq2seq translate ... | head -1``): no message, exit status
  141 (128 + SIGPIPE, what a shell reports for ``yes | head -1``); stdout is pointed at
  /dev/null so Python's last flush stays quiet too.

Commands check their output paths (`seq2seq.data.io.check_writable`) and inputs before they
load a model or start the work, so a bad path costs nothing and a finished result is never lost.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import logging
import os
import re
import signal
import sys

from seq2seq import __version__
from seq2seq.errors import Seq2SeqError
from seq2seq.runtime import keep_freed_memory

# name -> (module, one-line help). Order is the order of the pipeline.
COMMANDS: dict[str, tuple[str, str]] = {
    "demo": (
        "seq2seq.commands.demo",
        "train and translate a small synthetic task end to end (no download)",
    ),
    "download": (
        "seq2seq.commands.download",
        "download a public parallel corpus (Multi30k, WMT'14 EN-FR)",
    ),
    "split": ("seq2seq.commands.split", "a seeded train/dev/test split, duplicates on one side"),
    "prepare": (
        "seq2seq.commands.prepare",
        "clean parallel text and build vocabularies for training",
    ),
    "train": ("seq2seq.commands.train", "train a model from a YAML config"),
    "average": ("seq2seq.commands.average", "average the weights of the last checkpoints of a run"),
    "translate": (
        "seq2seq.commands.translate",
        "translate text with one checkpoint or an ensemble",
    ),
    "transcribe": (
        "seq2seq.commands.transcribe",
        "transcribe audio files with a speech checkpoint (or an ensemble)",
    ),
    "export": ("seq2seq.commands.export", "export checkpoints as ONNX graphs for the runtime"),
    "shortlist": (
        "seq2seq.commands.shortlist",
        "add a lexical output shortlist (faster CPU search) to a checkpoint",
    ),
    "rescore": (
        "seq2seq.commands.rescore",
        "re-rank n-best lists: an external list by the model (§3.6), or MMI with a backward model",
    ),
    "evaluate": ("seq2seq.commands.evaluate", "score translations: BLEU, chrF and perplexity"),
    "analyze": (
        "seq2seq.commands.analyze",
        "the paper's analyses as plots and CSV (length, PCA...)",
    ),
    "report": ("seq2seq.commands.report", "one self-contained HTML page about a training run"),
    "chat": (
        "seq2seq.commands.chat",
        "an interactive prompt: type a line, read the model's output",
    ),
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


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised in the main thread like Ctrl-C so that the same clean-up runs."""

    signum = signal.SIGTERM


EXIT_ERROR = 2
EXIT_BROKEN_PIPE = 128 + signal.SIGPIPE  # 141
# a signal N ends with 128 + N: 130 for Ctrl-C (SIGINT), 143 for SIGTERM


def _on_sigterm(signum, frame) -> None:
    raise Terminated


_UNCHANGED = object()


def _install_sigterm():
    """Turn SIGTERM into `Terminated`; returns the handler to restore (`_UNCHANGED` when not
    on the main thread)."""
    try:
        return signal.signal(signal.SIGTERM, _on_sigterm)
    except ValueError:  # not the main thread (an embedding program): leave signals alone
        return _UNCHANGED


def _say(line: str) -> None:
    """One line on stderr; a closed stderr is not worth a traceback."""
    try:
        print(line, file=sys.stderr, flush=True)
    except (OSError, ValueError):
        pass


def _silence_stdout() -> None:
    """stdout's reader is gone: point the descriptor at /dev/null so that what is still buffered
    (and Python's flush at exit) goes nowhere instead of raising again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):
        pass  # stdout is not a real file (a test's capture): nothing buffered will fail


def _os_error(err: OSError) -> str:
    """An OSError no check foresaw, as one sentence naming the file."""
    reason = err.strerror or str(err) or type(err).__name__
    return f"{err.filename}: {reason}" if err.filename is not None else reason


# A setting as library errors name it: `section.key`, quoted or not, after "config key" or
# "setting", and not inside a path (raw/train.src is a file).
_SETTING = re.compile(
    r"(?:config key |(?:decode )?setting )?(['`]?)(?<![\w/.-])([a-z]+)\.([a-z][a-z_]*)\b\1"
)


def _settings() -> dict[str, set[str]]:
    """{section: its keys} of every settings model: the config's sections, prepare and serve."""
    from seq2seq import config

    known = {
        name: set(field.annotation.model_fields)
        for name, field in config.Config.model_fields.items()
        if isinstance(field.annotation, type)  # every one: the sections are pydantic models
    }
    for model in config.CommandSettings.__subclasses__():
        known[model.section] = set(model.model_fields)
    return known


def _all_flags(parser: argparse.ArgumentParser) -> set[str]:
    """Every option string of `parser` and of its sub-commands, however deep."""
    flags: set[str] = set()
    for action in parser._actions:
        flags.update(action.option_strings)
        if isinstance(action, argparse._SubParsersAction):
            for child in action.choices.values():
                flags |= _all_flags(child)
    return flags


def in_flags(message: str, parser: argparse.ArgumentParser, command: str) -> str:
    """A library error as a command-line user reads it: each setting it names (``config key
    'decode.beam_size'``) becomes the flag that sets it on this command (``--beam-size``); a
    setting without a flag here stays as it is (a config file or ``--set`` sets it). Evaluate
    and analyze name their parameters ``evaluate.tok_lang``, ``analyze.groups``."""
    flags, settings = _all_flags(parser), _settings()

    def flag_of(match: re.Match[str]) -> str:
        section, key = match.group(2), match.group(3)
        flag = "--" + key.replace("_", "-")
        # a settings model's key, or a parameter of this command's own library call
        named = key in settings[section] if section in settings else section == command
        return flag if named and flag in flags else match.group(0)

    return _SETTING.sub(flag_of, message)


def _command_parser(parser: argparse.ArgumentParser, command: str) -> argparse.ArgumentParser:
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return sub.choices[command]


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    command = next((a for a in argv if not a.startswith("-")), None)
    parser = build_parser(command if command in COMMANDS else None)
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    program = f"seq2seq {args.command}"
    setup_logging(program)
    keep_freed_memory()  # before PyTorch allocates anything: see seq2seq/runtime.py
    previous = _install_sigterm()
    try:
        module = importlib.import_module(COMMANDS[args.command][0])
        status = int(module.run(args) or 0)
        sys.stdout.flush()  # a closed pipe shows here, inside the try, not at exit
        return status
    except Seq2SeqError as err:
        message = in_flags(str(err), _command_parser(parser, args.command), args.command)
        _say(f"{program}: error: {message}")
        return EXIT_ERROR
    except BrokenPipeError:
        _silence_stdout()
        return EXIT_BROKEN_PIPE
    except KeyboardInterrupt as stop:  # Ctrl-C, or a signal raised as one (`signum` says which)
        signum = getattr(stop, "signum", signal.SIGINT)
        _say(f"{program}: {'terminated' if signum == signal.SIGTERM else 'interrupted'}")
        return 128 + int(signum)
    except OSError as err:
        _say(f"{program}: error: {_os_error(err)}")
        return EXIT_ERROR
    finally:
        if previous is not _UNCHANGED:
            signal.signal(signal.SIGTERM, signal.SIG_DFL if previous is None else previous)


if __name__ == "__main__":
    sys.exit(main())
