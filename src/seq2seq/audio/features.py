"""Log-mel filterbank features in PyTorch, their normalisation, and SpecAugment.

    feats = log_mel(torch.from_numpy(wave), FeatureConfig())     # (T, 80), 10 ms a frame
    source = AudioSource(config, mean, std)                       # the speech model's "source vocabulary"
    x = source.file_features("take.wav")                          # (T, 80), normalised

The features are those of most attention-based recognisers since Chan et al. 2016 (LAS: 40 bands)
and the Kaldi/ESPnet recipes (80 bands): a pre-emphasised wave, a power spectrum of 25 ms Hann
windows every 10 ms, triangular mel filters, the natural log. The mel scale is Slaney's (linear
below 1 kHz, logarithmic above, area-normalised triangles: librosa's defaults) or HTK's
(2595 log10(1 + f / 700), peak-normalised), `FeatureConfig.mel_scale`. Frames are centred: frame t
is centred on sample t * hop, the wave zero-padded by n_fft / 2 at both ends, so a wave of N
samples has 1 + N // hop frames. tests/audio/test_features.py holds the numbers to librosa's.

Each band is normalised by the mean and standard deviation of the training frames (computed by
prepare, stored in the data directory and in every checkpoint through `AudioSource.to_dict()`).
`spec_augment` masks bands and time spans of normalised features during training (Park et al.
2019, "SpecAugment": frequency masking §2 and time masking §2, with the time mask capped at a share
p of the utterance).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar, Literal

import numpy as np
import torch
from pydantic import Field, model_validator

from seq2seq.audio.io import DEFAULT_MAX_SECONDS, Source, read_audio
from seq2seq.config import CommandSettings
from seq2seq.errors import DataError

LOG_FLOOR = 1e-10  # log(max(mel power, floor)): a silent band is -23.0, not -inf
STD_FLOOR = 0.05  # a band that hardly varies in training (empty above a narrowband corpus's
# Nyquist) is not blown up to unit variance; speech bands vary by 2-4 nats


class FeatureConfig(CommandSettings):
    """How audio becomes feature frames: recorded in the data directory and every checkpoint."""

    section: ClassVar[str] = "features"

    rate: int = Field(16_000, gt=0, description="sample rate the audio is resampled to (Hz)")
    n_mels: int = Field(80, gt=0, le=512, description="mel bands: the features of each frame")
    win_ms: float = Field(25.0, gt=0, description="analysis window length (milliseconds)")
    hop_ms: float = Field(10.0, gt=0, description="step between frames (milliseconds)")
    n_fft: int = Field(512, gt=0, description="FFT size (samples; at least the window's)")
    preemphasis: float = Field(
        0.97, ge=0.0, lt=1.0, description="pre-emphasis y[n] = x[n] - a x[n-1] (0: none)"
    )
    fmin: float = Field(20.0, ge=0.0, description="lowest frequency of the mel filters (Hz)")
    fmax: float | None = Field(
        None, gt=0, description="highest frequency of the mel filters (Hz; null: rate / 2)"
    )
    mel_scale: Literal["slaney", "htk"] = Field(
        "slaney",
        description="slaney: linear below 1 kHz, area-normalised filters (librosa's default); "
        "htk: 2595 log10(1 + f/700), filters peaking at 1",
    )

    @model_validator(mode="after")
    def _fits(self) -> FeatureConfig:
        if self.win_length > self.n_fft:
            raise ValueError(
                f"features.n_fft {self.n_fft} is shorter than the {self.win_ms} ms window "
                f"({self.win_length} samples at {self.rate} Hz)"
            )
        if self.hop_length < 1:
            raise ValueError(f"features.hop_ms {self.hop_ms} is under one sample at {self.rate} Hz")
        if self.top_frequency > self.rate / 2 or self.fmin >= self.top_frequency:
            raise ValueError(
                f"the mel filters must lie in 0..{self.rate / 2:g} Hz with features.fmin below "
                f"features.fmax (got {self.fmin:g}..{self.top_frequency:g} Hz)"
            )
        return self

    @property
    def win_length(self) -> int:
        return round(self.rate * self.win_ms / 1000)

    @property
    def hop_length(self) -> int:
        return round(self.rate * self.hop_ms / 1000)

    @property
    def top_frequency(self) -> float:
        return self.fmax if self.fmax is not None else self.rate / 2


def num_frames(n_samples: int, config: FeatureConfig) -> int:
    """Frames of a wave of `n_samples` (centred frames: 1 + n // hop)."""
    return 1 + n_samples // config.hop_length


def _hz_to_mel(hz: np.ndarray, scale: str) -> np.ndarray:
    if scale == "htk":
        return 2595.0 * np.log10(1.0 + hz / 700.0)
    linear, step = 1000.0, 200.0 / 3  # Slaney: 3 mels per 200 Hz to 1 kHz, then 27 per factor 6.4
    log_step = math.log(6.4) / 27.0
    mel = hz / step
    above = hz >= linear
    return np.where(above, linear / step + np.log(np.maximum(hz, 1e-9) / linear) / log_step, mel)


def _mel_to_hz(mel: np.ndarray, scale: str) -> np.ndarray:
    if scale == "htk":
        return 700.0 * (10.0 ** (mel / 2595.0) - 1.0)
    linear, step = 1000.0, 200.0 / 3
    log_step = math.log(6.4) / 27.0
    above = mel >= linear / step
    return np.where(above, linear * np.exp(log_step * (mel - linear / step)), mel * step)


def mel_filterbank(config: FeatureConfig) -> torch.Tensor:
    """Triangular mel filters (n_fft // 2 + 1, n_mels) float32: column m rises from the centre
    frequency of band m - 1 to that of m and falls to that of m + 1 (n_mels + 2 centres equally
    spaced on the mel scale from fmin to fmax); Slaney's are scaled to unit area (2 / width)."""
    bins = np.linspace(0.0, config.rate / 2, config.n_fft // 2 + 1)
    low, high = _hz_to_mel(np.array([config.fmin, config.top_frequency]), config.mel_scale)
    centres = _mel_to_hz(np.linspace(low, high, config.n_mels + 2), config.mel_scale)
    widths = np.diff(centres)
    rising = (bins[None, :] - centres[:-2, None]) / widths[:-1, None]
    falling = (centres[2:, None] - bins[None, :]) / widths[1:, None]
    weights = np.maximum(0.0, np.minimum(rising, falling))  # (n_mels, bins)
    if config.mel_scale == "slaney":
        weights *= (2.0 / (centres[2:] - centres[:-2]))[:, None]
    return torch.from_numpy(weights.T.astype(np.float32))


def log_mel(wave: torch.Tensor, config: FeatureConfig | None = None) -> torch.Tensor:
    """Log-mel features of one wave (N,) at `config.rate`: (1 + N // hop, n_mels) float32."""
    config = config or FeatureConfig()
    if wave.dim() != 1:
        raise ValueError(f"log_mel takes one wave (N,), got shape {tuple(wave.shape)}")
    wave = wave.to(torch.float32)
    if config.preemphasis:
        wave = torch.cat([wave[:1], wave[1:] - config.preemphasis * wave[:-1]])
    window = torch.hann_window(config.win_length, periodic=True, device=wave.device)
    spectrum = torch.stft(
        wave,
        n_fft=config.n_fft,
        hop_length=config.hop_length,
        win_length=config.win_length,
        window=window,
        center=True,
        pad_mode="constant",
        return_complex=True,
    )  # (bins, T)
    power = spectrum.real.square() + spectrum.imag.square()
    mel = power.T @ _filters(config, wave.device)  # (T, n_mels)
    return torch.log(mel.clamp_min(LOG_FLOOR))


_FILTERS: dict[tuple[str, str], torch.Tensor] = {}


def _filters(config: FeatureConfig, device: torch.device) -> torch.Tensor:
    """The filterbank of a config on a device, made once."""
    key = (config.model_dump_json(), str(device))
    if key not in _FILTERS:
        _FILTERS[key] = mel_filterbank(config).to(device)
    return _FILTERS[key]


class AudioSource:
    """The source side of a speech model, as a vocabulary is a text model's: the feature settings
    and the training frames' per-band mean and standard deviation. `to_dict()` is JSON-able (the
    data directory's ``src.audio.json`` and the checkpoint's metadata); `from_dict` reads it back."""

    kind: ClassVar[str] = "audio"

    def __init__(self, features: FeatureConfig, mean: np.ndarray, std: np.ndarray) -> None:
        mean = np.asarray(mean, np.float32)
        std = np.asarray(std, np.float32)
        if mean.shape != (features.n_mels,) or std.shape != (features.n_mels,):
            raise DataError(
                f"the normalisation has {mean.shape} means and {std.shape} deviations for "
                f"{features.n_mels} mel bands"
            )
        if not (np.isfinite(mean).all() and np.isfinite(std).all() and (std > 0).all()):
            raise DataError("the normalisation statistics hold a non-finite or non-positive value")
        self.features, self.mean, self.std = features, mean, std

    @property
    def dim(self) -> int:
        """Features per frame (the encoder's input size)."""
        return self.features.n_mels

    def normalise(self, feats: torch.Tensor) -> torch.Tensor:
        """(x - mean) / std per band, on (..., n_mels) features."""
        mean = torch.as_tensor(self.mean, device=feats.device)
        std = torch.as_tensor(self.std, device=feats.device)
        return (feats - mean) / std

    def wave_features(self, wave: np.ndarray) -> torch.Tensor:
        """Normalised features (T, n_mels) of a wave (N,) already at `features.rate`."""
        return self.normalise(log_mel(torch.from_numpy(np.ascontiguousarray(wave)), self.features))

    def file_features(
        self,
        source: Source,
        max_seconds: float | None = DEFAULT_MAX_SECONDS,
        strict: bool = False,
        name: str | None = None,
    ) -> torch.Tensor:
        """Normalised features (T, n_mels) of an audio file or file object (`read_audio`)."""
        wave = read_audio(source, self.features.rate, strict, max_seconds, name)
        return self.wave_features(wave)

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "features": self.features.model_dump(mode="json"),
            "mean": [round(float(v), 6) for v in self.mean],
            "std": [round(float(v), 6) for v in self.std],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], where: str = "audio source data") -> AudioSource:
        if data.get("kind") != cls.kind:
            raise DataError(f"{where} is not an audio source (kind {data.get('kind')!r})")
        try:
            return cls(FeatureConfig(**data["features"]), data["mean"], data["std"])
        except (KeyError, TypeError, ValueError) as err:
            raise DataError(f"{where} is incomplete or malformed ({err})") from None

    @classmethod
    def load(cls, path: str | Path) -> AudioSource:
        import json

        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, ValueError) as err:
            raise DataError(f"cannot read the audio source file {path} ({err})") from None
        return cls.from_dict(data, str(path))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, AudioSource) and self.to_dict() == other.to_dict()


class FrameStats:
    """Running per-band sums of training frames, in float64, for the mean and deviation."""

    def __init__(self, n_mels: int) -> None:
        self.count = 0
        self.sum = np.zeros(n_mels, np.float64)
        self.sum_sq = np.zeros(n_mels, np.float64)

    def add(self, feats: np.ndarray) -> None:
        """Count frames (T, n_mels)."""
        frames = feats.astype(np.float64)
        self.count += len(frames)
        self.sum += frames.sum(axis=0)
        self.sum_sq += np.square(frames).sum(axis=0)

    def mean_std(self) -> tuple[np.ndarray, np.ndarray]:
        """(mean, std) per band; std at least STD_FLOOR."""
        if self.count == 0:
            raise DataError("no training frames to compute the normalisation from")
        mean = self.sum / self.count
        var = np.maximum(self.sum_sq / self.count - np.square(mean), 0.0)
        return mean, np.maximum(np.sqrt(var), STD_FLOOR)


def spec_augment(
    feats: torch.Tensor,
    lengths: torch.Tensor,
    n_freq_masks: int = 2,
    freq_width: int = 27,
    n_time_masks: int = 2,
    time_width: int = 40,
    max_time_ratio: float = 0.2,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """SpecAugment's masks (Park et al. 2019 §2) on a batch of normalised features.

    feats (B, T, F), lengths (B,) valid frames per row. Each row gets `n_freq_masks` bands
    [f0, f0 + f) with f uniform in 0..freq_width, and `n_time_masks` spans [t0, t0 + t) with t
    uniform in 0..min(time_width, max_time_ratio * length), inside the row's length; masked values
    become 0 (the mean of normalised features). Returns a new tensor (B, T, F); the random draws
    come from `generator` (a CPU generator; None: torch's global one).
    """
    batch, steps, bands = feats.shape
    row_len = lengths.to("cpu", torch.float64)

    def spans(count: int, widest: torch.Tensor, room: torch.Tensor, size: int) -> torch.Tensor:
        """(B, size) bool: `count` random spans per row, width <= widest, start + width <= room."""
        shape = (batch, count)
        width = torch.rand(shape, generator=generator, dtype=torch.float64) * (widest[:, None] + 1)
        width = width.floor().clamp(max=room[:, None])
        start = (torch.rand(shape, generator=generator, dtype=torch.float64)
                 * (room[:, None] - width + 1)).floor()  # fmt: skip
        pos = torch.arange(size, dtype=torch.float64)[None, None, :]
        inside = (pos >= start[..., None]) & (pos < (start + width)[..., None])
        return inside.any(dim=1) if count else torch.zeros(batch, size, dtype=torch.bool)

    full = torch.full((batch,), float(bands), dtype=torch.float64)
    freq = spans(n_freq_masks, torch.full((batch,), float(min(freq_width, bands))), full, bands)
    cap = torch.minimum(
        torch.full_like(row_len, float(time_width)), (max_time_ratio * row_len).floor()
    )
    time = spans(n_time_masks, cap, row_len, steps)
    mask = (freq[:, None, :] | time[:, :, None]).to(feats.device)
    return feats.masked_fill(mask, 0.0)
