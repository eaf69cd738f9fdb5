"""audio/features.py: log-mel numbers equal librosa's, normalisation, and SpecAugment's masks."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sounds import noise, tone

from seq2seq.audio.features import (
    AudioSource,
    FeatureConfig,
    FrameStats,
    log_mel,
    mel_filterbank,
    num_frames,
    spec_augment,
)
from seq2seq.errors import ConfigError, DataError

librosa = pytest.importorskip("librosa")


def _reference(wave: np.ndarray, config: FeatureConfig) -> np.ndarray:
    """librosa's log-mel spectrogram with the same settings: (T, n_mels)."""
    mel = librosa.feature.melspectrogram(
        y=wave, sr=config.rate, n_fft=config.n_fft, hop_length=config.hop_length,
        win_length=config.win_length, window="hann", center=True, pad_mode="constant",
        power=2.0, n_mels=config.n_mels, fmin=config.fmin, fmax=config.top_frequency,
        htk=config.mel_scale == "htk", norm="slaney" if config.mel_scale == "slaney" else None,
    )  # fmt: skip
    return np.log(np.maximum(mel, 1e-10)).T


@pytest.mark.parametrize(
    "settings",
    [
        {},
        {"mel_scale": "htk"},
        {"rate": 8000, "n_mels": 40, "n_fft": 256, "fmin": 0.0},
        {"n_mels": 64, "win_ms": 32.0, "hop_ms": 12.5, "n_fft": 1024, "fmax": 7600.0},
    ],
    ids=["slaney-80", "htk-80", "8k-40", "odd-hop"],
)
def test_log_mel_equals_librosa(settings):
    config = FeatureConfig(preemphasis=0.0, **settings)
    rate = config.rate
    wave = tone(440, 1.3, rate, 0.3) + tone(2500, 1.3, rate, 0.1) + noise(1.3, rate, 0.05)
    ours = log_mel(torch.from_numpy(wave), config).numpy()
    reference = _reference(wave, config)
    assert ours.shape == reference.shape == (num_frames(len(wave), config), config.n_mels)
    np.testing.assert_allclose(ours, reference, atol=2e-4, rtol=0)


def test_filterbank_equals_librosa_for_both_scales():
    for scale in ("slaney", "htk"):
        config = FeatureConfig(mel_scale=scale)
        ours = mel_filterbank(config).numpy().T  # (n_mels, bins)
        theirs = librosa.filters.mel(
            sr=16000, n_fft=512, n_mels=80, fmin=20.0, fmax=8000.0, htk=scale == "htk",
            norm="slaney" if scale == "slaney" else None,
        )  # fmt: skip
        np.testing.assert_allclose(ours, theirs, atol=1e-7, rtol=1e-5)
        assert (ours.sum(axis=1) > 0).all()  # no empty band at 80 bands, 512 points, 16 kHz


def test_preemphasis_is_applied_before_the_spectrum():
    config = FeatureConfig()
    wave = noise(0.5, 16000, 0.2, seed=5)
    emphasised = np.concatenate([wave[:1], wave[1:] - 0.97 * wave[:-1]])
    ours = log_mel(torch.from_numpy(wave), config).numpy()
    flat = log_mel(torch.from_numpy(emphasised), config.model_copy(update={"preemphasis": 0.0}))
    np.testing.assert_allclose(ours, flat.numpy(), atol=1e-5)
    low = slice(0, 10)  # pre-emphasis lowers the low bands against the high ones
    plain = log_mel(torch.from_numpy(wave), FeatureConfig(preemphasis=0.0)).numpy()
    assert (plain[:, low] - ours[:, low]).mean() > 1.0


def test_frames_follow_the_hop_and_the_tone_lands_in_its_band():
    config = FeatureConfig()
    feats = log_mel(torch.from_numpy(tone(1000, 2.0, 16000)), config)
    assert feats.shape == (201, 80) and feats.dtype == torch.float32
    centres = librosa.mel_frequencies(n_mels=82, fmin=20.0, fmax=8000.0)[1:-1]
    assert abs(centres[int(feats[100].argmax())] - 1000) < 60


def test_silence_gives_the_floor_not_minus_infinity():
    feats = log_mel(torch.zeros(1600))
    assert torch.isfinite(feats).all() and feats.max().item() == pytest.approx(np.log(1e-10))


@pytest.mark.parametrize(
    "settings, says",
    [
        ({"n_fft": 256}, r"features\.n_fft 256 is shorter than the 25\.0 ms window \(400 samples"),
        ({"fmax": 9000.0}, r"mel filters must lie in 0\.\.8000 Hz"),
        ({"fmin": 5000.0, "fmax": 4000.0}, r"features\.fmin below features\.fmax"),
        ({"n_mels": 0}, r"features\.n_mels"),
        ({"mel_scale": "bark"}, r"features\.mel_scale"),
    ],
)
def test_impossible_feature_settings_are_one_sentence(settings, says):
    with pytest.raises(ConfigError, match=says):
        FeatureConfig(**settings)


def _source(n_mels: int = 4) -> AudioSource:
    config = FeatureConfig(n_mels=n_mels, rate=8000, n_fft=256)
    return AudioSource(config, np.arange(n_mels, dtype=np.float32), np.full(n_mels, 2.0))


def test_audio_source_normalises_and_round_trips_through_its_dict():
    source = _source()
    feats = torch.tensor([[0.0, 1.0, 2.0, 3.0], [2.0, 3.0, 4.0, 5.0]])
    np.testing.assert_allclose(source.normalise(feats).numpy(), [[0, 0, 0, 0], [1, 1, 1, 1]])
    again = AudioSource.from_dict(source.to_dict())
    assert again == source and again.dim == 4
    import json

    assert AudioSource.from_dict(json.loads(json.dumps(source.to_dict()))) == source


def test_audio_source_refuses_what_does_not_fit():
    config = FeatureConfig(n_mels=4, rate=8000, n_fft=256)
    with pytest.raises(DataError, match="4 mel bands"):
        AudioSource(config, np.zeros(3), np.ones(3))
    with pytest.raises(DataError, match="non-positive"):
        AudioSource(config, np.zeros(4), np.zeros(4))
    with pytest.raises(DataError, match="not an audio source"):
        AudioSource.from_dict({"kind": "word"})
    with pytest.raises(DataError, match="incomplete or malformed"):
        AudioSource.from_dict({"kind": "audio", "features": {"n_mels": 4}})


def test_file_features_are_the_normalised_log_mel_of_the_file(write):
    source = AudioSource(FeatureConfig(), np.full(80, -5.0), np.full(80, 3.0))
    wave = tone(700, 0.5, 16000) + noise(0.5, 16000, 0.01)
    path = write("t.wav", wave, 16000, subtype="FLOAT")
    expected = (log_mel(torch.from_numpy(wave)) + 5.0) / 3.0
    torch.testing.assert_close(source.file_features(path), expected)


def test_frame_stats_are_numpys_mean_and_std_with_a_floor():
    rng = np.random.default_rng(0)
    frames = rng.normal(3.0, 2.0, size=(500, 3)).astype(np.float32)
    frames[:, 2] = -23.0  # a band that never varies (above a narrowband corpus's Nyquist)
    stats = FrameStats(3)
    stats.add(frames[:200])
    stats.add(frames[200:])
    mean, std = stats.mean_std()
    np.testing.assert_allclose(mean, frames.astype(np.float64).mean(axis=0), rtol=1e-9)
    np.testing.assert_allclose(std[:2], frames[:, :2].astype(np.float64).std(axis=0), rtol=1e-6)
    assert std[2] == pytest.approx(0.05)


# ---------------------------------------------------------------------------------------------
# SpecAugment


def _masked(out: torch.Tensor) -> torch.Tensor:
    return out == 0


def test_spec_augment_masks_whole_bands_and_spans_inside_each_length():
    feats = torch.randn(6, 120, 40) + 10.0  # nothing is 0 before masking
    lengths = torch.tensor([120, 100, 60, 30, 10, 1])
    out = spec_augment(feats, lengths, 2, 8, 2, 20, generator=torch.Generator().manual_seed(0))
    assert out.shape == feats.shape and not torch.equal(out, feats)
    assert (feats != 0).all()  # the input is left alone
    zero = _masked(out)
    for row, length in enumerate(lengths.tolist()):
        bands = zero[row, :, :].all(dim=0)  # a band masked at every step
        steps = zero[row, :, :].all(dim=1)  # a step masked in every band
        assert int(bands.sum()) <= 2 * 8
        assert int(steps.sum()) <= 2 * min(20, int(0.2 * length))
        assert not steps[length:].any()  # padding is never a time mask
        covered = bands[None, :] | steps[:, None]
        assert torch.equal(zero[row], covered)  # every zero is a band or a step


def test_spec_augment_is_seeded_and_varies_between_rows():
    feats, lengths = torch.ones(8, 200, 80), torch.full((8,), 200)
    a = spec_augment(feats, lengths, generator=torch.Generator().manual_seed(3))
    b = spec_augment(feats, lengths, generator=torch.Generator().manual_seed(3))
    c = spec_augment(feats, lengths, generator=torch.Generator().manual_seed(4))
    assert torch.equal(a, b) and not torch.equal(a, c)
    masks = _masked(a)
    assert len({tuple(m.all(dim=0).nonzero().flatten().tolist()) for m in masks}) > 1


def test_spec_augment_masks_about_as_much_as_its_widths_say():
    """The expected masked share of bands: 2 masks of width U{0..27} on 80 bands, about 2 x 13.5 / 80
    (less where the two overlap)."""
    feats, lengths = torch.ones(400, 100, 80), torch.full((400,), 100)
    out = spec_augment(feats, lengths, 2, 27, 0, 0, generator=torch.Generator().manual_seed(0))
    share = _masked(out).all(dim=1).float().mean().item()
    assert 0.25 < share < 0.34


def test_spec_augment_without_masks_changes_nothing():
    feats, lengths = torch.randn(2, 30, 10), torch.tensor([30, 20])
    assert torch.equal(spec_augment(feats, lengths, 0, 27, 0, 40), feats)
