"""The numbers behind the paper's analyses: BLEU by sentence length, by word rarity, across beams.

Sutskever et al. (2014), §3.7 and Figure 3: the test set is sorted by source sentence length (left)
and by the average frequency rank of its words (right), cut into groups, and BLEU is computed per
group; the LSTM "did well on long sentences" and degraded only for rare words. §3.6 / Table 1: a
beam of 2 already gives most of the gain of a beam of 12. Each function here returns a `Table`,
written as CSV beside the plot drawn from it; BLEU always comes from sacreBLEU.
"""

from __future__ import annotations

import csv
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from seq2seq.errors import ConfigError, DataError
from seq2seq.evaluate.scores import corpus_bleu

DEFAULT_LENGTH_EDGES = (5, 8, 11, 14, 17, 20, 25, 30)
DEFAULT_RARITY_GROUPS = 10
DEFAULT_BEAM_SIZES = (1, 2, 4, 8, 12)


@dataclass
class Table:
    """Rows of numbers with named columns; what each analysis writes as CSV."""

    columns: list[str]
    rows: list[list[Any]]

    def column(self, name: str) -> list[Any]:
        index = self.columns.index(name)
        return [row[index] for row in self.rows]

    def write_csv(self, path: str | Path) -> None:
        with open(path, "w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(self.columns)
            writer.writerows([_csv_value(v) for v in row] for row in self.rows)


def _csv_value(value: Any) -> Any:
    return round(value, 6) if isinstance(value, float) else value


def _check_systems(references: Sequence[str], systems: Mapping[str, Sequence[str]]) -> None:
    if not systems:
        raise ConfigError(
            "no system to analyse; give at least one analyze.system or analyze.checkpoint"
        )
    for name, hyps in systems.items():
        if len(hyps) != len(references):
            raise DataError(
                f"system '{name}' has {len(hyps)} translations but there are "
                f"{len(references)} references"
            )


def _bleu_columns(
    rows: Sequence[int],
    references: Sequence[str],
    systems: Mapping[str, Sequence[str]],
    lowercase: bool,
) -> list[float]:
    """Corpus BLEU of the given sentence indices, one value per system."""
    refs = [references[i] for i in rows]
    return [
        corpus_bleu([hyps[i] for i in rows], refs, lowercase).score for hyps in systems.values()
    ]


# ---------------------------------------------------------------------------------------------
# Figure 3, left: BLEU by sentence length


def length_bucket_bounds(edges: Sequence[int]) -> list[tuple[int, int | None]]:
    """Upper edges (5, 10) -> buckets [(1, 5), (6, 10), (11, None)]; None means no upper bound."""
    if not edges or any(e < 1 for e in edges) or list(edges) != sorted(set(edges)):
        raise ConfigError(
            f"length buckets must be increasing positive word counts, got {','.join(map(str, edges))}"
        )
    bounds: list[tuple[int, int | None]] = []
    low = 1
    for edge in edges:
        bounds.append((low, edge))
        low = edge + 1
    bounds.append((low, None))
    return bounds


def bleu_by_length(
    sources: Sequence[str],
    references: Sequence[str],
    systems: Mapping[str, Sequence[str]],
    edges: Sequence[int] = DEFAULT_LENGTH_EDGES,
    lowercase: bool = False,
) -> Table:
    """BLEU of each system on the sentences whose source has n words, n in each bucket.

    Length is the number of whitespace-separated words of the source line (paper Fig. 3, left).
    Columns: bucket, min_words, max_words (empty = no bound), sentences, one BLEU per system.
    Buckets that hold no sentence are left out.
    """
    _check_systems(references, systems)
    lengths = [len(s.split()) for s in sources]
    table = Table(["bucket", "min_words", "max_words", "sentences", *systems], [])
    for low, high in length_bucket_bounds(edges):
        rows = [i for i, n in enumerate(lengths) if n >= low and (high is None or n <= high)]
        if rows:
            label = f"{low}-{high}" if high is not None else f"{low}+"
            bleu = _bleu_columns(rows, references, systems, lowercase)
            table.rows.append([label, low, "" if high is None else high, len(rows), *bleu])
    return table


# ---------------------------------------------------------------------------------------------
# Figure 3, right: BLEU by average word-frequency rank


def frequency_ranks(lines: Iterable[str], lowercase: bool = False) -> dict[str, int]:
    """word -> rank in the corpus's frequency list (1 = most frequent; ties by code points)."""
    counts: Counter[str] = Counter()
    for line in lines:
        counts.update((line.lower() if lowercase else line).split())
    ranked = sorted(counts.items(), key=lambda wc: (-wc[1], wc[0]))
    return {word: rank for rank, (word, _) in enumerate(ranked, start=1)}


def vocab_ranks(vocab: Any) -> dict[str, int]:
    """word -> rank from a word vocabulary, whose ids follow training frequency (paper §3.1)."""
    tokens = getattr(vocab, "tokens", None)
    if getattr(vocab, "kind", None) != "word" or tokens is None:
        raise ConfigError(
            "the checkpoint's source vocabulary is not a word vocabulary, so its order is not a "
            "frequency list; pass --train-src with the training source file"
        )
    specials = 4  # <pad> <unk> <s> </s> come first, then words by falling frequency
    return {word: rank for rank, word in enumerate(tokens[specials:], start=1)}


def mean_ranks(
    sources: Sequence[str], ranks: Mapping[str, int], tokenize: Callable[[str], list[str]]
) -> list[float | None]:
    """The average frequency rank of each sentence's words; unseen words rank last + 1.

    None for a sentence without words.
    """
    unseen = len(ranks) + 1
    result: list[float | None] = []
    for line in sources:
        words = tokenize(line)
        result.append(sum(ranks.get(w, unseen) for w in words) / len(words) if words else None)
    return result


def bleu_by_rarity(
    sources: Sequence[str],
    references: Sequence[str],
    systems: Mapping[str, Sequence[str]],
    ranks: Mapping[str, int],
    tokenize: Callable[[str], list[str]] = str.split,
    groups: int = DEFAULT_RARITY_GROUPS,
    lowercase: bool = False,
) -> Table:
    """Sentences sorted by average word-frequency rank, cut into `groups` groups of equal size
    (sizes differ by at most one), BLEU of each system per group (paper Fig. 3, right).

    Columns: group, sentences, min_mean_rank, max_mean_rank, mean_rank, one BLEU per system.
    """
    _check_systems(references, systems)
    if groups < 1:
        raise ConfigError(f"analyze.groups must be at least 1, got {groups}")
    means = mean_ranks(sources, ranks, tokenize)
    scored = {i: m for i, m in enumerate(means) if m is not None}
    order = sorted(scored, key=scored.__getitem__)  # stable: ties keep file order
    if len(order) < groups:
        raise DataError(f"{len(order)} sentences cannot be cut into {groups} groups")
    columns = ["group", "sentences", "min_mean_rank", "max_mean_rank", "mean_rank", *systems]
    table = Table(columns, [])
    for number, chunk in enumerate(np.array_split(np.array(order), groups), start=1):
        rows = chunk.tolist()
        values = [means[i] for i in rows]
        bleu = _bleu_columns(rows, references, systems, lowercase)
        table.rows.append(
            [number, len(rows), min(values), max(values), sum(values) / len(values), *bleu]
        )
    return table


# ---------------------------------------------------------------------------------------------
# Figure 2: sentence vectors projected to two dimensions


def pca_2d(vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Centre `vectors` (N, H) and project them on their first two principal axes.

    Returns coordinates (N, 2) and the fraction of the variance each axis explains (2,). The SVD
    fixes axes only up to sign; each axis is turned so that its largest loading is positive.
    """
    vectors = np.asarray(vectors, dtype=np.float64)
    if vectors.ndim != 2 or vectors.shape[0] < 3 or vectors.shape[1] < 2:
        raise DataError(f"PCA needs at least 3 vectors of 2+ dimensions, got {vectors.shape}")
    centred = vectors - vectors.mean(axis=0, keepdims=True)
    _, singular, axes = np.linalg.svd(centred, full_matrices=False)  # axes (K, H)
    axes = axes[:2]
    signs = np.sign(axes[np.arange(2), np.abs(axes).argmax(axis=1)])
    axes = axes * signs[:, None]
    variance = singular**2
    explained = variance[:2] / variance.sum() if variance.sum() > 0 else np.zeros(2)
    return centred @ axes.T, explained


# ---------------------------------------------------------------------------------------------
# §3.6: beam size against BLEU and speed


def beam_sweep(
    translator: Any,
    sources: Sequence[str],
    references: Sequence[str],
    beam_sizes: Sequence[int] = DEFAULT_BEAM_SIZES,
    lowercase: bool = False,
    batch_size: int | None = None,
) -> Table:
    """Translate `sources` with each beam size; BLEU and wall-clock speed of each.

    Columns: beam_size, bleu, seconds, sentences_per_second.
    """
    if not beam_sizes or any(k < 1 for k in beam_sizes):
        raise ConfigError(f"beam sizes must be positive, got {','.join(map(str, beam_sizes))}")
    table = Table(["beam_size", "bleu", "seconds", "sentences_per_second"], [])
    for beam_size in beam_sizes:
        started = time.perf_counter()
        hypotheses = translator.translate(
            sources, beam_size=beam_size, n_best=1, batch_size=batch_size
        )
        seconds = time.perf_counter() - started
        bleu = corpus_bleu(hypotheses, references, lowercase).score
        table.rows.append([beam_size, bleu, seconds, len(sources) / max(seconds, 1e-9)])
    return table
