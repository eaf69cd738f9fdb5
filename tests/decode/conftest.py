"""Checkpoints shared by the decoding tests, made once per session (see `decode_standins`).

`copy_checkpoint` is a tiny attention model trained for a few seconds on the copy task;
`random_checkpoints` are untrained models of several architectures and vocabularies.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from decode_standins import TARGET_WORDS, WORDS, copy_config, save, train_copy_model

from seq2seq.data.vocab import WordVocab
from seq2seq.model.seq2seq import Seq2Seq


@pytest.fixture(scope="session")
def copy_checkpoint(tmp_path_factory) -> Path:
    """A trained attention model that copies its input (reversed source, as in the paper)."""
    torch.set_num_threads(1)
    config = copy_config()
    model, src_vocab, tgt_vocab = train_copy_model(config, steps=200)
    return save(
        tmp_path_factory.mktemp("ckpt") / "copy.safetensors", model, config, src_vocab, tgt_vocab
    )


@pytest.fixture(scope="session")
def random_checkpoints(tmp_path_factory) -> dict[str, Path]:
    """Untrained checkpoints of different architectures and vocabularies (no learning needed)."""
    folder = tmp_path_factory.mktemp("random")
    variants = {  # name: (model section, source words, target words, reverse_source)
        "gru": (dict(cell="gru", context="init", input_feeding=True), WORDS, TARGET_WORDS, True),
        "lstm": (
            dict(cell="lstm", context="bridge", decoder_hidden_size=48),
            WORDS,
            TARGET_WORDS,
            True,
        ),
        "wide-target": (dict(cell="lstm", context="init"), WORDS, WORDS, True),
        "other-source": (dict(cell="lstm", context="init"), WORDS[:18], TARGET_WORDS, True),
        "forward": (dict(cell="lstm", context="init"), WORDS, TARGET_WORDS, False),
    }
    paths = {}
    for seed, (name, (model_cfg, source_words, target_words, reverse)) in enumerate(
        variants.items()
    ):
        torch.manual_seed(seed)
        config = copy_config(**model_cfg)
        config.data.reverse_source = reverse
        src_vocab, tgt_vocab = WordVocab(source_words), WordVocab(target_words)
        model = Seq2Seq(config.model, len(src_vocab), len(tgt_vocab))
        paths[name] = save(folder / f"{name}.safetensors", model, config, src_vocab, tgt_vocab)
    return paths
