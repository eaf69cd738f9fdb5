"""Rescoring: re-rank an external system's n-best list with the model's own log-probabilities.

The paper (§3.6) rescored the 1000-best lists of the baseline SMT system: "we computed the log
probability of every hypothesis with our LSTM and took an even average with their score". Here
each hypothesis is scored by teacher forcing (``model.forward``, the path of the training loss;
for an ensemble the per-token probabilities of the members are averaged) and combined as
``w * model + (1 - w) * external`` with ``w = 0.5`` by default.

n-best lists use the Moses format, one hypothesis a line::

    sentence-id ||| hypothesis text ||| feature-name= value ... ||| total score

`seq2seq rescore` writes the re-ranked 1-best output (one line per source sentence) and, when
asked, the full list with an added ``seq2seq=`` feature and the combined score, best first.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from seq2seq.data.io import AtomicTextFile
from seq2seq.decode.nbest import NBestEntry, format_number
from seq2seq.errors import ConfigError, DataError

# ---------------------------------------------------------------------------------------------
# Re-ranking


def rescore(
    entries: Sequence[NBestEntry],
    model_scores: Sequence[float],
    weight: float = 0.5,
    feature_name: str = "seq2seq",
) -> dict[int, list[NBestEntry]]:
    """Combine scores (paper §3.6: an even average) and rank each sentence's list, best first.

    Returns {sentence id: entries with the model's feature appended and the combined score}.
    """
    if not 0.0 <= weight <= 1.0:
        raise ConfigError(f"rescore.weight must lie in [0, 1], got {weight}")
    ranked: dict[int, list[NBestEntry]] = {}
    for entry, own in zip(entries, model_scores, strict=True):
        combined = weight * own + (1.0 - weight) * entry.score
        extra = f"{feature_name}= {format_number(own)}"
        features = f"{entry.features} {extra}" if entry.features else extra
        ranked.setdefault(entry.sentence, []).append(
            replace(entry, features=features, score=combined)
        )
    for hyps in ranked.values():
        hyps.sort(key=lambda e: e.score, reverse=True)  # stable: ties keep the list's order
    return ranked


def write_outputs(
    ranked: dict[int, list[NBestEntry]], n_sentences: int, output: Path, nbest_output: Path | None
) -> None:
    """The 1-best text (an empty line for a sentence without hypotheses) and the full list."""
    with AtomicTextFile(output) as handle:
        for sentence in range(n_sentences):
            hyps = ranked.get(sentence)
            handle.write((hyps[0].text if hyps else "") + "\n")
    if nbest_output is not None:
        with AtomicTextFile(nbest_output) as handle:
            for sentence in sorted(ranked):
                handle.writelines(e.format() + "\n" for e in ranked[sentence])


def check_sources(
    entries: Sequence[NBestEntry], sources: list[str], src: Path, nbest: Path
) -> None:
    """Every hypothesis needs a non-empty source line."""
    for entry in entries:
        if entry.sentence >= len(sources):
            raise DataError(
                f"{nbest}: sentence id {entry.sentence} has no line in {src} ({len(sources)} lines)"
            )
        if not sources[entry.sentence].strip():
            raise DataError(
                f"{src}:{entry.sentence + 1}: the source line is empty but {nbest} has hypotheses "
                "for it; an empty source cannot be scored"
            )
