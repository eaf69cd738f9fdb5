"""``POST /v1/transcribe``: a speech model's recordings, uploaded as multipart/form-data, in
transcripts out (n-best with scores, timings), through the server's batcher.

    curl -s localhost:8080/v1/transcribe -F file=@speech.wav -F beam_size=5 -F n_best=3
    curl -s localhost:8080/v1/transcribe -F file=@speech.wav -F beam_size=5 -F ctc_weight=0.5

The body is read under ``--max-upload-bytes`` (413 past it) by the machinery that reads every
body (payload.py), parsed by python-multipart, and each part named ``file`` is read and turned
into frames as `seq2seq transcribe` reads a file (serve/speech.py); a bad recording is a 400 whose
one sentence names it. Only then does the request join the queue.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any, Protocol

from starlette.requests import Request

from seq2seq.config import DecodeConfig, ServeConfig
from seq2seq.errors import ServeError
from seq2seq.serve.batcher import Batcher
from seq2seq.serve.payload import UploadedFile, decode_upload, parse, read_body
from seq2seq.serve.schemas import (
    ScoredTranslation,
    Timings,
    TranscribeRequest,
    TranscribeResponse,
    Transcript,
)
from seq2seq.serve.speech import HOW_TO_UPLOAD, SpeechTranslator, Utterance

FILE_FIELD = "file"


class Serving(Protocol):
    """What the endpoint uses of the application's `Service` (serve/app.py imports this module,
    so it is named by what it offers)."""

    config: ServeConfig
    batcher: Batcher

    def check_key(self, key: str | None) -> None: ...

    def request_settings(self, given: dict[str, Any]) -> DecodeConfig: ...


async def transcribe_upload(
    request: Request, service: Serving, header_key: str | None
) -> TranscribeResponse:
    """Answer one upload: its recordings' transcripts in the order sent; `header_key` is the API
    key of the request's headers (a form field ``api_key`` may give it instead)."""
    start = time.perf_counter()
    speech = service.batcher.translator
    if not isinstance(speech, SpeechTranslator):
        raise ServeError("this server's model reads text, not recordings", 404)
    body = await read_body(
        request, service.config.max_upload_bytes, "the upload", "max_upload_bytes"
    )
    upload = decode_upload(body, request.headers.get("content-type"), HOW_TO_UPLOAD)
    fields = parse(TranscribeRequest, upload.fields)
    service.check_key(fields.api_key or header_key)
    files = recordings(upload.files, FILE_FIELD in upload.fields, service.config)
    settings = service.request_settings(fields.search_settings())
    read_start = time.perf_counter()
    utterances = await asyncio.to_thread(_read, speech, files)
    audio_seconds = time.perf_counter() - read_start
    result = await service.batcher.submit_utterances(utterances, settings)
    transcripts = []
    for utterance, outcome in zip(utterances, result.lines, strict=True):
        hyps = outcome.hypotheses
        transcripts.append(
            Transcript(
                file=utterance.name,
                seconds=utterance.seconds,
                text=hyps[0].text if hyps else "",
                hypotheses=[ScoredTranslation.of(h) for h in hyps],
            )
        )
    timings = Timings.of(result, start, audio_seconds)
    return TranscribeResponse(
        transcripts=transcripts, settings=settings.model_dump(), timings=timings
    )


def recordings(
    files: list[UploadedFile], text_file: bool, config: ServeConfig
) -> list[UploadedFile]:
    """The uploaded files of the field 'file', checked: at least one, at most the server's
    ``--max-request-sentences``. `text_file`: the field came as text (curl -F file=x.wav, no @)."""
    found = [f for f in files if f.field_name == FILE_FIELD]
    if not found and text_file:
        raise ServeError(
            f"the form field '{FILE_FIELD}' holds text, not a file; send {HOW_TO_UPLOAD}"
        )
    if not found:
        raise ServeError(f"the request has no field '{FILE_FIELD}'; send {HOW_TO_UPLOAD}")
    limit = config.max_request_sentences
    if len(found) > limit:
        raise ServeError(
            f"the request has {len(found)} recordings, more than this server's limit of {limit} "
            "(--max-request-sentences)",
            413,
        )
    return found


def _read(speech: SpeechTranslator, files: list[UploadedFile]) -> list[Utterance]:
    """Every file's frames, in order; the first bad one stops the request (before any search)."""
    return [speech.utterance(number, upload) for number, upload in enumerate(files, 1)]


def upload_schema() -> dict:
    """The OpenAPI request body of /v1/transcribe: the recordings and the search fields."""
    schema = TranscribeRequest.model_json_schema()
    schema["properties"] = {
        FILE_FIELD: {
            "type": "array",
            "items": {"type": "string", "format": "binary"},
            "description": "recordings (WAV, FLAC or OGG), one part each, transcribed in order",
        },
        **schema.get("properties", {}),
    }
    schema["required"] = [FILE_FIELD]
    content = {"multipart/form-data": {"schema": schema}}
    return {"requestBody": {"required": True, "content": content}}
