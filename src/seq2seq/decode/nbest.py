"""Moses-format n-best lists: one hypothesis a line, ``id ||| text ||| features ||| score``.

Written by `translate --n-best` (decode/translator.py) and read by `rescore` (decode/rescore.py).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from seq2seq.data.io import iter_lines
from seq2seq.errors import DataError

SEPARATOR = " ||| "


@dataclass
class NBestEntry:
    """One line of a Moses n-best list."""

    sentence: int  # 0-based sentence id
    text: str
    features: str  # kept as written, e.g. "lm= -12.3 tm= -4.1"
    score: float

    def format(self) -> str:
        return SEPARATOR.join(
            [str(self.sentence), self.text, self.features, format_number(self.score)]
        )


def format_number(value: float) -> str:
    return f"{value:.6f}".rstrip("0").rstrip(".") if math.isfinite(value) else str(value)


def format_features(features: dict[str, float]) -> str:
    """``{"model0": -1.5, "model1": -2}`` -> ``"model0= -1.5 model1= -2"`` (Moses style)."""
    return " ".join(f"{name}= {format_number(value)}" for name, value in features.items())


def parse_nbest_line(line: str, where: str) -> NBestEntry:
    """Parse one Moses n-best line; `where` ("file:line") goes into the DataError."""
    fields = line.rstrip("\r\n").split("|||")
    if len(fields) < 4:
        raise DataError(
            f"{where}: expected 'id ||| text ||| features ||| score' "
            f"but found {len(fields)} field{'s' if len(fields) != 1 else ''}"
        )
    sentence_id, text, features, score = (f.strip() for f in fields[:4])
    if not sentence_id.isdigit():
        raise DataError(f"{where}: sentence id '{sentence_id}' is not a non-negative integer")
    try:
        total = float(score)
    except ValueError:
        raise DataError(f"{where}: score '{score}' is not a number") from None
    if math.isnan(total):
        raise DataError(f"{where}: score is NaN")
    return NBestEntry(int(sentence_id), text, features, total)


def read_nbest(path: str | Path) -> list[NBestEntry]:
    """Every entry of a Moses n-best file (plain or .gz), with file:line errors."""
    entries = []
    for lineno, line in enumerate(iter_lines(path), 1):
        if line.strip():
            entries.append(parse_nbest_line(line, f"{path}:{lineno}"))
    return entries
