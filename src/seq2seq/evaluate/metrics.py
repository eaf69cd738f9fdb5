"""Metrics by name, chosen per task: a metric maps hypotheses and references to a number and a
signature that says how it was counted (as sacreBLEU prints BLEU's).

Translation is judged by BLEU and chrF (sacreBLEU, through `scores.corpus_scores`). A chatbot is
judged as dialogue work judges it: BLEU and chrF against the one reference answer, and, since a
model that always says "I see." can score well on them, how varied its answers are: distinct-1 and
distinct-2 (Li et al. 2016, "A Diversity-Promoting Objective Function for Neural Conversation
Models", §4.3: the number of distinct unigrams / bigrams over all answers divided by the total
number of unigrams / bigrams they hold) and the mean answer length. Distinct-n and length count
sacreBLEU's 13a tokens, the tokens BLEU counts, so the numbers of one table speak of one unit.

A pronunciation (grapheme to phoneme) is judged as G2P work judges it, over words: the word error
rate ``wer``, the share of words whose output is none of their reference pronunciations (token for
token), and the phoneme error rate ``per``, the edit distance (substitutions + deletions +
insertions, from jiwer) between each output and its CLOSEST reference, summed over words and divided
by the summed length of those closest references (a tie goes to the reference listed first); both
in percent. ``wer-no-stress`` / ``per-no-stress`` first remove stress digits from every phoneme
(``AH0`` -> ``AH``), as most published G2P figures do. A word may have several references, given
either way:
  - repeated source lines (what `benchmarks/tasks/cmudict_split.py` writes and `prepare` reads: one
    line per pronunciation, the word repeated): `score` with the `sources` groups the lines of one
    source into one word, its first line's output against every distinct reference;
  - or one line per word, its references separated by `` | `` (``T AH0 M EY1 T OW2 | T AH0 M AA1 T
    OW2``), the form the grouping produces (`group_by_source`).

A summary (an e-mail's subject line) is judged as summarisation work judges it, by ROUGE F1 (Lin
2004): ``rouge1`` and ``rouge2`` (unigram and bigram overlap) and ``rougeL`` (longest common
subsequence), from Google's `rouge-score` package (the reimplementation of ROUGE-1.5.5 that
summarisation code now uses), with its own tokeniser (lower case, every character outside a-z and
0-9 a space, so punctuation and non-ASCII letters do not count) and Porter stemming on (what
ROUGE-1.5.5's ``-m`` does). Each sentence's F1 is computed and the mean over sentences reported, in
percent. A line may hold several references joined by `MULTI_REFERENCE` (a line break, which no
line read from a file holds: `join_references`, as ``seq2seq evaluate --ref A --ref B --ref C``
builds them); a sentence then scores the MAXIMUM F1 over its references, each ROUGE variant on its
own (rouge-score's ``score_multi``), not their mean, so AESLC's three annotated subjects count as
three acceptable answers. BLEU and chrF take the references as sacreBLEU's reference streams (every
line must then hold the same number).

Later tasks add their names to `METRICS` and to their entry in seq2seq/tasks.py (speech: WER /
CER), each from a well-kept implementation.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from importlib.metadata import version
from typing import Any

import jiwer
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
    """sacreBLEU's corpus BLEU, against every reference of a line (`reference_streams`)."""
    first, *more = reference_streams(references)
    scores = corpus_scores(hypotheses, first, more=more)
    return MetricScore("bleu", scores.bleu, scores.bleu_signature)


def chrf(hypotheses: Sequence[str], references: Sequence[str]) -> MetricScore:
    """sacreBLEU's corpus chrF (character 6-grams, beta 2), against every reference of a line."""
    first, *more = reference_streams(references)
    scores = corpus_scores(hypotheses, first, more=more)
    return MetricScore("chrf", scores.chrf, scores.chrf_signature)


MULTI_REFERENCE = "\n"  # joins the references of one line (`join_references`)


def join_references(streams: Sequence[Sequence[str]]) -> list[str]:
    """Aligned reference streams (one list per file) -> one line per sentence holding all of its
    references, joined by `MULTI_REFERENCE`; one stream is returned as it is."""
    if not streams:
        raise DataError("give at least one list of references")
    first = len(streams[0])
    for i, stream in enumerate(streams[1:], start=2):
        if len(stream) != first:
            raise DataError(
                f"reference list {i} has {len(stream)} lines but the first has {first}; "
                "they must be aligned line by line"
            )
    return ["\n".join(refs) for refs in zip(*streams, strict=True)]


def reference_streams(references: Sequence[str]) -> list[list[str]]:
    """The inverse of `join_references`: one list per reference position; every line must hold
    the same number of references (sacreBLEU's streams), else a DataError names the line."""
    split = [line.split(MULTI_REFERENCE) for line in references]
    count = len(split[0]) if split else 1
    for lineno, refs in enumerate(split, start=1):
        if len(refs) != count:
            raise DataError(
                f"reference line {lineno} holds {len(refs)} references but line 1 holds {count}"
            )
    return [list(stream) for stream in zip(*split, strict=True)] if split else [[]]


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


ROUGE_TYPES = {"rouge1": "rouge1", "rouge2": "rouge2", "rougeL": "rougeL"}  # our name: theirs
ROUGE_STEMMING = True  # Porter stemming, ROUGE-1.5.5's -m


@functools.cache
def _rouge_scorer(stemming: bool) -> Any:
    """rouge-score's scorer of the three variants (imported here: the `tasks` extra)."""
    try:
        from rouge_score import rouge_scorer
    except ImportError:
        raise DataError(
            "ROUGE needs the rouge-score package: pip install 'seq2seq[tasks]' (or rouge-score)"
        ) from None
    return rouge_scorer.RougeScorer(list(ROUGE_TYPES.values()), use_stemmer=stemming)


def rouge(
    hypotheses: Sequence[str], references: Sequence[str], stemming: bool = ROUGE_STEMMING
) -> dict[str, float]:
    """Mean ROUGE-1/2/L F1 in percent over sentences, each sentence against the best of its
    references (`MULTI_REFERENCE`) for each variant on its own; an empty output scores 0."""
    check_aligned({"hypotheses": hypotheses, "references": references})
    scorer = _rouge_scorer(stemming)
    totals = dict.fromkeys(ROUGE_TYPES, 0.0)
    for hyp, ref in zip(hypotheses, references, strict=True):
        scores = scorer.score_multi(ref.split(MULTI_REFERENCE), hyp)
        for name, theirs in ROUGE_TYPES.items():
            totals[name] += scores[theirs].fmeasure
    return {name: 100.0 * total / max(len(hypotheses), 1) for name, total in totals.items()}


def rouge_signature(name: str, references: Sequence[str], stemming: bool = ROUGE_STEMMING) -> str:
    """How a ROUGE figure was counted: F1, per-sentence mean, references, stemming, version."""
    refs = references[0].count(MULTI_REFERENCE) + 1 if references else 1
    return (
        f"{name}|f1|mean:sentences|refs:{refs}|multi:max-per-sentence"
        f"|stem:{'porter' if stemming else 'no'}|tok:rouge-score-default(lc,a-z0-9)"
        f"|unit:%|rouge-score:{version('rouge-score')}"
    )


def _rouge_metric(name: str) -> Metric:
    def metric(hypotheses: Sequence[str], references: Sequence[str]) -> MetricScore:
        value = rouge(hypotheses, references)[name]
        return MetricScore(name, value, rouge_signature(name, references))

    what = {"rouge1": "unigram", "rouge2": "bigram", "rougeL": "longest common subsequence"}
    metric.__doc__ = f"Mean {what[name]} ROUGE F1 in percent, best reference per sentence."
    return metric


ALTERNATIVES = " | "  # separates the reference pronunciations of one word on one line
_STRESS = re.compile(r"(?<=\D)\d+$")  # AH0 -> AH; a token of digits only is kept


def alternatives(reference: str, stress: bool = True) -> list[list[str]]:
    """The reference pronunciations on one line, each as its tokens (stress digits removed
    unless `stress`); an empty alternative is a DataError."""
    joined = reference.replace(MULTI_REFERENCE, ALTERNATIVES)  # references of several files
    found = [alt.split() for alt in joined.split(ALTERNATIVES.strip())]
    if not all(found):
        raise DataError(f"the reference '{reference}' holds an empty pronunciation")
    return found if stress else [without_stress(alt) for alt in found]


def without_stress(tokens: Sequence[str]) -> list[str]:
    """Phonemes without their stress digits: ``AH0 B AW1 T`` -> ``AH B AW T``."""
    return [_STRESS.sub("", token) for token in tokens]


def group_by_source(
    sources: Sequence[str], hypotheses: Sequence[str], references: Sequence[str]
) -> tuple[list[str], list[str]]:
    """One (hypothesis, references) item per distinct source, in first-seen order: the first
    hypothesis of that source and its distinct references joined by `ALTERNATIVES`."""
    check_aligned({"sources": sources, "hypotheses": hypotheses, "references": references})
    first: dict[str, str] = {}
    refs: dict[str, list[str]] = {}
    for src, hyp, ref in zip(sources, hypotheses, references):
        first.setdefault(src, hyp)
        seen = refs.setdefault(src, [])
        for alt in ref.replace(MULTI_REFERENCE, ALTERNATIVES).split(ALTERNATIVES.strip()):
            if " ".join(alt.split()) not in seen:
                seen.append(" ".join(alt.split()))
    return list(first.values()), [ALTERNATIVES.join(refs[src]) for src in first]


def pronunciation_errors(
    hypotheses: Sequence[str], references: Sequence[str], stress: bool = True
) -> tuple[int, int, int]:
    """(words wrong, phoneme edits to the closest reference, phonemes in those references)."""
    wrong = edits = length = 0
    for hyp, ref in zip(hypotheses, references, strict=True):
        output = hyp.split() if stress else without_stress(hyp.split())
        best: tuple[int, int] | None = None  # (distance, reference length), first one on ties
        for alt in alternatives(ref, stress):
            counts = jiwer.process_words(" ".join(alt), " ".join(output))
            distance = counts.substitutions + counts.deletions + counts.insertions
            if best is None or distance < best[0]:
                best = (distance, len(alt))
        assert best is not None  # alternatives() returns at least one
        wrong += best[0] > 0
        edits += best[0]
        length += best[1]
    return wrong, edits, length


def _pronunciation_metric(name: str, stress: bool) -> Metric:
    def metric(hypotheses: Sequence[str], references: Sequence[str]) -> MetricScore:
        wrong, edits, length = pronunciation_errors(hypotheses, references, stress)
        if name.startswith("wer"):
            value = 100.0 * wrong / len(references) if references else 0.0
        else:
            value = 100.0 * edits / length if length else 0.0
        signature = (
            f"{name}|words:{len(references)}|refs:closest-of-alternatives"
            f"|stress:{'kept' if stress else 'removed'}|unit:%|jiwer:{version('jiwer')}"
        )
        return MetricScore(name, value, signature)

    what = "phoneme edits to the closest reference, over those references' length"
    if name.startswith("wer"):
        what = "words whose output is none of their references"
    metric.__doc__ = f"Percent of {what}{'' if stress else ' (stress digits removed)'}."
    return metric


def _edit_rate(name: str, unit: str) -> Metric:
    """A speech transcript's error rate: edits (substitutions, deletions, insertions) over the
    references' words or characters, both summed over the corpus (jiwer), in percent."""
    measure = jiwer.wer if unit == "words" else jiwer.cer

    def metric(hypotheses: Sequence[str], references: Sequence[str]) -> MetricScore:
        value = 100.0 * measure(list(references), list(hypotheses)) if references else 0.0
        signature = f"{name}|edits/reference {unit}|corpus|unit:%|jiwer:{version('jiwer')}"
        return MetricScore(name, value, signature)

    metric.__doc__ = f"Percent: edits over the references' {unit}, summed over the corpus."
    return metric


METRICS: dict[str, Metric] = {
    "bleu": bleu,
    "chrf": chrf,
    "distinct-1": _distinct_metric(1),
    "distinct-2": _distinct_metric(2),
    "length": mean_length,
    "wer": _pronunciation_metric("wer", stress=True),
    "per": _pronunciation_metric("per", stress=True),
    "wer-no-stress": _pronunciation_metric("wer-no-stress", stress=False),
    "per-no-stress": _pronunciation_metric("per-no-stress", stress=False),
    # speech: word and character error rates (the pronunciation "wer" counts whole words wrong)
    "speech-wer": _edit_rate("speech-wer", "words"),
    "cer": _edit_rate("cer", "characters"),
    "rouge1": _rouge_metric("rouge1"),
    "rouge2": _rouge_metric("rouge2"),
    "rougeL": _rouge_metric("rougeL"),
}
# Metrics over words with several references: `score` groups repeated sources for them.
GROUPED = frozenset({"wer", "per", "wer-no-stress", "per-no-stress"})

# Each task's metrics are named once, in its entry of seq2seq/tasks.py.
METRICS_BY_TASK: dict[str, list[str]] = {name: list(task.metrics) for name, task in TASKS.items()}


def metric_names(task: str) -> list[str]:
    """The metrics `task` is judged by, or a DataError naming the tasks there are."""
    if task not in METRICS_BY_TASK:
        raise DataError(f"no metrics for the task '{task}'; tasks: {', '.join(METRICS_BY_TASK)}")
    return list(METRICS_BY_TASK[task])


def score(
    names: Sequence[str],
    hypotheses: Sequence[str],
    references: Sequence[str],
    sources: Sequence[str] | None = None,
) -> list[MetricScore]:
    """Each named metric of aligned hypotheses and references, in the order named; with the
    `sources`, the `GROUPED` metrics count each distinct source once (`group_by_source`)."""
    unknown = [name for name in names if name not in METRICS]
    if unknown:
        raise DataError(f"unknown metric '{unknown[0]}'; metrics: {', '.join(METRICS)}")
    check_aligned({"hypotheses": hypotheses, "references": references})
    grouped = (hypotheses, references)
    if sources is not None and GROUPED & set(names):
        grouped = group_by_source(sources, hypotheses, references)
    return [
        METRICS[name](*(grouped if name in GROUPED else (hypotheses, references))) for name in names
    ]


def score_task(
    task: str,
    hypotheses: Sequence[str],
    references: Sequence[str],
    sources: Sequence[str] | None = None,
) -> list[MetricScore]:
    """The metrics of `task` (METRICS_BY_TASK) on aligned hypotheses and references (and
    sources, which group the lines of one word for the pronunciation metrics)."""
    return score(metric_names(task), hypotheses, references, sources)
