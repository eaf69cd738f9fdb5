"""ServeConfig: what the translation server allows and how it batches, checked once at start-up.

The search settings themselves (beam size, precision, shortlist, ...) are a `DecodeConfig`, the
same object `seq2seq translate` builds from its flags, so a server and the command started with
the same flags produce the same translations.
"""

from __future__ import annotations

from dataclasses import dataclass

from seq2seq.errors import ConfigError

# ISO 639-1 codes -> English names, for GET /languages; other codes are listed by their code.
LANGUAGE_NAMES = {
    "ar": "Arabic",
    "cs": "Czech",
    "da": "Danish",
    "de": "German",
    "el": "Greek",
    "en": "English",
    "es": "Spanish",
    "fi": "Finnish",
    "fr": "French",
    "hi": "Hindi",
    "hu": "Hungarian",
    "it": "Italian",
    "ja": "Japanese",
    "ko": "Korean",
    "nl": "Dutch",
    "pl": "Polish",
    "pt": "Portuguese",
    "ro": "Romanian",
    "ru": "Russian",
    "sv": "Swedish",
    "tr": "Turkish",
    "uk": "Ukrainian",
    "vi": "Vietnamese",
    "zh": "Chinese",
}


def language_name(code: str) -> str:
    return LANGUAGE_NAMES.get(code.lower(), code)


@dataclass(frozen=True)
class ServeConfig:
    """Limits and batching of one server.

    source_lang, target_lang: the pair the model translates (ISO codes such as 'en', 'fr').
    max_batch_sentences, max_batch_tokens: a coalesced search batch stops growing at either
        (a single request larger than both is still searched whole).
    max_wait_ms: how long the first request of an idle server waits for others to join it.
    max_body_bytes, max_request_sentences: larger requests are answered 413.
    max_beam_size: the widest beam a request may ask for.
    """

    source_lang: str
    target_lang: str
    max_batch_sentences: int = 64
    max_batch_tokens: int = 6000
    max_wait_ms: float = 5.0
    max_body_bytes: int = 1_000_000
    max_request_sentences: int = 256
    max_beam_size: int = 16

    def __post_init__(self) -> None:
        for name in ("source_lang", "target_lang"):
            code = getattr(self, name)
            if not code or not code.strip() or any(c.isspace() for c in code):
                raise ConfigError(f"{name} must be a language code such as 'en', got {code!r}")
        positive = (
            "max_batch_sentences",
            "max_batch_tokens",
            "max_body_bytes",
            "max_request_sentences",
            "max_beam_size",
        )
        for name in positive:
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be at least 1, got {getattr(self, name)}")
        if not 0 <= self.max_wait_ms <= 10_000:
            raise ConfigError(f"max_wait_ms must be between 0 and 10000, got {self.max_wait_ms}")
        if self.max_beam_size > 64:
            raise ConfigError(f"max_beam_size must be at most 64, got {self.max_beam_size}")
