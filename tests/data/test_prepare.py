"""`seq2seq prepare`: cleaned splits, vocabularies and a manifest whose numbers we recompute here."""

from __future__ import annotations

import gzip
import json
from collections import Counter

import pytest

from seq2seq.cli import main
from seq2seq.data.io import ParallelSource
from seq2seq.data.prepare import load_prepared, prepare, summary_table
from seq2seq.data.vocab import SentencePieceVocab, WordVocab
from seq2seq.errors import DataError


def gz_lines(path) -> list[str]:
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        return handle.read().splitlines()


def top_k(lines: list[str], k: int) -> set[str]:
    counts = Counter(w for line in lines for w in line.split())
    return {w for w, _ in sorted(counts.items(), key=lambda wc: (-wc[1], wc[0]))[:k]}


def oov_rate(lines: list[str], known: set[str]) -> float:
    tokens = [w for line in lines for w in line.split()]
    return sum(w not in known for w in tokens) / len(tokens)


def test_word_manifest_counts(word_data):
    m = word_data.manifest
    assert (m["src_lang"], m["tgt_lang"]) == ("en", "fr")
    assert m["vocab"]["kind"] == "word"
    assert (m["vocab"]["src_size"], m["vocab"]["tgt_size"]) == (3004, 4004)
    assert (len(word_data.src_vocab), len(word_data.tgt_vocab)) == (3004, 4004)
    train, valid = m["splits"]["train"], m["splits"]["valid"]
    assert (train["lines_read"], train["pairs"], train["empty"], train["too_long"]) == (
        2000,
        2000,
        0,
        0,
    )
    assert valid["pairs"] == 100
    src, tgt = word_data.split_paths("train")
    assert len(src.read_text(encoding="utf-8").splitlines()) == 2000
    assert len(tgt.read_text(encoding="utf-8").splitlines()) == 2000


def test_oov_rates_recomputed_independently(word_data, corpus):
    m = word_data.manifest["splits"]
    en_train, fr_train = gz_lines(corpus / "train.en.gz"), gz_lines(corpus / "train.fr.gz")
    en_known, fr_known = top_k(en_train, 3000), top_k(fr_train, 4000)
    assert m["train"]["src_oov_rate"] == pytest.approx(oov_rate(en_train, en_known), abs=1e-6)
    assert m["train"]["tgt_oov_rate"] == pytest.approx(oov_rate(fr_train, fr_known), abs=1e-6)
    en_val, fr_val = gz_lines(corpus / "valid.en.gz"), gz_lines(corpus / "valid.fr.gz")
    assert m["valid"]["src_oov_rate"] == pytest.approx(oov_rate(en_val, en_known), abs=1e-6)
    assert m["valid"]["tgt_oov_rate"] == pytest.approx(oov_rate(fr_val, fr_known), abs=1e-6)
    # 2,000 training sentences, words with their punctuation: about one dev token in six is unseen
    assert 0.0 < m["train"]["src_oov_rate"] < m["valid"]["src_oov_rate"] < 0.2
    lengths = [len(line.split()) for line in en_val]
    assert m["valid"]["src_len_max"] == max(lengths)
    assert m["valid"]["src_len_mean"] == pytest.approx(sum(lengths) / len(lengths), abs=1e-3)


def test_cleaned_files_keep_the_text(word_data, corpus):
    src, _ = word_data.split_paths("valid")
    assert src.read_text(encoding="utf-8").splitlines() == [
        " ".join(line.split()) for line in gz_lines(corpus / "valid.en.gz")
    ]


def test_joint_bpe_with_max_len_in_pieces(tmp_path, corpus):
    data = prepare(
        tmp_path / "bpe",
        ParallelSource(corpus / "train.en.gz", corpus / "train.fr.gz"),
        test=ParallelSource(corpus / "test.en.gz", corpus / "test.fr.gz"),
        vocab="bpe",
        joint=True,
        src_vocab_size=1000,
        max_len=16,
        sp_sample=5000,
        progress=False,
    )
    assert isinstance(data.src_vocab, SentencePieceVocab) and data.src_vocab == data.tgt_vocab
    assert len(data.src_vocab) == 1000
    vocab = data.src_vocab
    en, fr = gz_lines(corpus / "train.en.gz"), gz_lines(corpus / "train.fr.gz")
    lengths = zip(map(len, vocab.encode_batch(en)), map(len, vocab.encode_batch(fr)))
    too_long = sum(s > 16 or t > 16 for s, t in lengths)
    train = data.manifest["splits"]["train"]
    assert train["too_long"] == too_long > 0
    assert train["pairs"] == 2000 - too_long
    src, tgt = data.split_paths("train")
    kept = src.read_text(encoding="utf-8").splitlines()
    assert len(kept) == train["pairs"] and max(len(vocab.encode(s)) for s in kept) <= 16
    assert train["src_len_max"] <= 16 and train["tgt_len_max"] <= 16
    # the test split is never length-filtered
    assert data.manifest["splits"]["test"]["pairs"] == 150
    assert load_prepared(tmp_path / "bpe").src_vocab == vocab


def test_word_max_len_lowercase_and_tsv(tmp_path):
    tsv = tmp_path / "pairs.tsv"
    tsv.write_text("A b\tX y\nc d e f\tz\n\t\nThe A\tx\n", encoding="utf-8")
    data = prepare(
        tmp_path / "out", ParallelSource(tsv=tsv), max_len=3, lowercase=True, progress=False
    )
    train = data.manifest["splits"]["train"]
    assert (train["lines_read"], train["pairs"], train["empty"], train["too_long"]) == (4, 2, 1, 1)
    assert data.src_vocab.lowercase and data.src_vocab.tokens[4:] == ["a", "b", "the"]
    assert data.tgt_vocab.tokens[4:] == ["x", "y"]
    assert data.manifest["src_lang"] is None


def test_load_prepared_errors(tmp_path, word_data):
    with pytest.raises(DataError, match="does not exist"):
        load_prepared(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="has no manifest.json"):
        load_prepared(tmp_path / "empty")
    bad = tmp_path / "bad"
    bad.mkdir()
    text = (word_data.dir / "manifest.json").read_text(encoding="utf-8")
    (bad / "manifest.json").write_text(text[: len(text) // 2], encoding="utf-8")
    with pytest.raises(DataError, match=r"manifest\.json:\d+: corrupt manifest"):
        load_prepared(bad)
    (bad / "manifest.json").write_text(json.dumps({"hello": 1}), encoding="utf-8")
    with pytest.raises(DataError, match="not a manifest written by"):
        load_prepared(bad)
    with pytest.raises(DataError, match=r"has no 'test' split \(it has: train, valid\)"):
        word_data.split_paths("test")


def test_cli_prepare_prints_a_summary(tmp_path, capsys):
    (tmp_path / "t.de").write_text("ein Hund\nzwei Katzen\n", encoding="utf-8")
    (tmp_path / "t.en").write_text("a dog\ntwo cats\n", encoding="utf-8")
    out = tmp_path / "de-en"
    args = ["prepare", "--src", str(tmp_path / "t.de"), "--tgt", str(tmp_path / "t.en")]
    assert main([*args, "--out", str(out), "--src-vocab-size", "3"]) == 0
    printed = capsys.readouterr().out
    assert "de -> en: word vocabulary, source 7 / target 8 entries" in printed
    # K=3 of 4 German words, all seen once: the tie-break keeps Hund, Katzen, ein; "zwei" is <unk>
    assert "train      2" in printed and "25.00%" in printed
    data = load_prepared(out)
    assert isinstance(data.src_vocab, WordVocab) and data.splits == ["train"]
    assert summary_table(data.manifest) in printed


def test_cli_prepare_split_punct(tmp_path, capsys):
    (tmp_path / "t.en").write_text("A dog, running.\nTwo dogs.\n", encoding="utf-8")
    (tmp_path / "t.fr").write_text("Un chien, qui court.\nDeux chiens.\n", encoding="utf-8")
    args = ["prepare", "--src", str(tmp_path / "t.en"), "--tgt", str(tmp_path / "t.fr")]
    assert main([*args, "--out", str(tmp_path / "w"), "--split-punct"]) == 0
    data = load_prepared(tmp_path / "w")
    assert data.manifest["vocab"]["split_punct"] and data.src_vocab.split_punct
    assert data.src_vocab.tokens[4:] == ["￭.", "A", "Two", "dog", "dogs", "running", "￭,"]
    assert data.tgt_vocab.decode(data.tgt_vocab.encode("Deux chiens.")) == "Deux chiens."
    capsys.readouterr()
    assert main([*args, "--out", str(tmp_path / "b"), "--split-punct", "--vocab", "bpe"]) == 2
    assert "--split-punct applies to word vocabularies" in capsys.readouterr().err


def _hangul_corpus(folder) -> ParallelSource:
    """300 lines of 30 Hangul syllables, and one rare syllable (뷁) seen once."""
    import random

    rng = random.Random(0)
    syllables = [chr(0xAC00 + 37 * i) for i in range(30)]
    words = ["".join(rng.choices(syllables, k=rng.randint(1, 3))) for _ in range(2000)]
    lines = [" ".join(rng.choices(words, k=rng.randint(3, 8))) for _ in range(300)]
    lines[7] += " 뷁"
    folder.mkdir()
    for name in ("train.ko", "train.en"):
        (folder / name).write_text("\n".join(lines) + "\n", encoding="utf-8")
    return ParallelSource(folder / "train.ko", folder / "train.en")


def test_a_prepare_option_reaches_sentencepiece_from_the_api_and_the_command_line(tmp_path):
    """byte_fallback lives in PrepareConfig and SentencePieceVocab.train only; the keyword
    argument and the generated flag --byte-fallback follow (as --min-len does for search)."""
    source = _hangul_corpus(tmp_path / "text")
    settings = dict(vocab="bpe", joint=True, src_vocab_size=400, character_coverage=0.999)
    plain = prepare(tmp_path / "plain", source, **settings)
    assert plain.src_vocab.decode(plain.src_vocab.encode("뷁 가")) == "<unk> 가"
    api = prepare(tmp_path / "api", source, **settings, byte_fallback=True)
    assert api.src_vocab.decode(api.src_vocab.encode("뷁 가")) == "뷁 가"
    assert api.manifest["splits"]["train"]["src_oov_rate"] == 0.0
    assert api.manifest["settings"]["byte_fallback"] is True  # the manifest records every setting
    assert plain.manifest["splits"]["train"]["src_oov_rate"] > 0.0

    flags = ["--src", str(source.src), "--tgt", str(source.tgt), "--vocab", "bpe", "--joint"]
    flags += ["--src-vocab-size", "400", "--character-coverage", "0.999", "--byte-fallback"]
    assert main(["prepare", *flags, "--out", str(tmp_path / "cli")]) == 0
    assert (tmp_path / "cli" / "src.vocab.json").read_bytes() == (
        tmp_path / "api" / "src.vocab.json"
    ).read_bytes()


def test_prepare_settings_are_checked_and_named_by_their_flag(tmp_path, capsys):
    """The library names the setting (prepare.byte_fallback); the command says the flag."""
    from seq2seq.config import PrepareConfig
    from seq2seq.errors import ConfigError

    source = _hangul_corpus(tmp_path / "text")
    with pytest.raises(ConfigError, match=r"^prepare\.byte_fallback applies to SentencePiece"):
        prepare(tmp_path / "out", source, byte_fallback=True)
    with pytest.raises(ConfigError, match=r"^prepare\.character_coverage: .* 1 \(got 1\.5\)"):
        PrepareConfig(character_coverage=1.5)
    flags = ["prepare", "--src", str(source.src), "--tgt", str(source.tgt), "--out"]
    assert main([*flags, str(tmp_path / "out"), "--byte-fallback"]) == 2
    assert "error: --byte-fallback applies to SentencePiece" in capsys.readouterr().err
    assert main([*flags, str(tmp_path / "out"), "--character-coverage", "0"]) == 2
    assert "error: --character-coverage: input should be greater than 0" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
