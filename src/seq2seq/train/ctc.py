"""Joint CTC/attention training (Watanabe et al. 2017): a CTC loss on the encoder's outputs.

Connectionist temporal classification (Graves et al. 2006) scores a transcript by summing over
every frame-by-frame alignment of it, with a blank between and around its tokens; it only allows
alignments that move forward in time. Watanabe et al. (2017, §3) train the encoder with it beside
the attention decoder, L = (1 - λ) L_attention + λ L_CTC: the monotonic alignment it enforces
steadies the attention early in training, and the model converges faster. ``train.ctc_weight`` is
λ; the CTC head is one linear layer on the encoder outputs (`Seq2Seq.ctc_log_probs`), its blank
the padding id, which no transcript contains. The decoder alone spells the output; with
``decode.ctc_weight`` the CTC head re-ranks the beam's transcripts (decode/ctc_rescore.py).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from seq2seq.data.vocab import EOS_ID


def ctc_loss(
    log_probs: torch.Tensor, lengths: torch.Tensor, tgt_out: torch.Tensor, pad_id: int
) -> torch.Tensor:
    """Summed CTC loss of the transcripts in tgt_out (B, T) = y <eos> (padded with `pad_id`,
    the blank) under per-frame log_probs (B, S', V) of real lengths (B,).

    A transcript longer than its frames allow has no alignment: its loss counts as zero rather
    than infinity (``zero_infinity``), so one such row cannot wreck a batch.
    """
    real = tgt_out.ne(pad_id) & tgt_out.ne(EOS_ID)  # y without its EOS, (B, T)
    targets = tgt_out[real]  # (sum of lengths,) concatenated
    target_lengths = real.sum(dim=1)
    return F.ctc_loss(
        log_probs.transpose(0, 1),  # (S', B, V), as ctc_loss wants
        targets,
        lengths,
        target_lengths,
        blank=pad_id,
        reduction="sum",
        zero_infinity=True,
    )
