"""Fixtures of the data-stage tests: the committed EN->FR slice prepared with word vocabularies."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def word_data(corpus, tmp_path_factory):
    """The slice's EN->FR train + valid prepared with word vocabularies of 3,000 / 4,000 words
    (fewer than its 3,710 English and 4,860 French training types: both are cut)."""
    from seq2seq.data.io import ParallelSource
    from seq2seq.data.prepare import load_prepared, prepare

    out = tmp_path_factory.mktemp("prepared") / "en-fr"
    prepare(
        out,
        ParallelSource(corpus / "train.en.gz", corpus / "train.fr.gz"),
        valid=ParallelSource(corpus / "valid.en.gz", corpus / "valid.fr.gz"),
        vocab="word",
        src_vocab_size=3000,
        tgt_vocab_size=4000,
        progress=False,
    )
    return load_prepared(out)
