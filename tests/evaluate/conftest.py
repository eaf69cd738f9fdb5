"""Fixtures of the evaluation tests: two tiny models trained for a few seconds with the real
Trainer (one plain, one attention) on the small prepared EN->FR slice (tests/conftest.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from seq2seq.config import Config


def small_config(data_dir: Path, out_dir: Path, steps: int, **model) -> Config:
    return Config.model_validate(
        {
            "data": {"dir": str(data_dir), "batch_size": 32},
            "model": {"embedding_size": 32, "hidden_size": 48, "layers": 1, **model},
            "train": {
                "out_dir": str(out_dir),
                "optimizer": "adam",
                "lr": 0.01,
                "schedule": "constant",
                "normalize": "tokens",
                "max_steps": steps,
                "valid_every": steps // 3,
                "log_every": 5,
                "tensorboard": False,
                "threads": 1,
            },
            "decode": {"beam_size": 2, "batch_size": 50, "max_len_ratio": 1.5},
        }
    )


def _train(config: Config) -> Path:
    from seq2seq.experiment import build_trainer

    build_trainer(config).fit()
    return Path(config.train.out_dir)


@pytest.fixture(scope="session")
def plain_run(data_dir, tmp_path_factory) -> Path:
    """A run directory (log, config, best.safetensors) of a model without attention."""
    return _train(small_config(data_dir, tmp_path_factory.mktemp("plain") / "run", 150))


@pytest.fixture(scope="session")
def attention_run(data_dir, tmp_path_factory) -> Path:
    """A run directory of a Luong-attention model."""
    config = small_config(
        data_dir, tmp_path_factory.mktemp("attn") / "run", 60, context="attention"
    )
    return _train(config)


def degrade(reference: str) -> str:
    """A stand-in system whose quality falls with length: the first 8 words kept, then every
    other one; each 4th sentence (by its length) also loses its first word."""
    words = reference.split()
    kept = words[:8] + words[8::2]
    if len(words) % 4 == 0:
        kept = kept[1:]
    return " ".join(kept)


@pytest.fixture(scope="session")
def degraded_hyp(test_set, tmp_path_factory) -> Path:
    """Hypotheses of the stand-in system `degrade` for the test set."""
    _, ref = test_set
    path = tmp_path_factory.mktemp("hyp") / "degraded.fr"
    lines = ref.read_text("utf-8").splitlines()
    path.write_text("\n".join(degrade(line) for line in lines) + "\n", "utf-8")
    return path
