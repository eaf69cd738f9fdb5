"""Checkpoints shared by the decoding tests: a tiny attention model trained on a copy task.

The task copies 3-7 words of a 20-word source language; the target vocabulary lacks the last five
words, so a trained model writes ``<unk>`` exactly where the source has one of them. Training takes
a few seconds and happens once per test session.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from seq2seq.config import Config
from seq2seq.data.batching import make_source_batch, make_target_batch
from seq2seq.data.vocab import WordVocab
from seq2seq.model.seq2seq import Seq2Seq
from seq2seq.train.checkpoint import checkpoint_bytes, write_atomic

WORDS = [f"w{i}" for i in range(20)]
TARGET_WORDS = WORDS[:15]  # w15 .. w19 are <unk> on the target side


def copy_sentences(n: int, seed: int, min_len: int = 3, max_len: int = 7) -> list[str]:
    rng = random.Random(seed)
    return [" ".join(rng.choices(WORDS, k=rng.randint(min_len, max_len))) for _ in range(n)]


def copy_config(**model: object) -> Config:
    model_cfg = dict(
        cell="lstm",
        embedding_size=32,
        hidden_size=64,
        layers=1,
        context="attention",
        input_feeding=False,
    )
    model_cfg.update(model)
    return Config.model_validate(
        {
            "data": {"reverse_source": True},
            "model": model_cfg,
            "decode": {"beam_size": 3, "batch_size": 16},
        }
    )


def train_copy_model(
    config: Config, steps: int, seed: int = 0
) -> tuple[Seq2Seq, WordVocab, WordVocab]:
    torch.manual_seed(seed)
    src_vocab, tgt_vocab = WordVocab(WORDS), WordVocab(TARGET_WORDS)
    model = Seq2Seq(config.model, len(src_vocab), len(tgt_vocab))
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    for step in range(steps):
        lines = copy_sentences(64, seed=1000 * seed + step)
        src, lengths = make_source_batch([src_vocab.encode(s) for s in lines], 0, True)
        tgt_in, tgt_out = make_target_batch([tgt_vocab.encode(s) for s in lines])
        logits = model(src, lengths, tgt_in)
        loss = F.cross_entropy(logits.flatten(0, 1), tgt_out.flatten(), ignore_index=0)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return model.eval(), src_vocab, tgt_vocab


def save(path: Path, model: Seq2Seq, config: Config, src_vocab, tgt_vocab) -> Path:
    write_atomic(path, checkpoint_bytes(model, config, src_vocab, tgt_vocab))
    return path


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
