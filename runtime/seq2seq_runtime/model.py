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
        self.outputs = list(spec["step_outputs"])
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
        self, tokens: np.ndarray, state: MemberState
    ) -> tuple[np.ndarray, MemberState, np.ndarray | None]:
        """tokens (N,) -> log_probs (N, V) float32, the next state, attention (N, S) or None."""
        feeds = {"tokens": tokens, **state.rows, **(state.memory_rows() if state.memory else {})}
        values = dict(zip(self.outputs, self.step_session.run(self.outputs, feeds), strict=True))
        rows = {n: values[f"{n}_out"] for n in state.rows}
        after = MemberState(rows, state.memory, state.sentence, state._gathered)
        return values["log_probs"], after, values.get("attn")


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

    def encode(self, src: np.ndarray, lengths: np.ndarray) -> list[MemberState]:
        return [m.encode(src, lengths) for m in self.members]

    def step(
        self, tokens: np.ndarray, states: list[MemberState]
    ) -> tuple[np.ndarray, list[MemberState], np.ndarray | None]:
        """The members' mean of probabilities as log_probs (N, V); their mean attention."""
        results = [m.step(tokens, s) for m, s in zip(self.members, states, strict=True)]
        if len(results) == 1:
            log_probs, state, attn = results[0]
            return log_probs, [state], attn
        stacked = np.stack([r[0] for r in results])  # (M, N, V)
        top = stacked.max(axis=0)
        finite = np.where(np.isfinite(top), top, 0.0)
        with np.errstate(divide="ignore"):  # a token every member rules out stays at -inf
            total = np.log(np.exp(stacked - finite).sum(axis=0))
        log_probs = total + finite - math.log(len(results))
        attns = [r[2] for r in results if r[2] is not None]
        attn = np.mean(attns, axis=0) if attns else None
        return log_probs.astype(np.float32), [r[1] for r in results], attn


def select(states: list[MemberState], index: np.ndarray) -> list[MemberState]:
    return [s.select(index) for s in states]
