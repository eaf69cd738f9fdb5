"""`--model DIR` of translate and serve: an exported folder (`seq2seq export`) searched by the
PyTorch-free runtime (runtime/, seq2seq_runtime) instead of a checkpoint searched by PyTorch."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any


def add_model(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--model", type=Path, default=None, metavar="DIR",
        help="an exported folder (`seq2seq export`), run by the PyTorch-free runtime instead "
        "of --checkpoint",
    )  # fmt: skip


def check_source(args: argparse.Namespace) -> None:
    """Exactly one of --checkpoint and --model."""
    from seq2seq.errors import ConfigError

    if (args.checkpoint is None) == (args.model is None):
        raise ConfigError("give either --checkpoint CKPT (PyTorch) or --model DIR (an export)")


def runtime_overrides(given: dict[str, Any]) -> dict[str, Any]:
    """The search flags given, as the runtime's settings; a flag it does not do is one sentence."""
    from seq2seq_runtime import SearchSettings

    from seq2seq.commands.options import flag
    from seq2seq.config import DecodeConfig
    from seq2seq.errors import ConfigError

    keys = SearchSettings.known()  # the DecodeConfig keys the runtime searches with
    defaults = DecodeConfig().model_dump()
    for key, value in given.items():
        if key not in keys and value != defaults.get(key):
            raise ConfigError(
                f"{flag(key)} is not done by the runtime of an exported model (--model); "
                "search with --checkpoint for it"
            )
    return {key: value for key, value in given.items() if key in keys}
