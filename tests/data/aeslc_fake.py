"""A tiny synthetic AESLC-layout corpus for the tests (never the real, CC BY-NC-SA one): made-up
words, seeded, in the corpus's own files (body, ``@subject``, on dev ``@ann0``..``@ann2``)."""

from __future__ import annotations

import random
from pathlib import Path

SYLLABLES = ["ka", "lo", "mi", "ter", "vo", "sun", "pa", "rel", "do", "nix", "bo", "quo"]


def words(rng: random.Random, count: int) -> list[str]:
    return ["".join(rng.choices(SYLLABLES, k=rng.randint(1, 3))) for _ in range(count)]


def email(rng: random.Random, long: bool = False) -> tuple[str, str]:
    """(body, subject): the subject is 2-4 words of the body's first sentence, so LEAD and a
    copying model find it there; a long body runs to well over 100 tokens."""
    first = words(rng, rng.randint(5, 9))
    picked = sorted(rng.sample(range(len(first)), rng.randint(2, 4)))
    subject = " ".join(first[i] for i in picked).capitalize()
    sentences = [" ".join(first).capitalize() + "."]
    for _ in range(rng.randint(8, 12) if long else rng.randint(1, 3)):
        sentences.append(" ".join(words(rng, rng.randint(6, 12))).capitalize() + ",  ok!")
    lines = [" ".join(sentences[:2]), *sentences[2:], "Thanks,"]
    return "\n".join(lines), subject


def write_fake_aeslc(root: Path, train: int = 40, dev: int = 12, seed: int = 1) -> Path:
    """Write ROOT/enron_subject_line/{train,dev}/*.subject; every fourth e-mail is long."""
    rng = random.Random(seed)
    for split, count in (("train", train), ("dev", dev)):
        folder = root / "enron_subject_line" / split
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(count):
            body, subject = email(rng, long=i % 4 == 0)
            text = f"{body}\n\n@subject\n{subject}\n"
            if split == "dev":
                for k in range(3):
                    shown = subject.split()
                    text += f"\n@ann{k}\n{' '.join(shown[: len(shown) - k % 2]).lower()}\n"
            (folder / f"user-{i:03d}_inbox_{i}.subject").write_text(text, encoding="utf-8")
    return root
