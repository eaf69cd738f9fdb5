"""Teacher-forced scoring: log p(y <eos> | x) of given target sentences under a model or ensemble.

Shared by rescoring (decode/rescore.py, paper §3.6), evaluation (reference perplexity) and the
n-best features of an ensemble's hypotheses. Each member scores by teacher forcing, the path of
the training loss; an ensemble's probability of a token is the mean of its members' (paper §3.6).
The perplexity of references is the paper's test perplexity (§3.3): per token, EOS included.

A copy model (model/copy.py) scores targets in extended ids given each source's `src_map`; in an
ensemble that mixes copy and plain models, a plain member gives a copied word probability 0.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import torch

from seq2seq.data.batching import make_source_batch, make_target_batch
from seq2seq.data.vocab import PAD_ID, UNK_ID
from seq2seq.errors import DataError

log = logging.getLogger(__name__)


def mean_of_probs(log_probs: Sequence[torch.Tensor]) -> torch.Tensor:
    """log(1/M * sum_m exp(log_probs_m)) over M tensors of equal shape (paper §3.6)."""
    if len(log_probs) == 1:
        return log_probs[0]
    return torch.logsumexp(torch.stack(list(log_probs)), dim=0) - math.log(len(log_probs))


def gold_log_probs(logits: torch.Tensor, gold: torch.Tensor) -> torch.Tensor:
    """logits (B, T, V), gold (B, T) ids -> log_softmax(logits) at the gold ids, (B, T)."""
    logits = logits.float()
    return logits.gather(2, gold.unsqueeze(2)).squeeze(2) - logits.logsumexp(-1)


@torch.no_grad()
def target_log_probs(
    model,
    src: torch.Tensor,
    src_lengths: torch.Tensor,
    tgt_in: torch.Tensor,
    tgt_out: torch.Tensor,
    pad_id: int = PAD_ID,
    src_map: torch.Tensor | None = None,
) -> torch.Tensor:
    """Total log p(y <eos> | x) of each row, by teacher forcing.

    src (B, S), src_lengths (B,), tgt_in (B, T) = <bos> y, tgt_out (B, T) = y <eos> -> (B,).
    `model` is any `SearchModel` (model/interface.py); each member contributes only its
    log-probabilities of the gold tokens (B, T): the members' mean over the whole vocabulary,
    (B, T, V), is never formed. With `src_map` (B, S) the targets are extended ids (copy models).
    """
    if src_map is None:
        gold = [gold_log_probs(m(src, src_lengths, tgt_in), tgt_out) for m in model.members]
    else:
        gold = [
            _extended_gold(m, src, src_lengths, tgt_in, tgt_out, src_map) for m in model.members
        ]
    per_token = mean_of_probs(gold)  # (B, T)
    return per_token.masked_fill(tgt_out == pad_id, 0.0).sum(dim=1)


def _extended_gold(
    member, src, src_lengths, tgt_in: torch.Tensor, tgt_out: torch.Tensor, src_map: torch.Tensor
) -> torch.Tensor:
    """log p of gold extended ids (B, T) under one member: a copy model over its extended
    vocabulary, any other model with copied words (ids >= its V) at probability 0."""
    if getattr(member, "copy", None) is not None:
        state = member.init_state(member.encode(src, src_lengths), src_map)
        _, gold = member.copy_log_probs(tgt_in, tgt_out, state)  # (B * T,)
        return gold.view(tgt_out.shape)
    vocab = member.generator.out_features
    copied = tgt_out >= vocab
    logits = member(src, src_lengths, tgt_in.masked_fill(tgt_in >= vocab, UNK_ID))
    gold = gold_log_probs(logits, tgt_out.masked_fill(copied, UNK_ID))
    return gold.masked_fill(copied, float("-inf"))


def score_pairs(
    model,
    src_ids: Sequence[Sequence[int]],
    tgt_ids: Sequence[Sequence[int]],
    reverse_source: bool,
    batch_size: int = 64,
    device: str | torch.device = "cpu",
    src_maps: Sequence[Sequence[int]] | None = None,
) -> list[float]:
    """log p(y <eos> | x) for each (source ids, target ids) pair, batched by length. A copy
    model needs `src_maps`, each source's extended ids, and targets in extended ids."""
    order = sorted(range(len(src_ids)), key=lambda i: (len(src_ids[i]), len(tgt_ids[i])))
    scores = [0.0] * len(src_ids)
    for start in range(0, len(order), batch_size):
        rows = order[start : start + batch_size]
        src, lengths = make_source_batch([src_ids[i] for i in rows], PAD_ID, reverse_source)
        tgt_in, tgt_out = make_target_batch([tgt_ids[i] for i in rows])
        src_map = None
        if src_maps is not None:
            src_map, _ = make_source_batch([src_maps[i] for i in rows], PAD_ID, reverse_source)
            src_map = src_map.to(device)
        totals = target_log_probs(
            model,
            src.to(device),
            lengths.to(device),
            tgt_in.to(device),
            tgt_out.to(device),
            src_map=src_map,
        )
        for row, total in zip(rows, totals.tolist(), strict=True):
            scores[row] = total
    return scores


@dataclass
class Perplexity:
    """exp(nll / tokens): per-token perplexity of the references, EOS included."""

    perplexity: float
    nll: float  # summed negative log-likelihood (nats)
    tokens: int  # reference tokens scored, one EOS per sentence included
    sentences: int  # sentence pairs scored
    skipped: int  # pairs left out because the source line is empty

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def reference_perplexity(
    model,
    src_ids: Sequence[Sequence[int]],
    tgt_ids: Sequence[Sequence[int]],
    reverse_source: bool,
    batch_size: int = 64,
    device: str | torch.device = "cpu",
    src_maps: Sequence[Sequence[int]] | None = None,
) -> Perplexity:
    """Teacher-forced perplexity of the references `tgt_ids` given `src_ids` (`score_pairs`;
    a copy model's `src_maps` and extended `tgt_ids`, as there).

    Pairs whose source is empty are left out (with a warning): the encoder has nothing to read.
    """
    kept = [i for i, ids in enumerate(src_ids) if ids]
    if len(kept) < len(src_ids):
        first = next(i for i, ids in enumerate(src_ids) if not ids)
        log.warning(
            f"{len(src_ids) - len(kept)} empty source lines (first: line {first + 1}) are left "
            "out of the perplexity"
        )
    if not kept:
        raise DataError("every source line is empty; there is nothing to score")
    targets = [tgt_ids[i] for i in kept]
    maps = None if src_maps is None else [src_maps[i] for i in kept]
    log_probs = score_pairs(
        model, [src_ids[i] for i in kept], targets, reverse_source, batch_size, device, maps
    )
    nll = -math.fsum(log_probs)
    tokens = sum(len(ids) + 1 for ids in targets)  # + 1: the EOS of each sentence
    return Perplexity(
        perplexity=math.exp(min(nll / tokens, 700.0)),
        nll=nll,
        tokens=tokens,
        sentences=len(kept),
        skipped=len(src_ids) - len(kept),
    )
