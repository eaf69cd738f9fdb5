"""create_app: the ASGI application of `seq2seq serve`, built on FastAPI, for a model of any task.

Why FastAPI (on Starlette) under uvicorn: it is the most used and best maintained Python ASGI
stack; requests are parsed and answered on an asyncio event loop, which suits a server whose one
slow resource, the model, sits behind a queue (a thread per request would only add contention);
request and response models double as the OpenAPI schema behind ``/docs``; and uvicorn shuts
down gracefully on SIGTERM (it stops accepting, lets requests in flight finish, then runs the
application's shutdown), which is what a server behind a load balancer needs. The Swagger UI at
``/docs`` is served from the ``fastapi-offline`` package's copy, so it works without a network.

Endpoints (the task is the checkpoint's, seq2seq/tasks.py):
    POST /v1/generate   every task: beam size, n-best with scores, attention weights, timings
                        (a speech model answers 400, pointing to /v1/transcribe)
    POST /v1/transcribe speech only: recordings as multipart/form-data (field 'file', at most
                        --max-upload-bytes) -> transcripts, n-best with scores, timings
    GET  /v1/info       the task and its labels, languages, models, default settings (the page)
    POST /translate     translation only, LibreTranslate-compatible: {"q", "source", "target", ...}
    GET  /languages     translation only, LibreTranslate-compatible: the language pair served
    POST /v1/translate  translation only: /v1/generate under its first name
    GET  /health        200 while serving, 503 while shutting down
    GET  /metrics       Prometheus text format
    GET  /              the web page; GET /docs: the OpenAPI documentation

Errors are JSON ``{"error": "one sentence"}`` (LibreTranslate's shape) with status 400 (bad
input), 403 (API key), 404, 413 (too large), 503 (shutting down) or, for a fault of the server
itself, 500 without a traceback (that goes to the server's log). A model of another task (a
chatbot) answers LibreTranslate's endpoints and /v1/translate with 404 and a sentence pointing at
/v1/generate; a text model answers /v1/transcribe with 404 and a sentence saying it is for speech.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import MutableMapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi_offline import FastAPIOffline
from starlette.exceptions import HTTPException as StarletteHTTPException

from seq2seq import __version__
from seq2seq.config import DecodeConfig, ServeConfig
from seq2seq.decode.translator import Translation
from seq2seq.errors import Seq2SeqError, ServeError
from seq2seq.serve.batcher import Batcher, BatchResult, Servable
from seq2seq.serve.keys import ApiKeys
from seq2seq.serve.languages import language_name
from seq2seq.serve.metrics import Metrics
from seq2seq.serve.page import page_html
from seq2seq.serve.payload import decode_fields, parse, read_body
from seq2seq.serve.schemas import (
    Attention,
    DetectedLanguage,
    ErrorResponse,
    Health,
    Info,
    Language,
    LibreTranslateRequest,
    LibreTranslateResponse,
    ScoredTranslation,
    SentenceTranslation,
    Timings,
    TranscribeResponse,
    TranslateRequest,
    TranslateResponse,
)
from seq2seq.serve.speech import TEXT_IS_NOT_ITS_INPUT, SpeechTranslator
from seq2seq.serve.transcribe import transcribe_upload, upload_schema
from seq2seq.tasks import TASKS, Task

log = logging.getLogger(__name__)

TRANSLATION_ONLY = ("/translate", "/languages", "/v1/translate")
ENDPOINTS = {"/", *TRANSLATION_ONLY, "/v1/generate", "/v1/transcribe", "/v1/info", "/health",
             "/metrics"}  # fmt: skip
OPEN_WHILE_DRAINING = {"/health", "/metrics"}
LINE_BREAK = re.compile(r"\r?\n|\r")
ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorResponse, "description": text}
    for code, text in [
        (400, "bad input: the message says what"),
        (403, "missing or wrong API key"),
        (413, "the body or the list of texts is over the server's limit"),
        (503, "the server is shutting down"),
    ]
}


class Service:
    """What the endpoints share: the translator behind its batcher, limits, keys, metrics."""

    def __init__(
        self,
        translator: Servable,
        config: ServeConfig,
        settings: DecodeConfig,
        keys: ApiKeys | None = None,
        task: Task = TASKS["translation"],
    ) -> None:
        self.translator = translator
        self.config = config
        self.task = task
        self.settings = settings
        self.keys = keys
        self.draining = False
        self.metrics = Metrics(queue_depth=lambda: self.batcher.queued_sentences)
        self.batcher = Batcher(
            translator,
            config.max_batch_sentences,
            config.max_batch_tokens,
            config.max_wait_ms,
            on_batch=self.metrics.observe_batch,
        )

    def drain(self) -> None:
        """Refuse new requests (503) and search what is queued at once: SIGTERM was received."""
        self.draining = True
        self.batcher.drain()

    # --- checks ---------------------------------------------------------------------------------

    def check_key(self, key: str | None) -> None:
        if self.keys is not None:
            self.keys.check(key)

    def check_pair(self, source: str | None, target: str | None) -> None:
        """Source 'auto' or None means the model's; a pair the model does not serve is a 400
        (a model that records no pair takes any)."""
        src, tgt = self.config.source_lang, self.config.target_lang
        if not (src and tgt):
            return
        source_ok = source is None or source.lower() in ("auto", src.lower())
        target_ok = target is None or target.lower() == tgt.lower()
        if not (source_ok and target_ok):
            asked = f"{source or src} to {target or tgt}"
            raise ServeError(f"this server translates {src} to {tgt}, not {asked}")

    def check_count(self, sentences: int) -> None:
        limit = self.config.max_request_sentences
        if sentences > limit:
            raise ServeError(
                f"the request has {sentences} sentences, more than this server's limit of {limit}",
                413,
            )

    def request_settings(self, given: dict[str, Any]) -> DecodeConfig:
        """The server's decode settings with a request's search settings (`DecodeConfig` keys:
        beam_size, n_best, sampling, ...); n_best is 1 unless the request says otherwise."""
        if not given:
            return self.settings
        try:
            settings = self.translator.settings(self.settings, **{"n_best": 1, **given})
        except Seq2SeqError as err:
            raise ServeError(str(err)) from None
        width, limit = settings.beam_size, self.config.max_beam_size
        if width > limit:
            raise ServeError(f"beam size {width} is more than this server allows ({limit})")
        if settings.sampling and settings.n_best > limit:
            raise ServeError(
                f"{settings.n_best} samples per sentence are more than this server allows ({limit})"
            )
        return settings

    # --- results --------------------------------------------------------------------------------

    def check_attention(self, asked: bool) -> None:
        """Attention from a model without it is a 400, not a silently missing field."""
        if asked and not self.translator.has_attention:
            raise ServeError(
                "this server's model has no attention (model.context is not 'attention'); "
                "send the request without 'attention', or with 'attention': false"
            )

    def attention(self, line: str, translation: Translation) -> Attention | None:
        """The best output's attention in reading order (the model read a reversed source)."""
        alignment = self.translator.alignment(line, translation)
        if alignment is None:
            return None
        rows = [[round(w, 4) for w in row] for row in alignment.weights]
        return Attention(
            source_tokens=alignment.source_tokens,
            target_tokens=alignment.target_tokens,
            weights=rows,
        )


async def _fields(request: Request, service: Service) -> dict:
    body = await read_body(request, service.config.max_body_bytes)
    return decode_fields(body, request.headers.get("content-type"))


def _header_key(request: Request) -> str | None:
    key = request.headers.get("x-api-key")
    auth = request.headers.get("authorization", "")
    if key is None and auth.lower().startswith("bearer "):
        key = auth[7:].strip()
    return key


async def libre_translate(request: Request, service: Service) -> LibreTranslateResponse:
    req = parse(LibreTranslateRequest, await _fields(request, service))
    service.check_key(req.api_key or _header_key(request))
    if req.format != "text":
        raise ServeError(
            f"this server translates plain text only: send format 'text', not {req.format!r}"
        )
    service.check_pair(req.source, req.target)
    texts = [req.q] if isinstance(req.q, str) else req.q
    lines_of = [LINE_BREAK.split(text) for text in texts]
    service.check_count(sum(len(lines) for lines in lines_of))
    settings = service.request_settings(
        {"n_best": req.alternatives + 1} if req.alternatives else {}
    )
    result = await service.batcher.submit([ln for lines in lines_of for ln in lines], settings)

    translated, alternatives, warnings = [], [], []
    position = 0
    for lines in lines_of:
        outcomes = result.lines[position : position + len(lines)]
        position += len(lines)
        best = [o.hypotheses[0].text if o.hypotheses else "" for o in outcomes]
        translated.append("\n".join(best))
        alternatives.append(
            [
                "\n".join(
                    o.hypotheses[k].text if len(o.hypotheses) > k else b
                    for o, b in zip(outcomes, best, strict=True)
                )
                for k in range(1, req.alternatives + 1)
            ]
        )
        warnings += [o.warning for o in outcomes if o.warning]
    single = isinstance(req.q, str)
    response = LibreTranslateResponse(translatedText=translated[0] if single else translated)
    if req.alternatives:
        response.alternatives = alternatives[0] if single else alternatives
    if req.source.lower() == "auto":  # one source language: 'auto' is that one, not a guess
        detected = DetectedLanguage(language=service.config.source_lang, confidence=100.0)
        response.detectedLanguage = detected if single else [detected] * len(texts)
    if warnings:
        response.warnings = warnings
    return response


async def native_translate(request: Request, service: Service) -> TranslateResponse:
    start = time.perf_counter()
    req = parse(TranslateRequest, await _fields(request, service))
    service.check_key(req.api_key or _header_key(request))
    service.check_pair(req.source, req.target)
    sentences = [req.q] if isinstance(req.q, str) else req.q
    for i, sentence in enumerate(sentences):
        if LINE_BREAK.search(sentence):
            raise ServeError(
                f"sentence {i + 1} holds a line break; send one sentence per item of 'q'"
            )
    service.check_count(len(sentences))
    service.check_attention(req.attention)
    settings = service.request_settings(req.search_settings())
    result: BatchResult = await service.batcher.submit(sentences, settings, req.attention)
    translations = []
    for sentence, outcome in zip(sentences, result.lines, strict=True):
        hyps = outcome.hypotheses
        translations.append(
            SentenceTranslation(
                text=hyps[0].text if hyps else "",
                hypotheses=[ScoredTranslation.of(h) for h in hyps],
                attention=service.attention(sentence, hyps[0]) if hyps and req.attention else None,
                warning=outcome.warning,
            )
        )
    timings = Timings.of(result, start)
    return TranslateResponse(
        source=service.config.source_lang,
        target=service.config.target_lang,
        translations=translations,
        settings=settings.model_dump(),
        timings=timings,
    )


def _json(model: Any, status: int = 200) -> Response:
    return Response(model.model_dump_json(exclude_none=True), status, media_type="application/json")


def _body_schema(model: Any, form: bool) -> dict:
    schema = {"schema": model.model_json_schema()}
    content = {"application/json": schema}
    if form:
        content["application/x-www-form-urlencoded"] = schema
    return {"requestBody": {"required": True, "content": content}}


class ObserveMiddleware:
    """Counts and times every request; answers 503 to new work while the server drains."""

    def __init__(self, app: Any, service: Service) -> None:
        self.app = app
        self.service = service

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        endpoint = path if path in ENDPOINTS else "other"
        start = time.perf_counter()
        status = 500

        async def send_observed(message: MutableMapping[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            if self.service.draining and path not in OPEN_WHILE_DRAINING:
                refusal = JSONResponse(
                    {"error": "the server is shutting down; send the request again later"},
                    503,
                    headers={"Connection": "close"},
                )
                await refusal(scope, receive, send_observed)
            else:
                await self.app(scope, receive, send_observed)
        finally:
            self.service.metrics.observe_request(endpoint, status, time.perf_counter() - start)


def create_app(
    translator: Servable,
    config: ServeConfig,
    settings: DecodeConfig | None = None,
    keys: ApiKeys | None = None,
    warm_up: bool = True,
    task: Task = TASKS["translation"],
) -> FastAPI:
    """The application serving `translator` (loaded by `Translator.load`) for `task` (the
    checkpoint's, `seq2seq.checkpoint.read_task`).

    `settings` are the default decode settings (the checkpoint's, else); with `warm_up` one search
    runs now, so that settings the checkpoint cannot serve fail here rather than per request.
    """
    service = Service(translator, config, settings or translator.settings(), keys, task)
    if warm_up:
        service.batcher.warm_up(service.settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        await service.batcher.start()
        log.info("serving a %s model (%s) with %s", task.name, task.labels, translator.names)
        try:
            yield
        finally:
            await service.batcher.close()

    app = FastAPIOffline(
        title=f"seq2seq {task.name} server ({task.labels})",
        version=__version__,
        description=(
            "Sequence-to-sequence with dynamic batching. `POST /v1/generate` answers with beam "
            "size, n-best lists with scores, attention weights and timings"
            + (
                "; `POST /translate` and `GET /languages` speak LibreTranslate's API."
                if task.libretranslate
                else f". This model is a {task.name}: LibreTranslate's API is for translation."
            )
            + (
                " A speech model takes recordings at `POST /v1/transcribe` (multipart/form-data, "
                "field `file`) instead of text."
                if isinstance(translator, SpeechTranslator)
                else ""
            )
        ),
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.service = service
    app.add_middleware(
        CORSMiddleware, allow_origins=["*"], allow_methods=["GET", "POST"], allow_headers=["*"]
    )
    app.add_middleware(ObserveMiddleware, service=service)
    _add_error_handlers(app, task)
    if task.libretranslate:
        _add_translation_routes(app, service)
    if isinstance(translator, SpeechTranslator):
        _add_speech_routes(app, service)
    _add_routes(app, service)
    return app


def _audio_limits(service: Service) -> dict[str, Any]:
    """A speech model's upload limits for /v1/info (the page says them); none for text."""
    if not isinstance(service.translator, SpeechTranslator):
        return {}
    audio = service.translator.audio
    return {"max_upload_bytes": service.config.max_upload_bytes, "max_seconds": audio.max_seconds}


def _error(message: str, status: int) -> JSONResponse:
    return JSONResponse({"error": message}, status)


def not_here(path: str, task: Task) -> str:
    """The 404 sentence for `path`: for a translation-only endpoint on a model of another task,
    where to go instead."""
    if path in TRANSLATION_ONLY and not task.libretranslate:
        return (
            f"this server's model is a {task.name} ({task.labels}), not a translator: "
            f"{path} is for translation models; send POST /v1/generate (see /docs)"
        )
    if path == "/v1/transcribe" and task.name != "speech":
        return (
            f"this server's model is a {task.name} ({task.labels}), not a speech model: "
            f"/v1/transcribe is for speech models; send text to POST /v1/generate (see /docs)"
        )
    return f"there is no {path} here; the API is described at /docs"


def _add_error_handlers(app: FastAPI, task: Task) -> None:
    @app.exception_handler(ServeError)
    async def serve_error(request: Request, err: ServeError) -> JSONResponse:
        return _error(str(err), err.status)

    @app.exception_handler(Seq2SeqError)
    async def toolkit_error(request: Request, err: Seq2SeqError) -> JSONResponse:
        return _error(str(err), 400)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, err: StarletteHTTPException) -> JSONResponse:
        if err.status_code == 404:
            message = not_here(request.url.path, task)
        elif err.status_code == 405:
            message = f"{request.url.path} does not answer {request.method} requests"
        else:
            message = str(err.detail)
        return _error(message, err.status_code)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, err: RequestValidationError) -> JSONResponse:
        first = err.errors()[0] if err.errors() else {"msg": "invalid request"}
        return _error(f"invalid request: {first['msg']}", 400)

    @app.exception_handler(Exception)
    async def server_fault(request: Request, err: Exception) -> JSONResponse:
        log.exception("request to %s failed", request.url.path)
        return _error("the server failed on this request; its log says why", 500)


def _add_translation_routes(app: FastAPI, service: Service) -> None:
    """LibreTranslate's endpoints and /v1/translate: for translation models only."""
    config = service.config

    @app.post(
        "/translate",
        response_model=LibreTranslateResponse,
        responses=ERRORS,
        openapi_extra=_body_schema(LibreTranslateRequest, form=True),
        summary="Translate text (LibreTranslate's API)",
        tags=["LibreTranslate"],
    )
    async def translate(request: Request) -> Response:
        return _json(await libre_translate(request, service))

    @app.get(
        "/languages",
        response_model=list[Language],
        summary="The language pair served (LibreTranslate's API)",
        tags=["LibreTranslate"],
    )
    async def languages() -> list[Language]:
        src, tgt = config.source_lang, config.target_lang
        return [
            Language(code=src, name=language_name(src), targets=[tgt]),
            Language(code=tgt, name=language_name(tgt), targets=[]),
        ]

    @app.post(
        "/v1/translate",
        response_model=TranslateResponse,
        responses=ERRORS,
        openapi_extra=_body_schema(TranslateRequest, form=False),
        summary="Translate sentences: n-best lists, scores, attention, timings",
        tags=["native"],
    )
    async def translate_v1(request: Request) -> Response:
        return _json(await native_translate(request, service))


def _add_speech_routes(app: FastAPI, service: Service) -> None:
    """/v1/transcribe: for speech models only (serve/transcribe.py)."""

    @app.post(
        "/v1/transcribe",
        response_model=TranscribeResponse,
        responses=ERRORS,
        openapi_extra=upload_schema(),
        summary="Transcribe uploaded recordings: n-best lists, scores, timings",
        tags=["native"],
    )
    async def transcribe(request: Request) -> Response:
        return _json(await transcribe_upload(request, service, _header_key(request)))


def _add_routes(app: FastAPI, service: Service) -> None:
    """The endpoints of every task: /v1/generate, /v1/info, operations and the page."""
    config, task = service.config, service.task

    @app.post(
        "/v1/generate",
        response_model=TranslateResponse,
        responses=ERRORS,
        openapi_extra=_body_schema(TranslateRequest, form=False),
        summary=f"{task.verb.capitalize()} sentences: n-best lists, scores, attention, timings",
        tags=["native"],
    )
    async def generate(request: Request) -> Response:
        if isinstance(service.translator, SpeechTranslator):
            raise ServeError(TEXT_IS_NOT_ITS_INPUT)
        return _json(await native_translate(request, service))

    @app.get(
        "/v1/info",
        response_model=Info,
        summary="Task, languages, models, defaults",
        tags=["native"],
    )
    async def info() -> Info:
        return Info(
            task=task.name,
            source_label=task.source_label,
            target_label=task.target_label,
            verb=task.verb,
            source=config.source_lang,
            target=config.target_lang,
            source_name=language_name(config.source_lang),
            target_name=language_name(config.target_lang),
            models=[Path(name).name for name in service.translator.names],
            attention=bool(service.translator.has_attention),
            settings=service.settings.model_dump(),
            max_beam_size=config.max_beam_size,
            max_request_sentences=config.max_request_sentences,
            api_key_required=service.keys is not None,
            **_audio_limits(service),
        )

    @app.get("/health", response_model=Health, summary="Liveness", tags=["operations"])
    async def health() -> Response:
        status = "shutting down" if service.draining else "ok"
        body = Health(status=status, queue_depth=service.batcher.queued_sentences)
        return _json(body, 503 if service.draining else 200)

    @app.get("/metrics", summary="Prometheus metrics", tags=["operations"])
    async def metrics() -> Response:
        body, content_type = service.metrics.render()
        return Response(body, media_type=content_type)

    @app.get("/", include_in_schema=False)
    async def page() -> HTMLResponse:
        return HTMLResponse(page_html(task))
