"""The corpus scripts of issue 25 on audio made here: benchmarks/tasks/fsdd_digits.py on stand-in
FSDD recordings (a tone per digit), benchmarks/tasks/espeak_sentences.py with espeak-ng (skipped
where it is not installed; .ci/run installs it)."""

from __future__ import annotations

import gzip
import importlib.util
import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile
from sounds import noise, tone

from seq2seq.audio.features import FeatureConfig
from seq2seq.data.prepare_audio import AudioCorpus, prepare_audio
from seq2seq.errors import DataError

REPO = Path(__file__).resolve().parents[2]


def _script(name: str):
    spec = importlib.util.spec_from_file_location(
        name, REPO / "benchmarks" / "tasks" / f"{name}.py"
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


fsdd = _script("fsdd_digits")
SPEAKERS = ("ann", "bob", "cy")


@pytest.fixture(scope="module")
def recordings(tmp_path_factory) -> Path:
    """3 speakers x 10 digits x 10 takes at 8 kHz: digit d is a tone of 200 + 50 d Hz."""
    folder = tmp_path_factory.mktemp("recordings")
    for s, speaker in enumerate(SPEAKERS):
        for digit in range(10):
            for take in range(10):
                wave = tone(200 + 50 * digit, 0.2 + 0.01 * take, 8000, 0.3 + 0.05 * s)
                wave = wave + noise(len(wave) / 8000, 8000, 0.005, seed=take)[: len(wave)]
                soundfile.write(str(folder / f"{digit}_{speaker}_{take}.wav"), wave, 8000)
    return folder


SIZES = {"train": 30, "valid": 5, "test-takes": 8, "test-speaker": 8}


def _file_names(takes: dict[str, list[int]]) -> set[str]:
    """corpus.json's {"speaker/digit": [take, ...]} as recording file names."""
    return {f"{k.split('/')[1]}_{k.split('/')[0]}_{t}.wav" for k, ts in takes.items() for t in ts}


def test_fsdd_splits_keep_test_takes_and_the_held_out_speaker_unheard(
    recordings, tmp_path, monkeypatch
):
    reads: list[tuple[object, str]] = []  # (the split's builder, a recording it read)
    original = fsdd.Builder._wave
    monkeypatch.setattr(
        fsdd.Builder, "_wave", lambda self, take: reads.append((self, take.path.name)) or original(self, take)
    )  # fmt: skip
    summary = fsdd.build(recordings, tmp_path / "out", SIZES, test_speaker="cy", seed=3)
    builders = list(dict.fromkeys(builder for builder, _ in reads))  # in the order of SIZES
    heard = {
        split: {n for b, n in reads if b is builder} for split, builder in zip(SIZES, builders)
    }
    splits = summary["splits"]
    files = {split: _file_names(splits[split]["takes"]) for split in SIZES}
    assert not files["train"] & files["test-takes"] and not files["train"] & files["valid"]
    assert len(files["train"]) == 2 * 10 * 8 and len(files["test-takes"]) == 2 * 10 * 1
    for split in SIZES:
        assert heard[split] and heard[split] <= files[split]  # each split reads its takes only
    assert {name.split("_")[1] for name in heard["test-speaker"]} == {"cy"}
    assert all(splits[s]["speakers"] == ["ann", "bob"] for s in ("train", "valid", "test-takes"))
    for split, count in SIZES.items():
        lines = (tmp_path / "out" / f"{split}.tsv").read_text().splitlines()
        assert len(lines) == count
        for path, text in (line.split("\t") for line in lines):
            words = text.split()
            assert 1 <= len(words) <= 7 and set(words) <= set(fsdd.WORDS)
            info = soundfile.info(str(tmp_path / "out" / path))
            assert info.samplerate == 8000 and info.duration > 0.2 * len(words)


def test_fsdd_is_the_same_for_the_same_seed(recordings, tmp_path):
    sizes = {"train": 6, "valid": 2, "test-takes": 2, "test-speaker": 2}
    fsdd.build(recordings, tmp_path / "a", sizes, "cy", seed=1)
    fsdd.build(recordings, tmp_path / "b", sizes, "cy", seed=1)
    fsdd.build(recordings, tmp_path / "c", sizes, "cy", seed=2)
    for name in ("train.tsv", "wavs/train/train-00003.wav", "corpus.json"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    assert (tmp_path / "a" / "train.tsv").read_text() != (tmp_path / "c" / "train.tsv").read_text()


def test_fsdd_speed_perturbation_changes_the_training_audio_only(recordings, tmp_path):
    sizes = {"train": 6, "valid": 2, "test-takes": 2, "test-speaker": 2}
    fsdd.build(recordings, tmp_path / "plain", sizes, "cy", seed=1)
    fsdd.build(recordings, tmp_path / "fast", sizes, "cy", seed=1, perturb=0.1)
    for split in ("valid", "test-takes", "test-speaker"):
        for i in range(2):
            name = f"wavs/{split}/{split}-{i:05d}.wav"
            assert (tmp_path / "plain" / name).read_bytes() == (
                tmp_path / "fast" / name
            ).read_bytes()
    first = "wavs/train/train-00000.wav"  # the same digits and takes, another speed
    plain, fast = (soundfile.info(str(tmp_path / d / first)).frames for d in ("plain", "fast"))
    assert plain != fast and 0.85 < fast / plain < 1.15
    assert len(fsdd.speed(np.ones(1000, np.float32), 1.25)) == 800
    assert len(fsdd.speed(np.ones(1000, np.float32), 0.8)) == 1250


def test_fsdd_utterances_prepare_and_their_words_are_where_the_tones_are(recordings, tmp_path):
    fsdd.build(recordings, tmp_path / "out", SIZES, "cy", seed=1)
    data = prepare_audio(
        tmp_path / "prepared", AudioCorpus(manifest=tmp_path / "out" / "train.tsv"),
        features=FeatureConfig(rate=8000),
    )  # fmt: skip
    assert data.manifest["splits"]["train"]["pairs"] == 30
    assert set(data.tgt_vocab.tokens) >= set("zeroonetwthrfivsxg")


def test_fsdd_errors_name_what_is_missing(recordings, tmp_path):
    with pytest.raises(DataError, match="test speaker 'dan'.*speakers: ann, bob, cy"):
        fsdd.build(recordings, tmp_path / "out", SIZES, test_speaker="dan")
    with pytest.raises(DataError, match="holds no FSDD recordings"):
        fsdd.build(tmp_path, tmp_path / "out", SIZES)


needs_espeak = pytest.mark.skipif(
    shutil.which("espeak-ng") is None, reason="espeak-ng is not installed"
)


@needs_espeak
def test_espeak_sentences_hold_the_test_voice_out_and_prepare(tmp_path):
    espeak = _script("espeak_sentences")
    multi30k = tmp_path / "multi30k"
    multi30k.mkdir()
    captions = {
        "train.en.gz": ["Two young, White males are outside.", "A dog runs!", "Kids play ball."],
        "val.en.gz": ["A man sleeps."],
        "test_2016_flickr.en.gz": ["A girl's red hat.", "Three people sit."],
    }
    for name, lines in captions.items():
        with gzip.open(multi30k / name, "wt", encoding="utf-8") as handle:
            handle.write("\n".join(lines) + "\n")
    sizes = {"train": 3, "valid": 1, "test": 2}
    summary = espeak.build(multi30k, tmp_path / "out", sizes, seed=1)
    assert summary["synthetic"] and summary["splits"]["test"]["voices"] == [espeak.TEST_VOICE]
    assert espeak.TEST_VOICE not in set(summary["splits"]["train"]["voices"])
    assert espeak.TEST_VOICE not in summary["train_voices"]
    rows = (tmp_path / "out" / "train.tsv").read_text().splitlines()
    assert rows[0].split("\t")[1] == "two young white males are outside"
    test = [
        line.split("\t")[1] for line in (tmp_path / "out" / "test.tsv").read_text().splitlines()
    ]
    assert test == ["a girl's red hat", "three people sit"]
    seen = (tmp_path / "out" / "test-seen-voices.tsv").read_text().splitlines()
    assert [line.split("\t")[1] for line in seen] == test
    data = prepare_audio(
        tmp_path / "prepared", AudioCorpus(manifest=tmp_path / "out" / "train.tsv"),
        test=AudioCorpus(manifest=tmp_path / "out" / "test.tsv"),
    )  # fmt: skip
    seconds = data.manifest["splits"]["train"]["seconds"]
    assert 3.0 < seconds < 12.0  # three short sentences, spoken
    assert json.loads((tmp_path / "out" / "corpus.json").read_text())["rate"] == 16000
    assert np.isfinite(data.source.mean).all()


def test_espeak_transcripts_keep_what_can_be_heard():
    espeak = _script("espeak_sentences")
    assert espeak.transcript('A man\'s "big" hat-stand, 3 cats!') == "a man's big hat stand 3 cats"
