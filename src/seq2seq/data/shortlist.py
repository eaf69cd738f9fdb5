"""Lexical shortlist: each batch's search scores only the target words its sources make likely.

On a CPU the output layer and its softmax are most of a search step (an 8k vocabulary against a
256-unit decoder state). Marian's answer, taken here: for every source token keep the `k` target
tokens most associated with it in the training data, add the `frequent` most common target
tokens, and let a batch's search score only the union over its source tokens (Junczys-Dowmunt
et al. 2018, "Marian: Cost-effective high-quality neural machine translation in C++", §4.2).
Association is the Dice coefficient of sentence co-occurrence, 2 c(s, t) / (c(s) + c(t)), which
ranks a word's translations above the words that are merely frequent everywhere (those come in
through the frequency list). The softmax is normalised over the shortlist; EOS and <unk> are
always in it and BOS / padding never are.

    shortlist = Shortlist.build(pairs, src_size, tgt_size, always=[eos, unk], never=[bos, pad])
    candidates = shortlist.candidates(src)        # (C,) sorted target ids for this batch

A shortlist travels inside the checkpoint (tensors ``shortlist.table``, ``shortlist.frequent``);
``seq2seq shortlist`` adds one to a checkpoint trained without it
(`seq2seq.checkpoint.read_shortlist` reads it back).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

PREFIX = "shortlist."
DEFAULT_K = 10
DEFAULT_FREQUENT = 300


@dataclass
class Shortlist:
    """table[s] = the target ids most associated with source id s (-1 pads rows); `frequent`
    and `always` are added to every batch's candidates, `never` removed from them."""

    table: torch.Tensor  # (src_vocab, k) int64
    frequent: torch.Tensor  # (n,) int64
    always: torch.Tensor  # (m,) int64, e.g. EOS and <unk>
    never: torch.Tensor  # (j,) int64, e.g. BOS and padding
    tgt_size: int

    @classmethod
    def build(
        cls,
        pairs: Iterable[tuple[Sequence[int], Sequence[int]]],
        src_size: int,
        tgt_size: int,
        k: int = DEFAULT_K,
        frequent: int = DEFAULT_FREQUENT,
        always: Sequence[int] = (),
        never: Sequence[int] = (),
    ) -> Shortlist:
        """Count which tokens occur in the same sentence pair, keep the top `k` per source id."""
        keys, src_docs, tgt_docs = [], np.zeros(src_size, np.int64), np.zeros(tgt_size, np.int64)
        for src_ids, tgt_ids in pairs:
            s = np.unique(np.asarray(src_ids, np.int64))
            t = np.unique(np.asarray(tgt_ids, np.int64))
            src_docs[s] += 1
            tgt_docs[t] += 1
            keys.append((s[:, None] * tgt_size + t[None, :]).ravel())
        table = np.full((src_size, k), -1, np.int64)
        if keys:
            pair_keys, counts = np.unique(np.concatenate(keys), return_counts=True)
            s, t = pair_keys // tgt_size, pair_keys % tgt_size
            dice = 2.0 * counts / (src_docs[s] + tgt_docs[t])
            order = np.lexsort((-dice, s))  # by source id, best association first
            s, t = s[order], t[order]
            first = np.searchsorted(s, s)  # where each source id's run starts
            rank = np.arange(s.size) - first
            keep = rank < k
            table[s[keep], rank[keep]] = t[keep]
        top = np.argsort(-tgt_docs, kind="stable")[:frequent]
        top = top[tgt_docs[top] > 0]
        return cls(
            torch.from_numpy(table),
            torch.from_numpy(top.astype(np.int64)),
            torch.tensor(list(always), dtype=torch.long),
            torch.tensor(list(never), dtype=torch.long),
            tgt_size,
        )

    def candidates(self, src: torch.Tensor) -> torch.Tensor:
        """src (B, S) source ids (padding included: its row adds nothing the table would not)
        -> (C,) sorted, distinct target ids, on src's device."""
        rows = self.table.index_select(0, src.reshape(-1).cpu().unique())
        pool = torch.cat([rows.flatten(), self.frequent, self.always])
        keep = torch.zeros(self.tgt_size, dtype=torch.bool)
        keep[pool[pool >= 0]] = True
        keep[self.never] = False
        keep[self.always] = True
        return keep.nonzero().flatten().to(src.device)

    # --- storage --------------------------------------------------------------------------------

    def to_tensors(self) -> dict[str, torch.Tensor]:
        size = torch.tensor([self.tgt_size], dtype=torch.long)
        parts = {"table": self.table, "frequent": self.frequent, "always": self.always}
        parts.update(never=self.never, tgt_size=size)
        return {PREFIX + name: tensor.contiguous() for name, tensor in parts.items()}

    @classmethod
    def from_tensors(cls, tensors: dict[str, torch.Tensor]) -> Shortlist | None:
        """The shortlist among a checkpoint's tensors, or None when it has none."""
        if PREFIX + "table" not in tensors:
            return None
        get = {k[len(PREFIX) :]: v.long() for k, v in tensors.items() if k.startswith(PREFIX)}
        return cls(get["table"], get["frequent"], get["always"], get["never"], int(get["tgt_size"]))


# Co-occurrence keys (a source token x a target token of one pair) counted at most: counting
# holds about 25 bytes a key. Multi30k's 29,000 pairs make about 5M; a large corpus (the paper's
# 12M pairs of some 30 words make about 10^10) is counted on evenly spaced pairs up to this many.
MAX_KEYS = 24_000_000


def build_from_data(
    data_dir: str | Path,
    k: int = DEFAULT_K,
    frequent: int = DEFAULT_FREQUENT,
    max_keys: int = MAX_KEYS,
):
    """The shortlist of a prepared data directory's training split (from its token ids when
    prepare wrote them: every pair, or evenly spaced pairs up to `max_keys` co-occurrences)."""
    from seq2seq.data.io import iter_lines
    from seq2seq.data.prepare import load_prepared
    from seq2seq.data.shards import IdsCorpus

    data = load_prepared(data_dir)
    src_vocab, tgt_vocab = data.src_vocab, data.tgt_vocab
    ids = data.manifest["splits"]["train"].get("ids")
    if ids is not None:
        pairs: Iterable = _spaced_pairs(IdsCorpus(data.dir, ids), max_keys)
    else:
        src_path, tgt_path = data.split_paths("train")
        src_ids = src_vocab.encode_batch(list(iter_lines(src_path)))
        tgt_ids = tgt_vocab.encode_batch(list(iter_lines(tgt_path)))
        pairs = zip(src_ids, tgt_ids, strict=True)
    return Shortlist.build(
        pairs,
        len(src_vocab),
        len(tgt_vocab),
        k=k,
        frequent=frequent,
        always=[tgt_vocab.eos_id, tgt_vocab.unk_id],
        never=sorted({tgt_vocab.bos_id, tgt_vocab.pad_id}),
    )


def _spaced_pairs(corpus, max_keys: int, chunk: int = 1_000_000):
    """(source ids, target ids) of every `stride`-th pair, the stride the smallest that keeps
    the sum of len(source) x len(target) within `max_keys` (1: every pair)."""
    total = 0
    for first in range(0, len(corpus), chunk):
        lengths = np.diff(corpus.offsets(first, min(chunk, len(corpus) - first)), axis=0)
        total += int((lengths[:, 0] * lengths[:, 1]).sum())
    stride = max(1, -(-total // max_keys))
    if stride == 1:
        for first in range(0, len(corpus), chunk):
            for _, src, tgt in corpus.read_bucket(first // chunk, chunk):
                yield src, tgt
        return
    for index in range(0, len(corpus), stride):
        src, tgt, off = corpus.read_range(index, 1)
        yield src[off[0, 0] : off[1, 0]], tgt[off[0, 1] : off[1, 1]]
