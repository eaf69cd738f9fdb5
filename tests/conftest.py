"""Fixtures shared by every test folder: the real Multi30k files and a small prepared subset.

Tests that need Multi30k skip with a clear reason when ../shared/data/multi30k is absent.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[1]
MULTI30K = REPO.parent / "shared" / "data" / "multi30k"
TEST_SENTENCES = 150


@pytest.fixture(autouse=True)
def _one_thread():
    torch.set_num_threads(1)  # two shared cores: keep tests from fighting over them


def head(path: Path, n: int) -> list[str]:
    """The first `n` lines of a gzipped text file."""
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        return [line.rstrip("\n") for _, line in zip(range(n), handle)]


@pytest.fixture(scope="session")
def multi30k() -> Path:
    """The Multi30k task-1 directory."""
    if not (MULTI30K / "train.en.gz").is_file():
        pytest.skip(f"Multi30k data not found at {MULTI30K}")
    return MULTI30K


@pytest.fixture(scope="session")
def data_dir(multi30k, tmp_path_factory) -> Path:
    """The first 2,000 Multi30k EN->FR training pairs and 100 dev pairs, prepared with
    lower-cased word vocabularies of 2,000 words: small enough to train on in seconds."""
    from seq2seq.data.io import ParallelSource
    from seq2seq.data.prepare import prepare

    tmp = tmp_path_factory.mktemp("m30k")
    files = {}
    for split, name, n in (("train", "train", 2000), ("valid", "val", 100)):
        for lang in ("en", "fr"):
            path = tmp / f"{split}.{lang}"
            path.write_text("\n".join(head(multi30k / f"{name}.{lang}.gz", n)) + "\n", "utf-8")
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
def test_set(multi30k, tmp_path_factory) -> tuple[Path, Path]:
    """(source, reference): the first sentences of the 2016 Flickr test set, plain text files."""
    tmp = tmp_path_factory.mktemp("test")
    paths = []
    for lang in ("en", "fr"):
        path = tmp / f"test.{lang}"
        lines = head(multi30k / f"test_2016_flickr.{lang}.gz", TEST_SENTENCES)
        path.write_text("\n".join(lines) + "\n", "utf-8")
        paths.append(path)
    return paths[0], paths[1]
