"""Shared fixtures of the data-stage tests: the real Multi30k files and a prepared EN->FR directory."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[2]
MULTI30K = REPO.parent / "shared/data/multi30k"


@pytest.fixture(autouse=True)
def _one_thread():
    torch.set_num_threads(1)  # two shared cores: keep tests from fighting over them


@pytest.fixture(scope="session")
def multi30k() -> Path:
    """The Multi30k task-1 directory; tests using it are skipped when it is absent."""
    if not (MULTI30K / "train.en.gz").is_file():
        pytest.skip(f"Multi30k data not found at {MULTI30K}")
    return MULTI30K


@pytest.fixture(scope="session")
def word_data(multi30k, tmp_path_factory):
    """Multi30k EN->FR prepared with word vocabularies of 5,000 / 6,000 words (train + valid)."""
    from seq2seq.data.io import ParallelSource
    from seq2seq.data.prepare import load_prepared, prepare

    out = tmp_path_factory.mktemp("prepared") / "en-fr"
    prepare(
        out,
        ParallelSource(multi30k / "train.en.gz", multi30k / "train.fr.gz"),
        valid=ParallelSource(multi30k / "val.en.gz", multi30k / "val.fr.gz"),
        vocab="word",
        src_vocab_size=5000,
        tgt_vocab_size=6000,
        progress=False,
    )
    return load_prepared(out)
