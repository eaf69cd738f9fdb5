"""Request and response models of the HTTP API; FastAPI turns them into the OpenAPI docs.

Two dialects:
- LibreTranslate's (``POST /translate``, ``GET /languages``): field names and shapes as that
  project's API has them (``translatedText`` and all), so its clients work unchanged;
- the native one (``POST /v1/generate``, ``/v1/translate``): beam size or sampling (temperature,
  top-k, top-p, seed), n-best lists with scores, attention weights and timings; for a speech model
  ``POST /v1/transcribe``, the same settings as form fields beside the uploaded recordings.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

from seq2seq.decode.translator import Translation

if TYPE_CHECKING:
    from seq2seq.serve.batcher import BatchResult

# --- LibreTranslate ---------------------------------------------------------------------------


class LibreTranslateRequest(BaseModel):
    """JSON, or form fields (application/x-www-form-urlencoded) with the same names."""

    model_config = ConfigDict(extra="ignore")

    q: str | list[str] = Field(
        description="text, or a list of texts; each line of a text is translated on its own"
    )
    source: str = Field("auto", description="source language code; 'auto' means the model's")
    target: str | None = Field(None, description="target language code (default: the model's)")
    format: str = Field("text", description="only 'text' is supported")
    api_key: str | None = Field(None, description="needed when the server has API keys")
    alternatives: int = Field(0, ge=0, description="how many alternative translations to add")


class DetectedLanguage(BaseModel):
    language: str
    confidence: float


class LibreTranslateResponse(BaseModel):
    translatedText: str | list[str]  # noqa: N815 - LibreTranslate's name
    alternatives: list[str] | list[list[str]] | None = None
    detectedLanguage: DetectedLanguage | list[DetectedLanguage] | None = None  # noqa: N815
    warnings: list[str] | None = Field(
        default=None, description="e.g. a sentence too long to translate (its translation is empty)"
    )


class Language(BaseModel):
    code: str
    name: str
    targets: list[str]


class ErrorResponse(BaseModel):
    error: str = Field(description="what was wrong, in one sentence")


# --- native -----------------------------------------------------------------------------------


class SearchRequest(BaseModel):
    """The search settings and API key every native request may give (JSON or form fields)."""

    model_config = ConfigDict(extra="ignore")

    beam_size: int | None = Field(None, ge=1, description="beam width; 1 = greedy search")
    n_best: int | None = Field(
        None, ge=1, description="hypotheses returned per sentence (with sampling: samples drawn)"
    )
    sampling: bool | None = Field(
        None, description="draw the output from the model's distribution instead of a beam search"
    )
    temperature: float | None = Field(
        None, description="sampling: < 1 sharper, > 1 flatter (default: the server's)"
    )
    top_k: int | None = Field(None, description="sampling: only the k likeliest tokens; 0 = all")
    top_p: float | None = Field(None, description="sampling: the nucleus, in (0, 1]; 1 = all")
    seed: int | None = Field(
        None, description="sampling: the same request with the same seed gets the same answer"
    )
    api_key: str | None = Field(None, description="or the X-API-Key header")

    def search_settings(self) -> dict[str, Any]:
        """The search settings (`DecodeConfig` keys) this request gives; the others left out."""
        return {key: value for key in SEARCH_FIELDS if (value := getattr(self, key)) is not None}


class TranslateRequest(SearchRequest):
    q: str | list[str] = Field(description="a sentence, or a list of sentences (no line breaks)")
    source: str | None = Field(None, description="checked against the model's, when given")
    target: str | None = Field(None, description="checked against the model's, when given")
    attention: bool = Field(
        False,
        description="add the best output's attention weights (a 400 when the model has none)",
    )


class TranscribeRequest(SearchRequest):
    """The form fields of ``POST /v1/transcribe`` beside the recordings (each a part named
    ``file``): the search settings, as /v1/generate takes them, the weight of the CTC head's
    scores in the search, and the API key."""

    ctc_weight: float | None = Field(
        None,
        description="weight of the CTC head's prefix scores in the search, in [0, 1]; 0 = the "
        "attention decoder alone (default: the server's; a model trained with train.ctc_weight)",
    )

    def search_settings(self) -> dict[str, Any]:
        given = super().search_settings()
        return given if self.ctc_weight is None else {**given, "ctc_weight": self.ctc_weight}


SEARCH_FIELDS = ("beam_size", "n_best", "sampling", "temperature", "top_k", "top_p", "seed")


class ScoredTranslation(BaseModel):
    """One entry of a sentence's n-best list as the API shows it: its text and two scores.

    Not the search's `Hypothesis` (decode/search.py: token ids and attention rows, inside the
    library) but the public view of a `Translation` (decode/translator.py), built from one.
    """

    text: str
    score: float = Field(description="the length-normalised log-probability the search ranked by")
    log_prob: float = Field(description="total log-probability, end of sentence included")

    @classmethod
    def of(cls, translation: Translation) -> ScoredTranslation:
        return cls(text=translation.text, score=translation.score, log_prob=translation.log_prob)


class Attention(BaseModel):
    source_tokens: list[str] = Field(description="in reading order")
    target_tokens: list[str] = Field(description="the best output's tokens, then </s>")
    weights: list[list[float]] = Field(
        description="one row per target token, one column per source token; rows sum to 1"
    )


class SentenceTranslation(BaseModel):
    text: str = Field(description="the best translation ('' for an empty or over-long input)")
    hypotheses: list[ScoredTranslation]
    attention: Attention | None = None
    warning: str | None = None


class Timings(BaseModel):
    queue_ms: float = Field(description="waiting for the model")
    search_ms: float = Field(description="the search this request joined")
    total_ms: float = Field(description="from the request's arrival to its answer")
    batch_sentences: int = Field(description="sentences in that search")
    batch_requests: int = Field(description="requests in that search")
    audio_ms: float | None = Field(
        None, description="reading the uploaded recordings and computing their features"
    )

    @classmethod
    def of(cls, result: BatchResult, start: float, audio_seconds: float | None = None) -> Timings:
        """How `result` was served, for a request that arrived at `start` (time.perf_counter)."""
        return cls(
            queue_ms=1000 * result.queue_seconds,
            search_ms=1000 * result.search_seconds,
            total_ms=1000 * (time.perf_counter() - start),
            batch_sentences=result.batch_sentences,
            batch_requests=result.batch_requests,
            audio_ms=None if audio_seconds is None else 1000 * audio_seconds,
        )


class TranslateResponse(BaseModel):
    source: str
    target: str
    translations: list[SentenceTranslation]
    settings: dict[str, Any] = Field(description="the decode settings used")
    timings: Timings


class Transcript(BaseModel):
    file: str = Field(description="the uploaded file's name")
    seconds: float = Field(description="the recording's length")
    text: str = Field(description="the best transcript")
    hypotheses: list[ScoredTranslation]


class TranscribeResponse(BaseModel):
    transcripts: list[Transcript] = Field(description="one per uploaded file, in the order sent")
    settings: dict[str, Any] = Field(description="the decode settings used")
    timings: Timings


class Info(BaseModel):
    task: str = Field(
        description="what the model does (seq2seq/tasks.py): translation, chatbot, ..."
    )
    source_label: str = Field(description="what a source is, e.g. 'Question'")
    target_label: str = Field(description="what an output is, e.g. 'Answer'")
    verb: str = Field(description="what the model does to a source, e.g. 'answer'")
    source: str = Field(description="the source language code ('' where not recorded)")
    target: str = Field(description="the target language code ('' where not recorded)")
    source_name: str
    target_name: str
    models: list[str]
    attention: bool
    settings: dict[str, Any] = Field(description="the default decode settings")
    max_beam_size: int
    max_request_sentences: int
    api_key_required: bool
    max_upload_bytes: int | None = Field(
        None, description="a speech model's limit on an upload to /v1/transcribe"
    )
    max_seconds: float | None = Field(
        None, description="a speech model's limit on a recording's length (null: none)"
    )


class Health(BaseModel):
    status: str
    queue_depth: int
