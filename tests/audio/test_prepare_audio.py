"""prepare for speech: audio corpora to feature shards that read back exactly, and their errors."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from sounds import noise, tone

from seq2seq.audio.features import FeatureConfig, log_mel
from seq2seq.audio.io import read_audio
from seq2seq.cli import main
from seq2seq.data.feature_shards import FeatureShard, SpeechCorpus
from seq2seq.data.prepare_audio import (
    AudioCorpus,
    is_speech_dir,
    load_speech_data,
    prepare_audio,
)
from seq2seq.errors import AudioError, ConfigError, DataError

WORDS = ["one", "two", "three", "four"]
FEATURES = FeatureConfig(rate=8000, n_mels=20, n_fft=256)


def _utterance(i: int, rate: int) -> tuple[np.ndarray, str]:
    """A wave of one to three tones (one per word, 150 ms each, its pitch the word's) and its text."""
    words = [WORDS[(i + k) % 4] for k in range(1 + i % 3)]
    parts = [tone(300 + 200 * WORDS.index(w), 0.15, rate) for w in words]
    wave = np.concatenate(parts)
    return wave + noise(len(wave) / rate, rate, 0.01, seed=i)[: len(wave)], " ".join(words)


@pytest.fixture
def corpus(tmp_path, write):
    """A manifest per split (train 12, valid 3, test 3 utterances) of WAV, FLAC and OGG files at
    8 kHz, 16 kHz and 44.1 kHz, some stereo, in a sub-folder (paths relative to the manifest)."""
    manifests = {}
    for split, count in (("train", 12), ("valid", 3), ("test", 3)):
        lines = []
        for i in range(count):
            rate = (8000, 16000, 44100)[i % 3]
            wave, text = _utterance(i, rate)
            if i % 4 == 3:
                wave = np.stack([wave, 0.5 * wave], axis=1)
            name = f"audio/{split}-{i}.{('wav', 'flac', 'ogg')[i % 3]}"
            write(name, wave, rate)
            lines.append(f"{name}\t  {text.upper() if i == 0 else text} ")
        manifests[split] = tmp_path / f"{split}.tsv"
        manifests[split].write_text("# a comment\n\n" + "\n".join(lines) + "\n", "utf-8")
    return manifests


def _prepare(corpus, out, **kw):
    splits = [AudioCorpus(manifest=corpus[s]) for s in ("train", "valid", "test")]
    return prepare_audio(out, *splits, features=FEATURES, **kw)


def test_shards_read_back_the_features_of_every_file(corpus, tmp_path):
    data = _prepare(corpus, tmp_path / "data")
    assert data.task == "speech" and data.splits == ["train", "valid", "test"]
    for split in data.splits:
        shard = FeatureShard(tmp_path / "data", split)
        paths = (tmp_path / "data" / f"{split}.src").read_text().split("\n")[:-1]
        texts = (tmp_path / "data" / f"{split}.tgt").read_text().split("\n")[:-1]
        assert len(shard) == len(paths) == len(texts) == (12 if split == "train" else 3)
        for i, path in enumerate(paths):
            wave = read_audio(path, rate=8000)
            expected = log_mel(torch.from_numpy(wave), FEATURES).numpy().astype(np.float16)
            np.testing.assert_array_equal(shard.frames(i), expected.astype(np.float32))
            assert data.tgt_vocab.decode(shard.target(i).tolist()) == texts[i]
        assert shard.lengths.tolist() == [len(shard.frames(i)) for i in range(len(shard))]


def test_transcripts_are_cleaned_and_the_vocabulary_is_characters(corpus, tmp_path):
    data = _prepare(corpus, tmp_path / "data")
    first = (tmp_path / "data" / "train.tgt").read_text().split("\n")[0]
    assert first == "ONE"  # whitespace cleaned; case kept unless --lowercase
    assert data.manifest["vocab"]["tgt_kind"] == "char"
    assert set(data.tgt_vocab.tokens) >= set("onetwhrfu") | {"\u2581"}
    lowered = _prepare(corpus, tmp_path / "lower", lowercase=True)
    assert lowered.tgt_vocab.decode(lowered.tgt_vocab.encode("ONE")) == "one"


def test_normalisation_is_the_training_frames_mean_and_std(corpus, tmp_path):
    data = _prepare(corpus, tmp_path / "data")
    shard = FeatureShard(tmp_path / "data", "train")
    frames = np.concatenate([shard.frames(i) for i in range(len(shard))]).astype(np.float64)
    np.testing.assert_allclose(data.source.mean, frames.mean(axis=0), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(data.source.std, np.maximum(frames.std(axis=0), 0.05), rtol=1e-4)
    manifest = json.loads((tmp_path / "data" / "manifest.json").read_text())
    assert manifest["source"] == data.source.to_dict()  # and so in the checkpoint
    assert manifest["source"]["features"]["n_mels"] == 20
    again = load_speech_data(tmp_path / "data")
    assert again.source == data.source and again.tgt_vocab.tokens == data.tgt_vocab.tokens
    assert is_speech_dir(tmp_path / "data") and not is_speech_dir(tmp_path)


def test_speech_corpus_buckets_hold_frames_and_targets(corpus, tmp_path):
    _prepare(corpus, tmp_path / "data")
    corpus_ = SpeechCorpus(tmp_path / "data", "train")
    shard = FeatureShard(tmp_path / "data", "train")
    bucket = corpus_.read_ranges([(7, 3), (1, 2)])
    assert [index for index, _, _ in bucket] == [7, 8, 9, 1, 2]
    for index, frames, tgt in bucket:
        np.testing.assert_array_equal(frames, shard.frames(index))
        np.testing.assert_array_equal(tgt, shard.target(index))
    frames, tgt = corpus_.range_lengths([(7, 3), (1, 2)])
    assert frames.tolist() == [len(shard.frames(i)) for i in (7, 8, 9, 1, 2)]
    assert bucket.lengths() == (frames.tolist(), tgt.tolist())
    assert len(corpus_.read_bucket(2, 5)) == 2  # utterances 10 and 11


def test_an_audio_folder_with_transcripts_is_the_same_corpus(corpus, tmp_path):
    lines = corpus["train"].read_text().split("\n")
    listing = [line.split("\t") for line in lines if "\t" in line]
    transcripts = tmp_path / "transcripts.tsv"
    names = [path.split("/")[1].rsplit(".", 1)[0] if i % 2 else path.split("/")[1]
             for i, (path, _) in enumerate(listing)]  # fmt: skip
    transcripts.write_text("".join(f"{n}\t{t}\n" for n, (_, t) in zip(names, listing)), "utf-8")
    by_folder = prepare_audio(
        tmp_path / "folder",
        AudioCorpus(audio_dir=tmp_path / "audio", transcripts=transcripts),
        features=FEATURES,
    )
    by_manifest = prepare_audio(
        tmp_path / "manifest", AudioCorpus(manifest=corpus["train"]), features=FEATURES
    )
    assert by_folder.source == by_manifest.source
    for name in ("train.feats", "train.tgt.ids", "train.src", "train.tgt"):
        assert (tmp_path / "folder" / name).read_bytes() == (
            tmp_path / "manifest" / name
        ).read_bytes()


def test_training_transcripts_over_max_len_are_dropped_and_counted(corpus, tmp_path):
    data = _prepare(corpus, tmp_path / "data", max_len=5)  # "three" (5) kept, "one two" (7) not
    train = data.manifest["splits"]["train"]
    assert train["too_long"] == 8 and train["pairs"] == 4
    assert data.manifest["splits"]["test"]["too_long"] == 0  # dev and test are never filtered


def _manifest(tmp_path, lines: list[str]):
    path = tmp_path / "bad.tsv"
    path.write_text("\n".join(lines) + "\n", "utf-8")
    return AudioCorpus(manifest=path)


def test_bad_listings_and_audio_name_the_line_and_file(tmp_path, write):
    write("ok.wav", tone(440, 0.3, 8000), 8000)
    write("quiet.wav", np.zeros(2400, np.float32), 8000)
    cases = [
        (["ok.wav one"], DataError, r"bad\.tsv:1: expected 'audio<TAB>transcript', found no tab"),
        (["ok.wav\tone", "nothere.wav\ttwo"], DataError, r"bad\.tsv:2: audio file .*nothere\.wav does not exist"),
        (["ok.wav\tone", "quiet.wav\ttwo"], AudioError, r"bad\.tsv:2: audio file .*quiet\.wav is silent"),
        (["ok.wav\t   "], DataError, r"holds no usable utterance"),
    ]  # fmt: skip
    for lines, error, says in cases:
        with pytest.raises(error, match=says):
            prepare_audio(tmp_path / "out", _manifest(tmp_path, lines), features=FEATURES)
        assert not (tmp_path / "out" / "manifest.json").exists()
    with pytest.raises(DataError, match=r"bad\.tsv:1: empty transcript"):
        prepare_audio(
            tmp_path / "out", _manifest(tmp_path, ["ok.wav\t"]), features=FEATURES,
            empty_lines="error",
        )  # fmt: skip


def test_a_listing_error_stops_before_any_audio_is_read(tmp_path, write, monkeypatch):
    write("ok.wav", tone(440, 0.3, 8000), 8000)
    monkeypatch.setattr("seq2seq.data.prepare_audio.read_audio", lambda *a, **k: pytest.fail())
    valid = _manifest(tmp_path, ["ok.wav\tone", "gone.wav\ttwo"])
    with pytest.raises(DataError, match="gone.wav does not exist"):
        prepare_audio(tmp_path / "out", AudioCorpus(manifest=valid.manifest), valid)


@pytest.mark.parametrize(
    "settings, says",
    [
        ({"task": "chatbot"}, r"prepare\.task is 'chatbot', but audio sources make a speech task"),
        ({"src_vocab": "bpe"}, r"prepare\.src_vocab concerns a text source"),
        ({"joint": True}, r"prepare\.joint concerns a text source"),
    ],
)
def test_text_source_settings_are_refused(tmp_path, settings, says):
    with pytest.raises(ConfigError, match=says):
        prepare_audio(tmp_path / "out", AudioCorpus(manifest=tmp_path / "x.tsv"), **settings)


def test_the_command_prepares_speech_and_says_what_it_wrote(corpus, tmp_path, capsys):
    out = tmp_path / "cli"
    code = main([
        "prepare", "--manifest", str(corpus["train"]), "--test-manifest", str(corpus["test"]),
        "--rate", "8000", "--n-mels", "20", "--n-fft", "256", "--tgt-vocab", "word",
        "--out", str(out),
    ])  # fmt: skip
    said = capsys.readouterr().out
    assert code == 0
    assert "speech: 20 log-mel bands every 10 ms at 8000 Hz; word targets" in said
    assert f"wrote {out}/" in said and "train " in said and "test " in said
    data = load_speech_data(out)
    assert data.tgt_vocab.kind == "word" and data.splits == ["train", "test"]
    assert data.source.features == FEATURES


@pytest.mark.parametrize(
    "argv, says",
    [
        ("--manifest {m} --src {m} --tgt {m}", "--src is text; a speech corpus is given by"),
        ("--audio-dir {d}", "--audio-dir and --transcripts go together"),
        ("--manifest {m} --audio-dir {d} --transcripts {m}", "either --manifest or --audio-dir"),
        ("--manifest {d}/none.tsv", "--manifest"),
        ("--manifest {m} --n-fft 128", "--n-fft 128 is shorter than the 25.0 ms window"),
        ("--manifest {m} --max-seconds 0", "--max-seconds"),
        ("--manifest {m} --task chatbot", "--task is 'chatbot', but audio sources"),
        ("--valid-manifest {m}", "give the training audio as --manifest FILE"),
    ],
)
def test_command_line_mistakes_are_one_sentence(corpus, tmp_path, capsys, argv, says):
    args = argv.format(m=corpus["train"], d=tmp_path).split()
    code = main(["prepare", *args, "--out", str(tmp_path / "never")])
    err = capsys.readouterr().err
    assert code == 2 and says in err and "Traceback" not in err
    assert not (tmp_path / "never").exists()
