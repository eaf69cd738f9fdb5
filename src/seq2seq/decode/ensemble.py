"""Ensembles: several trained models that decode as one by averaging their predictions.

The paper's best direct result came from "an ensemble of 5 deep LSTMs" (§3.6): each step's
distribution is the mean of the members' probabilities, ``p(y) = 1/M * sum_m p_m(y)``, so an
`Ensemble` exposes the same interface as one model (``encode``, ``init_state``, ``step``,
``state.select``, ``members``: model/interface.py) and plugs into greedy search, beam search and
rescoring unchanged.
Members may differ in architecture (cell, depth, attention) but must read the same source
vocabulary and predict over the same target vocabulary; `load_ensemble` checks that.

Copy models (model/copy.py) mix their final, extended distributions (N, V + X); a member
without copy gives the extra slots probability 0, so copy and plain models may be mixed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from seq2seq.checkpoint import load_model
from seq2seq.config import Config
from seq2seq.errors import CheckpointError
from seq2seq.model.decoder import DecoderState
from seq2seq.model.seq2seq import Seq2Seq
from seq2seq.scoring import mean_of_probs


@dataclass
class EnsembleState:
    """The members' decoder states, reordered together."""

    members: tuple[DecoderState, ...]

    def select(self, index: torch.Tensor) -> EnsembleState:
        """Pick rows (index: (N',)) of every member's state."""
        return EnsembleState(tuple(state.select(index) for state in self.members))

    @property
    def attn(self) -> torch.Tensor | None:
        """Mean attention ``(N, T, S)`` of the members that attend (None when none does)."""
        found = [s.attn for s in self.members if s.attn is not None]
        if not found:
            return None
        return torch.stack(found).mean(dim=0)


class Ensemble(nn.Module):
    """M models that predict as one: the log of the mean of their per-step probabilities."""

    def __init__(self, models: Sequence[Seq2Seq]) -> None:
        super().__init__()
        if not models:
            raise ValueError("an ensemble needs at least one model")
        _check_sizes([m.generator.out_features for m in models])  # once here, not every step
        self.models = nn.ModuleList(models)  # registered: .to(), .eval() and copies reach them
        self._members = tuple(models)  # the same modules, typed

    @property
    def members(self) -> tuple[Seq2Seq, ...]:
        """The single models whose probabilities are averaged."""
        return self._members

    def __len__(self) -> int:
        return len(self.members)

    def encode(self, src: torch.Tensor, src_lengths: torch.Tensor) -> tuple[Any, ...]:
        """Each member encodes the same source batch src (B, S), src_lengths (B,)."""
        return tuple(m.encode(src, src_lengths) for m in self.members)

    def init_state(
        self, encoded: tuple[Any, ...], src_map: torch.Tensor | None = None
    ) -> EnsembleState:
        """Every member's first state; src_map (B, S) reaches the copy members."""
        return EnsembleState(
            tuple(
                m.init_state(e, src_map if m.copy is not None else None)
                for m, e in zip(self.members, encoded, strict=True)
            )
        )

    def output_layer(self, ids: torch.Tensor) -> tuple[Any, ...]:
        """Every member's output layer cut to the target ids (C,) (see `Seq2Seq.output_layer`)."""
        return tuple(m.output_layer(ids) for m in self.members)

    def step(
        self, tokens: torch.Tensor, state: EnsembleState, output: tuple[Any, ...] | None = None
    ) -> tuple[torch.Tensor, EnsembleState]:
        """tokens (N,) -> averaged log-probabilities (N, V) and the members' new states.

        With `output` from `output_layer(ids)`: over those C ids only, (N, C).
        """
        outs = output or (None,) * len(self.members)
        outputs = [
            m.step(tokens, s, o) for m, s, o in zip(self.members, state.members, outs, strict=True)
        ]
        log_probs = mean_of_probs(_widened([lp for lp, _ in outputs]))
        return log_probs, EnsembleState(tuple(s for _, s in outputs))


def _widened(log_probs: list[torch.Tensor]) -> list[torch.Tensor]:
    """Members' (N, V_m) log-probabilities padded with -inf to the widest one: a model without
    copy gives a copy member's extra slots (N, V + X) probability 0."""
    width = max(lp.size(-1) for lp in log_probs)
    return [
        lp
        if lp.size(-1) == width
        else torch.nn.functional.pad(lp, (0, width - lp.size(-1)), value=float("-inf"))
        for lp in log_probs
    ]


def _check_sizes(sizes: list[int]) -> None:
    if len(set(sizes)) > 1:
        raise CheckpointError(
            f"ensemble members predict over target vocabularies of different sizes "
            f"({' vs '.join(map(str, sizes))}); an ensemble needs one shared target vocabulary"
        )


def check_vocabularies(
    paths: Sequence[str | Path], src_vocabs: Sequence[Any], tgt_vocabs: Sequence[Any]
) -> None:
    """Raise CheckpointError naming the first two checkpoints whose vocabularies differ."""
    for side, vocabs in (("target", tgt_vocabs), ("source", src_vocabs)):
        first = vocabs[0].to_dict()
        for path, vocab in zip(paths[1:], vocabs[1:], strict=True):
            if vocab.to_dict() != first:
                sizes = f"{len(vocabs[0])} vs {len(vocab)} entries"
                if len(vocabs[0]) == len(vocab):
                    sizes = f"{len(vocab)} entries each, not the same ones"
                raise CheckpointError(
                    f"checkpoints {paths[0]} and {path} have different {side} vocabularies "
                    f"({sizes}); ensemble members must share both vocabularies"
                )


def load_ensemble(
    paths: Sequence[str | Path], device: str | torch.device = "cpu"
) -> tuple[Seq2Seq | Ensemble, list[Config], Any, Any]:
    """Load one or more checkpoints as one model.

    Returns ``(model, configs, src_vocab, tgt_vocab)``: a plain model for one path, an
    `Ensemble` for several; `configs` lists each checkpoint's config.
    """
    if not paths:
        raise CheckpointError("no checkpoint given; pass at least one --checkpoint path")
    loaded = [load_model(p, device=device) for p in paths]
    models, configs, src_vocabs, tgt_vocabs = (list(x) for x in zip(*loaded, strict=True))
    check_vocabularies(paths, src_vocabs, tgt_vocabs)
    reverse = {c.data.reverse_source for c in configs}
    if len(reverse) > 1:
        flags = ", ".join(
            f"{p}: {c.data.reverse_source}" for p, c in zip(paths, configs, strict=True)
        )
        raise CheckpointError(
            f"ensemble members disagree on data.reverse_source ({flags}); "
            "they must read the source in the same order"
        )
    model = models[0] if len(models) == 1 else Ensemble(models).to(device).eval()
    return model, configs, src_vocabs[0], tgt_vocabs[0]
