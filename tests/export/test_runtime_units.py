"""The runtime's parts that need no export: its vocabularies read the files the exporter writes
and give the training package's ids and texts; its settings and folders fail in one sentence."""

from __future__ import annotations

import gzip
import json

import pytest
from seq2seq_runtime import ModelDirError, SearchSettings, SettingsError, Translator
from seq2seq_runtime.vocab import load_vocab

from seq2seq.data.vocab import CharVocab, SentencePieceVocab, WordVocab
from seq2seq.export.onnx import FORMAT_VERSION, _write_vocab

TEXTS = [
    "L'homme, assis sur le banc, regarde l'eau.",
    "Two dogs (one black) run -- fast!",
    "  spaces   and\ttabs ",
    "Ünïcödé café 너 ▁ done",
    "",
]


def _vocabs(corpus) -> list:
    with gzip.open(corpus / "train.en.gz", "rt", encoding="utf-8") as handle:
        train = [line.rstrip("\n") for _, line in zip(range(500), handle)]
    return [
        WordVocab.from_lines(train, 300, lowercase=True, split_punct=True),
        WordVocab.from_lines(train, 300),
        CharVocab.from_lines(train, 40, lowercase=True),
        SentencePieceVocab.train(train, 300),
    ]


def test_runtime_vocabularies_match_the_training_package(corpus, tmp_path):
    for vocab in _vocabs(corpus):
        entry = _write_vocab(vocab, tmp_path, f"side-{vocab.kind}")
        runtime = load_vocab(tmp_path, entry)
        assert len(runtime) == len(vocab)
        for text in TEXTS:
            ids = vocab.encode(text)
            assert runtime.encode(text) == ids, (vocab.kind, text)
            assert runtime.tokenize(text) == vocab.tokenize(text)
            assert runtime.decode(ids + [3, 1]) == vocab.decode(ids + [3, 1])


def test_a_folder_that_is_no_export_is_one_sentence(tmp_path):
    with pytest.raises(ModelDirError, match="holds no manifest.json"):
        Translator.from_dir(tmp_path)
    (tmp_path / "manifest.json").write_text(json.dumps({"format_version": FORMAT_VERSION + 1}))
    with pytest.raises(ModelDirError, match="format version 2; this runtime reads version 1"):
        Translator.from_dir(tmp_path)


@pytest.mark.parametrize(
    ("settings", "says"),
    [
        (dict(beam_size=0), "beam_size must be a whole number at least 1"),
        (dict(beam_size=2, n_best=3), "n_best=3 cannot exceed beam_size=2"),
        (dict(max_len_ratio=0.0), "max_len_ratio must be in"),
        (dict(length_penalty=-1.0), "length_penalty must be in"),
    ],
)
def test_bad_search_settings_are_one_sentence(settings, says):
    with pytest.raises(SettingsError, match=says):
        SearchSettings(**settings)
