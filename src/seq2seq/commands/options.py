"""Flags that several commands share, each declared once here, and the flags of settings models.

The flags of a settings model (`DecodeConfig`, `PrepareConfig`, `ServeConfig` in config.py) are
generated from its fields (`add_settings`): a field's name, type, choices and description become
``--field-name``, its type, its choices and its help. Adding a search option to `DecodeConfig`
adds its flag to every command that searches, and a prepare or serve option likewise;
`given_settings` carries the values back, unset ones left out (the model's default, or the
checkpoint's config, decides).
"""

from __future__ import annotations

import argparse
import re
import typing
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from seq2seq.config import DEFAULT_MAX_SRC_LEN, CommandSettings, DecodeConfig
from seq2seq.errors import Seq2SeqError


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
# Flags generated from settings models: DecodeConfig, PrepareConfig, ServeConfig (config.py)

_DEST_PREFIX = "decode_"


def _flag_type(annotation: Any) -> tuple[Any, list[str] | None]:
    """(argparse type, choices) for a settings field's annotation."""
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    if typing.get_origin(annotation) is typing.Literal:
        return str, list(typing.get_args(annotation))
    if args and typing.get_origin(annotation) is not None:  # X | None
        return _flag_type(args[0])
    return annotation, None


def flag(name: str) -> str:
    """A setting's flag: ``src_vocab_size`` -> ``--src-vocab-size``."""
    return "--" + name.replace("_", "-")


def add_settings(
    group: Any,
    model: type[BaseModel],
    dest_prefix: str,
    only: tuple[str, ...] | None = None,
    show_defaults: bool = True,
) -> None:
    """One flag per field of `model` (or per field in `only`), its help the field's description.

    Every flag defaults to None, so `given_settings` returns only what the user typed and the
    model (or a checkpoint) supplies the rest. A bool field that defaults to True gets a
    ``--no-NAME`` flag beside ``--NAME``.
    """
    for name, field in model.model_fields.items():
        if only is not None and name not in only:
            continue
        kind, choices = _flag_type(field.annotation)
        text = (field.description or "").replace("%", "%%")
        if show_defaults and field.default not in (None, False, ""):
            text += f" (default: {field.default})"
        dest = dest_prefix + name
        if kind is bool:
            action = argparse.BooleanOptionalAction if field.default is True else "store_true"
            group.add_argument(flag(name), dest=dest, action=action, default=None, help=text)
        else:
            group.add_argument(
                flag(name),
                dest=dest,
                type=kind,
                choices=choices,
                default=None,
                metavar=None if choices else name.upper(),
                help=text,
            )


def given_settings(args: argparse.Namespace, dest_prefix: str) -> dict[str, Any]:
    """The generated flags the user gave, as settings keys (absent ones left out)."""
    return {
        key[len(dest_prefix) :]: value
        for key, value in vars(args).items()
        if key.startswith(dest_prefix) and value is not None
    }


@contextmanager
def settings_as_flags(model: type[CommandSettings]) -> Iterator[None]:
    """Say the flag where a library error names a setting: ``prepare.max_len`` -> ``--max-len``."""
    section = model.section
    try:
        yield
    except Seq2SeqError as err:
        message = re.sub(
            rf"\b{section}\.([a-z_]+)",
            lambda m: flag(m[1]) if m[1] in model.model_fields else m[0],
            str(err),
        )
        if message == str(err):
            raise
        raise type(err)(message) from None


def add_decode_settings(
    parser: argparse.ArgumentParser, only: tuple[str, ...] | None = None
) -> None:
    """One flag per `DecodeConfig` field (or the fields in `only`), defaulting to None."""
    group = parser.add_argument_group("search (default: the checkpoint's decode section)")
    add_settings(group, DecodeConfig, _DEST_PREFIX, only, show_defaults=False)


def decode_overrides(args: argparse.Namespace) -> dict[str, Any]:
    """The decode flags the user gave, as DecodeConfig keys (absent ones left out)."""
    return given_settings(args, _DEST_PREFIX)
