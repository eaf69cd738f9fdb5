"""The character vocabulary (data/vocab.py's `CharVocab`) and `prepare --vocab char` / per-side
kinds (`--src-vocab char --tgt-vocab word`, the grapheme-to-phoneme setting)."""

from __future__ import annotations

import csv
import gzip
import json
from pathlib import Path

import pytest

from seq2seq.data.vocab import SPACE, UNK_ID, CharVocab, Vocab, WordVocab, vocab_from_dict
from seq2seq.errors import ConfigError, DataError

SLICE = Path(__file__).parent / "chatbot-ko" / "ChatbotData.slice.csv.gz"
TEXT = ["Hello,  world!", "l'homme (assis) -- 3.5 km", "안녕하세요? 잘 지내요."]


def test_text_with_spaces_punctuation_and_hangul_round_trips():
    vocab = CharVocab.from_lines(TEXT, max_size=1000)
    assert vocab.tokenize("Hi, 너") == ["H", "i", ",", SPACE, "너"]
    for line in TEXT:
        ids = vocab.encode(line)
        assert UNK_ID not in ids
        assert len(ids) == len(" ".join(line.split()))  # one id a character, one a space
        assert vocab.decode(ids) == " ".join(line.split())  # runs of spaces count as one
    assert vocab.decode([vocab.bos_id, *vocab.encode("잘 지내요"), vocab.eos_id, 0]) == "잘 지내요"


def test_unknown_characters_are_unk_and_the_most_frequent_are_kept():
    vocab = CharVocab.from_lines(["aaab b c", "ddc"], max_size=3)  # a:3 b:2 c:2 d:2 ▁:2
    assert vocab.tokens[4:] == ["a", "b", "c"]  # ties: the smaller code point first
    assert vocab.encode("ab dz") == [4, 5, UNK_ID, UNK_ID, UNK_ID]
    assert vocab.decode(vocab.encode("ab z")) == "ab<unk><unk>"
    with pytest.raises(DataError, match="at least one entry"):
        CharVocab.from_lines(["a"], max_size=0)


def test_lowercase_and_the_special_tokens_are_not_reachable_from_text():
    vocab = CharVocab.from_lines(["ABC abc"], max_size=10, lowercase=True)
    assert vocab.encode("CAB") == vocab.encode("cab")
    assert vocab.encode("<eos>")[0] == UNK_ID  # "<" is a character, not the start of a special
    assert len(vocab.encode("<eos>")) == 5


def test_save_load_and_the_dict_form(tmp_path):
    vocab = CharVocab.from_lines(TEXT, max_size=1000, lowercase=True)
    vocab.save(tmp_path / "v.json")
    loaded = Vocab.load(tmp_path / "v.json")
    assert isinstance(loaded, CharVocab) and loaded == vocab and loaded.lowercase
    assert vocab_from_dict(vocab.to_dict()).tokens == vocab.tokens
    assert json.loads((tmp_path / "v.json").read_text("utf-8"))["kind"] == "char"
    with pytest.raises(DataError, match="holds a char vocabulary, not a word one"):
        WordVocab.load(tmp_path / "v.json")
    with pytest.raises(DataError, match="incomplete char vocabulary"):
        vocab_from_dict({"kind": "char", "lowercase": False})
    with pytest.raises(DataError, match="twice or as a string"):
        CharVocab(["a", "ab"])


def _write(path, lines):
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def test_prepare_a_char_source_and_a_word_target(tmp_path):
    from seq2seq.data.io import ParallelSource
    from seq2seq.data.prepare import load_prepared, prepare, summary_table

    src = _write(tmp_path / "w.src", ["cat", "cot", "act", "cats"])
    tgt = _write(tmp_path / "w.tgt", ["K AE1 T", "K AA1 T", "AE1 K T", "K AE1 T S"])
    prepared = prepare(tmp_path / "d", ParallelSource(src, tgt), src_vocab="char",
                       tgt_vocab="word", max_len=3, task="pronunciation")  # fmt: skip
    data = load_prepared(tmp_path / "d")
    assert isinstance(data.src_vocab, CharVocab) and isinstance(data.tgt_vocab, WordVocab)
    assert data.src_vocab.tokens[4:] == [
        "c",
        "t",
        "a",
        "o",
    ]  # c, t: 3; a: 2; "cats" (4) not counted
    assert data.tgt_vocab.tokens[4:] == ["K", "T", "AE1", "AA1"]
    manifest = prepared.manifest
    assert manifest["vocab"]["kind"] == "char/word" and manifest["vocab"]["src_kind"] == "char"
    assert (
        manifest["splits"]["train"]["pairs"] == 3 and manifest["splits"]["train"]["too_long"] == 1
    )
    assert manifest["vocab"]["requested_src_size"] == 10_000  # char's default, word's for tgt:
    assert manifest["vocab"]["requested_tgt_size"] == 80_000
    assert summary_table(manifest).startswith("pronunciation, src -> tgt: char/word vocabulary")


def test_a_joint_char_vocabulary_and_the_checks_of_mixed_kinds(tmp_path):
    from seq2seq.config import PrepareConfig
    from seq2seq.data.io import ParallelSource
    from seq2seq.data.prepare import prepare

    src = _write(tmp_path / "q", ["안녕", "뭐 해"])
    tgt = _write(tmp_path / "a", ["안녕하세요", "그냥 있어"])
    data = prepare(tmp_path / "d", ParallelSource(src, tgt), vocab="char", joint=True)
    assert (
        data.src_vocab is data.tgt_vocab
        and data.src_vocab.decode(data.src_vocab.encode("그냥 있어")) == "그냥 있어"
    )
    with pytest.raises(ConfigError, match="joint vocabulary has one kind"):
        PrepareConfig(vocab="char", tgt_vocab="word", joint=True)
    with pytest.raises(ConfigError, match="split_punct applies to word"):
        PrepareConfig(vocab="char", split_punct=True)
    PrepareConfig(src_vocab="char", tgt_vocab="word", split_punct=True)  # the word side uses it
    with pytest.raises(ConfigError, match="byte_fallback applies to SentencePiece"):
        PrepareConfig(vocab="char", byte_fallback=True)


def test_prepare_char_on_the_committed_korean_chatbot_slice(tmp_path, capsys):
    from seq2seq.commands import main

    path = tmp_path / "ko"
    path.mkdir()
    with gzip.open(SLICE, "rt", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))[:600]
    _write(path / "q", [r["Q"] for r in rows])
    _write(path / "a", [r["A"] for r in rows])
    code = main(["prepare", "--src", str(path / "q"), "--tgt", str(path / "a"), "--task",
                 "chatbot", "--vocab", "char", "--tgt-vocab-size", "300", "--out", str(path / "d")])  # fmt: skip
    assert code == 0
    out = capsys.readouterr().out
    assert out.startswith("chatbot, src -> tgt: char vocabulary")
    from seq2seq.data.prepare import load_prepared

    data = load_prepared(path / "d")
    assert len(data.tgt_vocab) == 304 and data.manifest["splits"]["train"]["src_oov_rate"] == 0.0
    assert data.manifest["splits"]["train"]["tgt_oov_rate"] > 0  # the rarest syllables cut
    question = " ".join(rows[0]["Q"].split())
    assert data.src_vocab.decode(data.src_vocab.encode(question)) == question


def test_replace_unk_puts_the_attended_source_character_in_a_character_output():
    from types import SimpleNamespace

    import torch

    from seq2seq.decode.translator import Translator

    vocab = CharVocab.from_lines(["ab c"], max_size=10)
    fake = SimpleNamespace(tgt_vocab=vocab, reverse_source=True)
    fake._aligned_word = lambda weights, words: Translator._aligned_word(fake, weights, words)
    tokens = [*vocab.encode("a"), UNK_ID, vocab.tokens.index(SPACE), *vocab.encode("c"), UNK_ID]
    weights = torch.tensor([[1.0, 0, 0], [0, 1.0, 0], [1, 0, 0], [1, 0, 0], [0, 0, 1.0]])
    # the model read the source "xyz" reversed: column 1 is y, column 2 is x
    text = Translator._replace_unk(fake, tokens, weights, ["x", "y", "z"], [])
    assert text == "ay cx"
