"""Metrics by name, chosen per task: a metric maps hypotheses and references to a number and a
signature that says how it was counted (as sacreBLEU prints BLEU's).

Translation is judged by BLEU and chrF (sacreBLEU, through `scores.corpus_scores`). A chatbot is
judged as dialogue work judges it: BLEU and chrF against the one reference answer, and, since a
model that always says "I see." can score well on them, how varied its answers are: distinct-1 and
distinct-2 (Li et al. 2016, "A Diversity-Promoting Objective Function for Neural Conversation
Models", §4.3: the number of distinct unigrams / bigrams over all answers divided by the total
number of unigrams / bigrams they hold) and the mean answer length. Distinct-n and length count
sacreBLEU's 13a tokens, the tokens BLEU counts, so the numbers of one table speak of one unit.

Later tasks add their names to `METRICS` and to their entry in seq2seq/tasks.py (summarisation: ROUGE;
pronunciation: WER / PER; speech: WER / CER), each from a well-kept implementation.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import sacrebleu
from sacrebleu.tokenizers.tokenizer_13a import Tokenizer13a

from seq2seq.errors import DataError
from seq2seq.evaluate.scores import check_aligned, corpus_scores
from seq2seq.tasks import TASKS


@dataclass(frozen=True)
class MetricScore:
    """One metric's value on a corpus and how it was counted."""

    name: str
    score: float
    signature: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


Metric = Callable[[Sequence[str], Sequence[str]], MetricScore]
_TOKENIZE = Tokenizer13a()
_TOKENS_SIGNATURE = f"tok:13a|version:{sacrebleu.__version__}"


def bleu(hypotheses: Sequence[str], references: Sequence[str]) -> MetricScore:
    """sacreBLEU's corpus BLEU, one reference per line."""
    scores = corpus_scores(hypotheses, references)
    return MetricScore("bleu", scores.bleu, scores.bleu_signature)


def chrf(hypotheses: Sequence[str], references: Sequence[str]) -> MetricScore:
    """sacreBLEU's corpus chrF (character 6-grams, beta 2), one reference per line."""
    scores = corpus_scores(hypotheses, references)
    return MetricScore("chrf", scores.chrf, scores.chrf_signature)


def tokens(text: str) -> list[str]:
    """The 13a tokens of one line (sacreBLEU's default tokenisation: punctuation split off)."""
    return _TOKENIZE(text.strip()).split()


def distinct(hypotheses: Sequence[str], n: int) -> float:
    """Distinct n-grams over all hypotheses / all n-grams they hold (0 when they hold none);
    n-grams do not cross from one hypothesis to the next."""
    seen: set[tuple[str, ...]] = set()
    total = 0
    for line in hypotheses:
        words = tokens(line)
        grams = [tuple(words[i : i + n]) for i in range(len(words) - n + 1)]
        seen.update(grams)
        total += len(grams)
    return len(seen) / total if total else 0.0


def _distinct_metric(n: int) -> Metric:
    def metric(hypotheses: Sequence[str], references: Sequence[str]) -> MetricScore:
        signature = f"distinct-{n}|n:{n}|per:corpus|{_TOKENS_SIGNATURE}"
        return MetricScore(f"distinct-{n}", distinct(hypotheses, n), signature)

    metric.__doc__ = f"Share of distinct {n}-grams among all answers' {n}-grams (Li et al. 2016)."
    return metric


def mean_length(hypotheses: Sequence[str], references: Sequence[str]) -> MetricScore:
    """Mean number of 13a tokens per hypothesis."""
    value = sum(len(tokens(h)) for h in hypotheses) / len(hypotheses) if hypotheses else 0.0
    return MetricScore("length", value, f"length|unit:tokens|{_TOKENS_SIGNATURE}")


METRICS: dict[str, Metric] = {
    "bleu": bleu,
    "chrf": chrf,
    "distinct-1": _distinct_metric(1),
    "distinct-2": _distinct_metric(2),
    "length": mean_length,
}

# Each task's metrics are named once, in its entry of seq2seq/tasks.py.
METRICS_BY_TASK: dict[str, list[str]] = {name: list(task.metrics) for name, task in TASKS.items()}


def metric_names(task: str) -> list[str]:
    """The metrics `task` is judged by, or a DataError naming the tasks there are."""
    if task not in METRICS_BY_TASK:
        raise DataError(f"no metrics for the task '{task}'; tasks: {', '.join(METRICS_BY_TASK)}")
    return list(METRICS_BY_TASK[task])


def score(
    names: Sequence[str], hypotheses: Sequence[str], references: Sequence[str]
) -> list[MetricScore]:
    """Each named metric of aligned hypotheses and references, in the order named."""
    unknown = [name for name in names if name not in METRICS]
    if unknown:
        raise DataError(f"unknown metric '{unknown[0]}'; metrics: {', '.join(METRICS)}")
    check_aligned({"hypotheses": hypotheses, "references": references})
    return [METRICS[name](hypotheses, references) for name in names]


def score_task(
    task: str, hypotheses: Sequence[str], references: Sequence[str]
) -> list[MetricScore]:
    """The metrics of `task` (METRICS_BY_TASK) on aligned hypotheses and references."""
    return score(metric_names(task), hypotheses, references)
