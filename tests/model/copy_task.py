"""A synthetic task that only copying solves: the target repeats a source word that the target
vocabulary lacks (a "name"), then the first of the other source words.

Source vocabulary: the specials, 8 common words (ids 4-11) and 28 names (ids 12-39); target
vocabulary: the specials and the same 8 common words (ids 4-11, the same ids). A copy model
reaches a name through its extended id (V + k, model/copy.py); a model without copy can only
write <unk> for it.
"""

from __future__ import annotations

import torch

PAD, UNK, BOS, EOS = 0, 1, 2, 3
SRC_VOCAB, TGT_VOCAB = 40, 12
COMMON = range(4, 12)
NAMES = range(12, 40)


def copy_batch(gen: torch.Generator, batch: int = 32, max_len: int = 6):
    """src (B, S), lengths (B,), src_map (B, S), tgt_in (B, 3), tgt_out (B, 3) in extended ids,
    with each sentence's one name at a random position among 2-5 common words."""
    lengths = torch.randint(3, max_len + 1, (batch,), generator=gen)
    src = torch.randint(COMMON.start, COMMON.stop, (batch, max_len), generator=gen)
    names = torch.randint(NAMES.start, NAMES.stop, (batch,), generator=gen)
    where = (torch.rand(batch, generator=gen) * lengths).long()  # the name's position
    rows = torch.arange(batch)
    src[rows, where] = names
    real = torch.arange(max_len) < lengths.unsqueeze(1)
    src = src.masked_fill(~real, PAD)
    src_map = torch.where(src >= NAMES.start, TGT_VOCAB, src)  # one name: slot V + 0
    first = torch.where(where == 0, src[:, 1], src[:, 0])  # the first common word
    tgt_out = torch.stack([torch.full((batch,), TGT_VOCAB), first, torch.full((batch,), EOS)], 1)
    tgt_in = torch.stack([torch.full((batch,), BOS), tgt_out[:, 0], tgt_out[:, 1]], 1)
    return src, lengths, src_map, tgt_in, tgt_out


def without_copy(tgt: torch.Tensor) -> torch.Tensor:
    """Extended target ids -> the ids a model without copy trains on (a name is <unk>)."""
    return tgt.masked_fill(tgt >= TGT_VOCAB, UNK)
