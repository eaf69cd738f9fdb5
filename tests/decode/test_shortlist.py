"""Lexical shortlist: associations, candidate sets, searches over a cut output layer, storage."""

from __future__ import annotations

import torch
from decode_standins import TARGET_WORDS, WORDS, copy_sentences, settings

from seq2seq import Translator
from seq2seq.checkpoint import checkpoint_bytes, read_shortlist, write_atomic
from seq2seq.cli import main
from seq2seq.config import Config
from seq2seq.data.prepare import load_prepared
from seq2seq.data.shortlist import Shortlist
from seq2seq.data.vocab import WordVocab
from seq2seq.decode.search import beam_search, greedy_search
from seq2seq.model.seq2seq import Seq2Seq


def test_translations_rank_above_words_that_are_everywhere():
    # target 1 is in every sentence (like a full stop); source 5 always comes with target 7
    pairs = [([5, 6], [7, 1]), ([5], [7, 1]), ([6], [8, 1]), ([6, 4], [8, 1, 9]), ([4], [9, 1])]
    shortlist = Shortlist.build(pairs, src_size=10, tgt_size=10, k=2, frequent=1)
    assert shortlist.table[5].tolist() == [7, 1]  # Dice(5, 7) = 1 beats Dice(5, 1) = 4/7
    assert shortlist.table[6, 0].item() == 8
    assert shortlist.table[3].tolist() == [-1, -1]  # never seen: nothing of its own
    assert shortlist.frequent.tolist() == [1]


def test_candidates_are_the_union_with_always_and_without_never():
    pairs = [([5], [7, 1]), ([6], [8, 1]), ([4], [2, 9])]
    shortlist = Shortlist.build(pairs, 10, 10, k=1, frequent=1, always=[3], never=[2])
    assert shortlist.candidates(torch.tensor([[5, 4], [5, 0]])).tolist() == [1, 3, 7]
    assert shortlist.candidates(torch.tensor([[6]])).tolist() == [1, 3, 8]


def copy_shortlist(k: int, frequent: int = 0) -> Shortlist:
    src_vocab, tgt_vocab = WordVocab(WORDS), WordVocab(TARGET_WORDS)
    lines = copy_sentences(400, seed=3)
    pairs = [(src_vocab.encode(s), tgt_vocab.encode(s)) for s in lines]
    return Shortlist.build(
        pairs,
        len(src_vocab),
        len(tgt_vocab),
        k=k,
        frequent=frequent,
        always=[tgt_vocab.eos_id, tgt_vocab.unk_id],
        never=[tgt_vocab.bos_id, tgt_vocab.pad_id],
    )


def test_every_token_as_a_candidate_searches_exactly_as_the_full_layer(copy_checkpoint):
    translator = Translator.load(copy_checkpoint)
    model, vocab = translator.model, translator.tgt_vocab
    src_vocab = translator.src_vocab
    lines = copy_sentences(20, seed=5)
    from seq2seq.data.batching import make_source_batch

    src, lengths = make_source_batch([src_vocab.encode(s) for s in lines], 0, True)
    every = torch.tensor([i for i in range(len(vocab)) if i not in (vocab.bos_id, vocab.pad_id)])
    for search, beam in ((greedy_search, 1), (beam_search, 3)):
        full = search(model, src, lengths, settings(beam_size=beam))
        cut = search(model, src, lengths, settings(beam_size=beam), candidates=every)
        assert [h[0].tokens for h in cut] == [h[0].tokens for h in full]
        for a, b in zip(cut, full, strict=True):  # BOS and PAD had (almost) no probability
            assert abs(a[0].log_prob - b[0].log_prob) < 1e-3


def test_shortlist_search_copies_and_emits_only_its_candidates(copy_checkpoint):
    translator = Translator.load(copy_checkpoint)
    assert translator.shortlist is None  # saved without one
    translator.shortlist = copy_shortlist(k=2)
    lines = copy_sentences(60, seed=11)
    plain = translator.translate(lines, beam_size=3)
    cut = translator.translate(lines, beam_size=3, shortlist=True)
    assert sum(a == b for a, b in zip(plain, cut, strict=True)) >= 57
    for line in lines[:10]:
        ids = translator.src_vocab.encode(line)
        allowed = set(translator.shortlist.candidates(torch.tensor([ids])).tolist())
        hyp = translator.translate_hypotheses([line], translator.settings(shortlist=True))[0][0]
        assert set(hyp.tokens) <= allowed


def test_shortlist_command_extends_a_checkpoint_and_translate_uses_it(data_dir, tmp_path, capsys):
    data = load_prepared(data_dir)
    config = Config.model_validate(
        {"data": {"dir": str(data_dir)}, "model": {"embedding_size": 8, "hidden_size": 8}}
    )
    torch.manual_seed(0)
    model = Seq2Seq(config.model, len(data.src_vocab), len(data.tgt_vocab))
    path = tmp_path / "model.safetensors"
    write_atomic(path, checkpoint_bytes(model, config, data.src_vocab, data.tgt_vocab))
    source = tmp_path / "in.en"
    source.write_text("a man is riding a bike .\ntwo dogs play in the snow .\n", "utf-8")
    args = ["translate", "--checkpoint", str(path), "--input", str(source), "--shortlist"]
    assert main(args) == 2
    assert "has no lexical shortlist; add one with `seq2seq shortlist" in capsys.readouterr().err

    assert main(["shortlist", "--checkpoint", str(path), "--k", "5", "--frequent", "20"]) == 0
    shortlist = read_shortlist(path)
    assert shortlist is not None and shortlist.table.shape == (len(data.src_vocab), 5)
    capsys.readouterr()
    assert main([*args, "--max-len-offset", "3", "--beam-size", "2"]) == 0
    outputs = capsys.readouterr().out.splitlines()
    assert len(outputs) == 2
    allowed = {data.tgt_vocab.id_to_token(i) for i in shortlist.frequent.tolist()}
    ids = data.src_vocab.encode_batch(["a man is riding a bike .", "two dogs play in the snow ."])
    for row in ids:
        allowed |= {data.tgt_vocab.id_to_token(i) for i in shortlist.table[row].flatten() if i >= 0}
    allowed.add(data.tgt_vocab.id_to_token(data.tgt_vocab.unk_id))
    assert all(word in allowed for line in outputs for word in line.split())
