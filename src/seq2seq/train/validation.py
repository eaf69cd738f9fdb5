"""Validation during training: dev-set perplexity and greedy BLEU (sacreBLEU)."""

from __future__ import annotations

import math

import sacrebleu
import torch

from seq2seq.config import Config
from seq2seq.data.batching import BatchIterator, make_batches
from seq2seq.decode.search import greedy_search
from seq2seq.train.loss import SequenceLoss


@torch.no_grad()
def dev_perplexity(model, batches: BatchIterator, pad_id: int, device: torch.device) -> float:
    """exp(total NLL / target tokens), EOS included, over the whole dev set."""
    objective = SequenceLoss(model, pad_id)
    nll, tokens = 0.0, 0
    for batch in batches.iter_epoch(0):
        batch = batch.to(device)
        _, batch_nll = objective(batch.src, batch.src_lengths, batch.tgt_in, batch.tgt_out)
        nll += float(batch_nll)
        tokens += batch.n_tgt_tokens
    return math.exp(min(nll / max(tokens, 1), 50.0))


@torch.no_grad()
def dev_bleu(model, data, config: Config, device: torch.device) -> float:
    """Corpus BLEU of greedy translations of (the first `max_valid_sentences` of) the dev set."""
    limit = config.data.max_valid_sentences
    batches = make_batches(data, "valid", config.data, shuffle=False)
    _, ref_path = data.split_paths("valid")
    with open(ref_path, encoding="utf-8") as handle:
        references = handle.read().split("\n")
    tgt_vocab = data.tgt_vocab
    hypotheses: dict[int, str] = {}
    for batch in batches.iter_epoch(0):
        rows = (
            torch.arange(len(batch))
            if limit is None
            else (batch.indices < limit).nonzero().flatten()
        )
        if rows.numel() == 0:
            continue
        results = greedy_search(
            model,
            batch.src[rows].to(device),
            batch.src_lengths[rows].to(device),
            bos_id=tgt_vocab.bos_id,
            eos_id=tgt_vocab.eos_id,
            pad_id=tgt_vocab.pad_id,
            max_len_ratio=config.decode.max_len_ratio,
            max_len_offset=config.decode.max_len_offset,
        )
        for index, hyps in zip(batch.indices[rows].tolist(), results):
            hypotheses[index] = tgt_vocab.decode(hyps[0].tokens)
    order = sorted(hypotheses)
    refs = [references[i] for i in order]
    return sacrebleu.corpus_bleu([hypotheses[i] for i in order], [refs]).score
