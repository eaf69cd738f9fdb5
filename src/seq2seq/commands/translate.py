"""`seq2seq translate`: translate lines from a file or stdin with one checkpoint or an ensemble.

    seq2seq translate --checkpoint best.safetensors < input.en > output.fr
    seq2seq translate --checkpoint a.safetensors b.safetensors --beam-size 12 --input test.en
    seq2seq translate --checkpoint best.safetensors --n-best 5 --input test.en --output test.nbest
    seq2seq translate --model deploy/en-fr --input test.en      # an export, without PyTorch

One line in, one line out (n lines with --n-best n); the search flags come from DecodeConfig.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO

from seq2seq.commands.options import (
    add_checkpoints,
    add_decode_settings,
    add_device,
    add_max_src_len,
    decode_overrides,
)

CHUNK_LINES = 4096  # lines read, sorted and translated together


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from seq2seq.commands.exported import add_model

    add_checkpoints(parser, required=False)
    add_model(parser)
    parser.add_argument(
        "--input", type=Path, default=None, help="source file, plain or .gz (default: stdin)"
    )
    parser.add_argument(
        "--output", type=Path, default=None, help="output file (default: stdout); with "
        "--n-best, Moses n-best lines 'id ||| text ||| features ||| score'"
    )  # fmt: skip
    add_decode_settings(parser)
    add_max_src_len(parser)
    add_device(parser)
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def _read_chunks(path: Path | None) -> Iterator[list[str]]:
    """Lines of the input file (or stdin), CHUNK_LINES at a time."""
    from seq2seq.data.io import iter_lines

    lines = iter_lines(path) if path is not None else _stdin_lines()
    chunk: list[str] = []
    for line in lines:
        chunk.append(line)
        if len(chunk) == CHUNK_LINES:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _stdin_lines() -> Iterator[str]:
    from seq2seq.errors import DataError

    for lineno, raw in enumerate(sys.stdin.buffer, 1):
        try:
            yield raw.decode("utf-8").rstrip("\r\n")
        except UnicodeDecodeError:
            raise DataError(f"standard input line {lineno} is not valid UTF-8") from None


@contextmanager
def _output(path: Path | None) -> Iterator[TextIO]:
    """stdout, or a file that appears complete or not at all."""
    from seq2seq.data.io import AtomicTextFile

    if path is None:
        yield sys.stdout
    else:
        with AtomicTextFile(path) as handle:
            yield handle


def run(args: argparse.Namespace) -> int:
    from seq2seq.commands.exported import check_source

    check_source(args)
    _check_paths(args)
    return _run_model(args) if args.model is not None else _run_checkpoint(args)


def _check_paths(args: argparse.Namespace) -> None:
    from seq2seq.data.io import check_readable, check_writable, same_file
    from seq2seq.errors import ConfigError, DataError

    if args.max_src_len < 1:
        raise ConfigError(f"--max-src-len must be at least 1, got {args.max_src_len}")
    # Every path is checked before the model loads: a bad one costs nothing, a finished
    # translation is never lost to it.
    if args.input is not None:
        check_readable(args.input, "--input")
    if args.output is not None:
        check_writable(args.output, "--output")
        if same_file(args.input, args.output):
            raise DataError(
                f"--output {args.output} is the --input file; give another name so the input "
                "is not overwritten"
            )


def _run_model(args: argparse.Namespace) -> int:
    """--model DIR: the runtime's search (seq2seq_runtime), PyTorch never imported."""
    from seq2seq_runtime import InputError, ModelDirError, SettingsError, Translator

    from seq2seq.commands.exported import runtime_overrides
    from seq2seq.errors import CheckpointError, ConfigError, DataError

    try:
        translator = Translator.from_dir(args.model, max_src_len=args.max_src_len)
        settings = translator.settings(**runtime_overrides(decode_overrides(args)))
        with _output(args.output) as out:
            sentence = 0
            for chunk in _read_chunks(args.input):
                results = translator.translate_hypotheses(chunk, settings, first_line=sentence + 1)
                for hyps in results:
                    _write(out, sentence, hyps, settings.n_best > 1)
                    sentence += 1
                out.flush()
    except ModelDirError as err:
        raise CheckpointError(f"--model {args.model}: {err}") from None
    except SettingsError as err:
        raise ConfigError(str(err)) from None
    except InputError as err:
        raise DataError(str(err)) from None
    return 0


def _write(out: TextIO, sentence: int, hyps: list, nbest: bool) -> None:
    """One output line, or the Moses n-best lines of one input line."""
    from seq2seq.decode.nbest import NBestEntry, format_features

    if not nbest:
        out.write((hyps[0].text if hyps else "") + "\n")
        return
    for h in hyps:
        features = format_features(h.features)
        out.write(NBestEntry(sentence, h.text, features, h.score).format() + "\n")


def _run_checkpoint(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from seq2seq.checkpoint import read_task
    from seq2seq.data.io import count_lines
    from seq2seq.decode.translator import Translator, format_nbest

    translator = Translator.load(args.checkpoint, device=args.device, max_src_len=args.max_src_len)
    task = read_task(args.checkpoint[0])  # the bar says what the model does: "answer" (chatbot)
    settings = translator.settings(**decode_overrides(args))
    nbest = settings.n_best > 1
    total = count_lines(args.input) if args.input is not None else None
    quiet = args.quiet or args.input is None
    with (
        tqdm(total=total, desc=task.verb, unit="sent", file=sys.stderr, disable=quiet) as bar,
        _output(args.output) as out,
    ):
        sentence = 0
        for chunk in _read_chunks(args.input):
            results = translator.translate_hypotheses(
                chunk, settings, features=nbest, first_line=sentence + 1, progress=bar.update
            )
            for hyps in results:
                if nbest:
                    out.writelines(format_nbest(sentence, h) + "\n" for h in hyps)
                else:
                    out.write((hyps[0].text if hyps else "") + "\n")
                sentence += 1
            out.flush()
    return 0
