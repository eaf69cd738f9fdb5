"""Speech end to end: generated WAV files -> prepare -> train -> transcribe / evaluate, and a tiny
model that really learns to transcribe (error rate far below chance)."""

from __future__ import annotations

import json
from pathlib import Path

import jiwer
import pytest
import torch
import yaml
from speech_synth import (
    LETTERS,
    MODEL,
    features,
    random_words,
    train_tone_speller,
    write_manifest,
    write_wav,
)

from seq2seq.audio.features import AudioSource, FeatureConfig
from seq2seq.commands import main
from seq2seq.config import DecodeConfig
from seq2seq.data.audio_batching import make_feature_batch
from seq2seq.data.vocab import CharVocab
from seq2seq.decode.search import search
from seq2seq.decode.transcriber import Transcriber
from seq2seq.errors import ConfigError
from seq2seq.model.seq2seq import Seq2Seq


@pytest.mark.slow
def test_a_tiny_speech_model_learns_to_spell_tone_words(tmp_path):
    """400 words of 2-5 tone letters, 8 epochs (about 10 s on one core): the character error
    rate on 50 unseen words falls from about 80% (a guess) to under 15%; and its beam search,
    whose location attention must follow the beams, scores each output as teacher forcing does."""
    model, source, vocab = train_tone_speller(tmp_path)
    test_words = random_words(50, seed=2)
    test = features(test_words, seed=2)
    src, lengths = make_feature_batch(test, source.normalise)
    greedy = search(model, src, lengths, DecodeConfig(beam_size=1))
    outputs = [vocab.decode(h[0].tokens) for h in greedy]
    assert jiwer.cer(test_words, [o or "-" for o in outputs]) < 0.15, list(zip(test_words, outputs))
    beam = search(model, src, lengths, DecodeConfig(beam_size=4, length_penalty=0.0))
    assert sum(b[0].log_prob >= g[0].log_prob - 1e-4 for b, g in zip(beam, greedy)) >= 45


def _run(argv: list[str]) -> None:
    assert main(argv) == 0, argv


@pytest.fixture(scope="module")
def speech_run(tmp_path_factory) -> Path:
    """WAV files of tone words, prepared and trained for a few steps by the commands themselves:
    a checkpoint to test the commands with (not a good model)."""
    root = tmp_path_factory.mktemp("speech")
    train = write_manifest(root / "audio", "train", random_words(24, seed=3), seed=3)
    valid = write_manifest(root / "audio", "valid", random_words(6, seed=4), seed=4)
    _run(["prepare", "--manifest", str(train), "--valid-manifest", str(valid),
          "--out", str(root / "data")])  # fmt: skip
    config = {
        "data": {"dir": str(root / "data"), "batch_size": 8, "reverse_source": False},
        "model": MODEL,
        "train": {"out_dir": str(root / "run"), "optimizer": "adam", "lr": 0.005,
                  "schedule": "constant", "max_steps": 6, "valid_every": 3, "log_every": 3,
                  "ctc_weight": 0.3, "tensorboard": False, "threads": 1},
        "decode": {"beam_size": 1, "max_len_ratio": 0.1, "max_len_offset": 5},
    }  # fmt: skip
    path = root / "speech.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    _run(["train", str(path)])
    return root


@pytest.mark.slow
def test_transcribe_prints_one_line_per_recording_in_order(speech_run, tmp_path, capsys):
    wavs = [write_wav(tmp_path / f"{w}.wav", w, seed=i) for i, w in enumerate(["abc", "de"])]
    best = speech_run / "run" / "best.safetensors"
    capsys.readouterr()
    _run(["transcribe", "--checkpoint", str(best), *map(str, wavs), "--quiet"])
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2  # what a 6-step model spells is anyone's guess
    # the same through the API, alone and with the beam and n-best flags' settings
    transcriber = Transcriber.load(best)
    assert transcriber.transcribe(wavs, beam_size=1) == lines
    three = transcriber.transcribe(wavs, beam_size=3, n_best=3)
    assert all(len(hyps) == 3 for hyps in three)
    out = tmp_path / "out.nbest"
    _run(["transcribe", "--checkpoint", str(best), str(best), "--manifest",
          str(speech_run / "audio" / "valid.tsv"), "--n-best", "2", "--beam-size", "2",
          "--output", str(out), "--quiet"])  # fmt: skip
    ids = [line.split(" ||| ")[0] for line in out.read_text().splitlines()]
    assert ids == [str(i) for i in range(6) for _ in range(2)]  # an ensemble of two, n-best


@pytest.mark.slow
def test_evaluate_scores_a_speech_model_by_word_and_character_error_rates(speech_run, capsys):
    data = speech_run / "data"
    capsys.readouterr()
    _run(["evaluate", "--checkpoint", str(speech_run / "run" / "best.safetensors"),
          "--src", str(data / "valid.src"), "--ref", str(data / "valid.tgt"), "--json"])  # fmt: skip
    scores = {m["name"]: m for m in json.loads(capsys.readouterr().out)["metrics"]}
    assert set(scores) == {"speech-wer", "cer"}
    assert 0.0 <= scores["cer"]["score"] and "jiwer" in scores["cer"]["signature"]


def test_a_text_checkpoint_is_refused_by_transcribe_in_one_sentence(tmp_path):
    class TextTranslator:
        src_vocab = CharVocab(list("abc"))
        names = ["text.safetensors"]

    with pytest.raises(ConfigError, match="text.safetensors reads text, not audio"):
        Transcriber(TextTranslator())  # type: ignore[arg-type]


def _speech_checkpoint(path: Path) -> Path:
    """An untrained speech model saved as a checkpoint (what the commands load)."""
    from seq2seq.checkpoint import checkpoint_bytes
    from seq2seq.config import config_from_dict

    config = config_from_dict(
        {"data": {"reverse_source": False}, "model": MODEL, "train": {"ctc_weight": 0.3},
         "decode": {"beam_size": 1, "max_len_ratio": 0.05, "max_len_offset": 3}}
    )  # fmt: skip
    torch.manual_seed(0)
    model = Seq2Seq(config.model, 0, len(LETTERS) + 4, ctc=True)
    source = AudioSource(FeatureConfig(), torch.full((80,), -8.0).numpy(), torch.ones(80).numpy())
    vocab = CharVocab(list(LETTERS))
    path.write_bytes(checkpoint_bytes(model, config, source, vocab, task="speech"))
    return path


def test_transcribe_reads_wav_files_and_a_manifest_with_an_untrained_checkpoint(tmp_path, capsys):
    ckpt = _speech_checkpoint(tmp_path / "speech.safetensors")
    wavs = [write_wav(tmp_path / "a.wav", "abc"), write_wav(tmp_path / "b.wav", "de", rate=8000)]
    capsys.readouterr()
    _run(["transcribe", "--checkpoint", str(ckpt), *map(str, wavs), "--quiet"])
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2  # an untrained model's guesses, one line per recording
    assert Transcriber.load(ckpt).transcribe(wavs) == lines  # the API gives the same
    (tmp_path / "m.tsv").write_text("a.wav\tabc\n# a comment\nb.wav\tde\n", encoding="utf-8")
    _run(["transcribe", "--checkpoint", str(ckpt), "--manifest", str(tmp_path / "m.tsv"),
          "--quiet", "--beam-size", "2", "--n-best", "2"])  # fmt: skip
    ids = [line.split(" ||| ")[0] for line in capsys.readouterr().out.splitlines()]
    assert ids == ["0", "0", "1", "1"]


def test_transcribe_and_translate_refuse_the_wrong_kind_of_input_in_one_sentence(tmp_path, capsys):
    ckpt = _speech_checkpoint(tmp_path / "speech.safetensors")
    (tmp_path / "in.txt").write_text("hello\n", encoding="utf-8")
    assert main(["translate", "--checkpoint", str(ckpt), "--input", str(tmp_path / "in.txt")]) != 0
    assert "is a speech model (its source is audio)" in capsys.readouterr().err
    assert main(["transcribe", "--checkpoint", str(ckpt), str(tmp_path / "gone.wav")]) != 0
    assert "gone.wav does not exist" in capsys.readouterr().err
    assert main(["transcribe", "--checkpoint", str(ckpt)]) != 0
    assert "give audio files or --manifest FILE" in capsys.readouterr().err
    (tmp_path / "not.wav").write_bytes(b"not audio at all")
    assert main(["transcribe", "--checkpoint", str(ckpt), str(tmp_path / "not.wav")]) != 0
    err = capsys.readouterr().err
    assert "not.wav cannot be read" in err and "Traceback" not in err
