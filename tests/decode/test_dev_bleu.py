"""Dev BLEU during training scores a fair sample of the dev set when it is limited."""

from __future__ import annotations

from types import SimpleNamespace

import torch

from seq2seq.decode.validation import evenly_spaced


def test_a_limited_dev_set_is_sampled_across_the_file_not_from_its_start():
    # Tatoeba's dev file is sorted by length: its first 500 sentences average 3.8 words, the
    # whole 2,001 of them 6.2. A limit must take sentences from all of it.
    chosen = evenly_spaced(2001, 500)
    assert len(chosen) == 500 == len(set(chosen.tolist()))
    assert chosen[0] == 0 and chosen[-1] >= 1990
    assert torch.all(chosen.diff() >= 4) and torch.all(chosen.diff() <= 5)
    assert evenly_spaced(2001, None) is None and evenly_spaced(100, 100) is None
    assert evenly_spaced(10, 3).tolist() == [0, 3, 6]


def test_dev_bleu_translates_and_scores_exactly_the_sample(data_dir, monkeypatch):
    """The trainer's dev BLEU, with data.max_valid_sentences=10 of the slice's 100 dev pairs: the
    sources searched and the references scored are the ten evenly spaced ones, in file order."""
    import seq2seq.decode.validation as validation
    from seq2seq.config import Config
    from seq2seq.data.prepare import load_prepared
    from seq2seq.decode.search import Hypothesis

    data = load_prepared(data_dir)
    cfg = Config.model_validate({"data": {"dir": str(data_dir), "max_valid_sentences": 10}})
    searched, scored = [], []

    def search(model, src, lengths, settings):  # echo each source sentence as its translation
        searched.extend(lengths.tolist())
        return [
            [Hypothesis(row[: int(n)].tolist()[::-1], 0.0, 0.0)] for row, n in zip(src, lengths)
        ]

    def corpus_bleu(hypotheses, references):
        scored.extend(references[0])
        return SimpleNamespace(score=0.0)

    monkeypatch.setattr(validation, "greedy_search", search)
    monkeypatch.setattr(validation.sacrebleu, "corpus_bleu", corpus_bleu)
    validation.DevBleu(data, cfg, torch.device("cpu"))(model=None)
    chosen = [k * 100 // 10 for k in range(10)]
    _, ref_path = data.split_paths("valid")
    references = ref_path.read_text(encoding="utf-8").splitlines()
    assert scored == [references[i] for i in chosen]
    assert len(searched) == 10
