"""Validation during training: dev-set perplexity (dev BLEU is decode/validation.py's)."""

from __future__ import annotations

import math

import torch

from seq2seq.data.batching import BatchIterator
from seq2seq.model.seq2seq import Seq2Seq
from seq2seq.train.loss import SequenceLoss


@torch.no_grad()
def dev_loss(model: Seq2Seq, batches: BatchIterator, pad_id: int, device: torch.device) -> float:
    """Total NLL / target tokens (nats per token, EOS included) over the whole dev set."""
    objective = SequenceLoss(model, pad_id)
    nll, tokens = 0.0, 0
    for batch in batches.iter_epoch(0):
        batch = batch.to(device)
        _, batch_nll = objective(
            batch.src, batch.src_lengths, batch.tgt_in, batch.tgt_out, batch.src_map
        )
        nll += float(batch_nll)
        tokens += batch.n_tgt_tokens
    return nll / max(tokens, 1)


def perplexity(loss: float) -> float:
    """exp(loss), kept finite (at most e^50) for a loss that is not; NaN stays NaN."""
    return math.exp(min(loss, 50.0)) if not math.isnan(loss) else loss
