"""Greedy search, sampling and batched beam search: pure functions over any object with the model
interface.

The interface (docs/ARCHITECTURE.md) is ``encode(src, src_lengths)``, ``init_state(encoded)``,
``step(tokens (N,), state) -> (log_probs (N, V), state)`` and ``state.select(index)``; a single
`Seq2Seq` and an `Ensemble` both provide it. With ``attention=True``, and a state that carries
attention weights ``attn`` ``(N, 1, S)`` after a step, the hypotheses keep them (one row per
output token, EOS included); otherwise no attention history is built, gathered or copied.

Beam search follows the paper (§3.2): a left-to-right beam of the ``K`` most likely prefixes; a
hypothesis is complete when it emits EOS. All sentences and beams live in one tensor of
``B * K`` rows; finished hypotheses are taken out with masks. A sentence is done, and leaves the
batch (so later steps pay only for sentences still searching), once `beam_size` hypotheses have
ended, or once it has `n_best` finished hypotheses and no open prefix can still beat the best of
them. That test is exact: a prefix's log-probability only falls as it grows, so its best possible
normalised score is its log-probability now divided by the longest length it may still reach.
The stopping rule therefore never changes the best hypothesis: the 1-best is the top of every
n-best list. Both searches force EOS once a sentence reaches
``floor(max_len_ratio * src_len + max_len_offset)`` output tokens, so every hypothesis ends with
EOS and its log-probability includes it; with ``beam_size=1`` beam search returns exactly the
greedy output. Ranking uses ``log_prob / (len + 1) ** length_penalty`` (the +1 counts EOS).

Sampling (`sample_search`, ``settings.sampling``) runs greedy search's loop with a draw in place of
the arg-max: ``n_best`` rows per sentence, each token drawn from softmax(log_probs / temperature)
cut to top-k and top-p, from a generator of the sentence's own (seeded by ``settings.seed`` and
the sentence's line number), so a run repeats exactly whatever the batching.

Both take the model, the source batch and a `DecodeConfig` (config.py), the one carrier of search
settings; the special ids are the vocabularies' fixed ones (data/vocab.py).

The searches write into the log-probabilities a step returns (banned tokens, adding the prefix
scores): `step` must hand back a fresh tensor, as a log-softmax does.

With ``candidates`` (C,) target ids (a lexical shortlist, data/shortlist.py) the model's output
layer is cut to those ids once per batch (``model.output_layer``) and every step scores only
them; column j of the log-probabilities stands for ``candidates[j]``, and tokens are mapped back
to vocabulary ids as soon as they are chosen.

A copy model (model/copy.py) takes ``src_map`` (B, S), the extended target id of each source
token; its steps score V + X columns, X extra slots for source words outside the vocabulary, and
a chosen id >= V is fed back as such (the model reads it as <unk>) and returned in the tokens.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch

from seq2seq.config import DecodeConfig
from seq2seq.data.vocab import BOS_ID, EOS_ID, PAD_ID
from seq2seq.model.interface import SearchModel, SearchState

NEG_INF = float("-inf")
MAX_LOG_FLOAT = math.log(torch.finfo(torch.float64).max)
NUCLEUS_POOL = 256  # top-p looks among this many likeliest tokens before sorting a whole row


@dataclass
class Hypothesis:
    """One finished output sequence."""

    tokens: list[int]  # output ids, without BOS and EOS
    log_prob: float  # total log-probability of tokens + EOS under the model
    score: float  # log_prob / (len(tokens) + 1) ** length_penalty, used for ranking
    # (len(tokens) + 1, src_len) when asked (attention=True) and the model attends
    attention: torch.Tensor | None = None


def normalise(log_prob: float, length: int, alpha: float) -> float:
    """Length-normalised score ``log_prob / length ** alpha``; alpha = 0 gives the raw log-prob.

    A divisor past float's range (checked in log space) is infinite, never an OverflowError;
    `DecodeConfig` bounds alpha well below that.
    """
    return log_prob if alpha == 0 else log_prob / length_divisor(length, alpha)


def length_divisor(length: int, alpha: float) -> float:
    """``length ** alpha``, or inf where ``alpha * log(length)`` is past float's range."""
    if alpha * math.log(length) >= MAX_LOG_FLOAT - 1.0:  # a margin for rounding
        return math.inf
    return float(length) ** alpha


def max_output_lengths(src_lengths: torch.Tensor, ratio: float, offset: int) -> torch.Tensor:
    """Per-sentence cap on output tokens before EOS is forced: ``floor(ratio * len + offset)``."""
    return (src_lengths.double() * ratio + offset).floor().long()  # (B,)


def _attention(state: SearchState) -> torch.Tensor | None:
    """The attention weights of the last step, ``(N, S)``, or None for a model without attention.

    A state keeps ``attn (N, T, S)`` from its last decode call (T = 1 in search).
    """
    attn = state.attn
    if attn is None:
        return None
    return attn[:, -1] if attn.dim() == 3 else attn


class _Restrictions:
    """Which tokens a step may emit: never BOS or PAD; no EOS before `min_len` output tokens; only
    EOS once a sentence is at its limit.

    Works in place on the fresh log-probabilities of a step, touching only the banned columns
    and the forced rows: a pass over the whole (N, V) matrix would cost as much as the softmax.
    """

    def __init__(
        self,
        bos_id: int,
        eos_id: int,
        pad_id: int | None,
        candidates: torch.Tensor | None = None,
        min_len: int = 0,
    ) -> None:
        ids = None if candidates is None else candidates.tolist()

        def column(token: int) -> int | None:  # where `token` sits in the log-probabilities
            if ids is None:
                return token
            return ids.index(token) if token in ids else None

        eos = column(eos_id)
        if eos is None:
            raise ValueError("the candidate target ids must include EOS")
        self.eos_id = eos  # a column
        columns = (column(i) for i in (bos_id, pad_id) if i is not None and i != eos_id)
        self.banned = sorted({c for c in columns if c is not None})
        self.index: torch.Tensor | None = None
        self.min_len = min_len

    def __call__(self, log_probs: torch.Tensor, force_eos: torch.Tensor, step: int) -> torch.Tensor:
        """log_probs (N, V), force_eos (N,) bool, `step` output tokens so far -> the same tensor,
        restricted.

        Half-precision log-probabilities are widened first: prefix scores add up in float32.
        """
        if log_probs.dtype in (torch.float16, torch.bfloat16):
            log_probs = log_probs.float()
        if self.banned:
            if self.index is None:
                self.index = torch.tensor(self.banned, device=log_probs.device)
            log_probs.index_fill_(1, self.index, NEG_INF)
        forced = force_eos.nonzero().flatten() if bool(force_eos.any()) else None
        if forced is not None:  # the length cap wins over min_len, and always ends the sentence:
            # EOS keeps its log-probability, made finite if the model had ruled it out
            eos = log_probs[forced, self.eos_id].clamp(min=torch.finfo(log_probs.dtype).min)
        if step < self.min_len:
            log_probs[:, self.eos_id] = NEG_INF
        if forced is not None:
            log_probs[forced] = NEG_INF
            log_probs[forced, self.eos_id] = eos
        return log_probs


@torch.no_grad()
def search(
    model: SearchModel[Any],
    src: torch.Tensor,
    src_lengths: torch.Tensor,
    settings: DecodeConfig,
    candidates: torch.Tensor | None = None,
    attention: bool = False,
    lines: Sequence[int] | None = None,
    src_map: torch.Tensor | None = None,
) -> list[list[Hypothesis]]:
    """Sampling when `settings.sampling`, greedy search for a beam of one, beam search otherwise;
    see those three. `lines` (B,) number the sentences for sampling's random streams; `src_map`
    (B, S) is a copy model's map of the source into its extended vocabulary (model/copy.py)."""
    if settings.sampling:
        return sample_search(
            model, src, src_lengths, settings, candidates, attention, lines, src_map
        )
    if settings.beam_size == 1:
        return greedy_search(model, src, src_lengths, settings, candidates, attention, src_map)
    return beam_search(model, src, src_lengths, settings, candidates, attention, src_map)


@torch.no_grad()
def greedy_search(
    model: SearchModel[Any],
    src: torch.Tensor,
    src_lengths: torch.Tensor,
    settings: DecodeConfig,
    candidates: torch.Tensor | None = None,
    attention: bool = False,
    src_map: torch.Tensor | None = None,
) -> list[list[Hypothesis]]:
    """Feed back the most likely token until EOS (§3.2 with a beam of one).

    src: (B, S) token ids as the encoder expects them; src_lengths: (B,); candidates: (C,)
    target ids to choose from (all when None); `attention`: keep each hypothesis's attention
    rows (a model without attention gives None). Returns one single-element list of hypotheses
    per sentence, in input order. `settings.beam_size` and `n_best` are not read.
    """

    def most_likely(log_probs: torch.Tensor, scores: torch.Tensor, rows: torch.Tensor, step: int):
        # The same arithmetic as beam search, so that a beam of one gives exactly this output.
        best, top = log_probs.add_(scores.unsqueeze(1)).topk(1, dim=1)
        return best.squeeze(1), top.squeeze(1)

    return _decode_rows(
        model, src, src_lengths, settings, candidates, attention, 1, most_likely, src_map
    )


@torch.no_grad()
def sample_search(
    model: SearchModel[Any],
    src: torch.Tensor,
    src_lengths: torch.Tensor,
    settings: DecodeConfig,
    candidates: torch.Tensor | None = None,
    attention: bool = False,
    lines: Sequence[int] | None = None,
    src_map: torch.Tensor | None = None,
) -> list[list[Hypothesis]]:
    """Ancestral sampling: each token drawn from the model's distribution, until EOS.

    The distribution of a step is softmax(log_probs / temperature), cut to the `top_k` likeliest
    tokens and then to the nucleus (the likeliest tokens whose probability reaches `top_p`),
    after the same restrictions as the other searches (min_len, the length cap). An ensemble's
    step already returns its members' averaged distribution (paper §3.6), so it samples from it.
    Each sentence draws `n_best` samples, returned best normalised score first (duplicates
    kept); a hypothesis's log_prob is its log-probability under the model, temperature aside.

    Randomness: sentence i draws from its own torch.Generator, seeded by (settings.seed,
    lines[i]) (`lines` default 0..B-1), independent of the global RNG; its uniforms are drawn
    once, up to its own length cap, so a sentence gets the same samples whatever it is batched
    with. src: (B, S); src_lengths: (B,); candidates: (C,) target ids to choose from.
    """
    copies = settings.n_best
    numbers = range(src.size(0)) if lines is None else lines
    caps = max_output_lengths(src_lengths, settings.max_len_ratio, settings.max_len_offset)
    uniforms = _uniforms(
        [sentence_seed(settings.seed, n) for n in numbers], copies, caps.tolist(), src.device
    )  # (B * copies, max cap + 1)

    def draw(log_probs: torch.Tensor, scores: torch.Tensor, rows: torch.Tensor, step: int):
        columns = draw_tokens(log_probs, uniforms[rows, step], settings)
        return scores + log_probs.gather(1, columns.unsqueeze(1)).squeeze(1), columns

    return _decode_rows(
        model, src, src_lengths, settings, candidates, attention, copies, draw, src_map
    )


def sentence_seed(seed: int, line: int) -> int:
    """The generator seed of one sentence's samples, a hash of (seed, line).

    Hashed, not summed: torch's CPU generator keeps 32 bits of a seed, so ``seed * 2**32 + line``
    would give every seed the same streams, and ``seed + line`` would share streams between
    neighbouring seeds.
    """
    digest = hashlib.blake2b(f"{seed}:{line}".encode(), digest_size=4).digest()
    return int.from_bytes(digest, "little")


def _uniforms(
    seeds: Sequence[int], copies: int, caps: Sequence[int], device: torch.device
) -> torch.Tensor:
    """Uniforms in [0, 1), (len(seeds) * copies, max(caps) + 1): row j of sentence i from a
    generator seeded with seeds[i], drawn up to that sentence's own cap (+ 1 for EOS)."""
    width = max(caps) + 1
    out = torch.zeros(len(seeds) * copies, width, dtype=torch.float64)
    for i, (seed, cap) in enumerate(zip(seeds, caps, strict=True)):
        generator = torch.Generator().manual_seed(seed)
        out[i * copies : (i + 1) * copies, : cap + 1] = torch.rand(
            copies, cap + 1, generator=generator, dtype=torch.float64
        )
    return out.to(device)


def draw_tokens(
    log_probs: torch.Tensor, uniforms: torch.Tensor, settings: DecodeConfig
) -> torch.Tensor:
    """One draw per row: log_probs (m, V) restricted, uniforms (m,) in [0, 1) -> columns (m,).

    By inverse transform over softmax(log_probs / temperature), cut to `top_k` and `top_p`;
    a token of probability zero (banned, or cut) is never drawn.
    """
    logits = log_probs.double()
    logits = (logits - logits.amax(1, keepdim=True)) / settings.temperature  # max row is 0
    vocab, top_p = logits.size(1), settings.top_p
    k = settings.top_k if 0 < settings.top_k < vocab else vocab
    if top_p < 1.0 and k == vocab and vocab > NUCLEUS_POOL:
        return _draw_nucleus(logits, uniforms, top_p)
    if k == vocab and top_p == 1.0:
        return _inverse_transform(torch.softmax(logits, dim=1), uniforms)
    values, columns = logits.topk(k, dim=1)  # (m, k), likeliest first
    pick = _inverse_transform(_nucleus(torch.softmax(values, dim=1), top_p), uniforms)
    return columns.gather(1, pick.unsqueeze(1)).squeeze(1)


def _draw_nucleus(logits: torch.Tensor, uniforms: torch.Tensor, top_p: float) -> torch.Tensor:
    """Nucleus sampling without sorting the vocabulary: logits (m, V) -> columns (m,).

    The nucleus is sought among the NUCLEUS_POOL likeliest tokens; only a row whose pool holds
    less than `top_p` of the probability (a flat distribution) is sorted in full. The draw is
    the one a full sort gives.
    """
    values, columns = logits.topk(NUCLEUS_POOL, dim=1)  # (m, P)
    shares = (values - logits.logsumexp(1, keepdim=True)).exp()  # of the whole distribution
    pick = _inverse_transform(_nucleus(shares, top_p), uniforms)
    tokens = columns.gather(1, pick.unsqueeze(1)).squeeze(1)
    short = (shares.sum(1) < top_p).nonzero().flatten()
    if short.numel() > 0:
        values, columns = logits[short].sort(dim=1, descending=True)
        pick = _inverse_transform(_nucleus(torch.softmax(values, 1), top_p), uniforms[short])
        tokens[short] = columns.gather(1, pick.unsqueeze(1)).squeeze(1)
    return tokens


def _nucleus(probs: torch.Tensor, top_p: float) -> torch.Tensor:
    """probs (m, n) likeliest first -> zero past the nucleus: a token stays while the likelier
    ones hold less than `top_p` (the first always stays)."""
    if top_p >= 1.0:
        return probs
    return probs.masked_fill(probs.cumsum(1) - probs >= top_p, 0.0)


def _inverse_transform(probs: torch.Tensor, uniforms: torch.Tensor) -> torch.Tensor:
    """probs (m, n) unnormalised, uniforms (m,) in [0, 1) -> the column (m,) where each
    uniform falls in the cumulative distribution; a column of probability zero never."""
    cdf = probs.cumsum(1)
    total = cdf[:, -1:]
    below = torch.nextafter(total, torch.zeros_like(total))  # u * total stays below the total
    target = torch.minimum(uniforms.to(cdf.dtype).unsqueeze(1) * total, below)
    return torch.searchsorted(cdf, target, right=True).squeeze(1)


def _decode_rows(
    model: SearchModel[Any],
    src: torch.Tensor,
    src_lengths: torch.Tensor,
    settings: DecodeConfig,
    candidates: torch.Tensor | None,
    attention: bool,
    copies: int,
    choose: Any,
    src_map: torch.Tensor | None = None,
) -> list[list[Hypothesis]]:
    """One token per row per step until EOS: the loop of greedy search and sampling.

    Each sentence has `copies` independent rows; `choose(log_probs (m, V), scores (m,),
    rows (m,), step)` gives each live row its new total score and chosen column, `rows` being
    the rows' original indices (sentence * copies + copy). Finished rows leave the batch.
    """
    batch, device = src.size(0) * copies, src.device
    state, max_lens, restrict, output = _start(
        model, src, src_lengths, settings, candidates, copies if copies > 1 else None, src_map
    )
    max_lens = max_lens.repeat_interleave(copies)  # (B * copies,)
    rows = torch.arange(batch, device=device)  # original index of each row still decoding
    scores = torch.zeros(batch, device=device)
    tokens = torch.full((batch,), BOS_ID, dtype=torch.long, device=device)
    history = torch.empty(batch, 0, dtype=torch.long, device=device)  # (n, t)
    history_attn: torch.Tensor | None = None  # (n, t, S), only when `attention` is asked
    finished = _Finished(src_lengths, settings.length_penalty, copies)
    step = 0
    while rows.numel() > 0:
        log_probs, state = _step(model, tokens, state, output)  # (n, V) or (n, C)
        log_probs = restrict(log_probs, max_lens[rows] <= step, step)
        scores, tokens = choose(log_probs, scores, rows, step)
        if candidates is not None:
            tokens = candidates[tokens]
        if attention:
            history_attn = _extend_attention(history_attn, _attention(state))
        done = tokens == EOS_ID
        if bool(done.any()):
            ended = done.nonzero().flatten()
            finished.add(rows[ended] // copies, history[ended], scores[ended], history_attn, ended)
            keep = (~done).nonzero().flatten()
            if keep.numel() == 0:
                break
            state = state.select(keep)
            rows, scores, tokens, history = rows[keep], scores[keep], tokens[keep], history[keep]
            history_attn = None if history_attn is None else history_attn[keep]
        history = torch.cat([history, tokens.unsqueeze(1)], dim=1)
        step += 1
    return finished.ranked()


def _start(
    model: SearchModel[Any],
    src: torch.Tensor,
    src_lengths: torch.Tensor,
    settings: DecodeConfig,
    candidates: torch.Tensor | None,
    beam_size: int | None = None,
    src_map: torch.Tensor | None = None,
) -> tuple[SearchState, torch.Tensor, _Restrictions, Any]:
    """What both searches set up: the decoder state (each sentence's row repeated `beam_size`
    times for a beam search), the length caps (B,), the token restrictions, the cut output
    layer (None without candidates). A copy model's state also takes `src_map` (B, S)."""
    encoded = model.encode(src, src_lengths)
    state = model.init_state(encoded) if src_map is None else model.init_state(encoded, src_map)
    if beam_size is not None:
        rows = torch.arange(src.size(0), device=src.device).repeat_interleave(beam_size)
        state = state.select(rows)
    max_lens = max_output_lengths(src_lengths, settings.max_len_ratio, settings.max_len_offset)
    restrict = _Restrictions(BOS_ID, EOS_ID, PAD_ID, candidates, settings.min_len)
    output = None if candidates is None else model.output_layer(candidates)
    return state, max_lens.to(src.device), restrict, output


def _step(
    model: SearchModel[Any], tokens: torch.Tensor, state: SearchState, output: Any
) -> tuple[torch.Tensor, SearchState]:
    """model.step, over the cut output layer when there is one."""
    return model.step(tokens, state) if output is None else model.step(tokens, state, output)


def _extend_attention(
    history: torch.Tensor | None, attn: torch.Tensor | None
) -> torch.Tensor | None:
    """Append this step's attention ``(N, S)`` to the per-row history ``(N, t, S)``."""
    if attn is None:
        return None
    attn = attn.detach().unsqueeze(1)
    return attn if history is None else torch.cat([history, attn], dim=1)


class _Finished:
    """Collects finished hypotheses per sentence (in input order)."""

    def __init__(self, src_lengths: torch.Tensor, alpha: float, n_best: int = 1) -> None:
        self.src_lengths = src_lengths.tolist()
        self.alpha = alpha
        self.n_best = n_best
        self.hyps: list[list[Hypothesis]] = [[] for _ in self.src_lengths]

    def add(
        self,
        sentences: torch.Tensor,
        prefixes: torch.Tensor,
        log_probs: torch.Tensor,
        attention: torch.Tensor | None,
        rows: torch.Tensor,
    ) -> None:
        """sentences (m,) original indices, prefixes (m, t) ids, log_probs (m,) totals with EOS;
        `attention` (N, t + 1, S) is indexed by `rows` (m,) and its last row belongs to EOS."""
        for i, (sent, prefix, total) in enumerate(
            zip(sentences.tolist(), prefixes.tolist(), log_probs.tolist(), strict=True)
        ):
            attn = None
            if attention is not None:
                attn = attention[rows[i], :, : self.src_lengths[sent]].cpu()
            score = normalise(total, len(prefix) + 1, self.alpha)
            self.hyps[sent].append(Hypothesis(prefix, total, score, attn))

    def ranked(self) -> list[list[Hypothesis]]:
        """The `n_best` hypotheses of every sentence, best normalised score first."""
        return [sorted(h, key=lambda x: x.score, reverse=True)[: self.n_best] for h in self.hyps]


@dataclass
class _Beams:
    """The live part of a beam search: ``n`` sentences still searching, ``K`` rows each."""

    alive: torch.Tensor  # (n,) original sentence index
    scores: torch.Tensor  # (n, K) total log-prob of each live prefix
    tokens: torch.Tensor  # (n * K,) last token of each prefix
    history: torch.Tensor  # (n * K, t) the prefixes, BOS excluded
    attention: torch.Tensor | None  # (n * K, t, S) attention rows of the prefixes
    n_finished: torch.Tensor  # (n,) finished hypotheses collected per sentence
    best: torch.Tensor  # (n,) best normalised score among them (-inf before the first)

    @classmethod
    def start(cls, batch: int, beam_size: int, bos_id: int, device: torch.device) -> _Beams:
        scores = torch.full((batch, beam_size), NEG_INF, device=device)
        scores[:, 0] = 0.0  # all beams hold the same BOS prefix: keep only one of them alive
        return cls(
            alive=torch.arange(batch, device=device),
            scores=scores,
            tokens=torch.full((batch * beam_size,), bos_id, dtype=torch.long, device=device),
            history=torch.empty(batch * beam_size, 0, dtype=torch.long, device=device),
            attention=None,
            n_finished=torch.zeros(batch, dtype=torch.long, device=device),
            best=torch.full((batch,), NEG_INF, device=device),
        )


@torch.no_grad()
def beam_search(
    model: SearchModel[Any],
    src: torch.Tensor,
    src_lengths: torch.Tensor,
    settings: DecodeConfig,
    candidates: torch.Tensor | None = None,
    attention: bool = False,
    src_map: torch.Tensor | None = None,
) -> list[list[Hypothesis]]:
    """Batched left-to-right beam search (paper §3.2), sentences x beams in one tensor.

    src: (B, S) token ids as the encoder expects them; src_lengths: (B,); candidates: (C,)
    target ids to choose from (all when None); `attention`: keep each hypothesis's attention
    rows (a model without attention gives None).
    Returns for each sentence its `settings.n_best` hypotheses, best normalised score first.
    A sentence is complete when `beam_size` hypotheses have emitted EOS, when no open prefix can
    beat its best finished one (module docstring), or when it reached its maximum length (then
    every live beam is closed with a forced EOS).
    """
    beam_size, eos_id = settings.beam_size, EOS_ID
    batch, device = src.size(0), src.device
    state, max_lens, restrict, output = _start(
        model, src, src_lengths, settings, candidates, beam_size, src_map
    )
    beams = _Beams.start(batch, beam_size, BOS_ID, device)
    finished = _Finished(src_lengths, settings.length_penalty, settings.n_best)
    step = 0
    while beams.alive.numel() > 0:
        log_probs, state = _step(model, beams.tokens, state, output)  # (n * K, V) or (n * K, C)
        force = max_lens[beams.alive] <= step  # (n,)
        log_probs = restrict(log_probs, force.repeat_interleave(beam_size), step)
        longest = (max_lens[beams.alive] + 1).double()  # (n,) output length with EOS, at most
        attn = _attention(state) if attention else None
        beams, keep_rows = _advance(
            beams, log_probs, attn, force, longest, eos_id, finished, candidates
        )
        if beams.alive.numel() > 0:
            state = state.select(keep_rows)
        step += 1
    return finished.ranked()


def _advance(
    beams: _Beams,
    log_probs: torch.Tensor,
    attn: torch.Tensor | None,
    force: torch.Tensor,
    longest: torch.Tensor,
    eos_id: int,
    finished: _Finished,
    ids: torch.Tensor | None = None,
) -> tuple[_Beams, torch.Tensor]:
    """One beam step: rank candidates, close those ending in EOS, keep the best K open ones.

    `ids` (C,) maps the columns of `log_probs` to vocabulary ids (a shortlist search).
    Returns the new beams and the rows of the current state that the next step continues from.
    """
    n, k = beams.scores.shape
    vocab = log_probs.size(-1)
    cand = log_probs.view(n, k, vocab).add_(beams.scores.unsqueeze(-1)).view(n, k * vocab)
    # 2K candidates: each beam has one EOS, so at least K of them continue.
    top_scores, top_idx = cand.topk(2 * k, dim=1)  # (n, 2K)
    origin = torch.arange(n, device=cand.device).unsqueeze(1) * k + top_idx // vocab  # rows
    token = top_idx % vocab
    if ids is not None:
        token = ids[token]
    is_eos = token == eos_id
    closing = is_eos & torch.isfinite(top_scores)
    closing[:, k:] = False  # an EOS counts only when it ranks among the K best
    attention = _extend_attention(beams.attention, attn)  # (n * K, t + 1, S)
    if bool(closing.any()):
        slot, rank = closing.nonzero().unbind(1)
        rows = origin[slot, rank]
        prefixes, scores = beams.history[rows], top_scores[slot, rank]
        finished.add(beams.alive[slot], prefixes, scores, attention, rows)

    # The K best candidates that do not end in EOS, in rank order (stable sort keeps ranks).
    pick = is_eos.to(torch.int8).argsort(dim=1, stable=True)[:, :k]  # (n, K)
    scores = top_scores.gather(1, pick)  # (n, K)
    # Every prefix now has t + 1 tokens: the same length normalisation for all of them.
    length_norm = length_divisor(beams.history.size(1) + 1, finished.alpha)
    n_finished = beams.n_finished + closing.sum(dim=1)
    best = torch.maximum(
        beams.best, top_scores.masked_fill(~closing, NEG_INF).amax(1) / length_norm
    )
    # Done when K hypotheses have ended, or when no open prefix can beat the best finished one:
    # its log-probability (< 0) only falls, so its normalised score stays below the current one
    # divided by the longest length it may reach. Neither test depends on n_best beyond needing
    # n_best hypotheses, so the 1-best is the same whatever n_best is asked for.
    bound = scores[:, 0] / longest.pow(finished.alpha).to(scores.dtype)  # inf past the range
    enough = n_finished >= finished.n_best
    done = force | (n_finished >= k) | (enough & (best >= bound))  # (n,)
    keep = (~done).nonzero().flatten()
    rows = origin.gather(1, pick)[keep].flatten()  # (n' * K,)
    new_tokens = token.gather(1, pick)[keep].flatten()
    history = torch.cat([beams.history[rows], new_tokens.unsqueeze(1)], dim=1)
    next_beams = _Beams(
        alive=beams.alive[keep],
        scores=scores[keep],
        tokens=new_tokens,
        history=history,
        attention=None if attention is None else attention[rows],
        n_finished=n_finished[keep],
        best=best[keep],
    )
    return next_beams, rows
