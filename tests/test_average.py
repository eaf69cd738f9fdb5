"""`seq2seq average`: the averaged checkpoint holds the exact mean of the weights and translates."""

from __future__ import annotations

import pytest
import torch

from seq2seq.checkpoint import checkpoint_bytes, load_model, read_checkpoint, write_atomic
from seq2seq.commands import main
from seq2seq.config import Config
from seq2seq.data.vocab import WordVocab
from seq2seq.model.seq2seq import Seq2Seq

WORDS = [f"w{i}" for i in range(12)]


def _save(path, seed: int, hidden: int = 16):
    torch.manual_seed(seed)
    config = Config.model_validate({"model": {"embedding_size": 8, "hidden_size": hidden,
                                              "layers": 1}})  # fmt: skip
    vocab = WordVocab(WORDS)
    model = Seq2Seq(config.model, len(vocab), len(vocab))
    write_atomic(path, checkpoint_bytes(model, config, vocab, vocab))
    return model


def test_the_average_is_the_mean_of_the_weights_and_loads(tmp_path):
    models = [_save(tmp_path / f"m{i}.safetensors", seed=i) for i in range(3)]
    out = tmp_path / "avg.safetensors"
    paths = [str(tmp_path / f"m{i}.safetensors") for i in range(3)]
    assert main(["average", *paths, "--output", str(out)]) == 0
    averaged, *_ = load_model(out)
    for name, tensor in averaged.state_dict().items():
        expected = sum(m.state_dict()[name].double() for m in models) / 3
        assert torch.allclose(tensor.double(), expected, atol=1e-6), name
    assert read_checkpoint(out).optim_state is None  # weights only: it cannot resume
    src = tmp_path / "in.txt"
    src.write_text("w1 w2\n", "utf-8")
    assert main(["translate", "--checkpoint", str(out), "--input", str(src), "--quiet"]) == 0


def test_checkpoints_of_different_models_are_refused(tmp_path, capsys):
    _save(tmp_path / "a.safetensors", 0)
    _save(tmp_path / "b.safetensors", 1, hidden=24)
    out = tmp_path / "avg.safetensors"
    code = main(["average", str(tmp_path / "a.safetensors"), str(tmp_path / "b.safetensors"),
                 "--output", str(out)])  # fmt: skip
    assert code == 2 and not out.exists()
    assert "different architectures" in capsys.readouterr().err


@pytest.mark.parametrize("count", [1])
def test_one_checkpoint_is_not_an_average(tmp_path, capsys, count):
    _save(tmp_path / "a.safetensors", 0)
    assert main(["average", str(tmp_path / "a.safetensors"), "--output", str(tmp_path / "o")]) == 2
    assert "at least two" in capsys.readouterr().err
