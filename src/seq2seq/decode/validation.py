"""Dev BLEU during training: greedy search over the dev set, scored with sacreBLEU.

Training hands this in as its validator (seq2seq/experiment.py), so train never imports decode.
"""

from __future__ import annotations

from typing import Any

import sacrebleu
import torch

from seq2seq.config import Config
from seq2seq.data.audio_batching import is_audio, make_audio_batches
from seq2seq.data.batching import BatchIterator, make_batches
from seq2seq.data.copymap import decode_extended
from seq2seq.data.prepare import PreparedData
from seq2seq.decode.search import greedy_search
from seq2seq.model.interface import SearchModel


class DevBleu:
    """Corpus BLEU of greedy translations of the dev set, or of `data.max_valid_sentences` of its
    sentences spread evenly over it (not the first ones: a dev file sorted by length, as
    Tatoeba's is, would be scored on its shortest sentences)."""

    def __init__(self, data: PreparedData, config: Config, device: torch.device) -> None:
        self.data, self.config, self.device = data, config, device
        self.settings = config.decode.model_copy(update={"beam_size": 1, "n_best": 1})
        _, ref_path = data.split_paths("valid")
        with open(ref_path, encoding="utf-8") as handle:
            self.references = handle.read().splitlines()
        self.subset = evenly_spaced(len(self.references), config.data.max_valid_sentences)

    @torch.no_grad()
    def __call__(self, model: SearchModel[Any]) -> float:
        copy = self.config.model.copy
        batches: BatchIterator
        if is_audio(self.data):  # frames for a speech model (data/audio_batching.py)
            batches = make_audio_batches(self.data, "valid", self.config.data, shuffle=False)
        else:
            batches = make_batches(self.data, "valid", self.config.data, shuffle=False, copy=copy)
        tgt_vocab = self.data.tgt_vocab
        hypotheses: dict[int, str] = {}
        for batch in batches.iter_epoch(0):
            rows = (
                torch.arange(len(batch))
                if self.subset is None
                else torch.isin(batch.indices, self.subset).nonzero().flatten()
            )
            if rows.numel() == 0:
                continue
            src = batch.src[rows].to(self.device)
            lengths = batch.src_lengths[rows].to(self.device)
            if batch.src_map is None:
                results = greedy_search(model, src, lengths, self.settings)
            else:  # a copy model (model/copy.py)
                src_map = batch.src_map[rows].to(self.device)
                results = greedy_search(model, src, lengths, self.settings, src_map=src_map)
            extra = batch.extra or [[] for _ in range(len(batch))]
            for row, hyps in zip(rows.tolist(), results, strict=True):
                index = int(batch.indices[row])
                hypotheses[index] = decode_extended(tgt_vocab, hyps[0].tokens, extra[row])
        order = sorted(hypotheses)
        refs = [self.references[i] for i in order]
        return sacrebleu.corpus_bleu([hypotheses[i] for i in order], [refs]).score


def evenly_spaced(n: int, limit: int | None) -> torch.Tensor | None:
    """`limit` of the indices 0 .. n-1, spread evenly (the first and every n/limit-th);
    None for all of them."""
    if limit is None or limit >= n:
        return None
    return torch.tensor([k * n // limit for k in range(limit)], dtype=torch.long)
