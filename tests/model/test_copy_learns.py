"""A copy model learns to copy words outside its target vocabulary; without copy it cannot.

The task (tests/model/copy_task.py): write the source's one name, which the target vocabulary
lacks, then its first common word. A tiny attention model trained with `SequenceLoss` over the
extended vocabulary must get nearly every sentence exactly right by greedy search; the same
model without copy, trained on the same batches (names as <unk>), gets none of the names.
"""

from __future__ import annotations

import pytest
import torch
from copy_task import SRC_VOCAB, TGT_VOCAB, copy_batch, without_copy

from seq2seq.config import DecodeConfig, ModelConfig
from seq2seq.decode.search import greedy_search
from seq2seq.model.seq2seq import Seq2Seq
from seq2seq.train.loss import SequenceLoss


@pytest.fixture(autouse=True)
def _one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def train(copy: bool, attention: str = "general", steps: int = 150) -> Seq2Seq:
    torch.manual_seed(0)
    cfg = ModelConfig(
        embedding_size=16, hidden_size=32, layers=1, context="attention",
        attention=attention, copy=copy,
    )  # fmt: skip
    model = Seq2Seq(cfg, SRC_VOCAB, TGT_VOCAB)
    objective = SequenceLoss(model)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    gen = torch.Generator().manual_seed(1)
    for _ in range(steps):
        src, lengths, src_map, tgt_in, tgt_out = copy_batch(gen)
        if copy:
            loss, _ = objective(src, lengths, tgt_in, tgt_out, src_map)
        else:
            loss, _ = objective(src, lengths, without_copy(tgt_in), without_copy(tgt_out))
        opt.zero_grad()
        (loss / len(src)).backward()
        opt.step()
    return model.eval()


def exact_match(model: Seq2Seq) -> float:
    """Share of 200 held-out sentences whose greedy output is the target, name included."""
    src, lengths, src_map, _, tgt_out = copy_batch(torch.Generator().manual_seed(99), batch=200)
    settings = DecodeConfig(beam_size=1, max_len_ratio=0.01, max_len_offset=4)
    if model.copy is not None:
        hyps = greedy_search(model, src, lengths, settings, src_map=src_map)
    else:
        hyps = greedy_search(model, src, lengths, settings)
    right = [h[0].tokens == t[:-1] for h, t in zip(hyps, tgt_out.tolist(), strict=True)]
    return sum(right) / len(right)


@pytest.mark.parametrize("attention", ["dot", "general", "bahdanau"])
def test_copy_model_learns_to_copy_unseen_words_and_beats_the_same_model_without(attention):
    with_copy = exact_match(train(copy=True, attention=attention))
    plain = exact_match(train(copy=False, attention=attention))
    assert with_copy >= 0.9, with_copy
    assert plain == 0.0  # a name is outside its vocabulary: <unk> at best
