"""Joint CTC/attention rescoring (Watanabe et al. 2017, §4.1): the beam's n-best re-ranked.

A speech model trained with ``train.ctc_weight > 0`` has two views of a transcript: the attention
decoder's log p_att(y | x), which the beam search ranks by, and the CTC head's log p_ctc(y | x),
summed over every monotonic frame alignment (train/ctc.py). The attention decoder alone can skip
or repeat a stretch of audio and still be confident; CTC cannot, since every token must be spent
on frames in order. With ``decode.ctc_weight`` = λ > 0 the search keeps its whole beam of finished
hypotheses, and this module ranks them by

    ((1 - λ) log p_att(y | x) + λ log p_ctc(y | x)) / (|y| + 1) ** length_penalty

the paper's rescoring method (its one-pass variant scores prefixes inside the search). A hypothesis
longer than its frames can align gets log p_ctc = -inf and falls to the end. An ensemble's CTC term
is the mean of its members' (each member's CTC head over its own encoding).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import torch
import torch.nn.functional as F

from seq2seq.data.vocab import PAD_ID
from seq2seq.decode.search import Hypothesis, normalise
from seq2seq.errors import ConfigError


def ctc_members(model: object) -> tuple:
    """The models whose CTC heads score a transcript: an ensemble's members, or the model; a
    ConfigError when one of them has no CTC head."""
    members = tuple(getattr(model, "members", None) or (model,))
    if any(getattr(m, "ctc", None) is None for m in members):
        raise ConfigError(
            "decode.ctc_weight needs a speech model trained with a CTC head "
            "(train.ctc_weight > 0); this checkpoint has none"
        )
    return members


@torch.no_grad()
def ctc_log_likelihoods(
    model: object,
    src: torch.Tensor,
    src_lengths: torch.Tensor,
    hyps: Sequence[Sequence[Hypothesis]],
) -> list[list[float]]:
    """log p_ctc of every hypothesis of every row: src (B, T, F), src_lengths (B,), hyps[b] the
    n-best of row b -> one float per hypothesis (-inf where no alignment exists)."""
    rows = [b for b, row in enumerate(hyps) for _ in row]
    if not rows:
        return [[] for _ in hyps]
    index = torch.tensor(rows, device=src.device)
    tokens = [h.tokens for row in hyps for h in row]
    targets = torch.tensor([t for seq in tokens for t in seq], dtype=torch.long)
    target_lengths = torch.tensor([len(seq) for seq in tokens], dtype=torch.long)
    total = torch.zeros(len(rows), dtype=torch.float64)
    members = ctc_members(model)
    for member in members:
        encoded = member.encode(src, src_lengths)
        log_probs = member.ctc_log_probs(encoded).index_select(0, index)  # (N, S', V)
        lengths = encoded.lengths.index_select(0, index).cpu()
        losses = F.ctc_loss(
            log_probs.transpose(0, 1).cpu(),  # (S', N, V), as ctc_loss wants
            targets,
            lengths,
            target_lengths,
            blank=PAD_ID,
            reduction="none",
            zero_infinity=False,
        )
        total -= losses.double()
    scores = (total / len(members)).tolist()
    out, at = [], 0
    for row in hyps:
        out.append(scores[at : at + len(row)])
        at += len(row)
    return out


def rescore(
    hyps: Sequence[Sequence[Hypothesis]],
    ctc: Sequence[Sequence[float]],
    weight: float,
    length_penalty: float,
    n_best: int,
) -> list[list[tuple[Hypothesis, float]]]:
    """Each row's (hypothesis, its log p_ctc) ranked by the joint score (module docstring), the
    best `n_best` kept; a hypothesis keeps its attention log_prob, its `score` is the joint one."""
    ranked = []
    for row, row_ctc in zip(hyps, ctc, strict=True):
        joint = [
            (
                replace(
                    h,
                    score=normalise(
                        _joint(h.log_prob, c, weight), len(h.tokens) + 1, length_penalty
                    ),
                ),
                c,
            )  # fmt: skip
            for h, c in zip(row, row_ctc, strict=True)
        ]
        ranked.append(sorted(joint, key=lambda pair: -pair[0].score)[:n_best])
    return ranked


def _joint(attention: float, ctc: float, weight: float) -> float:
    """(1 - weight) * attention + weight * ctc, a weight of 0 or 1 leaving the other term out
    (0 * -inf would be NaN)."""
    return (attention if weight < 1 else 0.0) * (1 - weight) + (ctc * weight if weight > 0 else 0.0)
