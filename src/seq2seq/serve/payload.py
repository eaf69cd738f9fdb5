"""Reading a request body and checking it, so that bad input costs one sentence, never a crash.

The body is read with a byte limit (413 past it), decoded as UTF-8 (400 otherwise), parsed as a
JSON object or as form fields (LibreTranslate's clients send ``application/x-www-form-urlencoded``)
and validated against a pydantic model; every failure is a `ServeError` whose message names the
field and what was expected. An upload (``multipart/form-data``, a speech model's recordings) is
read with the same limit machinery and parsed by python-multipart (`decode_upload`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TypeVar
from urllib.parse import parse_qsl

from pydantic import BaseModel, ValidationError
from starlette.requests import ClientDisconnect, Request

from seq2seq.errors import ServeError

Model = TypeVar("Model", bound=BaseModel)
DISCARD_FACTOR = 8  # an over-long body is read (and dropped) up to 8x the limit, then cut off
FORM = "application/x-www-form-urlencoded"
MULTIPART = "multipart/form-data"


async def read_body(
    request: Request, limit: int, what: str = "the request body", setting: str = "max_body_bytes"
) -> bytes:
    """The body, or ServeError(413) when it has more than `limit` bytes; the sentence calls it
    `what` and names the server's `setting` (its flag: ``--max-body-bytes``).

    An over-long body is still read to its end (up to a bound), so that the client, which may
    still be sending, reads the 413 answer instead of a reset connection.
    """
    flag = "--" + setting.replace("_", "-")
    declared = request.headers.get("content-length")
    if declared is not None and not declared.strip().isdigit():
        raise ServeError(f"the Content-Length header is not a number: {declared[:40]!r}")
    if declared is not None and int(declared) > DISCARD_FACTOR * limit:
        raise ServeError(
            f"{what} has {int(declared):,} bytes, over this server's limit of {limit:,} ({flag})",
            413,
        )
    chunks, size = [], 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size <= limit:
                chunks.append(chunk)
            elif size > DISCARD_FACTOR * limit:
                break
    except ClientDisconnect:
        raise ServeError("the client closed the connection before sending the whole body") from None
    if size > limit:
        raise ServeError(f"{what} has more than {limit:,} bytes, this server's limit ({flag})", 413)
    return b"".join(chunks)


def decode_fields(body: bytes, content_type: str | None) -> dict:
    """A JSON object or url-encoded form fields -> dict (a repeated form field -> list)."""
    kind = (content_type or "").split(";", 1)[0].strip().lower()
    if not body.strip():
        raise ServeError("the request body is empty; send a JSON object with the field 'q'")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as err:
        raise ServeError(f"the request body is not valid UTF-8 (byte {err.start})") from None
    if kind == FORM:
        return _form_fields(text)
    if kind.startswith("multipart/"):
        raise ServeError(f"send the request as JSON or as {FORM}, not {kind}")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        raise ServeError(
            f"the request body is not valid JSON: {err.msg.lower()} at line {err.lineno} "
            f"column {err.colno}"
        ) from None
    except RecursionError:
        raise ServeError("the request body's JSON nests deeper than this server reads") from None
    except ValueError:  # an integer of more digits than Python converts
        raise ServeError("the request body's JSON holds a number too long to read") from None
    if not isinstance(data, dict):
        raise ServeError(f"the request body must be a JSON object, not {_json_kind(data)}")
    return data


@dataclass
class UploadedFile:
    """One file part of a multipart body: its field, the name the client gave, its bytes."""

    field_name: str
    name: str
    data: bytes


@dataclass
class Upload:
    """A multipart body: its text fields (a repeated one -> list) and its files, in order."""

    fields: dict = field(default_factory=dict)
    files: list[UploadedFile] = field(default_factory=list)


def decode_upload(body: bytes, content_type: str | None, expected: str) -> Upload:
    """A ``multipart/form-data`` body -> its text fields and files (python-multipart parses).

    `expected` says in the error sentences what the client should send (a curl example).
    """
    from python_multipart import FormParser
    from python_multipart.exceptions import FormParserError
    from python_multipart.multipart import Field, File, parse_options_header

    kind, options = parse_options_header(content_type or "")
    sent = kind.decode("latin-1").lower()
    if sent != MULTIPART:
        told = f"not {sent}" if sent else "the request has no Content-Type header"
        raise ServeError(f"send {expected} as {MULTIPART} ({told})")
    if b"boundary" not in options:
        raise ServeError(f"the {MULTIPART} request's Content-Type header names no boundary")
    if not body:
        raise ServeError(f"the request body is empty; send {expected}")
    upload = Upload()
    texts: list[tuple[str, bytes]] = []

    def on_field(part: Field) -> None:
        texts.append((_part_name(part.field_name), part.value or b""))

    def on_file(part: File) -> None:
        part.file_object.seek(0)
        data = part.file_object.read()
        upload.files.append(UploadedFile(_part_name(part.field_name), _file_name(part), data))

    config = {"MAX_MEMORY_FILE_SIZE": len(body) + 1}  # the body is in memory already: keep it so
    try:
        parser = FormParser(MULTIPART, on_field, on_file, boundary=options[b"boundary"],
                            config=config)  # fmt: skip
        parser.write(body)
        parser.finalize()
    except (FormParserError, ValueError) as err:
        reason = str(err).splitlines()[0][:80] if str(err) else type(err).__name__
        raise ServeError(f"the request body is not valid {MULTIPART} ({reason})") from None
    for name, value in texts:
        try:
            text = value.decode("utf-8")
        except UnicodeDecodeError:
            raise ServeError(f"the form field '{name}' is not valid UTF-8") from None
        _add_field(upload.fields, name, text)
    return upload


def _part_name(raw: bytes | None) -> str:
    return printable((raw or b"").decode("utf-8", "replace"))


def _file_name(part: object) -> str:
    """The client's name of an uploaded file, its last path component, printable, at most 60
    characters (it goes into error sentences)."""
    raw = getattr(part, "file_name", None) or b""
    name = raw.decode("utf-8", "replace").replace("\\", "/").rsplit("/", 1)[-1]
    return printable(name) or "(unnamed)"


def printable(text: str, limit: int = 60) -> str:
    """`text` without control characters, cut to `limit` characters (for one-line messages)."""
    text = "".join(c if c.isprintable() else "?" for c in text)
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


def _add_field(fields: dict, key: str, value: str) -> None:
    if key in fields:
        previous = fields[key]
        fields[key] = [*previous, value] if isinstance(previous, list) else [previous, value]
    else:
        fields[key] = value


def _form_fields(text: str) -> dict:
    try:
        pairs = parse_qsl(text, keep_blank_values=True, encoding="utf-8", errors="strict")
    except UnicodeDecodeError:
        raise ServeError("a form field of the request is not valid UTF-8") from None
    except ValueError:
        raise ServeError("the request body is not valid form data") from None
    fields: dict = {}
    for key, value in pairs:
        _add_field(fields, key, value)
    return fields


def parse(model: type[Model], fields: dict) -> Model:
    """Validate `fields` against `model`; the first problem becomes one sentence."""
    try:
        request = model.model_validate(fields)
    except ValidationError as err:
        first = err.errors()[0]
        name = str(first["loc"][0]) if first["loc"] else ""
        if first["type"] == "missing":
            raise ServeError(f"the request has no field '{name}'") from None
        if name == "q":
            raise ServeError("'q' must be a string or a list of strings") from None
        message = first["msg"].removeprefix("Value error, ")
        raise ServeError(f"field '{name}': {message[0].lower()}{message[1:]}") from None
    for name, value in request:
        _check_unicode(name, value)
    return request


def _check_unicode(name: str, value: object) -> None:
    """JSON can carry lone surrogates (\\ud800) that are no text: refuse them here."""
    values = value if isinstance(value, list) else [value]
    for item in values:
        if isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                raise ServeError(
                    f"field '{name}' holds a lone surrogate, which is not text"
                ) from None


def _json_kind(value: object) -> str:
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return "a string"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    return "a number"
