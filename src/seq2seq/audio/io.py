"""Reading audio: WAV, FLAC, OGG (and AN4's NIST SPHERE) to float32 mono at one sample rate.

    wave = read_audio("take.flac")                 # (N,) float32 in [-1, 1], 16 kHz
    wave = read_audio(upload, rate=8000, name="upload.wav")   # a file object (the server)

soundfile (libsndfile) decodes; channels are averaged; any other rate is resampled with a
polyphase windowed-sinc filter (`scipy.signal.resample_poly`: a Kaiser-windowed low-pass at the
lower of the two Nyquist frequencies, so nothing above it aliases). Bad audio is an `AudioError`,
one sentence naming the file, checked from the header before anything is decoded where the header
can tell (missing, not audio, empty, too long, the wrong rate in strict mode) and after decoding
for silence (every sample below -80 dBFS).
"""

from __future__ import annotations

import io
from math import gcd
from pathlib import Path
from typing import IO, ClassVar

import numpy as np
from pydantic import Field

from seq2seq.config import CommandSettings
from seq2seq.errors import AudioError

DEFAULT_RATE = 16_000
DEFAULT_MAX_SECONDS = 60.0
SILENCE_PEAK = 1e-4  # -80 dBFS: a file whose every sample is below this is silent
AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".sph")


class AudioConfig(CommandSettings):
    """How audio files are read (prepare, transcribe, the server): the limits that reject a file."""

    section: ClassVar[str] = "audio"

    max_seconds: float | None = Field(
        DEFAULT_MAX_SECONDS,
        gt=0,
        description="refuse audio longer than this many seconds (an attention model reads a whole "
        "utterance; LibriSpeech's longest is 35 s; null: no limit)",
    )
    strict_rate: bool = Field(
        False,
        description="refuse audio whose sample rate is not the features' rate instead of "
        "resampling it",
    )


Source = str | Path | IO[bytes] | bytes | bytearray


def read_audio(
    source: Source,
    rate: int = DEFAULT_RATE,
    strict: bool = False,
    max_seconds: float | None = DEFAULT_MAX_SECONDS,
    name: str | None = None,
) -> np.ndarray:
    """The samples of an audio file as float32 (N,) in [-1, 1], mono, at `rate` Hz.

    `source` is a path, a binary file object or the file's bytes (`name` then names it in
    messages). `strict`
    refuses another sample rate instead of resampling; `max_seconds` (None: no limit) refuses
    longer audio. Every refusal is an AudioError naming the file.
    """
    label = name or (str(source) if isinstance(source, str | Path) else "the uploaded audio")
    if isinstance(source, bytes | bytearray):
        source = io.BytesIO(source)
    if isinstance(source, str | Path) and not Path(source).is_file():
        what = "is a directory, not" if Path(source).is_dir() else "does not exist; expected"
        raise AudioError(f"audio file {label} {what} a WAV, FLAC or OGG file")
    samples, file_rate = _decode(source, label, rate, strict, max_seconds)
    wave = samples.mean(axis=1, dtype=np.float32) if samples.shape[1] > 1 else samples[:, 0]
    if not np.isfinite(wave).all():
        raise AudioError(f"audio file {label} holds samples that are not finite numbers")
    if float(np.abs(wave).max()) < SILENCE_PEAK:
        raise AudioError(
            f"audio file {label} is silent (every sample below -80 dBFS); nothing to transcribe"
        )
    if file_rate != rate:
        wave = resample(wave, file_rate, rate)
    return np.clip(wave, -1.0, 1.0).astype(np.float32, copy=False)


def _decode(
    source: Source, label: str, rate: int, strict: bool, max_seconds: float | None
) -> tuple[np.ndarray, int]:
    """(samples (N, channels) float32, the file's rate), after the checks the header allows."""
    import soundfile

    try:
        with soundfile.SoundFile(source) as handle:
            frames, file_rate = handle.frames, handle.samplerate
            if frames <= 0:
                raise AudioError(f"audio file {label} is empty (it holds no samples)")
            if strict and file_rate != rate:
                raise AudioError(
                    f"audio file {label} is sampled at {file_rate} Hz, not {rate} Hz "
                    "(audio.strict_rate refuses to resample)"
                )
            seconds = frames / file_rate
            if max_seconds is not None and seconds > max_seconds:
                raise AudioError(
                    f"audio file {label} lasts {_duration(seconds)}, longer than the limit of "
                    f"{_duration(max_seconds)} (audio.max_seconds)"
                )
            samples = handle.read(dtype="float32", always_2d=True)
    except (soundfile.LibsndfileError, RuntimeError, TypeError, ValueError, OSError) as err:
        reason = str(err).split(": ", 1)[-1].rstrip(".") or type(err).__name__
        raise AudioError(
            f"audio file {label} cannot be read as WAV, FLAC or OGG audio ({reason})"
        ) from None
    if len(samples) == 0:  # the header promised samples that are not there
        raise AudioError(f"audio file {label} is empty (it holds no samples)")
    return samples, file_rate


def _duration(seconds: float) -> str:
    """'12.5 s', '61 s', '2 h 0 min 0 s'."""
    if seconds < 100:
        return f"{seconds:.3g} s"
    whole = round(seconds)
    hours, rest = divmod(whole, 3600)
    return (f"{hours} h " if hours else "") + f"{rest // 60} min {rest % 60} s"


def resample(wave: np.ndarray, from_rate: int, to_rate: int) -> np.ndarray:
    """`wave` (N,) at `from_rate` Hz resampled to `to_rate` Hz: (ceil(N * to / from),) float32.

    Polyphase filtering with scipy's Kaiser-windowed sinc (beta 5): upsample by to/g, low-pass
    at the lower Nyquist frequency, downsample by from/g, where g is the rates' greatest common
    divisor (44.1 kHz -> 16 kHz is up 160, down 441).
    """
    if from_rate == to_rate:
        return wave
    if from_rate <= 0 or to_rate <= 0:
        raise ValueError(f"sample rates must be positive, got {from_rate} and {to_rate}")
    from scipy.signal import resample_poly

    g = gcd(from_rate, to_rate)
    out = resample_poly(wave.astype(np.float64), to_rate // g, from_rate // g)
    return out.astype(np.float32)


def write_audio(path: str | Path, wave: np.ndarray, rate: int, subtype: str | None = None) -> None:
    """Write samples (N,) or (N, channels) in [-1, 1] as the format the suffix names (.wav as
    16-bit PCM unless `subtype` says otherwise, .flac, .ogg as Vorbis)."""
    import soundfile

    soundfile.write(str(path), wave, rate, subtype=subtype)
