"""Fixtures shared by every test folder: a slice of real EN->FR data committed with the tests
(tests/data/tatoeba-en-fr: Tatoeba pairs, CC-BY 2.0 FR, see its README.md) and a prepared subset.

Nothing here reads outside the repository, so the suite runs the same on a fresh clone.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[1]
CORPUS = REPO / "tests" / "data" / "tatoeba-en-fr"
TEST_SENTENCES = 150


@pytest.fixture(autouse=True)
def _one_thread():
    torch.set_num_threads(1)  # two shared cores: keep tests from fighting over them


def head(path: Path, n: int) -> list[str]:
    """The first `n` lines of a gzipped text file."""
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        return [line.rstrip("\n") for _, line in zip(range(n), handle)]


@pytest.fixture(scope="session")
def corpus() -> Path:
    """The committed EN->FR slice: raw `{train,valid,test}.{en,fr}.gz`, aligned, of 2,000 / 100 /
    150 lines (English sentences of 6 to 30 words, lengths like Multi30k's)."""
    return CORPUS


@pytest.fixture(scope="session")
def data_dir(corpus, tmp_path_factory) -> Path:
    """The slice's 2,000 EN->FR training pairs and 100 dev pairs, prepared with lower-cased
    word vocabularies of 2,000 words: small enough to train on in seconds. The raw text is
    next to it, as `train.en` etc. in its parent directory."""
    from seq2seq.data.io import ParallelSource
    from seq2seq.data.prepare import prepare

    tmp = tmp_path_factory.mktemp("corpus")
    files = {}
    for split, n in (("train", 2000), ("valid", 100)):
        for lang in ("en", "fr"):
            path = tmp / f"{split}.{lang}"
            path.write_text("\n".join(head(corpus / f"{split}.{lang}.gz", n)) + "\n", "utf-8")
            files[split, lang] = path
    out = tmp / "data"
    prepare(
        out,
        ParallelSource(files["train", "en"], files["train", "fr"]),
        valid=ParallelSource(files["valid", "en"], files["valid", "fr"]),
        vocab="word",
        src_vocab_size=2000,
        tgt_vocab_size=2000,
        lowercase=True,
        progress=False,
    )
    return out


@pytest.fixture(scope="session")
def test_set(corpus, tmp_path_factory) -> tuple[Path, Path]:
    """(source, reference): the slice's test split (150 sentences), plain text files."""
    tmp = tmp_path_factory.mktemp("test")
    paths = []
    for lang in ("en", "fr"):
        path = tmp / f"test.{lang}"
        lines = head(corpus / f"test.{lang}.gz", TEST_SENTENCES)
        path.write_text("\n".join(lines) + "\n", "utf-8")
        paths.append(path)
    return paths[0], paths[1]
