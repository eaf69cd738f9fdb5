"""Vocabularies: the paper's top-K word vocabulary and SentencePiece subwords, and their round trips."""

from __future__ import annotations

import gzip
import json
import pickle
from collections import Counter

import pytest

from seq2seq.data.vocab import (
    SentencePieceVocab,
    Vocab,
    WordVocab,
    join_punctuation,
    split_punctuation,
    vocab_from_dict,
)
from seq2seq.errors import DataError

LINES = ["the cat sat", "the dog sat", "a cat", "<eos> zebra"]


def test_word_vocab_golden_ids_and_tie_break():
    vocab = WordVocab.from_lines(LINES, max_size=4)
    # counts: cat 2, sat 2, the 2, then a/dog/zebra 1; ties go to the smaller string.
    assert vocab.tokens == ["<pad>", "<unk>", "<bos>", "<eos>", "cat", "sat", "the", "a"]
    assert (vocab.pad_id, vocab.unk_id, vocab.bos_id, vocab.eos_id) == (0, 1, 2, 3)
    assert len(vocab) == 8
    assert vocab.encode("the dog sat") == [6, 1, 5]
    assert vocab.tokenize("  the\tdog ") == ["the", "dog"]
    # a literal special token in the text must not become a control symbol
    assert vocab.encode("<eos> <pad> <unk> cat") == [1, 1, 1, 4]
    assert vocab.decode([2, 6, 1, 5, 3, 0, 0]) == "the <unk> sat"


def test_word_vocab_is_independent_of_input_order():
    a = WordVocab.from_lines(LINES, max_size=5)
    b = WordVocab.from_lines(list(reversed(LINES)), max_size=5)
    assert a.tokens == b.tokens and a == b


def test_word_vocab_lowercase_is_stored_and_applied():
    vocab = WordVocab.from_lines(["The Cat", "the DOG"], max_size=10, lowercase=True)
    assert vocab.tokens[4:] == ["the", "cat", "dog"]
    assert vocab.encode("THE cat Dog") == [4, 5, 6]
    again = vocab_from_dict(json.loads(json.dumps(vocab.to_dict())))
    assert again.lowercase and again.encode("THE cat Dog") == [4, 5, 6]


def test_word_vocab_save_load(tmp_path):
    vocab = WordVocab.from_lines(LINES, max_size=3)
    vocab.save(tmp_path / "v.json")
    loaded = Vocab.load(tmp_path / "v.json")
    assert isinstance(loaded, WordVocab) and loaded == vocab
    with pytest.raises(DataError, match="holds a word vocabulary, not a sentencepiece one"):
        SentencePieceVocab.load(tmp_path / "v.json")


def test_bad_vocab_files(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        Vocab.load(tmp_path / "missing.json")
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(DataError, match="not a readable JSON vocabulary"):
        Vocab.load(tmp_path / "bad.json")
    with pytest.raises(DataError, match="unknown vocabulary kind 'bpe-ish'"):
        vocab_from_dict({"kind": "bpe-ish"})
    with pytest.raises(DataError, match="incomplete word vocabulary"):
        vocab_from_dict({"kind": "word"})


def test_word_vocab_on_real_text_keeps_exactly_k(corpus):
    with gzip.open(corpus / "train.en.gz", "rt", encoding="utf-8") as handle:
        lines = handle.read().splitlines()
    counts = Counter(w for line in lines for w in line.split())
    k = 3000
    assert len(counts) > k  # there are more types than K, so exactly K words are kept
    vocab = WordVocab.build(counts, k)
    assert len(vocab) == k + 4
    kept = set(vocab.tokens[4:])
    threshold = sorted(counts.values(), reverse=True)[k - 1]
    # every word more frequent than the K-th is kept, every rarer one is not
    assert all(w in kept for w, c in counts.items() if c > threshold)
    assert not any(w in kept for w, c in counts.items() if c < threshold)
    ranks = [counts[w] for w in vocab.tokens[4:]]
    assert ranks == sorted(ranks, reverse=True)


@pytest.mark.parametrize(
    ("text", "tokens"),
    [
        ("Un homme regarde quelque chose.", ["Un", "homme", "regarde", "quelque", "chose", "￭."]),
        ("l'homme, assis.", ["l'￭", "homme", "￭,", "assis", "￭."]),
        ('Il dit : "Oui !"', ["Il", "dit", ":", '"￭', "Oui", "!", '￭"']),
        (
            "un T-shirt (rouge)...",
            ["un", "T", "￭-￭", "shirt", "(￭", "rouge", "￭)", "￭.", "￭.", "￭."],
        ),
        ("the dogs' bowls", ["the", "dogs'", "bowls"]),
        ("3,5 km", ["3", "￭,￭", "5", "km"]),
    ],
)
def test_split_punctuation_is_exactly_reversible(text, tokens):
    assert split_punctuation(text) == tokens
    assert join_punctuation(tokens) == text


def test_split_punctuation_round_trips_real_text(en_lines, corpus):
    with gzip.open(corpus / "train.fr.gz", "rt", encoding="utf-8") as handle:
        fr_lines = handle.read().splitlines()
    for line in en_lines[:3000] + fr_lines:
        assert join_punctuation(split_punctuation(line)) == " ".join(line.split())
    # a model may emit joiners anywhere: stray ones never show in the text
    assert join_punctuation(["￭.", "Oui", "(￭"]) == ". Oui ("


def test_word_vocab_split_punct_shares_words_and_is_stored():
    vocab = WordVocab.from_lines(["a cat.", "the cat, a dog."], max_size=10, split_punct=True)
    # "cat" and "cat," are one word; ties go to the smaller string, and the joiner sorts last
    assert vocab.tokens[4:] == ["a", "cat", "￭.", "dog", "the", "￭,"]
    assert vocab.encode("the dog.") == [8, 7, 6]
    assert vocab.decode([2, 8, 7, 1, 6, 3]) == "the dog <unk>."
    again = vocab_from_dict(json.loads(json.dumps(vocab.to_dict())))
    assert again.split_punct and again == vocab and again.encode("the dog.") == [8, 7, 6]
    plain = WordVocab.from_lines(["a cat."], max_size=10)
    assert plain.to_dict()["split_punct"] is False  # every key is written, none guessed on load
    assert plain.tokens[4:] == ["a", "cat."]


# ---------------------------------------------------------------------------------------------
# SentencePiece


@pytest.fixture(scope="module")
def en_lines(corpus) -> list[str]:
    with gzip.open(corpus / "train.en.gz", "rt", encoding="utf-8") as handle:
        return handle.read().splitlines()


@pytest.fixture(scope="module")
def bpe(en_lines) -> SentencePieceVocab:
    return SentencePieceVocab.train(en_lines, vocab_size=1000, model_type="bpe", sample_size=5000)


def test_sentencepiece_bpe_trains_with_the_contract_ids(bpe, en_lines):
    assert len(bpe) == 1000
    assert [bpe.id_to_token(i) for i in range(4)] == ["<pad>", "<unk>", "<bos>", "<eos>"]
    sentence = en_lines[123]
    ids = bpe.encode(sentence)
    assert ids and all(4 <= i < 1000 for i in ids)  # no BOS/EOS added, no unknown piece
    assert bpe.decode(ids) == sentence
    assert bpe.decode([2, *ids, 3, 0, 0]) == sentence  # specials dropped
    assert "".join(bpe.tokenize(sentence)).replace("\u2581", " ").strip() == sentence
    assert bpe.encode_batch([sentence, "A dog."]) == [ids, bpe.encode("A dog.")]


def test_sentencepiece_unknown_characters_decode_as_unk(bpe):
    ids = bpe.encode("a \u2603 dog")  # a snowman never appears in the training text
    assert 1 in ids
    assert bpe.decode(ids) == "a <unk> dog"


def test_sentencepiece_round_trips_through_dict_file_and_pickle(bpe, tmp_path):
    again = vocab_from_dict(json.loads(json.dumps(bpe.to_dict())))
    assert isinstance(again, SentencePieceVocab) and again == bpe
    text = "Two dogs are playing in the snow."
    assert again.encode(text) == bpe.encode(text)
    bpe.save(tmp_path / "sp.json")
    assert Vocab.load(tmp_path / "sp.json").encode(text) == bpe.encode(text)
    assert pickle.loads(pickle.dumps(bpe)).encode(text) == bpe.encode(text)


def test_sentencepiece_training_is_deterministic(en_lines, bpe):
    again = SentencePieceVocab.train(en_lines, vocab_size=1000, model_type="bpe", sample_size=5000)
    assert again.model_proto == bpe.model_proto


def test_sentencepiece_unigram_lowercase(en_lines):
    vocab = SentencePieceVocab.train(
        en_lines[:5000], vocab_size=800, model_type="unigram", lowercase=True
    )
    assert vocab.to_dict()["model_type"] == "unigram" and vocab.lowercase
    assert len(vocab) == 800
    assert vocab.encode("A MAN RIDES A BIKE.") == vocab.encode("a man rides a bike.")
    assert vocab.decode(vocab.encode("A Man")) == "a man"


def test_sentencepiece_vocab_too_large_is_one_sentence():
    with pytest.raises(DataError, match=r"Vocabulary size too high \(500\)"):
        SentencePieceVocab.train(["a b c", "d e f"] * 20, vocab_size=500)
