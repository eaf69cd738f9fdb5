"""Flags that several commands share, each declared once here.

The decode flags are generated from `DecodeConfig` (config.py): a field's name, type, choices and
description become ``--field-name``, its type, its choices and its help. Adding a search option
to `DecodeConfig` adds its flag to every command that searches, and `decode_overrides` carries
the values back, unset ones as None (the checkpoint's config decides).
"""

from __future__ import annotations

import argparse
import typing
from pathlib import Path
from typing import Any

from seq2seq.config import DecodeConfig

DEFAULT_MAX_SRC_LEN = 400


def add_checkpoints(parser: argparse.ArgumentParser, required: bool = True, help: str = "") -> None:
    """`--checkpoint CKPT [CKPT ...]`: one model, or several for an ensemble."""
    parser.add_argument(
        "--checkpoint",
        nargs="+",
        required=required,
        default=None,
        metavar="CKPT",
        type=Path,
        help=help or "one checkpoint, or several for an ensemble (averaged probabilities)",
    )


def add_named_checkpoints(parser: argparse.ArgumentParser) -> None:
    """`--checkpoint NAME=CKPT ...`: systems to compare, each under a name (repeatable)."""
    parser.add_argument(
        "--checkpoint",
        nargs="+",
        action="extend",
        default=[],
        metavar="NAME=CKPT",
        help="checkpoints whose translations of --src are analysed, each named (repeatable)",
    )


def add_checkpoint(parser: argparse.ArgumentParser, help: str = "the checkpoint") -> None:
    """`--checkpoint CKPT`: exactly one model."""
    parser.add_argument("--checkpoint", type=Path, required=True, metavar="CKPT", help=help)


def add_device(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--device", default="cpu", help="cpu, cuda, cuda:N or auto (default: cpu)")


def add_max_src_len(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--max-src-len",
        type=int,
        default=DEFAULT_MAX_SRC_LEN,
        help=f"longer input lines get an empty output and a warning (default: {DEFAULT_MAX_SRC_LEN})",
    )


def add_test_set(parser: argparse.ArgumentParser) -> None:
    """`--src` and `--ref`: a test set's sources and references."""
    parser.add_argument("--src", type=Path, required=True, help="source sentences, plain or .gz")
    parser.add_argument("--ref", type=Path, required=True, help="reference translations")


def add_lowercase(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--lowercase", action="store_true", help="case-insensitive BLEU and chrF")


def add_overrides(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a config key, e.g. --set model.layers=4 (repeatable)",
    )


# ---------------------------------------------------------------------------------------------
# Decode settings, generated from DecodeConfig

_DEST_PREFIX = "decode_"


def _flag_type(annotation: Any) -> tuple[Any, list[str] | None]:
    """(argparse type, choices) for a DecodeConfig field's annotation."""
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    if typing.get_origin(annotation) is typing.Literal:
        return str, list(typing.get_args(annotation))
    if args and typing.get_origin(annotation) is not None:  # X | None
        return _flag_type(args[0])
    return annotation, None


def add_decode_settings(
    parser: argparse.ArgumentParser, only: tuple[str, ...] | None = None
) -> None:
    """One flag per `DecodeConfig` field (or the fields in `only`), defaulting to None."""
    group = parser.add_argument_group("search (default: the checkpoint's decode section)")
    for name, field in DecodeConfig.model_fields.items():
        if only is not None and name not in only:
            continue
        flag = "--" + name.replace("_", "-")
        kind, choices = _flag_type(field.annotation)
        text = (field.description or "").replace("%", "%%")
        if kind is bool:
            group.add_argument(
                flag, dest=_DEST_PREFIX + name, action="store_true", default=None, help=text
            )
        else:
            group.add_argument(
                flag, dest=_DEST_PREFIX + name, type=kind, choices=choices, default=None, help=text
            )


def decode_overrides(args: argparse.Namespace) -> dict[str, Any]:
    """The decode flags the user gave, as DecodeConfig keys (absent ones left out)."""
    return {
        key[len(_DEST_PREFIX) :]: value
        for key, value in vars(args).items()
        if key.startswith(_DEST_PREFIX) and value is not None
    }
