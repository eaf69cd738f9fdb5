"""Shared fixtures of the evaluation tests: a small Multi30k EN->FR data directory, a test set,
and two tiny models trained for a few seconds with the real Trainer (one plain, one attention)."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest
import torch

from seq2seq.config import Config

REPO = Path(__file__).resolve().parents[2]
MULTI30K = REPO.parent / "shared" / "data" / "multi30k"
TEST_SENTENCES = 150


@pytest.fixture(autouse=True)
def _one_thread():
    torch.set_num_threads(1)  # two shared cores: keep tests from fighting over them


def head(path: Path, n: int) -> list[str]:
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        return [line.rstrip("\n") for _, line in zip(range(n), handle)]


@pytest.fixture(scope="session")
def multi30k() -> Path:
    if not (MULTI30K / "train.en.gz").is_file():
        pytest.skip(f"Multi30k data not found at {MULTI30K}")
    return MULTI30K


@pytest.fixture(scope="session")
def data_dir(multi30k, tmp_path_factory) -> Path:
    """The first 2,000 training pairs and 100 dev pairs, lower-cased word vocabularies."""
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
    from seq2seq.train.trainer import Trainer

    Trainer(config).fit()
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
