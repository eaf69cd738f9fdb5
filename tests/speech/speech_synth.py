"""Synthetic speech for the speech tests: "words" whose letters are tones, made here, seeded.

Each letter of a small alphabet is a tone of its own pitch (a letter's sound), 60-100 ms long,
with a little silence between letters and light noise under everything; a word's transcript is
its letters. A model that transcribes these must find each tone in time and tell the pitches
apart: the job of a recogniser, small enough to learn in seconds on one core.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

RATE = 16_000
LETTERS = "abcde"
PITCH = {letter: 400.0 * 1.45**k for k, letter in enumerate(LETTERS)}  # 400 Hz .. 1.77 kHz


def word_wave(word: str, rng: np.random.Generator) -> np.ndarray:
    """The samples (N,) float32 of a word: one tone per letter, short gaps, light noise."""
    pieces = [np.zeros(int(rng.integers(160, 800)), np.float32)]
    for letter in word:
        n = int(rng.uniform(0.06, 0.10) * RATE)
        t = np.arange(n) / RATE
        ramp = np.minimum(1.0, np.minimum(t, t[::-1]) / 0.005)  # 5 ms fades, no clicks
        pieces.append((0.5 * ramp * np.sin(2 * np.pi * PITCH[letter] * t)).astype(np.float32))
        pieces.append(np.zeros(int(rng.integers(80, 480)), np.float32))
    wave = np.concatenate(pieces)
    return (wave + rng.normal(0.0, 0.003, wave.shape)).astype(np.float32)


def random_words(n: int, seed: int, shortest: int = 2, longest: int = 5) -> list[str]:
    """`n` seeded words of `shortest`..`longest` letters."""
    rng = np.random.default_rng(seed)
    return [
        "".join(rng.choice(list(LETTERS), int(rng.integers(shortest, longest + 1))))
        for _ in range(n)
    ]


def waves(words: list[str], seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [word_wave(w, rng) for w in words]


def features(words: list[str], seed: int) -> list[torch.Tensor]:
    """Unnormalised log-mel frames (T, 80) of each word's wave (the features prepare stores)."""
    from seq2seq.audio.features import log_mel

    return [log_mel(torch.from_numpy(w)) for w in waves(words, seed)]


def write_manifest(directory: Path, name: str, words: list[str], seed: int) -> Path:
    """WAV files of `words` and a manifest `name` (audio<TAB>transcript, relative paths)."""
    import soundfile

    directory.mkdir(parents=True, exist_ok=True)
    lines = []
    for i, (word, wave) in enumerate(zip(words, waves(words, seed), strict=True)):
        path = directory / f"{name}-{i:04d}.wav"
        soundfile.write(path, wave, RATE, subtype="PCM_16")
        lines.append(f"{path.name}\t{word}")
    manifest = directory / f"{name}.tsv"
    manifest.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return manifest


def write_wav(path: Path, word: str, seed: int = 0, rate: int = RATE) -> Path:
    """One word as a 16-bit WAV file at `rate` Hz."""
    import soundfile

    wave = waves([word], seed)[0]
    if rate != RATE:
        from scipy.signal import resample_poly

        wave = resample_poly(wave, rate, RATE).astype(np.float32)
    soundfile.write(path, wave, rate, subtype="PCM_16")
    return path
