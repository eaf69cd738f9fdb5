"""The one interface through which everything decodes or scores: a model or an ensemble alike.

`Seq2Seq` (model/seq2seq.py) and `Ensemble` (decode/ensemble.py) both satisfy `SearchModel`, so
search, rescoring, evaluation and serving never ask which of the two they hold.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol, TypeVar

from torch import Tensor


class SearchState(Protocol):
    """A decoder state of N rows (hypotheses)."""

    attn: Tensor | None  # (N, T, S) attention of the last step, None without attention

    def select(self, index: Tensor) -> SearchState:
        """Rows index (N',) of this state, repeats allowed (beam reordering, finished rows)."""
        ...


State = TypeVar("State", bound=SearchState)


class SearchModel(Protocol[State]):
    """What greedy search, beam search and teacher-forced scoring need of a model.

    Generic in its state type: each model steps its own kind of state (`SearchModel[Any]` takes
    any model)."""

    @property
    def members(self) -> Sequence[Any]:
        """The single models whose probabilities are averaged: (self,) for one model."""
        ...

    def encode(self, src: Tensor, src_lengths: Tensor) -> Any:
        """src (B, S), src_lengths (B,) -> whatever `init_state` takes."""
        ...

    def init_state(self, encoded: Any, src_map: Tensor | None = None) -> State:
        """The state before the first token; a copy model also takes src_map (B, S), the
        extended target id of each source token (model/copy.py)."""
        ...

    def output_layer(self, ids: Tensor) -> Any:
        """The output layer cut to target ids (C,), for `step(..., output)`."""
        ...

    def step(self, tokens: Tensor, state: State, output: Any = None) -> tuple[Tensor, State]:
        """tokens (N,) -> fresh log-probabilities (N, V) (or (N, C) with `output`), next state."""
        ...
