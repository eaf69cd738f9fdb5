"""The exported graphs as a search model: encode, step, and states whose rows are reordered.

One `Member` per exported model (an encoder and a step graph in ONNX Runtime sessions); an
`OnnxModel` holds one or several (an ensemble, paper §3.6: the step's distribution is the mean
of the members' probabilities). A state keeps per-hypothesis rows (h, c: axis 1; context, feed:
axis 0) and per-sentence memory (encoder outputs, attention keys, mask) with the sentence of
each row, and hands the step graph one memory row per hypothesis, rebuilt only when the set of
sentences changes (beams reordered within their sentence share their memory).
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from seq2seq_runtime.errors import ModelDirError

MEMORY = ("memory", "keys", "mask")
WORDS = ("word_log_probs", "word_ids", "special_log_probs")  # the step graph's ranked outputs
SPECIALS, UNK_ID, EOS_ID = 4, 1, 3


@dataclass
class MemberState:
    rows: dict[str, np.ndarray]  # h, c (layers, N, H); context, feed (N, H)
    memory: dict[str, np.ndarray]  # (n_sentences, S, ...)
    sentence: np.ndarray  # (N,) the memory row of each hypothesis
    _gathered: dict[str, np.ndarray] | None = field(default=None, repr=False)

    def select(self, index: np.ndarray) -> MemberState:
        """The state whose row i is row index[i] of this one."""
        rows = {n: (a[:, index] if n in ("h", "c") else a[index]) for n, a in self.rows.items()}
        sentence = self.sentence[index]
        same = sentence.shape == self.sentence.shape and np.array_equal(sentence, self.sentence)
        return MemberState(rows, self.memory, sentence, self._gathered if same else None)

    def memory_rows(self) -> dict[str, np.ndarray]:
        """One memory row per hypothesis, as the step graph takes it."""
        if self._gathered is None:
            self._gathered = {n: a[self.sentence] for n, a in self.memory.items()}
        return self._gathered


class Member:
    """One exported model: its encoder and step sessions."""

    def __init__(self, folder: Path, spec: dict[str, Any], options: Any) -> None:
        import onnxruntime as ort

        self.spec = spec
        self.state = list(spec["state"])
        self.has_attention = spec["context"] == "attention"
        sessions = []
        for key in ("encoder", "step"):
            path = folder / spec[key]
            if not path.is_file():
                raise ModelDirError(f"graph {path} is missing from the exported model")
            sessions.append(
                ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
            )
        self.encoder, self.step_session = sessions

    def encode(self, src: np.ndarray, lengths: np.ndarray) -> MemberState:
        """src (B, S) int64, lengths (B,) int64 -> the decoder's initial state."""
        values = self.encoder.run(self.state, {"src": src, "src_lengths": lengths})
        named = dict(zip(self.state, values, strict=True))
        rows = {n: a for n, a in named.items() if n not in MEMORY}
        memory = {n: a for n, a in named.items() if n in MEMORY}
        return MemberState(rows, memory, np.arange(src.shape[0]))

    def step(
        self, tokens: np.ndarray, state: MemberState, k: int | None
    ) -> tuple[dict[str, np.ndarray], MemberState]:
        """tokens (N,) -> the step's outputs by name, and the next state: with `k`, the k best
        words and the specials (`Candidates`); without, the whole log_probs (N, V)."""
        wanted = list(WORDS) if k is not None else ["log_probs"]
        wanted += [f"{n}_out" for n in state.rows] + (["attn"] if self.has_attention else [])
        feeds = {"tokens": tokens, "k": np.array([k or 1], dtype=np.int64), **state.rows}
        if state.memory:
            feeds.update(state.memory_rows())
        values = dict(zip(wanted, self.step_session.run(wanted, feeds), strict=True))
        rows = {n: values[f"{n}_out"] for n in state.rows}
        return values, MemberState(rows, state.memory, state.sentence, state._gathered)


@dataclass
class Candidates:
    """What each hypothesis may emit next: the k best words, then <unk>, then <eos> (last)."""

    log_probs: np.ndarray  # (N, k + 2) float32, a fresh array the search may write into
    ids: np.ndarray  # (N, k + 2) vocabulary ids

    @classmethod
    def of(cls, words: np.ndarray, word_ids: np.ndarray, specials: np.ndarray) -> Candidates:
        """words, word_ids (N, k) past the specials; specials (N, 4) log-probs of ids 0-3."""
        rows = words.shape[0]
        log_probs = np.concatenate([words, specials[:, [UNK_ID, EOS_ID]]], axis=1)
        fixed = np.broadcast_to(np.array([UNK_ID, EOS_ID], dtype=np.int64), (rows, 2))
        return cls(log_probs, np.concatenate([word_ids + SPECIALS, fixed], axis=1))

    @classmethod
    def from_full(cls, log_probs: np.ndarray, k: int) -> Candidates:
        """The same from whole distributions (N, V), as an ensemble averages them."""
        words = log_probs[:, SPECIALS:]
        if k < words.shape[1]:
            ids = np.argpartition(-words, k - 1, axis=1)[:, :k]
        else:
            ids = np.broadcast_to(np.arange(words.shape[1]), words.shape)
        return cls.of(np.take_along_axis(words, ids, axis=1), ids, log_probs[:, :SPECIALS])


class OnnxModel:
    """One member or an ensemble of several, with the interface the search uses."""

    def __init__(self, folder: Path, specs: Sequence[dict[str, Any]], threads: int | None):
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads or min(os.cpu_count() or 1, 4)
        options.inter_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self.members = [Member(folder, spec, options) for spec in specs]

    @property
    def has_attention(self) -> bool:
        return any(m.has_attention for m in self.members)

    @property
    def vocab_size(self) -> int:
        return int(self.members[0].spec["target_vocab_size"])

    def encode(self, src: np.ndarray, lengths: np.ndarray) -> list[MemberState]:
        return [m.encode(src, lengths) for m in self.members]

    def step(
        self, tokens: np.ndarray, states: list[MemberState], k: int
    ) -> tuple[Candidates, list[MemberState], np.ndarray | None]:
        """The k best words (at most all) and the specials of each row, from one model's graph
        or from the members' mean of probabilities (paper §3.6); the (mean) attention (N, S)."""
        k = max(1, min(k, self.vocab_size - SPECIALS))
        one = len(self.members) == 1
        results = [
            m.step(tokens, s, k if one else None) for m, s in zip(self.members, states, strict=True)
        ]
        attns = [values["attn"] for values, _ in results if "attn" in values]
        attn = None if not attns else attns[0] if one else np.mean(attns, axis=0)
        after = [state for _, state in results]
        if one:
            values = results[0][0]
            return Candidates.of(*(values[name] for name in WORDS)), after, attn
        stacked = np.stack([values["log_probs"] for values, _ in results])  # (M, N, V)
        top = stacked.max(axis=0)
        finite = np.where(np.isfinite(top), top, 0.0)
        with np.errstate(divide="ignore"):  # a token every member rules out stays at -inf
            total = np.log(np.exp(stacked - finite).sum(axis=0))
        log_probs = (total + finite - math.log(len(results))).astype(np.float32)
        return Candidates.from_full(log_probs, k), after, attn


def select(states: list[MemberState], index: np.ndarray) -> list[MemberState]:
    return [s.select(index) for s in states]
