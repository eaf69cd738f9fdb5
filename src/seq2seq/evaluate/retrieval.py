"""The retrieval baseline of a chatbot: answer with the answer of the most similar training
question, by TF-IDF cosine (scikit-learn's `TfidfVectorizer`).

A seq2seq chatbot must do better than looking its question up, so this is the row it is judged
beside (issue 23). Questions are vectors of TF-IDF weights, L2-normalised, so a dot product is the
cosine; the nearest training question's answer is returned, the first in training order on a tie.
The baseline always answers, as a model would: a question that shares no feature with any
training question (every cosine 0) gets the first training question's answer; with character
n-grams the space that pads each word is a feature, so it gets the answer of the question in
which spaces weigh most.

Features: character n-grams inside word boundaries (``analyzer="char_wb"``, 1 to 2 characters)
by default, since Korean words carry particles and endings that change their surface (``여행은``,
``여행을``, ``여행이``) where a word analyser sees unrelated tokens; ``analyzer="word"`` keeps
whole words (every word, single characters included). benchmarks/tasks/chatbot_ko.py measures
both, and several n-gram ranges, on the dev split of the chatbot recipe (its results file says
which won).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np

from seq2seq.errors import DataError, Seq2SeqError

Analyzer = Literal["char_wb", "word"]
ANALYZERS: tuple[str, ...] = ("char_wb", "word")
_CHUNK = 512  # queries scored at once: a (chunk, training questions) dense block of float64


def _tfidf_vectorizer(analyzer: str, ngram_range: tuple[int, int]):
    try:
        from sklearn.feature_extraction.text import TfidfVectorizer
    except ImportError:
        raise Seq2SeqError(
            "the retrieval baseline needs scikit-learn; install it with "
            "`pip install 'seq2seq[tasks]'` (or `pip install scikit-learn`)"
        ) from None
    if analyzer not in ANALYZERS:
        raise DataError(f"the analyzer must be one of {', '.join(ANALYZERS)}, not '{analyzer}'")
    low, high = ngram_range
    if not 1 <= low <= high:
        raise DataError(f"the n-gram range must be 1 <= low <= high, not {low}-{high}")
    if analyzer == "word":  # every word, one-character words included (the default drops them)
        return TfidfVectorizer(
            analyzer="word", token_pattern=r"(?u)\b\w+\b", ngram_range=(low, high)
        )
    return TfidfVectorizer(analyzer="char_wb", ngram_range=(low, high))


class RetrievalBaseline:
    """Answers a question with the answer of its nearest training question (TF-IDF cosine)."""

    def __init__(
        self,
        questions: Sequence[str],
        answers: Sequence[str],
        analyzer: Analyzer = "char_wb",
        ngram_range: tuple[int, int] = (1, 2),
    ) -> None:
        if len(questions) != len(answers):
            raise DataError(
                f"{len(questions)} training questions but {len(answers)} answers; "
                "they must be aligned"
            )
        if not questions:
            raise DataError("the retrieval baseline needs at least one training question")
        self.analyzer, self.ngram_range = analyzer, ngram_range
        self.vectorizer = _tfidf_vectorizer(analyzer, ngram_range)
        try:
            self.matrix = self.vectorizer.fit_transform(list(questions))  # (questions, features)
        except ValueError as err:  # an empty vocabulary: no question holds a feature
            raise DataError(f"cannot index the training questions ({err})") from None
        self.questions, self.answers = list(questions), list(answers)

    def nearest(self, queries: Sequence[str]) -> list[int]:
        """Index of the most similar training question of each query (first one on a tie)."""
        found: list[int] = []
        for start in range(0, len(queries), _CHUNK):
            block = self.vectorizer.transform(list(queries[start : start + _CHUNK]))
            similarity = (block @ self.matrix.T).toarray()  # (chunk, questions): cosines
            found.extend(int(i) for i in np.argmax(similarity, axis=1))
        return found

    def answer(self, queries: Sequence[str]) -> list[str]:
        """The retrieved answer of each query."""
        return [self.answers[i] for i in self.nearest(queries)]

    def describe(self) -> str:
        """How it retrieves, in one line (for a results table)."""
        low, high = self.ngram_range
        return (
            f"TF-IDF cosine, {self.analyzer} {low}-{high}-grams, {len(self.questions):,} questions"
        )
