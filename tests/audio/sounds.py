"""Audio the tests make themselves: tones and noise (numpy), and a spectrum's peak."""

from __future__ import annotations

import numpy as np


def tone(freq: float, seconds: float, rate: int, amplitude: float = 0.5) -> np.ndarray:
    """A sine of `freq` Hz: (seconds * rate,) float32."""
    t = np.arange(int(seconds * rate)) / rate
    return (amplitude * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def noise(seconds: float, rate: int, level: float = 0.1, seed: int = 0) -> np.ndarray:
    """White Gaussian noise: (seconds * rate,) float32."""
    rng = np.random.default_rng(seed)
    return (level * rng.standard_normal(int(seconds * rate))).astype(np.float32)


def peak_frequency(wave: np.ndarray, rate: int) -> float:
    """The frequency of the largest bin of a wave's spectrum (Hz)."""
    spectrum = np.abs(np.fft.rfft(wave * np.hanning(len(wave))))
    return float(np.argmax(spectrum) * rate / len(wave))


def sparse_wav(path, seconds: float, rate: int = 8000):
    """A 16-bit mono WAV file of `seconds` of silence whose samples take no disk space (a sparse
    file: the header says how long it is, the data is a hole). Returns the path."""
    import os
    import struct

    data = int(seconds * rate) * 2
    header = b"RIFF" + struct.pack("<I", 36 + data) + b"WAVEfmt "
    header += struct.pack("<IHHIIHH", 16, 1, 1, rate, rate * 2, 2, 16) + b"data"
    header += struct.pack("<I", data)
    with open(path, "wb") as handle:
        handle.write(header)
    os.truncate(path, len(header) + data)
    return path
