"""Greedy and batched beam search in NumPy: the search of seq2seq's decode/search.py, step for
step, over the exported graphs.

Beam search (Sutskever et al. 2014, §3.2): all sentences x `beam_size` rows in one batch; a
hypothesis ends with EOS; a sentence is done, and leaves the batch, once `beam_size` hypotheses
have ended, or once it has `n_best` of them and no open prefix can still beat the best (a
prefix's log-probability only falls, so its best normalised score is its log-probability now
over the longest length it may reach); at ``floor(max_len_ratio * src_len + max_len_offset)``
output tokens EOS is forced. Ranking: ``log_prob / (len + 1) ** length_penalty``. Greedy search
takes the arg-max with the same arithmetic, so a beam of one gives the greedy output.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import Any

import numpy as np

from seq2seq_runtime.errors import SettingsError
from seq2seq_runtime.model import Candidates, MemberState, OnnxModel, select
from seq2seq_runtime.vocab import BOS_ID, EOS_ID

NEG_INF = -np.inf
MAX_LOG_FLOAT = math.log(np.finfo(np.float64).max)


@dataclass(frozen=True)
class SearchSettings:
    """The search settings of seq2seq's DecodeConfig that the runtime does (no sampling)."""

    beam_size: int = 5
    n_best: int = 1
    batch_size: int = 64
    max_len_ratio: float = 2.0
    max_len_offset: int = 10
    min_len: int = 0
    length_penalty: float = 1.0
    replace_unk: bool = False

    def __post_init__(self) -> None:
        limits = {"beam_size": (1, 64), "n_best": (1, 64), "batch_size": (1, None)}
        limits.update({"max_len_offset": (0, None), "min_len": (0, None)})
        for key, (low, high) in limits.items():
            value = getattr(self, key)
            if not isinstance(value, int) or value < low or (high is not None and value > high):
                top = f" and at most {high}" if high is not None else ""
                raise SettingsError(
                    f"{key} must be a whole number at least {low}{top}, not {value!r}"
                )
        if not 0.0 < self.max_len_ratio <= 1000.0:
            raise SettingsError(f"max_len_ratio must be in (0, 1000], not {self.max_len_ratio}")
        if not 0.0 <= self.length_penalty <= 100.0:
            raise SettingsError(f"length_penalty must be in [0, 100], not {self.length_penalty}")
        if self.n_best > self.beam_size:
            raise SettingsError(f"n_best={self.n_best} cannot exceed beam_size={self.beam_size}")

    @classmethod
    def known(cls) -> set[str]:
        return {f.name for f in fields(cls)}


@dataclass
class Hypothesis:
    """One finished output sequence."""

    tokens: list[int]  # output ids, without BOS and EOS
    log_prob: float  # total log-probability of tokens + EOS
    score: float  # log_prob / (len(tokens) + 1) ** length_penalty
    attention: np.ndarray | None = None  # (len(tokens) + 1, src_len) when asked


def length_divisor(length: int, alpha: float) -> float:
    if alpha * math.log(length) >= MAX_LOG_FLOAT - 1.0:
        return math.inf
    return float(length) ** alpha


def normalise(log_prob: float, length: int, alpha: float) -> float:
    return log_prob if alpha == 0 else log_prob / length_divisor(length, alpha)


def max_output_lengths(src_lengths: np.ndarray, ratio: float, offset: int) -> np.ndarray:
    """Per sentence, output tokens before EOS is forced: floor(ratio * len + offset)."""
    return np.floor(src_lengths.astype(np.float64) * ratio + offset).astype(np.int64)


def restrict(log_probs: np.ndarray, force_eos: np.ndarray, step: int, min_len: int) -> np.ndarray:
    """On candidates whose last column is EOS (`Candidates`; BOS and PAD are never among them):
    no EOS before `min_len` tokens; only EOS for rows at their length cap."""
    forced = np.flatnonzero(force_eos)
    if forced.size:
        eos = np.maximum(log_probs[forced, -1], np.finfo(log_probs.dtype).min)
    if step < min_len:
        log_probs[:, -1] = NEG_INF
    if forced.size:
        log_probs[forced] = NEG_INF
        log_probs[forced, -1] = eos
    return log_probs


def _extend(history: np.ndarray | None, attn: np.ndarray | None) -> np.ndarray | None:
    if attn is None:
        return None
    attn = attn[:, None, :]
    return attn if history is None else np.concatenate([history, attn], axis=1)


class Finished:
    """Finished hypotheses per sentence, in input order."""

    def __init__(self, src_lengths: np.ndarray, alpha: float, n_best: int) -> None:
        self.src_lengths = src_lengths.tolist()
        self.alpha, self.n_best = alpha, n_best
        self.hyps: list[list[Hypothesis]] = [[] for _ in self.src_lengths]

    def add(self, sentences, prefixes, log_probs, attention, rows) -> None:
        for i, (sent, prefix, total) in enumerate(
            zip(sentences.tolist(), prefixes.tolist(), log_probs.tolist(), strict=True)
        ):
            attn = None
            if attention is not None:
                attn = attention[rows[i], :, : self.src_lengths[sent]]
            score = normalise(total, len(prefix) + 1, self.alpha)
            self.hyps[sent].append(Hypothesis(prefix, total, score, attn))

    def ranked(self) -> list[list[Hypothesis]]:
        return [sorted(h, key=lambda x: x.score, reverse=True)[: self.n_best] for h in self.hyps]


def search(
    model: OnnxModel,
    src: np.ndarray,
    src_lengths: np.ndarray,
    settings: SearchSettings,
    attention: bool = False,
) -> list[list[Hypothesis]]:
    """Greedy search for a beam of one, beam search otherwise; src (B, S), src_lengths (B,)."""
    if settings.beam_size == 1:
        return greedy_search(model, src, src_lengths, settings, attention)
    return beam_search(model, src, src_lengths, settings, attention)


def greedy_search(
    model: OnnxModel,
    src: np.ndarray,
    src_lengths: np.ndarray,
    settings: SearchSettings,
    attention: bool = False,
) -> list[list[Hypothesis]]:
    """Feed back the most likely token until EOS; one hypothesis per sentence."""
    batch = src.shape[0]
    states = model.encode(src, src_lengths)
    max_lens = max_output_lengths(src_lengths, settings.max_len_ratio, settings.max_len_offset)
    rows = np.arange(batch)
    scores = np.zeros(batch, dtype=np.float32)
    tokens = np.full(batch, BOS_ID, dtype=np.int64)
    history = np.empty((batch, 0), dtype=np.int64)
    history_attn: np.ndarray | None = None
    finished = Finished(src_lengths, settings.length_penalty, 1)
    step = 0
    while rows.size > 0:
        candidates, states, attn = model.step(tokens, states, 1)
        log_probs = restrict(candidates.log_probs, max_lens[rows] <= step, step, settings.min_len)
        log_probs += scores[:, None]
        best = log_probs.argmax(axis=1)
        scores = log_probs[np.arange(rows.size), best]
        tokens = candidates.ids[np.arange(rows.size), best]
        if attention:
            history_attn = _extend(history_attn, attn)
        done = tokens == EOS_ID
        if done.any():
            ended = np.flatnonzero(done)
            finished.add(rows[ended], history[ended], scores[ended], history_attn, ended)
            keep = np.flatnonzero(~done)
            if keep.size == 0:
                break
            states = select(states, keep)
            rows, scores, tokens, history = rows[keep], scores[keep], tokens[keep], history[keep]
            history_attn = None if history_attn is None else history_attn[keep]
        history = np.concatenate([history, tokens[:, None]], axis=1)
        step += 1
    return finished.ranked()


@dataclass
class Beams:
    """The live part of a beam search: n sentences still searching, K rows each."""

    alive: np.ndarray  # (n,) original sentence index
    scores: np.ndarray  # (n, K) float32 total log-prob of each live prefix
    tokens: np.ndarray  # (n * K,) last token of each prefix
    history: np.ndarray  # (n * K, t) the prefixes
    attention: np.ndarray | None  # (n * K, t, S)
    n_finished: np.ndarray  # (n,)
    best: np.ndarray  # (n,) float32 best normalised finished score

    @classmethod
    def start(cls, batch: int, k: int) -> Beams:
        scores = np.full((batch, k), NEG_INF, dtype=np.float32)
        scores[:, 0] = 0.0  # every beam holds the same BOS prefix: keep one of them alive
        return cls(
            alive=np.arange(batch),
            scores=scores,
            tokens=np.full(batch * k, BOS_ID, dtype=np.int64),
            history=np.empty((batch * k, 0), dtype=np.int64),
            attention=None,
            n_finished=np.zeros(batch, dtype=np.int64),
            best=np.full(batch, NEG_INF, dtype=np.float32),
        )


def beam_search(
    model: OnnxModel,
    src: np.ndarray,
    src_lengths: np.ndarray,
    settings: SearchSettings,
    attention: bool = False,
) -> list[list[Hypothesis]]:
    """Batched beam search: the `n_best` hypotheses of every sentence, best first."""
    k, batch = settings.beam_size, src.shape[0]
    states: list[MemberState] = select(
        model.encode(src, src_lengths), np.repeat(np.arange(batch), k)
    )
    max_lens = max_output_lengths(src_lengths, settings.max_len_ratio, settings.max_len_offset)
    beams = Beams.start(batch, k)
    finished = Finished(src_lengths, settings.length_penalty, settings.n_best)
    step = 0
    while beams.alive.size > 0:
        candidates, states, attn = model.step(beams.tokens, states, 2 * k)
        force = max_lens[beams.alive] <= step
        restrict(candidates.log_probs, np.repeat(force, k), step, settings.min_len)
        longest = (max_lens[beams.alive] + 1).astype(np.float64)
        beams, keep_rows = advance(
            beams, candidates, attn if attention else None, force, longest, finished
        )
        if beams.alive.size > 0:
            states = select(states, keep_rows)
        step += 1
    return finished.ranked()


def advance(
    beams: Beams,
    candidates: Candidates,
    attn: np.ndarray | None,
    force: np.ndarray,
    longest: np.ndarray,
    finished: Finished,
) -> tuple[Beams, np.ndarray]:
    """One beam step: rank candidates, close those ending in EOS, keep the best K open ones.
    Returns the new beams and the rows of the current state the next step continues from.

    Each beam brings its 2K best words, <unk> and <eos> (`Candidates`): the 2K best
    continuations of a sentence are among them, as a beam's own best words rank first in it.
    Ties rank as PyTorch's top-k over beam x vocabulary ranks them: lower beam, then lower id.
    """
    n, k = beams.scores.shape
    width = candidates.log_probs.shape[1]
    cand = (candidates.log_probs.reshape(n, k, width) + beams.scores[:, :, None]).reshape(n, -1)
    ids = candidates.ids.reshape(n, k * width)
    beam = np.broadcast_to(np.repeat(np.arange(k), width), (n, k * width))
    top_idx = np.lexsort((ids, beam, -cand), axis=1)[:, : 2 * k]  # (n, 2K): K of them continue
    top_scores = np.take_along_axis(cand, top_idx, axis=1)
    origin = np.arange(n)[:, None] * k + top_idx // width
    token = np.take_along_axis(ids, top_idx, axis=1)
    is_eos = token == EOS_ID
    closing = is_eos & np.isfinite(top_scores)
    closing[:, k:] = False  # an EOS counts only among the K best
    attention = _extend(beams.attention, attn)
    if closing.any():
        slot, rank = np.nonzero(closing)
        rows = origin[slot, rank]
        finished.add(
            beams.alive[slot], beams.history[rows], top_scores[slot, rank], attention, rows
        )
    pick = np.argsort(is_eos.astype(np.int8), axis=1, kind="stable")[:, :k]  # (n, K)
    scores = np.take_along_axis(top_scores, pick, axis=1)
    length_norm = length_divisor(beams.history.shape[1] + 1, finished.alpha)
    n_finished = beams.n_finished + closing.sum(axis=1)
    closed = np.where(closing, top_scores, np.float32(NEG_INF)).max(axis=1)
    best = np.maximum(beams.best, (closed / length_norm).astype(np.float32))
    with np.errstate(over="ignore"):
        bound = scores[:, 0] / (longest**finished.alpha).astype(np.float32)
    done = force | (n_finished >= k) | ((n_finished >= finished.n_best) & (best >= bound))
    keep = np.flatnonzero(~done)
    rows = np.take_along_axis(origin, pick, axis=1)[keep].ravel()
    new_tokens = np.take_along_axis(token, pick, axis=1)[keep].ravel()
    history = np.concatenate([beams.history[rows], new_tokens[:, None]], axis=1)
    return Beams(
        alive=beams.alive[keep],
        scores=scores[keep],
        tokens=new_tokens,
        history=history,
        attention=None if attention is None else attention[rows],
        n_finished=n_finished[keep],
        best=best[keep],
    ), rows


def settings_from(base: SearchSettings, overrides: dict[str, Any]) -> SearchSettings:
    """`base` with the given (non-None) keys replaced; an unknown key is one sentence."""
    given = {k: v for k, v in overrides.items() if v is not None}
    unknown = sorted(set(given) - SearchSettings.known())
    if unknown:
        raise SettingsError(
            f"the runtime has no search setting {unknown[0]!r}; it knows "
            f"{', '.join(sorted(SearchSettings.known()))}"
        )
    merged = {**base.__dict__, **given}
    if "beam_size" not in given and merged["n_best"] > merged["beam_size"]:
        merged["beam_size"] = merged["n_best"]
    return SearchSettings(**merged)
