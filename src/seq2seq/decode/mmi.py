"""Anti-generic re-ranking of n-best outputs with a backward model (Li et al. 2016, "MMI-bidi").

A chatbot trained on question -> answer pairs likes answers that fit any question ("I don't
know"). Li et al. ("A Diversity-Promoting Objective Function for Neural Conversation Models",
NAACL 2016, §4.3) keep the forward model's N-best list and re-rank it by

    score(T) = log p(T | S) + λ · log p(S | T) + γ · |T|

where p(S | T) is a backward model trained on the swapped pairs (answer -> question): a generic
answer explains no question in particular, so its backward log-probability is low. Here the
forward term is the score the forward search ranked by (its length-normalised log-probability;
with ``length_penalty=0``, log p(T | S) exactly as in the paper), the backward term is teacher-
forced (scoring.py, through `Translator.score`), |T| counts the answer's words, and λ = γ = 0
gives back the forward order. λ is chosen on a dev set by a metric (`tune_weight`, BLEU from the
command), over a grid as the paper tunes it.

In Python::

    forward, backward = Translator.load("fwd.safetensors"), Translator.load("bwd.safetensors")
    candidates = mmi_candidates(forward, backward, questions, forward.settings(n_best=10))
    answers = [c[0].text for c in rerank(candidates, weight=0.5)]
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from seq2seq.config import DecodeConfig
from seq2seq.decode.nbest import NBestEntry, format_number
from seq2seq.decode.translator import Translator
from seq2seq.errors import ConfigError

DEFAULT_GRID = tuple(round(0.1 * i, 1) for i in range(16))  # λ = 0, 0.1, ..., 1.5


@dataclass
class Candidate:
    """One output of a source sentence with the terms of its MMI score."""

    text: str
    forward: float  # the forward search's score of the output (log p(T|S), length-normalised)
    backward: float = math.nan  # log p(S | T) under the backward model; -inf for an empty output
    score: float = math.nan  # forward + λ · backward + γ · words, once ranked

    @property
    def words(self) -> int:
        return len(self.text.split())

    def features(self) -> str:
        """Moses-style features: ``forward= -0.8 backward= -12.1 words= 4``."""
        terms = (("forward", self.forward), ("backward", self.backward), ("words", self.words))
        return " ".join(f"{name}= {format_number(float(value))}" for name, value in terms)


def search_candidates(
    forward: Translator, sources: Sequence[str], settings: DecodeConfig
) -> list[list[Candidate]]:
    """The forward model's n-best outputs of each source (beam search or sampling, `settings`),
    in its order; [] for a line it does not read (empty or over-long)."""
    results = forward.translate_hypotheses(sources, settings)
    return [[Candidate(t.text, t.score) for t in hyps] for hyps in results]


def nbest_candidates(entries: Sequence[NBestEntry], n_sentences: int) -> list[list[Candidate]]:
    """The candidates of a Moses n-best list (its score as the forward term), in its order."""
    candidates: list[list[Candidate]] = [[] for _ in range(n_sentences)]
    for entry in entries:
        candidates[entry.sentence].append(Candidate(entry.text, entry.score))
    return candidates


def add_backward(
    backward: Translator,
    sources: Sequence[str],
    candidates: Sequence[list[Candidate]],
    batch_size: int = 64,
) -> None:
    """Set each candidate's log p(source | candidate) under the backward model, in place.

    An empty candidate gives the backward model nothing to read: its term is -inf, so any λ > 0
    puts it last (the most generic answer of all)."""
    pairs = [(c, sources[i]) for i, cands in enumerate(candidates) for c in cands if c.text.strip()]
    scores = backward.score([c.text for c, _ in pairs], [s for _, s in pairs], batch_size)
    for (candidate, _), score in zip(pairs, scores, strict=True):
        candidate.backward = score
    for cands in candidates:
        for candidate in cands:
            if not candidate.text.strip():
                candidate.backward = -math.inf


def mmi_candidates(
    forward: Translator,
    backward: Translator,
    sources: Sequence[str],
    settings: DecodeConfig,
    batch_size: int = 64,
) -> list[list[Candidate]]:
    """The forward n-best of every source with both terms set (`search_candidates`, then
    `add_backward`); rank them with `rerank`."""
    candidates = search_candidates(forward, sources, settings)
    add_backward(backward, sources, candidates, batch_size)
    return candidates


def rerank(
    candidates: Sequence[Sequence[Candidate]], weight: float, length_bonus: float = 0.0
) -> list[list[Candidate]]:
    """Each sentence's candidates by ``forward + weight · backward + length_bonus · words``,
    best first; ties keep the forward order (a stable sort), so weight = bonus = 0 is the
    forward n-best unchanged."""
    if not (math.isfinite(weight) and weight >= 0.0):
        raise ConfigError(f"the backward weight λ must be a finite number >= 0, got {weight}")
    if not math.isfinite(length_bonus):
        raise ConfigError(f"the length bonus γ must be a finite number, got {length_bonus}")
    ranked = []
    for cands in candidates:
        scored = [replace(c, score=_score(c, weight, length_bonus)) for c in cands]
        ranked.append(sorted(scored, key=lambda c: c.score, reverse=True))
    return ranked


def _score(candidate: Candidate, weight: float, length_bonus: float) -> float:
    backward = weight * candidate.backward if weight else 0.0  # 0 · -inf is no term at all
    return candidate.forward + backward + length_bonus * candidate.words


def best_texts(ranked: Sequence[Sequence[Candidate]]) -> list[str]:
    """The first candidate of each sentence ('' where it has none)."""
    return [cands[0].text if cands else "" for cands in ranked]


def tune_weight(
    candidates: Sequence[Sequence[Candidate]],
    references: Sequence[str],
    metric: Callable[[list[str], list[str]], float],
    grid: Sequence[float] = DEFAULT_GRID,
    length_bonus: float = 0.0,
) -> tuple[float, dict[float, float]]:
    """The λ of `grid` whose re-ranked 1-best scores highest by `metric(hypotheses,
    references)` (e.g. corpus BLEU), the smallest on a tie; and every λ's value."""
    if len(references) != len(candidates):
        raise ConfigError(
            f"the dev set has {len(candidates)} sources but {len(references)} references"
        )
    if not grid:
        raise ConfigError("the grid of backward weights to try is empty")
    values = {
        weight: metric(best_texts(rerank(candidates, weight, length_bonus)), list(references))
        for weight in sorted(grid)
    }
    best = max(values, key=lambda w: (values[w], -w))
    return best, values
