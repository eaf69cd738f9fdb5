"""A copy model (model.copy) through batching, search, ensembles, scoring, checkpoints and the
Translator.

The task: the source is a few common words and one name; the target is ``about <name> <first
common word>``. Names are in neither vocabulary (the source reads them as <unk>), so only the
copy path, with the strings kept by the batches and the Translator (data/copymap.py), can write
them. One tiny model is trained on it once per module, through `CopyCorpus` batches and
`SequenceLoss`, and saved as a checkpoint.
"""

from __future__ import annotations

import random

import pytest
import torch
from decode_standins import copy_config, save

from seq2seq.average import average_checkpoints
from seq2seq.checkpoint import load_model
from seq2seq.config import Config, DecodeConfig, ModelConfig
from seq2seq.data.batching import BatchIterator, CopyCorpus
from seq2seq.data.copymap import copy_ids, decode_extended, token_index
from seq2seq.data.vocab import WordVocab
from seq2seq.decode.ensemble import Ensemble
from seq2seq.decode.search import beam_search, greedy_search
from seq2seq.decode.translator import Translator
from seq2seq.errors import ConfigError
from seq2seq.model.seq2seq import Seq2Seq
from seq2seq.scoring import target_log_probs
from seq2seq.train.loss import SequenceLoss

COMMON = [f"w{i}" for i in range(8)]


def pairs(n: int, seed: int) -> tuple[list[str], list[str]]:
    rng = random.Random(seed)
    sources, targets = [], []
    for _ in range(n):
        words = [rng.choice(COMMON) for _ in range(rng.randrange(2, 6))]
        name = f"name{rng.randrange(10**6)}"
        words.insert(rng.randrange(len(words) + 1), name)
        first = next(w for w in words if w != name)
        sources.append(" ".join(words))
        targets.append(f"about {name} {first}")
    return sources, targets


def config(**model: object) -> Config:
    return copy_config(**{"copy": True, "attention": "general", **model})


@pytest.fixture(scope="module")
def vocabs() -> tuple[WordVocab, WordVocab]:
    return WordVocab(COMMON), WordVocab(["about", *COMMON])


@pytest.fixture(scope="module")
def trained(tmp_path_factory, vocabs):
    """(checkpoint path, model) of a copy model trained for 150 steps on the task."""
    torch.set_num_threads(1)
    torch.manual_seed(0)
    src_vocab, tgt_vocab = vocabs
    cfg = config()
    model = Seq2Seq(cfg.model, len(src_vocab), len(tgt_vocab))
    corpus = CopyCorpus.from_lists(*pairs(2400, seed=1), src_vocab, tgt_vocab)
    batches = BatchIterator(corpus, batch_size=32, seed=1, reverse_source=True)
    objective = SequenceLoss(model)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    for batch in batches.iter_epoch(0):
        loss, _ = objective(
            batch.src, batch.src_lengths, batch.tgt_in, batch.tgt_out, batch.src_map
        )
        optimizer.zero_grad()
        (loss / len(batch)).backward()
        optimizer.step()
    model.eval()
    path = tmp_path_factory.mktemp("copy") / "copy.safetensors"
    return save(path, model, cfg, src_vocab, tgt_vocab), model


def test_batches_carry_the_copy_map_and_extended_targets(vocabs):
    src_vocab, tgt_vocab = vocabs
    corpus = CopyCorpus.from_lists(["w1 bob w2 bob"], ["about bob w1"], src_vocab, tgt_vocab)
    batch = next(iter(BatchIterator(corpus, batch_size=4, shuffle=False, reverse_source=True)))
    v = len(tgt_vocab)
    w1, w2 = tgt_vocab.encode("w1 w2")
    assert batch.src.tolist() == [[1, src_vocab.encode("w2")[0], 1, src_vocab.encode("w1")[0]]]
    assert batch.src_map.tolist() == [[v, w2, v, w1]]  # reversed like src; bob is slot V
    assert batch.tgt_out.tolist() == [[tgt_vocab.encode("about")[0], v, w1, 3]]
    assert batch.extra == [["bob"]]
    assert decode_extended(tgt_vocab, batch.tgt_out[0, :3].tolist(), batch.extra[0]) == (
        "about bob w1"
    )


def test_copy_ids_keeps_target_unknowns_that_the_source_lacks(vocabs):
    _, tgt_vocab = vocabs
    index = token_index(tgt_vocab)
    src_map, tgt, extra = copy_ids(
        ["ann", "w0", "ann", "bo"], index, 9, ["ann", "zed", "w0"], tgt_vocab.encode("ann zed w0")
    )
    assert src_map == [9, index["w0"], 9, 10] and extra == ["ann", "bo"]
    assert tgt == [9, 1, index["w0"]]  # zed is in no source: it stays <unk>


def test_a_trained_copy_model_writes_names_that_neither_vocabulary_has(trained):
    path, _ = trained
    translator = Translator.load(path)
    sources, targets = pairs(100, seed=99)
    for beam in (1, 4):
        outputs = translator.translate(sources, beam_size=beam, length_penalty=1.0)
        right = sum(o == t for o, t in zip(outputs, targets, strict=True))
        assert right >= 90, (beam, outputs[:3], targets[:3])


def test_beam_of_one_is_greedy_and_the_nbest_scores_are_teacher_forced_scores(trained, vocabs):
    _, model = trained
    src_vocab, tgt_vocab = vocabs
    translator = Translator.load(trained[0])
    sources, _ = pairs(12, seed=5)
    maps, _ = translator.copy_maps(sources)
    src, lengths, src_map = batch_of(translator, sources, maps)
    settings = DecodeConfig(beam_size=1)
    greedy = greedy_search(model, src, lengths, settings, src_map=src_map)
    beam = beam_search(model, src, lengths, settings, src_map=src_map)
    for g, b in zip(greedy, beam, strict=True):
        assert g[0].tokens == b[0].tokens
        assert g[0].log_prob == pytest.approx(b[0].log_prob, abs=1e-5)
    nbest = beam_search(
        model,
        src,
        lengths,
        DecodeConfig(beam_size=4, n_best=3, length_penalty=0.6),
        src_map=src_map,
    )
    copied = [h for hyps in nbest for h in hyps if any(t >= len(tgt_vocab) for t in h.tokens)]
    assert copied  # the search does emit extended ids
    for row, hyps in enumerate(nbest):
        assert len(hyps) == 3 and [h.score for h in hyps] == sorted(
            (h.score for h in hyps), reverse=True
        )
        totals = scores_of(model, translator, sources[row], maps[row], [h.tokens for h in hyps])
        assert totals == pytest.approx([h.log_prob for h in hyps], abs=1e-4)


def test_translator_scores_equal_the_search_log_probabilities(trained):
    translator = Translator.load(trained[0])
    sources, _ = pairs(6, seed=7)
    found = translator.translate_hypotheses(sources, translator.settings(beam_size=3))
    scored = translator.score(sources, [hyps[0].text for hyps in found])
    assert scored == pytest.approx([hyps[0].log_prob for hyps in found], abs=1e-4)


def test_an_ensemble_mixes_the_extended_distributions_of_its_members(trained, vocabs):
    _, model = trained
    torch.manual_seed(3)
    src_vocab, tgt_vocab = vocabs
    other = Seq2Seq(config(attention="bahdanau").model, len(src_vocab), len(tgt_vocab)).eval()
    plain = Seq2Seq(copy_config(attention="dot").model, len(src_vocab), len(tgt_vocab)).eval()
    translator = Translator.load(trained[0])
    sources, _ = pairs(5, seed=11)
    maps, _ = translator.copy_maps(sources)
    src, lengths, src_map = batch_of(translator, sources, maps)
    ensemble = Ensemble([model, other, plain]).eval()
    tokens = torch.full((len(sources),), 2)
    with torch.no_grad():
        mixed, _ = ensemble.step(
            tokens, ensemble.init_state(ensemble.encode(src, lengths), src_map)
        )
        parts = [
            m.step(tokens, m.init_state(m.encode(src, lengths), src_map if m.copy else None))[0]
            for m in (model, other, plain)
        ]
    width = mixed.size(1)
    assert width > len(tgt_vocab) and parts[2].size(1) == len(tgt_vocab)
    probs = [p.exp() for p in parts[:2]] + [
        torch.nn.functional.pad(parts[2].exp(), (0, width - len(tgt_vocab)))
    ]
    assert mixed.exp() == pytest.approx(sum(probs) / 3, abs=1e-6)
    two = Ensemble([model, model]).eval()
    hyps = beam_search(two, src, lengths, DecodeConfig(beam_size=3), src_map=src_map)
    alone = beam_search(model, src, lengths, DecodeConfig(beam_size=3), src_map=src_map)
    assert [h[0].tokens for h in hyps] == [h[0].tokens for h in alone]


def test_copy_checkpoints_round_trip_and_average(trained, tmp_path):
    path, model = trained
    loaded, cfg, _, _ = load_model(path)
    assert cfg.model.copy and loaded.copy is not None
    assert torch.equal(loaded.copy.gate.weight, model.copy.gate.weight)
    out = tmp_path / "average.safetensors"
    average_checkpoints([path, path], out)
    averaged, _, _, _ = load_model(out)
    assert torch.allclose(averaged.copy.gate.weight, model.copy.gate.weight)


def test_copy_is_refused_without_attention_in_one_sentence():
    with pytest.raises(ValueError, match=r"model\.copy .* model\.context is 'bridge'"):
        ModelConfig(context="bridge", copy=True)


def test_a_shortlist_search_is_refused_for_a_copy_model(trained):
    translator = Translator.load(trained[0])
    with pytest.raises(ConfigError, match="decode.shortlist"):
        translator.translate(["w1 w2"], shortlist=True)


def batch_of(translator: Translator, sources: list[str], maps: list[list[int]]):
    from seq2seq.data.batching import make_source_batch

    ids = translator.src_vocab.encode_batch(sources)
    src, lengths = make_source_batch(ids, 0, translator.reverse_source)
    src_map, _ = make_source_batch(maps, 0, translator.reverse_source)
    return src, lengths, src_map


def scores_of(model, translator, source, src_map, token_lists) -> list[float]:
    from seq2seq.data.batching import make_source_batch, make_target_batch

    n = len(token_lists)
    src, lengths = make_source_batch([translator.src_vocab.encode(source)] * n, 0, True)
    maps, _ = make_source_batch([src_map] * n, 0, True)
    tgt_in, tgt_out = make_target_batch(token_lists)
    return target_log_probs(model, src, lengths, tgt_in, tgt_out, src_map=maps).tolist()


def test_replace_unk_fills_only_the_unknowns_that_copying_left(trained):
    translator = Translator.load(trained[0])
    vocab = translator.tgt_vocab
    about, w3 = vocab.encode("about w3")
    size = len(vocab)
    tokens = [about, size, 1, w3]  # about, the copied word, an <unk>, w3
    weights = torch.zeros(len(tokens) + 1, 3)
    weights[2, 1] = 1.0  # the <unk> attends to the middle source word (model order: reversed)
    text = translator._replace_unk(tokens, weights, ["w1", "bob", "w2"], ["ann"])
    assert text == "about ann bob w3"
