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
# The tiny recogniser of the speech tests: pyramidal 2x32 biLSTM at 4x, location attention
MODEL = {
    "encoder": "pyramidal", "features": 80, "hidden_size": 32, "embedding_size": 16,
    "layers": 2, "bidirectional": True, "context": "attention", "attention": "location",
    "time_reduction": 4,
}  # fmt: skip
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


def train_tone_speller(directory: Path, words: int = 400, epochs: int = 8):
    """MODEL trained on `words` tone words for `epochs` with CTC 0.3 (about 10 s on one free core;
    features written to `directory`): (the model in eval mode, its AudioSource, its CharVocab)."""
    from seq2seq.audio.features import AudioSource, FeatureConfig, FrameStats
    from seq2seq.config import ModelConfig
    from seq2seq.data.audio_batching import AudioBatchIterator
    from seq2seq.data.feature_shards import FeatureWriter, SpeechCorpus
    from seq2seq.data.vocab import CharVocab
    from seq2seq.model.seq2seq import Seq2Seq
    from seq2seq.train.loss import SequenceLoss

    torch.manual_seed(0)
    vocab = CharVocab(list(LETTERS))
    train_words = random_words(words, seed=1)
    frames = features(train_words, seed=1)
    stats = FrameStats(80)
    for f in frames:
        stats.add(f.numpy())
    source = AudioSource(FeatureConfig(), *stats.mean_std())
    with FeatureWriter(directory, "train", 80, len(vocab)) as writer:
        for f, word in zip(frames, train_words, strict=True):
            writer.add(f.numpy(), vocab.encode(word))
    corpus = SpeechCorpus(directory, "train", writer.info())
    batches = AudioBatchIterator(corpus, normalise=source.normalise, batch_size=16, seed=1)
    model = Seq2Seq(ModelConfig(**MODEL), 0, len(vocab), ctc=True)
    objective = SequenceLoss(model, 0, ctc_weight=0.3)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.005)
    for epoch in range(epochs):
        for batch in batches.iter_epoch(epoch):
            loss, _ = objective(batch.src, batch.src_lengths, batch.tgt_in, batch.tgt_out)
            (loss / len(batch)).backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
            optimizer.step()
            optimizer.zero_grad()
    return model.eval(), source, vocab
