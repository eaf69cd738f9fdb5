"""Joint CTC/attention search (Watanabe et al. 2017, §4.2): CTC prefix scores in every step.

A speech model trained with ``train.ctc_weight > 0`` has two views of a transcript y: the attention
decoder's log p_att(y | x), which spells left to right, and the CTC head's log p_ctc(y | x), summed
over every monotonic frame alignment (train/ctc.py). The decoder alone can lose its place, skip
or repeat a stretch of audio, or go on writing a likely sentence the audio does not hold; CTC
cannot, since every token must be spent on frames in order. With ``decode.ctc_weight`` = λ > 0
every step of greedy or beam search ranks an extension g + c of a prefix g by

    (1 - λ) log p_att(c | g, x) + λ (log ψ(g + c) - log ψ(g))

where ψ(h) is the CTC *prefix* probability of h, the probability that the frames' CTC labelling
starts with h (Watanabe et al. 2017, Algorithm 2); an ending g + <eos> gets ψ = p_ctc(g | x), the
whole-sequence probability. The increments telescope, so a finished hypothesis scores exactly
(1 - λ) log p_att(y) + λ log p_ctc(y), and each increment is at most 0, so the beam's early stop
(decode/search.py) stays exact. `CTCJoint` wraps any search model (one model or an ensemble,
whose members' frame posteriors are averaged) in the `SearchModel` interface, so the searches
themselves do not change.

The prefix recursions (r^n, r^b: g's probability on frames 1..t ending in a label or a blank) are
linear in probability space, R_t = (R_{t-1} + A_t) X_t, computed in log space (float32: the
finished scores agree with the CTC loss to 1e-3) for every row and scored token at once, frame by
frame. Only the ``PRE_BEAM`` likeliest tokens under the attention decoder are scored when the
vocabulary is larger (ESPnet's partial scoring); <eos> always is. Frames past an utterance's
length take no part.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import torch
import torch.nn.functional as F

from seq2seq.data.vocab import BOS_ID, EOS_ID, PAD_ID
from seq2seq.decode.search import Hypothesis
from seq2seq.errors import ConfigError
from seq2seq.model.encoder import Encoded

PRE_BEAM = 64  # tokens scored by CTC per step at most (the attention decoder's likeliest)
DTYPE = torch.float32  # of the prefix recursions (float64 took 1.4x the time)
NEG_INF = float("-inf")


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


def frame_log_probs(members: Sequence[Any], encoded: Any) -> tuple[torch.Tensor, torch.Tensor]:
    """The CTC heads' frame log-posteriors (B, S', V), the members' probabilities averaged, and
    the shortened lengths (B,) of `encoded` (one model's `Encoded`, or an ensemble's tuple)."""
    parts = (encoded,) if isinstance(encoded, Encoded) else encoded  # Encoded is a tuple too
    outputs = [m.ctc_log_probs(e) for m, e in zip(members, parts, strict=True)]
    if len({o.shape for o in outputs}) > 1:
        raise ConfigError("decode.ctc_weight: the ensemble's members shorten time differently")
    log_probs = torch.logsumexp(torch.stack(outputs), dim=0) - math.log(len(outputs))
    return log_probs, parts[0].lengths


@torch.no_grad()
def ctc_log_likelihoods(
    model: Any,
    src: torch.Tensor,
    src_lengths: torch.Tensor,
    hyps: Sequence[Sequence[Hypothesis]],
    frames: tuple[torch.Tensor, torch.Tensor] | None = None,
) -> list[list[float]]:
    """log p_ctc of every hypothesis of every row (F.ctc_loss, the training loss's arithmetic):
    src (B, T, F), src_lengths (B,), hyps[b] the n-best of row b -> one float per hypothesis
    (-inf where no alignment exists). `frames`: the batch's CTC log-posteriors (B, S', V) and
    lengths (B,) when a search already computed them (`CTCJoint.frames`); else src is encoded."""
    rows = [b for b, row in enumerate(hyps) for _ in row]
    if not rows:
        return [[] for _ in hyps]
    if frames is None:
        frames = frame_log_probs(ctc_members(model), model.encode(src, src_lengths))
    log_probs, lengths = frames
    index = torch.tensor(rows, device=log_probs.device)
    tokens = [h.tokens for row in hyps for h in row]
    losses = F.ctc_loss(
        log_probs.index_select(0, index).transpose(0, 1).cpu(),  # (S', N, V), as ctc_loss wants
        torch.tensor([t for seq in tokens for t in seq], dtype=torch.long),
        lengths.index_select(0, index).cpu(),
        torch.tensor([len(seq) for seq in tokens], dtype=torch.long),
        blank=PAD_ID,
        reduction="none",
        zero_infinity=False,
    )
    scores, out = (-losses.double()).tolist(), []
    for row in hyps:
        out.append(scores[: len(row)])
        scores = scores[len(row) :]
    return out


@dataclass
class CTCState:
    """The wrapped model's state and each row's CTC prefix state (N rows)."""

    base: Any  # the model's own decoder state
    x: torch.Tensor  # (S', B, V) frame log-posteriors of the batch (0 past a sentence's end)
    x_live: torch.Tensor  # (S', B, V) the same, -inf past a sentence's end
    lengths: torch.Tensor  # (B,) frames per sentence
    rows: torch.Tensor  # (N,) each row's sentence
    r_n: torch.Tensor  # (S', N): log p(prefix on frames 1..t, last frame a label)
    r_b: torch.Tensor  # (S', N): the same, last frame a blank
    psi: torch.Tensor  # (N,) log prefix probability of the row's prefix
    last: torch.Tensor  # (N,) the prefix's last token, -1 for the empty prefix
    pending: tuple[torch.Tensor, ...] | None = None  # the last step's extensions (`_expand`)

    @property
    def attn(self) -> torch.Tensor | None:
        return self.base.attn

    def select(self, index: torch.Tensor) -> CTCState:
        pending = None
        if self.pending is not None:
            cols, r_n, r_b, psi = self.pending
            pending = (cols[index], r_n[:, index], r_b[:, index], psi[index])
        return replace(self, base=self.base.select(index), rows=self.rows[index],
                       r_n=self.r_n[:, index], r_b=self.r_b[:, index], psi=self.psi[index],
                       last=self.last[index], pending=pending)  # fmt: skip


class CTCJoint:
    """A search model whose steps mix the CTC prefix scores of `model`'s CTC heads with weight
    `weight` into its own log-probabilities (module docstring)."""

    def __init__(self, model: Any, weight: float) -> None:
        if not 0.0 < weight <= 1.0:
            raise ConfigError(
                f"decode.ctc_weight must be in (0, 1] for a joint search, not {weight}"
            )
        self.model, self.weight = model, weight
        self.heads = ctc_members(model)
        # the last batch's CTC log-posteriors (B, S', V) and lengths (B,), for its n-best's
        # CTC scores (ctc_log_likelihoods) without encoding the batch again
        self.frames: tuple[torch.Tensor, torch.Tensor] | None = None

    @property
    def members(self) -> Sequence[Any]:
        return self.model.members

    def encode(self, src: torch.Tensor, src_lengths: torch.Tensor) -> tuple[Any, ...]:
        encoded = self.model.encode(src, src_lengths)
        log_probs, lengths = self.frames = frame_log_probs(self.heads, encoded)
        return encoded, log_probs.float().transpose(0, 1).contiguous(), lengths

    def init_state(self, encoded: tuple[Any, ...], src_map: torch.Tensor | None = None) -> CTCState:
        inner, x, lengths = encoded
        base = (
            self.model.init_state(inner)
            if src_map is None
            else self.model.init_state(inner, src_map)
        )
        frames, batch = x.shape[:2]
        dead = (torch.arange(frames, device=x.device).unsqueeze(1) >= lengths.unsqueeze(0))[
            ..., None
        ]
        x = x.to(DTYPE)  # masked once here, not at every step
        x_zero, x_live = x.masked_fill(dead, 0.0), x.masked_fill(dead, NEG_INF)
        rows = torch.arange(batch, device=x.device)
        blanks = x_zero[:, :, PAD_ID].cumsum(0)  # the empty prefix: blanks only
        return CTCState(base, x_zero, x_live, lengths, rows, torch.full_like(blanks, NEG_INF),
                        blanks, torch.zeros(batch, dtype=DTYPE, device=x.device),
                        torch.full((batch,), -1, dtype=torch.long, device=x.device))  # fmt: skip

    def output_layer(self, ids: torch.Tensor) -> Any:
        raise ConfigError("decode.ctc_weight and a lexical shortlist cannot be combined")

    def step(
        self, tokens: torch.Tensor, state: CTCState, output: Any = None
    ) -> tuple[torch.Tensor, CTCState]:
        """tokens (N,) -> joint log-probability increments (N, V), the next state."""
        att, base = self.model.step(tokens, state.base)
        state = _advance(state, tokens)
        joint, pending = _expand(state, att.float(), self.weight)
        return joint, replace(state, base=base, pending=pending)


def _advance(state: CTCState, tokens: torch.Tensor) -> CTCState:
    """The rows' prefixes grown by the tokens the search chose from the last expansion."""
    if state.pending is None:  # the first step: the prefix is still empty
        return state
    cols, r_n, r_b, psi = state.pending
    hit = cols == tokens.unsqueeze(1)  # (N, P)
    pos, found = hit.float().argmax(1), hit.any(1)
    rows = torch.arange(tokens.numel(), device=tokens.device)
    new_psi = torch.where(found, psi[rows, pos], torch.full_like(psi[:, 0], NEG_INF))
    return replace(state, r_n=r_n[:, rows, pos], r_b=r_b[:, rows, pos], psi=new_psi,
                   last=tokens, pending=None)  # fmt: skip


def _expand(state: CTCState, att: torch.Tensor, weight: float):
    """Every extension g + c of the rows' prefixes g: joint increments (N, V) and the pending
    (cols (N, P), r_n and r_b (S', N, P), psi (N, P)) of the scored columns."""
    n, vocab = att.shape
    cols = _columns(att)
    pick = (slice(None), state.rows.unsqueeze(1), cols)  # (S', N, P) of the frames' (S', B, V)
    x_c, x_c_live = state.x[pick], state.x_live[pick]  # dead frames: 0 / -inf
    x_b = state.x[:, state.rows, PAD_ID].unsqueeze(2).expand_as(x_c)
    repeat = (cols == state.last.unsqueeze(1)).unsqueeze(0)  # c == last(g): no label path joins
    either = torch.logaddexp(state.r_b, state.r_n).unsqueeze(2)  # (S', N, 1)
    phi = torch.where(repeat, state.r_b.unsqueeze(2), either)  # (S', N, P)
    empty = torch.where(state.last < 0, 0.0, NEG_INF).to(phi).unsqueeze(1).expand(n, cols.size(1))
    inflow = torch.cat([empty.unsqueeze(0), phi[:-1]], dim=0)  # A_t of r^n
    r_n = _recur(inflow, x_c)
    r_b = _recur(torch.cat([torch.full_like(empty, NEG_INF).unsqueeze(0), r_n[:-1]]), x_b)
    psi = torch.logsumexp(inflow + x_c_live, dim=0)  # (N, P): a label starting at any frame
    end = (state.lengths[state.rows] - 1).clamp(min=0).unsqueeze(0)
    whole = torch.logaddexp(state.r_n.gather(0, end), state.r_b.gather(0, end)).squeeze(0)
    psi = torch.where(cols == EOS_ID, whole.unsqueeze(1), psi)
    psi = psi.masked_fill((cols == PAD_ID) | (cols == BOS_ID), NEG_INF)
    gain = (psi - state.psi.unsqueeze(1)).masked_fill(
        ~torch.isfinite(state.psi).unsqueeze(1), NEG_INF
    )
    mixed = weight * gain + (0.0 if weight == 1.0 else (1 - weight) * att.gather(1, cols).to(gain))
    joint = torch.full((n, vocab), NEG_INF, device=att.device)
    joint.scatter_(1, cols, mixed.float())
    return joint, (cols, r_n, r_b, psi)


def _columns(att: torch.Tensor) -> torch.Tensor:
    """The token columns (N, P) CTC scores this step: all of them, or the PRE_BEAM likeliest
    under the attention decoder with <eos> always among them."""
    n, vocab = att.shape
    if vocab <= PRE_BEAM:
        return torch.arange(vocab, device=att.device).expand(n, vocab)
    ranked = att.clone()
    ranked[:, EOS_ID] = float("inf")
    return ranked.topk(PRE_BEAM, dim=1).indices


def _recur(inflow: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """R_t = (R_{t-1} + A_t) X_t over the frame axis 0, in log space: inflow log A (S', ...),
    x log X (S', ...) -> log R (S', ...). A loop over frames of two small operations each: the
    closed form C_t + logcumsumexp_s(log A_s - C_{s-1}) measured ten times slower here."""
    out = torch.empty_like(x)
    previous = torch.full_like(x[0], NEG_INF)
    for t in range(x.size(0)):
        previous = torch.logaddexp(previous, inflow[t]).add_(x[t])
        out[t] = previous
    return out
