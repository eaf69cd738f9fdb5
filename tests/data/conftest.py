"""Fixtures of the data-stage tests: Multi30k EN->FR prepared with word vocabularies."""

from __future__ import annotations

import pytest


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
