"""LEAD, the summarisation baseline that needs no model: the source's first sentence, cut short.

For AESLC's subject lines (Zhang & Tetreault 2019 report it beside their models) the output is the
first sentence of the e-mail body cut to the mean length of the training subjects, both counted in
the word tokens the summariser's vocabulary sees (data/vocab.py's `split_punctuation`: words with
punctuation split off; case does not change the count). A sentence ends at ``.``, ``!`` or ``?``
(with any closing quotes or brackets) followed by a space, or at the end of the body; this simple
rule also ends one after an abbreviation ("Mr.") or an initial, which only cuts LEAD shorter where
the length cut had not already. The output keeps the body's own text (`join_punctuation` of the
kept tokens).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from seq2seq.data.vocab import join_punctuation, split_punctuation
from seq2seq.errors import DataError

_SENTENCE_END = re.compile(r"[.!?]+[\"')\]]*(?=\s)")


def first_sentence(text: str) -> str:
    """The text up to and including the first sentence end (`_SENTENCE_END`), or all of it."""
    text = " ".join(text.split())
    found = _SENTENCE_END.search(text)
    return text[: found.end()] if found else text


def mean_length(lines: Sequence[str]) -> float:
    """Mean number of `split_punctuation` tokens per line (the training subjects' mean)."""
    if not lines:
        raise DataError("LEAD's length needs at least one training target line")
    return sum(len(split_punctuation(line)) for line in lines) / len(lines)


def lead(sources: Sequence[str], length: int) -> list[str]:
    """Each source's first sentence, cut to its first `length` tokens (at least 1)."""
    if length < 1:
        raise DataError(f"LEAD's length must be at least one token, not {length}")
    return [join_punctuation(split_punctuation(first_sentence(s))[:length]) for s in sources]


def lead_for(sources: Sequence[str], train_targets: Sequence[str]) -> tuple[list[str], int]:
    """(LEAD outputs of `sources`, the length used: the training targets' mean, rounded)."""
    length = max(1, round(mean_length(train_targets)))
    return lead(sources, length), length
