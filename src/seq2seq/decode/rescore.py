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

import argparse
import math
import sys
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import torch

from seq2seq.errors import ConfigError, DataError

SEPARATOR = " ||| "


@dataclass
class NBestEntry:
    """One line of a Moses n-best list."""

    sentence: int  # 0-based sentence id
    text: str
    features: str  # kept as written, e.g. "lm= -12.3 tm= -4.1"
    score: float

    def format(self) -> str:
        return SEPARATOR.join([str(self.sentence), self.text, self.features, _number(self.score)])


def _number(value: float) -> str:
    return f"{value:.6f}".rstrip("0").rstrip(".") if math.isfinite(value) else str(value)


def format_features(features: dict[str, float]) -> str:
    """``{"model0": -1.5, "model1": -2}`` -> ``"model0= -1.5 model1= -2"`` (Moses style)."""
    return " ".join(f"{name}= {_number(value)}" for name, value in features.items())


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
    from seq2seq.data.io import iter_lines

    entries = []
    for lineno, line in enumerate(iter_lines(path), 1):
        if line.strip():
            entries.append(parse_nbest_line(line, f"{path}:{lineno}"))
    return entries


# ---------------------------------------------------------------------------------------------
# Scoring by teacher forcing


@torch.no_grad()
def target_log_probs(
    model: torch.nn.Module,
    src: torch.Tensor,
    src_lengths: torch.Tensor,
    tgt_in: torch.Tensor,
    tgt_out: torch.Tensor,
    pad_id: int = 0,
) -> torch.Tensor:
    """Total log p(y <eos> | x) of each row, by teacher forcing.

    src (B, S), src_lengths (B,), tgt_in (B, T) = <bos> y, tgt_out (B, T) = y <eos> -> (B,).
    An `Ensemble`'s probability of a token is the mean of its members' (paper §3.6), so each
    member contributes only its log-probabilities of the gold tokens (B, T): the members' mean
    over the whole vocabulary, (B, T, V), is never formed.
    """
    from seq2seq.decode.ensemble import Ensemble, mean_of_probs

    members = list(model.members) if isinstance(model, Ensemble) else [model]
    gold = [_gold_log_probs(m(src, src_lengths, tgt_in), tgt_out) for m in members]
    per_token = gold[0] if len(gold) == 1 else mean_of_probs(gold)  # (B, T)
    return per_token.masked_fill(tgt_out == pad_id, 0.0).sum(dim=1)


def _gold_log_probs(logits: torch.Tensor, gold: torch.Tensor) -> torch.Tensor:
    """logits (B, T, V), gold (B, T) ids -> log_softmax(logits) at the gold ids, (B, T)."""
    logits = logits.float()
    return logits.gather(2, gold.unsqueeze(2)).squeeze(2) - logits.logsumexp(-1)


def score_pairs(
    model: torch.nn.Module,
    src_ids: Sequence[Sequence[int]],
    tgt_ids: Sequence[Sequence[int]],
    reverse_source: bool,
    batch_size: int = 64,
    device: str | torch.device = "cpu",
) -> list[float]:
    """log p(y <eos> | x) for each (source ids, target ids) pair, batched by length."""
    from seq2seq.data.batching import make_source_batch, make_target_batch

    order = sorted(range(len(src_ids)), key=lambda i: (len(src_ids[i]), len(tgt_ids[i])))
    scores = [0.0] * len(src_ids)
    for start in range(0, len(order), batch_size):
        rows = order[start : start + batch_size]
        src, lengths = make_source_batch([src_ids[i] for i in rows], 0, reverse_source)
        tgt_in, tgt_out = make_target_batch([tgt_ids[i] for i in rows])
        totals = target_log_probs(
            model, src.to(device), lengths.to(device), tgt_in.to(device), tgt_out.to(device)
        )
        for row, total in zip(rows, totals.tolist(), strict=True):
            scores[row] = total
    return scores


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
        raise ConfigError(f"--weight must lie in [0, 1], got {weight}")
    ranked: dict[int, list[NBestEntry]] = {}
    for entry, own in zip(entries, model_scores, strict=True):
        combined = weight * own + (1.0 - weight) * entry.score
        extra = f"{feature_name}= {_number(own)}"
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
    from seq2seq.data.io import AtomicTextFile

    with AtomicTextFile(output) as handle:
        for sentence in range(n_sentences):
            hyps = ranked.get(sentence)
            handle.write((hyps[0].text if hyps else "") + "\n")
    if nbest_output is not None:
        with AtomicTextFile(nbest_output) as handle:
            for sentence in sorted(ranked):
                handle.writelines(e.format() + "\n" for e in ranked[sentence])


# ---------------------------------------------------------------------------------------------
# The command


def _check_sources(
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


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from seq2seq.decode.translator import add_checkpoint_argument  # translator imports this module

    add_checkpoint_argument(parser)
    parser.add_argument("--src", required=True, type=Path, help="source sentences, one a line")
    parser.add_argument("--nbest", required=True, type=Path, help="Moses n-best list to re-rank")
    parser.add_argument(
        "--weight",
        type=float,
        default=0.5,
        help="weight of the model's log-probability (paper: 0.5)",
    )
    parser.add_argument(
        "--output", required=True, type=Path, help="re-ranked 1-best, one line per sentence"
    )
    parser.add_argument(
        "--nbest-output", type=Path, default=None, help="the full re-scored n-best list"
    )
    parser.add_argument("--batch-size", type=int, default=64, help="hypotheses per batch")
    parser.add_argument("--device", default="cpu", help="cpu, cuda or auto")


def run(args: argparse.Namespace) -> int:
    from seq2seq.data.io import iter_lines
    from seq2seq.decode.translator import Translator

    if args.batch_size < 1:
        raise ConfigError(f"--batch-size must be at least 1, got {args.batch_size}")
    translator = Translator.load(args.checkpoint, device=args.device)
    sources = list(iter_lines(args.src))
    entries = read_nbest(args.nbest)
    _check_sources(entries, sources, args.src, args.nbest)
    scores = translator.score(
        [sources[e.sentence] for e in entries], [e.text for e in entries], args.batch_size
    )
    ranked = rescore(entries, scores, args.weight)
    write_outputs(ranked, len(sources), args.output, args.nbest_output)
    print(
        f"rescored {len(entries)} hypotheses of {len(ranked)} sentences; 1-best in {args.output}",
        file=sys.stderr,
    )
    return 0
