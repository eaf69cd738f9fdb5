"""`seq2seq transcribe`: transcribe recordings with one speech checkpoint or an ensemble.

    seq2seq transcribe --checkpoint runs/fsdd/best.safetensors one.wav two.flac
    seq2seq transcribe --checkpoint a.safetensors b.safetensors --manifest test.tsv --beam-size 5
    seq2seq transcribe --checkpoint best.safetensors --n-best 5 --manifest test.tsv --output out.nbest

One line out per recording, in the order given (n lines with --n-best n, as Moses n-best lines).
A manifest is `audio<TAB>transcript` lines (the transcript is ignored here; `evaluate` reads it),
paths relative to the manifest. The search flags are translate's, generated from DecodeConfig.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from seq2seq.commands.options import (
    add_checkpoints,
    add_decode_settings,
    add_device,
    decode_overrides,
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_checkpoints(parser)
    parser.add_argument("files", nargs="*", type=Path, help="audio files (WAV, FLAC, OGG)")
    parser.add_argument(
        "--manifest", type=Path, default=None,
        help="a file of audio<TAB>transcript lines (paths relative to it), instead of FILEs",
    )  # fmt: skip
    parser.add_argument(
        "--output", type=Path, default=None, help="output file (default: stdout); with "
        "--n-best, Moses n-best lines 'id ||| text ||| features ||| score'"
    )  # fmt: skip
    parser.add_argument(
        "--max-seconds", type=float, default=60.0,
        help="refuse recordings longer than this (an attention model reads a whole recording)",
    )  # fmt: skip
    add_decode_settings(parser)
    add_device(parser)
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def recordings(args: argparse.Namespace) -> list[Path]:
    """The audio files named on the command line or listed in --manifest, checked to exist."""
    from seq2seq.data.io import check_readable, iter_lines
    from seq2seq.errors import ConfigError, DataError

    # `--checkpoint A.safetensors one.wav` reads both as checkpoints (the flag takes several, for
    # ensembles): what follows the checkpoints that is not one is a recording.
    while len(args.checkpoint) > 1 and Path(args.checkpoint[-1]).suffix != ".safetensors":
        args.files.insert(0, Path(args.checkpoint.pop()))
    if bool(args.files) == (args.manifest is not None):
        raise ConfigError("give audio files or --manifest FILE, one of the two")
    if args.manifest is None:
        files = list(args.files)
    else:
        check_readable(args.manifest, "--manifest")
        files = []
        for line in iter_lines(args.manifest):
            if not line.strip() or line.startswith("#"):
                continue
            files.append(args.manifest.parent / line.split("\t", 1)[0].strip())
        if not files:
            raise DataError(f"--manifest {args.manifest} lists no audio files")
    for path in files:
        if not path.is_file():
            raise DataError(f"audio file {path} does not exist; expected a WAV, FLAC or OGG file")
    return files


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from seq2seq.commands.translate import _output
    from seq2seq.data.io import check_writable
    from seq2seq.decode.transcriber import Transcriber
    from seq2seq.decode.translator import format_nbest

    files = recordings(args)  # every path checked before the model loads
    if args.output is not None:
        check_writable(args.output, "--output")
    transcriber = Transcriber.load(args.checkpoint, args.device, args.max_seconds or None)
    settings = transcriber.settings(**decode_overrides(args))
    nbest = settings.n_best > 1
    with tqdm(total=len(files), desc="transcribe", unit="rec", file=sys.stderr,
              disable=args.quiet) as bar:  # fmt: skip
        frames = []
        for path in files:  # features first: a bad recording stops before any search
            frames.append(transcriber.features(path))
        results = transcriber.transcribe_features(frames, settings, progress=bar.update)
    with _output(args.output) as out:
        for number, hyps in enumerate(results):
            if nbest:
                out.writelines(format_nbest(number, h) + "\n" for h in hyps)
            else:
                out.write((hyps[0].text if hyps else "") + "\n")
    return 0
