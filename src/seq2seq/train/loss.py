"""The training objective: summed token cross-entropy of the target given the source.

Wrapped as a module so that DistributedDataParallel sees one forward call per step. The output
layer runs only on real (non-padding) target positions: with an 8k-word softmax it is most of a
step's arithmetic, so padded positions are dropped before it, not masked after it.

A copy model (``model.copy``, model/copy.py) is scored over its extended vocabulary: `src_map`
(B, S) gives each source token's extended id and `tgt_out` holds extended ids, so a target word
outside the vocabulary that the source holds is a copy, not an <unk>. Label smoothing then
spreads its share over the vocabulary part of the distribution.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from seq2seq.model.seq2seq import Seq2Seq
from seq2seq.train.ctc import ctc_loss


class SequenceLoss(nn.Module):
    """Returns (loss to optimise, summed negative log-likelihood), both summed over target tokens."""

    def __init__(
        self,
        model: Seq2Seq,
        pad_id: int = 0,
        label_smoothing: float = 0.0,
        ctc_weight: float = 0.0,
    ):
        super().__init__()
        self.model = model
        self.pad_id = pad_id
        self.label_smoothing = label_smoothing
        self.ctc_weight = ctc_weight  # train.ctc_weight: joint CTC/attention (train/ctc.py)

    def forward(
        self,
        src: torch.Tensor,  # (B, S)
        src_lengths: torch.Tensor,  # (B,)
        tgt_in: torch.Tensor,  # (B, T)  <bos> y
        tgt_out: torch.Tensor,  # (B, T)  y <eos>
        src_map: torch.Tensor | None = None,  # (B, S) extended ids of the source, copy only
    ) -> tuple[torch.Tensor, torch.Tensor]:
        model = self.model
        encoded = model.encode(src, src_lengths)
        loss, nll = self._decoder_loss(model.init_state(encoded, src_map), tgt_in, tgt_out)
        if self.ctc_weight == 0.0:
            return loss, nll
        ctc = ctc_loss(model.ctc_log_probs(encoded), encoded.lengths, tgt_out, self.pad_id)
        return (1.0 - self.ctc_weight) * loss + self.ctc_weight * ctc, nll

    def _decoder_loss(
        self, state, tgt_in: torch.Tensor, tgt_out: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The decoder's loss and summed NLL of tgt_out, from the state before tgt_in."""
        model = self.model
        real = tgt_out.ne(self.pad_id)
        if model.copy is not None:
            return self._copy_loss(tgt_in, tgt_out, state, real)
        features, _ = model.decode(tgt_in, state)  # (B, T, D)
        logits = model.generator(features[real]).float()  # (N, V), N real target tokens
        gold = tgt_out[real]
        if self.label_smoothing == 0.0:
            nll = F.cross_entropy(logits, gold, reduction="sum")
            return nll, nll.detach()
        log_probs = logits.log_softmax(-1)
        nll = -log_probs.gather(1, gold.unsqueeze(1)).sum()
        uniform = -log_probs.mean(-1).sum()  # cross-entropy against the uniform distribution
        eps = self.label_smoothing
        return (1.0 - eps) * nll + eps * uniform, nll.detach()

    def _copy_loss(
        self, tgt_in: torch.Tensor, tgt_out: torch.Tensor, state, real: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The loss of a copy model over its extended vocabulary (module docstring)."""
        logits, gold = self.model.copy_log_probs(tgt_in, tgt_out, state, real)  # (N, V), (N,)
        nll = -gold.sum()
        if self.label_smoothing == 0.0:
            return nll, nll.detach()
        uniform = -logits.float().log_softmax(-1).mean(-1).sum()
        eps = self.label_smoothing
        return (1.0 - eps) * nll + eps * uniform, nll.detach()
