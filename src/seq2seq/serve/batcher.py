"""Dynamic batching: one model worker; concurrent requests are queued and searched together.

A search over 32 sentences costs far less than 32 searches over one (the matrix products fill
the cores, and Python's per-step work is paid once), so the server coalesces: requests append a
`Job` to a queue on the event loop and wait for its future. The worker coroutine takes the
oldest job and lets others join it for at most ``max_wait_ms`` (counted from that job's arrival,
or from the end of the previous search if that is later: clients just answered are given a
moment to send their next request), or until the batch reaches ``max_batch_sentences`` or
``max_batch_tokens``; then it groups the jobs by decode settings (a beam of 5 and a beam of 1
cannot share a search) and runs each group through `Translator.translate_sources` on its
single model thread. That call sorts the sentences by
length and cuts them into ``batch_size`` batches exactly as `seq2seq translate` does, so a
sentence gets the translation the command gives it. Only that thread touches the model: searches
never overlap, and the event loop stays free to accept requests and answer /health and /metrics
while one runs.

Each request is screened once, as it arrives, by `Translator.screen` (the check `translate`
makes, and the only tokenisation of its lines): empty lines and lines longer than the
translator's ``max_src_len`` never reach the model; they get an empty translation at once, the
long ones with the warning `translate` prints. Settings a line cannot be searched with (a
``min_len`` above its length cap) are refused then too, before the request joins a batch.
Attention rows are collected for a search only when one of its requests asks for them.

A speech model's requests are recordings (`submit_utterances`): their frames, read and checked
before they join the queue, are batched the same way (a frame counts as a source token) and
searched by `SpeechTranslator.translate_sources`, the call under `seq2seq transcribe`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from seq2seq.config import DecodeConfig
from seq2seq.decode.translator import SourceLine, Translation, Translator
from seq2seq.errors import Seq2SeqError, ServeError
from seq2seq.serve.exported import ExportedTranslator
from seq2seq.serve.speech import SpeechTranslator, Utterance

log = logging.getLogger(__name__)


@dataclass
class LineResult:
    """One input line's outcome: its n-best translations, best first ([] when skipped)."""

    hypotheses: list[Translation] = field(default_factory=list)
    warning: str | None = None


@dataclass
class BatchResult:
    """A request's lines, in order, and how the request was served."""

    lines: list[LineResult]
    queue_seconds: float = 0.0  # from arrival to the start of its search
    search_seconds: float = 0.0  # the search it joined, from start to end
    batch_sentences: int = 0  # sentences in that search (0: nothing needed the model)
    batch_requests: int = 0  # requests in that search


# What the server searches with: a checkpoint's, an export's, or a speech checkpoint's
Servable = Translator | ExportedTranslator | SpeechTranslator


@dataclass
class Job:
    lines: list[Any]  # each to be read by the model: a screened SourceLine, or an Utterance
    settings: DecodeConfig
    key: tuple
    tokens: int
    future: asyncio.Future
    attention: bool = False  # the request wants attention rows
    arrived: float = field(default_factory=time.monotonic)


def settings_key(settings: DecodeConfig) -> tuple:
    """Jobs with equal keys can share one search."""
    return tuple(sorted(settings.model_dump().items()))


# on_batch(sentences, requests, search seconds): called after every search, for metrics.
BatchObserver = Callable[[int, int, float], None]


class Batcher:
    """Owns the translator; `submit` from the event loop, `start` / `close` around serving."""

    def __init__(
        self,
        translator: Servable,
        max_batch_sentences: int = 64,
        max_batch_tokens: int = 6000,
        max_wait_ms: float = 5.0,
        on_batch: BatchObserver | None = None,
    ) -> None:
        self.translator = translator
        self.max_batch_sentences = max_batch_sentences
        self.max_batch_tokens = max_batch_tokens
        self.max_wait = max_wait_ms / 1000.0
        self.on_batch = on_batch
        self._queue: deque[Job] = deque()
        self._queued_sentences = 0
        self._queued_tokens = 0
        self._arrived = asyncio.Event()  # remade by `start`, on the loop that serves
        self._worker: asyncio.Task | None = None
        self._executor: ThreadPoolExecutor | None = None
        self._draining = False  # stop waiting for company: shutting down
        self._stopping = False  # the worker ends once the queue is empty
        self._closed = False  # submit refuses
        self._free_since = 0.0  # when the last search ended

    # --- life cycle -----------------------------------------------------------------------------

    def warm_up(self, settings: DecodeConfig) -> None:
        """One search before serving, on the calling thread: it fails here, with one sentence,
        on settings the checkpoint cannot serve (a shortlist it lacks), and it makes the
        bfloat16 copy of the weights so that the first request does not wait for it. (Its
        one-token line is no request: a `min_len` is checked against each request's lines.)"""
        if isinstance(self.translator, SpeechTranslator):
            self.translator.warm_up(settings)
            return
        self.translator.translate_hypotheses(["a"], settings.model_copy(update={"min_len": 0}))

    async def start(self) -> None:
        self._arrived = asyncio.Event()
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="seq2seq-model")
        self._worker = asyncio.create_task(self._run(), name="seq2seq-batcher")

    def drain(self) -> None:
        """Search what is queued without waiting for more (the server is shutting down)."""
        self._draining = True
        self._arrived.set()

    async def close(self) -> None:
        """Answer every queued job, then stop the worker and its thread."""
        self.drain()
        self._stopping = True
        self._arrived.set()
        if self._worker is not None:
            await self._worker
        self._closed = True
        if self._executor is not None:
            self._executor.shutdown(wait=True)

    @property
    def queued_sentences(self) -> int:
        return self._queued_sentences

    # --- requests -------------------------------------------------------------------------------

    async def submit(
        self, lines: Sequence[str], settings: DecodeConfig, attention: bool = False
    ) -> BatchResult:
        """Translate `lines` with `settings` in some coalesced search; results in input order.

        With `attention`, each translation keeps its attention rows (`Translation.attention`).
        """
        self._check_open()
        results = [LineResult() for _ in lines]
        todo = self._screen(lines, results, settings)
        if not todo:
            return BatchResult(results)
        tokens = sum(len(source.ids) for source in todo)
        hypotheses, timing = await self._enqueue(todo, settings, tokens, attention)
        for source, hyps in zip(todo, hypotheses, strict=True):
            results[source.number - 1].hypotheses = hyps
        return BatchResult(results, *timing)

    async def submit_utterances(
        self, utterances: Sequence[Utterance], settings: DecodeConfig
    ) -> BatchResult:
        """Transcribe recordings already read (`SpeechTranslator.utterance`); results in order.
        Settings they cannot take (a `min_len` above a length cap) are a 400."""
        self._check_open()
        if not isinstance(self.translator, SpeechTranslator):
            raise ServeError("this server's model reads text, not recordings", 404)
        if not utterances:
            return BatchResult([])
        try:
            self.translator.check_min_len(utterances, settings)
        except Seq2SeqError as err:
            raise ServeError(str(err)) from None
        frames = sum(len(u.frames) for u in utterances)
        hypotheses, timing = await self._enqueue(list(utterances), settings, frames)
        return BatchResult([LineResult(hyps) for hyps in hypotheses], *timing)

    def _check_open(self) -> None:
        if self._closed or self._stopping or self._worker is None:
            raise ServeError("the server is shutting down; send the request again later", 503)

    async def _enqueue(
        self, todo: list[Any], settings: DecodeConfig, tokens: int, attention: bool = False
    ) -> tuple[list[list[Translation]], tuple]:
        """Queue `todo` as one job and wait for its search: (its hypotheses, its timing)."""
        future = asyncio.get_running_loop().create_future()
        job = Job(todo, settings, settings_key(settings), tokens, future, attention)
        self._queue.append(job)
        self._queued_sentences += len(job.lines)
        self._queued_tokens += job.tokens
        self._arrived.set()
        return await future

    def _screen(
        self, lines: Sequence[str], results: list[LineResult], settings: DecodeConfig
    ) -> list[SourceLine]:
        """The lines the model must read (`Translator.screen`); the others get their (empty)
        result here, an over-long one with the warning `translate` gives (an empty line none:
        a blank line in a text is no mistake). Settings the lines cannot take are a 400."""
        sources = self.translator.screen(lines)
        for source in sources:
            if source.skipped is not None and source.ids:
                results[source.number - 1].warning = source.skipped
                log.warning("request: %s", source.skipped)
        todo = [source for source in sources if source.skipped is None]
        try:
            self.translator.check_min_len(todo, settings)
        except Seq2SeqError as err:
            raise ServeError(str(err)) from None
        return todo

    # --- the worker -----------------------------------------------------------------------------

    async def _run(self) -> None:
        while True:
            while not self._queue:
                if self._stopping:
                    return
                self._arrived.clear()
                await self._arrived.wait()
            await self._wait_for_company()
            jobs = self._take()
            for group in _group(jobs):
                await self._search(group)
            self._free_since = time.monotonic()

    def _full(self) -> bool:
        return (
            self._queued_sentences >= self.max_batch_sentences
            or self._queued_tokens >= self.max_batch_tokens
        )

    async def _wait_for_company(self) -> None:
        """Let requests join the oldest one for max_wait (from its arrival, or from the end of
        the last search if later), or until the batch is full."""
        deadline = max(self._queue[0].arrived, self._free_since) + self.max_wait
        while not self._full() and not self._draining:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            self._arrived.clear()
            try:
                await asyncio.wait_for(self._arrived.wait(), remaining)
            except asyncio.TimeoutError:  # the builtin TimeoutError from Python 3.11
                return

    def _take(self) -> list[Job]:
        """The oldest jobs that fit the limits (the first one always); cancelled ones dropped."""
        jobs: list[Job] = []
        sentences = tokens = 0
        while self._queue:
            job = self._queue[0]
            fits = (
                sentences + len(job.lines) <= self.max_batch_sentences
                and tokens + job.tokens <= self.max_batch_tokens
            )
            if jobs and not fits:
                break
            self._queue.popleft()
            self._queued_sentences -= len(job.lines)
            self._queued_tokens -= job.tokens
            if job.future.cancelled():  # its client went away
                continue
            jobs.append(job)
            sentences += len(job.lines)
            tokens += job.tokens
        return jobs

    async def _search(self, jobs: list[Job]) -> None:
        lines = [line for job in jobs for line in job.lines]
        settings = jobs[0].settings
        attention = any(job.attention for job in jobs)
        start = time.monotonic()
        loop = asyncio.get_running_loop()
        try:
            results = await loop.run_in_executor(
                self._executor,
                partial(self.translator.translate_sources, lines, settings, attention=attention),
            )
        except Exception as err:  # noqa: BLE001 - every waiting request must get an answer
            log.exception("search over %d sentences failed", len(lines))
            for job in jobs:
                if not job.future.done():
                    job.future.set_exception(err)
            return
        seconds = time.monotonic() - start
        if self.on_batch is not None:
            self.on_batch(len(lines), len(jobs), seconds)
        offset = 0
        for job in jobs:
            part = results[offset : offset + len(job.lines)]
            offset += len(job.lines)
            if not job.future.done():
                timing = (start - job.arrived, seconds, len(lines), len(jobs))
                job.future.set_result((part, timing))


def _group(jobs: list[Job]) -> list[list[Job]]:
    """Jobs grouped by decode settings, groups in order of their first job."""
    groups: dict[tuple, list[Job]] = {}
    for job in jobs:
        groups.setdefault(job.key, []).append(job)
    return list(groups.values())
