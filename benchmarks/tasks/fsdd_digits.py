"""A seeded spoken digit-string corpus from the Free Spoken Digit Dataset (issue 25).

    python benchmarks/tasks/fsdd_digits.py                 # ../shared/data/fsdd/recordings -> data/fsdd-digits
    seq2seq prepare --manifest data/fsdd-digits/train.tsv --valid-manifest data/fsdd-digits/valid.tsv \\
        --test-manifest data/fsdd-digits/test-takes.tsv --rate 8000 --out data/fsdd-digits/prepared

FSDD holds real recordings of single English digits: 8 kHz mono WAV files named
``{digit}_{speaker}_{take}.wav``, 5 speakers x 10 digits x 50 takes here. From them this script
builds utterances of 1 to 7 digits spoken by one speaker: the takes joined with random pauses
(50-400 ms, and 100-300 ms of lead-in and tail), each take at a random gain, light white noise
added over the whole utterance (25-40 dB below its speech); each training utterance is also sped
up or down by one factor drawn from 1 ± 0.1 (`--speed-perturb`; Ko et al. 2015's speed
perturbation: tempo and pitch move together, as if another, shorter or longer, vocal tract spoke,
which is what a model that has heard four speakers needs to meet a fifth). The transcript is the
digits as words
("three one four"; 0 is "zero", as the speakers say it).

One speaker (``--test-speaker``, default theo) is held out entirely. Each other speaker's takes of
each digit are shuffled (seeded) and cut into 40 training, 5 validation and 5 test takes, so an
utterance of a split uses only that split's takes:

    train.tsv          4 speakers, training takes           (--train utterances, default 8,000)
    valid.tsv          4 speakers, validation takes          (--valid, 300)
    test-takes.tsv     4 speakers, test takes never heard    (--test, 500)
    test-speaker.tsv   the held-out speaker, all his takes   (--test, 500)

Each line is ``wavs/<split>/<split>-NNNNN.wav<TAB>transcript`` (8 kHz 16-bit WAV, paths relative to
the manifest); ``corpus.json`` records the seed, the speakers, the takes of each split and the hours
of audio. The same recordings and seed give the same files, byte for byte.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from seq2seq.audio.io import read_audio, write_audio
from seq2seq.errors import DataError

ROOT = Path(__file__).resolve().parents[2]
RECORDINGS = ROOT.parent / "shared" / "data" / "fsdd" / "recordings"
OUT = ROOT / "data" / "fsdd-digits"
RATE = 8000
WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
NAME = re.compile(r"(\d)_([a-z]+)_(\d+)\.wav")
TAKE_SPLIT = {"train": 40, "valid": 5, "test": 5}  # takes of each (speaker, digit), in this order


@dataclass(frozen=True)
class Take:
    digit: int
    speaker: str
    index: int
    path: Path


def find_takes(folder: Path) -> list[Take]:
    """Every ``{digit}_{speaker}_{take}.wav`` in `folder`, sorted; DataError if there is none."""
    takes = []
    for path in sorted(folder.glob("*.wav")):
        match = NAME.fullmatch(path.name)
        if match:
            takes.append(Take(int(match[1]), match[2], int(match[3]), path))
    if not takes:
        raise DataError(
            f"{folder} holds no FSDD recordings named {{digit}}_{{speaker}}_{{take}}.wav"
        )
    return takes


def split_takes(
    takes: list[Take], test_speaker: str, seed: int
) -> dict[str, dict[tuple[str, int], list[Take]]]:
    """{split: {(speaker, digit): takes}}: the held-out speaker's takes all in 'test-speaker'; each
    other (speaker, digit)'s takes shuffled and cut as TAKE_SPLIT says (proportionally when a
    speaker has fewer than 50 takes of a digit, at least one take per split)."""
    groups: dict[tuple[str, int], list[Take]] = defaultdict(list)
    for take in takes:
        groups[(take.speaker, take.digit)].append(take)
    if test_speaker not in {speaker for speaker, _ in groups}:
        have = ", ".join(sorted({speaker for speaker, _ in groups}))
        raise DataError(f"no recordings of the test speaker '{test_speaker}' (speakers: {have})")
    rng = random.Random(seed)
    out: dict[str, dict[tuple[str, int], list[Take]]] = {
        name: {} for name in ("train", "valid", "test-takes", "test-speaker")
    }
    for key in sorted(groups):
        group = sorted(groups[key], key=lambda t: t.index)
        if key[0] == test_speaker:
            out["test-speaker"][key] = group
            continue
        if len(group) < 3:
            raise DataError(f"speaker {key[0]} has {len(group)} takes of {key[1]}; 3 are needed")
        rng.shuffle(group)
        n_valid = n_test = max(1, round(len(group) * TAKE_SPLIT["valid"] / 50))
        n_train = len(group) - n_valid - n_test
        out["train"][key] = group[:n_train]
        out["valid"][key] = group[n_train : n_train + n_valid]
        out["test-takes"][key] = group[n_train + n_valid :]
    return out


class Builder:
    """Makes utterances from a pool of takes: digits, takes, pauses, gains and noise all drawn
    from one seeded generator, each take read (and cached) at 8 kHz."""

    def __init__(
        self, pool: dict[tuple[str, int], list[Take]], seed: int, perturb: float = 0.0
    ) -> None:
        self.pool = pool
        self.perturb = perturb
        self.speakers = sorted({speaker for speaker, _ in pool})
        self.rng = np.random.default_rng(seed)
        self._waves: dict[Path, np.ndarray] = {}

    def _wave(self, take: Take) -> np.ndarray:
        if take.path not in self._waves:
            self._waves[take.path] = read_audio(take.path, RATE, max_seconds=None)
        return self._waves[take.path]

    def _silence(self, low: float, high: float) -> np.ndarray:
        return np.zeros(int(self.rng.uniform(low, high) * RATE), np.float32)

    def utterance(self) -> tuple[np.ndarray, str]:
        """(wave (N,) float32 at 8 kHz, transcript) of 1-7 digits by one speaker."""
        speaker = self.speakers[self.rng.integers(len(self.speakers))]
        digits = self.rng.integers(0, 10, size=int(self.rng.integers(1, 8)))
        parts = [self._silence(0.1, 0.3)]
        for position, digit in enumerate(digits):
            takes = self.pool[(speaker, int(digit))]
            wave = self._wave(takes[self.rng.integers(len(takes))])
            gain = self.rng.uniform(0.5, 0.95) / max(float(np.abs(wave).max()), 1e-3)
            parts.append((wave * gain).astype(np.float32))
            if position < len(digits) - 1:
                parts.append(self._silence(0.05, 0.4))
        parts.append(self._silence(0.1, 0.3))
        if self.perturb:  # one speed factor for the whole utterance, as a voice of its own
            factor = self.rng.uniform(1 - self.perturb, 1 + self.perturb)
            parts = [speed(part, factor) for part in parts]
        wave = np.concatenate(parts)
        speech_rms = float(np.sqrt(np.mean(np.square(np.concatenate(parts[1:-1])))))
        noise_db = self.rng.uniform(25.0, 40.0)
        noise = self.rng.standard_normal(len(wave)) * speech_rms * 10 ** (-noise_db / 20)
        wave = np.clip(wave + noise.astype(np.float32), -1.0, 1.0)
        return wave, " ".join(WORDS[d] for d in digits)


def speed(wave: np.ndarray, factor: float) -> np.ndarray:
    """`wave` played `factor` times as fast (tempo and pitch together, as sox's `speed` effect
    and Ko et al. 2015's speed perturbation): resampled by the ratio 100 / round(100 factor)."""
    from scipy.signal import resample_poly

    down = int(round(100 * factor))
    if down == 100 or len(wave) == 0:
        return wave
    return resample_poly(wave, 100, down).astype(np.float32)


def build(
    recordings: Path,
    out: Path,
    sizes: dict[str, int],
    test_speaker: str = "theo",
    seed: int = 1,
    log=None,
    perturb: float = 0.0,
) -> dict:
    """Write the four splits (see the module doc) into `out`; returns corpus.json's content.
    `perturb` > 0 speeds each training utterance up or down by a factor drawn from 1 ± perturb."""
    pools = split_takes(find_takes(recordings), test_speaker, seed)
    summary: dict = {"seed": seed, "rate": RATE, "test_speaker": test_speaker,
                     "train_speed_perturbation": perturb, "splits": {}}  # fmt: skip
    for offset, (name, pool) in enumerate(pools.items()):
        builder = Builder(pool, seed * 1000 + offset, perturb if name == "train" else 0.0)
        folder = out / "wavs" / name
        folder.mkdir(parents=True, exist_ok=True)
        lines, seconds = [], 0.0
        for i in range(sizes[name]):
            wave, text = builder.utterance()
            relative = f"wavs/{name}/{name}-{i:05d}.wav"
            write_audio(out / relative, wave, RATE, subtype="PCM_16")
            lines.append(f"{relative}\t{text}\n")
            seconds += len(wave) / RATE
        (out / f"{name}.tsv").write_text("".join(lines), encoding="utf-8")
        summary["splits"][name] = {
            "utterances": sizes[name],
            "hours": round(seconds / 3600, 3),
            "speakers": builder.speakers,
            "takes": {f"{s}/{d}": sorted(t.index for t in ts) for (s, d), ts in pool.items()},
        }
        if log:
            log(f"{name}: {sizes[name]:,} utterances, {seconds / 3600:.2f} h -> {out / name}.tsv")
    (out / "corpus.json").write_text(json.dumps(summary, indent=1) + "\n", encoding="utf-8")
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--recordings", type=Path, default=RECORDINGS, help="FSDD's recordings/")
    parser.add_argument(
        "--out", type=Path, default=OUT, help="folder to write (default data/fsdd-digits)"
    )
    parser.add_argument("--test-speaker", default="theo", help="the speaker held out entirely")
    parser.add_argument("--train", type=int, default=8000, help="training utterances")
    parser.add_argument("--valid", type=int, default=300, help="validation utterances")
    parser.add_argument("--test", type=int, default=500, help="utterances of each test split")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--speed-perturb", type=float, default=0.1, metavar="P",
                        help="training utterances sped up or down by a factor in 1 ± P (0: off)")  # fmt: skip
    args = parser.parse_args(argv)
    if not 0 <= args.speed_perturb < 0.5:
        parser.error(f"--speed-perturb {args.speed_perturb}: give a value from 0 to below 0.5")
    sizes = {"train": args.train, "valid": args.valid, "test-takes": args.test,
             "test-speaker": args.test}  # fmt: skip
    try:
        build(args.recordings, args.out, sizes, args.test_speaker, args.seed,
              log=lambda line: print(line, file=sys.stderr), perturb=args.speed_perturb)  # fmt: skip
    except DataError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
