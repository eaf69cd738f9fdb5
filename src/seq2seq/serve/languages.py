"""The names of the languages a server lists (GET /languages, /v1/info): ISO 639-1 code -> name.

The server's settings are `seq2seq.config.ServeConfig`.
"""

from __future__ import annotations

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
    "x-demo": "Demo (synthetic)",  # `seq2seq demo`'s made-up target language (demo_task.py)
}


def language_name(code: str) -> str:
    return LANGUAGE_NAMES.get(code.lower(), code)
