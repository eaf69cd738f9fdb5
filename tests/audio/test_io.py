"""audio/io.py: WAV, FLAC and OGG read as float32 mono at one rate; bad audio is one sentence."""

from __future__ import annotations

import io

import numpy as np
import pytest
from sounds import noise, peak_frequency, sparse_wav, tone

from seq2seq.audio.io import AudioConfig, read_audio, resample
from seq2seq.errors import AudioError, ConfigError, DataError


@pytest.mark.parametrize("suffix", ["wav", "flac", "ogg"])
def test_each_format_reads_back_the_tone_at_16k(write, suffix):
    path = write(f"a.{suffix}", tone(1000, 1.0, 16000), 16000)
    wave = read_audio(path)
    assert wave.dtype == np.float32 and wave.shape == (16000,)
    assert peak_frequency(wave, 16000) == pytest.approx(1000, abs=2)
    assert np.sqrt(np.mean(np.square(wave))) == pytest.approx(0.5 / np.sqrt(2), abs=0.01)


def test_wav_samples_are_the_written_ones(write):
    wave = noise(0.5, 16000, 0.2, seed=3)
    path = write("n.wav", wave, 16000, subtype="FLOAT")
    np.testing.assert_array_equal(read_audio(path), wave)


def test_stereo_is_mixed_down_to_the_channels_mean(write):
    left, right = tone(440, 0.5, 16000, 0.4), tone(880, 0.5, 16000, 0.2)
    path = write("stereo.wav", np.stack([left, right], axis=1), 16000, subtype="FLOAT")
    np.testing.assert_allclose(read_audio(path), (left + right) / 2, atol=1e-7)


@pytest.mark.parametrize("rate, freq", [(8000, 440.0), (44100, 3000.0), (22050, 6000.0)])
def test_other_rates_are_resampled_and_keep_the_tone(write, rate, freq):
    path = write(f"r{rate}.wav", tone(freq, 1.0, rate), rate)
    wave = read_audio(path, rate=16000)
    assert len(wave) == 16000
    assert peak_frequency(wave, 16000) == pytest.approx(freq, abs=2)
    middle = wave[2000:-2000]  # away from the filter's edges
    assert np.abs(middle).max() == pytest.approx(0.5, abs=0.02)  # the pass band keeps the level


def test_resampling_down_removes_what_the_new_rate_cannot_hold():
    """A 7 kHz tone at 44.1 kHz, taken to 8 kHz (Nyquist 4 kHz), must not alias to 1 kHz."""
    wave = resample(tone(7000, 1.0, 44100), 44100, 8000)
    assert len(wave) == 8000
    assert np.abs(wave[1000:-1000]).max() < 0.5 * 10 ** (-40 / 20)  # at least 40 dB down


def test_resampling_up_and_back_is_close_to_identity():
    wave = tone(300, 0.5, 8000) + noise(0.5, 8000, 0.01) * 0  # band-limited well below 4 kHz
    back = resample(resample(wave, 8000, 16000), 16000, 8000)
    np.testing.assert_allclose(back[200:-200], wave[200:-200], atol=5e-3)


def test_a_file_object_is_read_and_named_in_errors(write):
    path = write("u.wav", tone(500, 0.2, 16000), 16000)
    wave = read_audio(io.BytesIO(path.read_bytes()), name="upload.wav")
    assert len(wave) == 3200
    np.testing.assert_array_equal(read_audio(path.read_bytes(), name="upload.wav"), wave)
    with pytest.raises(AudioError, match=r"^audio file upload\.wav cannot be read"):
        read_audio(io.BytesIO(b"not audio at all" * 10), name="upload.wav")


def _silent(write):
    return write("silent.wav", np.zeros(8000, np.float32), 8000)


def _quiet(write):
    return write("quiet.wav", tone(440, 0.5, 8000, amplitude=5e-5), 8000, subtype="FLOAT")


@pytest.mark.parametrize(
    "make, kwargs, says",
    [
        (lambda w, p: p / "none.wav", {}, r"none\.wav does not exist"),
        (lambda w, p: p, {}, r"is a directory"),
        (lambda w, p: _bytes(p / "text.wav", b"RIFF but not really a wave file\n" * 4), {},
         r"text\.wav cannot be read as WAV, FLAC or OGG audio"),
        (lambda w, p: _bytes(p / "zero.flac", b""), {}, r"zero\.flac cannot be read"),
        (lambda w, p: w("empty.wav", np.zeros(0, np.float32), 8000), {},
         r"empty\.wav is empty \(it holds no samples\)"),
        (lambda w, p: _silent(w), {}, r"silent\.wav is silent"),
        (lambda w, p: _quiet(w), {}, r"quiet\.wav is silent \(every sample below -80 dBFS\)"),
        (lambda w, p: w("long.flac", noise(61, 8000), 8000), {},
         r"long\.flac lasts 61 s, longer than the limit of 60 s \(audio\.max_seconds\)"),
        (lambda w, p: w("short.wav", noise(2, 8000), 8000), {"max_seconds": 1.5},
         r"lasts 2 s, longer than the limit of 1\.5 s"),
        (lambda w, p: w("r44.wav", noise(0.1, 44100), 44100), {"strict": True},
         r"r44\.wav is sampled at 44100 Hz, not 16000 Hz \(audio\.strict_rate"),
        (lambda w, p: w("nan.wav", np.full(800, np.nan, np.float32), 8000, "FLOAT"), {},
         r"nan\.wav holds samples that are not finite"),
    ],
    ids=["missing", "directory", "not-audio", "zero-bytes", "empty", "silent", "below-80dB",
         "too-long", "over-own-limit", "strict-rate", "not-finite"],
)  # fmt: skip
def test_bad_audio_is_one_sentence_naming_the_file(write, tmp_path, make, kwargs, says):
    path = make(write, tmp_path)
    with pytest.raises(AudioError, match=says) as caught:
        read_audio(path, **kwargs)
    message = str(caught.value)
    assert message.startswith(f"audio file {path}")
    assert "\n" not in message and message.count(". ") == 0
    assert isinstance(caught.value, DataError)  # every handler of bad data catches it


def _bytes(path, data: bytes):
    path.write_bytes(data)
    return path


def test_two_hours_are_refused_from_the_header_without_decoding(tmp_path, monkeypatch):
    """A file whose header says 2 hours is refused before its samples are read."""
    import soundfile

    path = sparse_wav(tmp_path / "two-hours.wav", 2 * 3600)
    assert soundfile.info(str(path)).frames == 2 * 3600 * 8000
    monkeypatch.setattr(soundfile.SoundFile, "read", lambda *a, **k: pytest.fail("decoded"))
    with pytest.raises(AudioError, match=r"lasts 2 h 0 min 0 s, longer than the limit of 60 s"):
        read_audio(path)


def test_no_limit_reads_long_audio(write):
    path = write("long.wav", noise(61, 8000), 8000)
    assert len(read_audio(path, rate=8000, max_seconds=None)) == 61 * 8000


def test_audio_config_names_the_setting():
    with pytest.raises(ConfigError, match=r"audio\.max_seconds"):
        AudioConfig(max_seconds=0)
