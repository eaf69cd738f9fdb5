"""Spoken sentences: Multi30k's English captions synthesised with espeak-ng (issue 25).

    python benchmarks/tasks/espeak_sentences.py            # ../shared/data/multi30k -> data/espeak-multi30k
    seq2seq prepare --manifest data/espeak-multi30k/train.tsv \\
        --valid-manifest data/espeak-multi30k/valid.tsv \\
        --test-manifest data/espeak-multi30k/test.tsv --out data/espeak-multi30k/prepared

THE AUDIO IS SYNTHETIC: espeak-ng (Debian's package; `apt-get install espeak-ng`) is a formant
synthesiser, so every utterance of a voice is pronounced the same rule-based way, without a human
speaker's variation, room or microphone. What the corpus keeps from real data is the text: the
vocabulary and lengths of real sentences (Multi30k's image captions, about 13 words).

Each sentence is spoken once, by a voice (an espeak-ng accent with a variant: ``en-us+m1``),
speaking rate (140-190 words a minute) and pitch (30-70) drawn from a seeded generator; the wave
is resampled to 16 kHz and stored as FLAC. Training and validation use the training voices
(7 accents x 7 variants); the test sentences are spoken twice, by a held-out voice (an accent and
a variant no training utterance has: ``en-us-nyc+f3``) and, to tell the voice's effect from the
sentences', by the training voices:

    train.tsv              Multi30k train, the first --train captions (default 8,000), training voices
    valid.tsv              Multi30k val, the first --valid (300), training voices
    test.tsv               Multi30k test_2016_flickr, the first --test (500), the held-out voice
    test-seen-voices.tsv   the same test captions, training voices

The transcript is the caption lower-cased, with every character other than a-z, 0-9 and the
apostrophe turned into a space ("Two young, White males" -> "two young white males"): what can be
heard. ``corpus.json`` records the seed, the voices and espeak-ng's version; the same captions,
seed and espeak-ng give the same manifests.
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from seq2seq.audio.io import read_audio, write_audio
from seq2seq.errors import DataError

ROOT = Path(__file__).resolve().parents[2]
MULTI30K = ROOT.parent / "shared" / "data" / "multi30k"
OUT = ROOT / "data" / "espeak-multi30k"
RATE = 16_000
TRAIN_ACCENTS = ("en-us", "en-gb", "en-gb-scotland", "en-gb-x-rp", "en-gb-x-gbclan",
                 "en-gb-x-gbcwmd", "en-029")  # fmt: skip
TRAIN_VARIANTS = ("m1", "m2", "m3", "m4", "f1", "f2", "f4")
TEST_VOICE = "en-us-nyc+f3"
FILES = {"train": "train.en.gz", "valid": "val.en.gz", "test": "test_2016_flickr.en.gz"}
_UNHEARD = re.compile(r"[^a-z0-9' ]+")


def transcript(caption: str) -> str:
    """What can be heard of a caption: lower case, a-z 0-9 and apostrophes, single spaces."""
    return " ".join(_UNHEARD.sub(" ", caption.lower()).split())


def espeak() -> str:
    """The espeak-ng program; a DataError says how to install it when it is missing."""
    program = shutil.which("espeak-ng")
    if program is None:
        raise DataError("espeak-ng is not installed; install it with `apt-get install espeak-ng`")
    return program


def speak(text: str, voice: str, rate: int, pitch: int, folder: Path) -> object:
    """`text` spoken by espeak-ng: the wave (N,) float32 at 16 kHz."""
    wav = folder / "espeak.wav"
    command = [espeak(), "-v", voice, "-s", str(rate), "-p", str(pitch), "-w", str(wav), "--", text]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0 or not wav.is_file():
        raise DataError(
            f"espeak-ng failed for voice {voice}: {done.stderr.strip() or done.returncode}"
        )
    return read_audio(wav, RATE, max_seconds=None)


def voices(accents=TRAIN_ACCENTS, variants=TRAIN_VARIANTS) -> list[str]:
    return [f"{accent}+{variant}" for accent in accents for variant in variants]


def synthesise(
    captions: list[str], name: str, out: Path, pool: list[str], seed: int, log=None
) -> dict:
    """Speak `captions` into out/flac/<name>/ and write out/<name>.tsv; the split's summary."""
    rng = random.Random(f"{seed}-{name}")
    folder = out / "flac" / name
    folder.mkdir(parents=True, exist_ok=True)
    lines, seconds, used = [], 0.0, set()
    with tempfile.TemporaryDirectory(prefix="espeak-") as tmp:
        for i, caption in enumerate(captions):
            voice, rate, pitch = rng.choice(pool), rng.randint(140, 190), rng.randint(30, 70)
            wave = speak(caption, voice, rate, pitch, Path(tmp))
            relative = f"flac/{name}/{name}-{i:05d}.flac"
            write_audio(out / relative, wave, RATE)
            lines.append(f"{relative}\t{transcript(caption)}\n")
            seconds += len(wave) / RATE
            used.add(voice)
            if log and (i + 1) % 1000 == 0:
                log(f"{name}: {i + 1:,} of {len(captions):,}")
    (out / f"{name}.tsv").write_text("".join(lines), encoding="utf-8")
    if log:
        log(f"{name}: {len(captions):,} utterances, {seconds / 3600:.2f} h -> {out / name}.tsv")
    return {"utterances": len(captions), "hours": round(seconds / 3600, 3), "voices": sorted(used)}


def read_captions(path: Path, count: int) -> list[str]:
    """The first `count` non-empty captions of a gzipped Multi30k file."""
    if not path.is_file():
        raise DataError(f"{path} is missing; Multi30k's English captions are needed")
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        captions = [line.strip() for line in handle if transcript(line)]
    return captions[:count]


def build(multi30k: Path, out: Path, sizes: dict[str, int], test_voice: str = TEST_VOICE,
          seed: int = 1, log=None) -> dict:  # fmt: skip
    """Write the four splits (see the module doc) into `out`; returns corpus.json's content."""
    train_voices = voices()
    if test_voice in train_voices:
        raise DataError(f"the held-out voice {test_voice} is one of the training voices")
    version = subprocess.run([espeak(), "--version"], capture_output=True, text=True).stdout
    summary: dict = {"seed": seed, "rate": RATE, "espeak_ng": version.strip(), "synthetic": True,
                     "train_voices": train_voices, "test_voice": test_voice, "splits": {}}  # fmt: skip
    captions = {name: read_captions(multi30k / FILES[name], sizes[name]) for name in FILES}
    plan = [("train", "train", train_voices), ("valid", "valid", train_voices),
            ("test", "test", [test_voice]), ("test-seen-voices", "test", train_voices)]  # fmt: skip
    for name, source, pool in plan:
        summary["splits"][name] = synthesise(captions[source], name, out, pool, seed, log)
    (out / "corpus.json").write_text(json.dumps(summary, indent=1) + "\n", encoding="utf-8")
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--multi30k", type=Path, default=MULTI30K, help="Multi30k's raw files")
    parser.add_argument("--out", type=Path, default=OUT, help="folder to write")
    parser.add_argument("--train", type=int, default=8000, help="training captions")
    parser.add_argument("--valid", type=int, default=300, help="validation captions")
    parser.add_argument("--test", type=int, default=500, help="test captions")
    parser.add_argument("--test-voice", default=TEST_VOICE, help="the held-out voice")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    sizes = {"train": args.train, "valid": args.valid, "test": args.test}
    try:
        build(args.multi30k, args.out, sizes, args.test_voice, args.seed,
              log=lambda line: print(line, file=sys.stderr))  # fmt: skip
    except DataError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
