"""Checkpoints: round trips, tied weights, atomic writes, and clear errors on bad files."""

import os

import pytest
import torch

from seq2seq.checkpoint import checkpoint_bytes, load_weights, read_checkpoint, write_atomic
from seq2seq.config import Config
from seq2seq.errors import CheckpointError, DataError


class _Vocab:
    def __init__(self, n):
        self.n = n

    def to_dict(self):
        return {"kind": "test", "size": self.n}


class _Tied(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = torch.nn.Embedding(7, 3)
        self.out = torch.nn.Linear(3, 7, bias=False)
        self.out.weight = self.embed.weight


def _bytes(model, optimizer=None, state=None):
    return checkpoint_bytes(
        model, Config(), _Vocab(7), _Vocab(7), optimizer=optimizer, train_state=state
    )


def test_round_trip_with_tied_weights_and_optimiser(tmp_path):
    torch.manual_seed(0)
    model = _Tied()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss = model.out(model.embed(torch.tensor([1, 2]))).sum()
    loss.backward()
    opt.step()
    path = tmp_path / "c.safetensors"
    write_atomic(path, _bytes(model, opt, {"run": {"step": 3}}))

    ckpt = read_checkpoint(path)
    assert ckpt.train_state == {"run": {"step": 3}}
    assert ckpt.src_vocab == {"kind": "test", "size": 7}
    fresh = _Tied()
    load_weights(fresh, ckpt)
    assert torch.equal(fresh.embed.weight, model.embed.weight)
    assert fresh.out.weight.data_ptr() == fresh.embed.weight.data_ptr()  # still tied
    opt2 = torch.optim.Adam(fresh.parameters(), lr=1e-3)
    opt2.load_state_dict(ckpt.optim_state)
    assert torch.equal(
        opt2.state_dict()["state"][0]["exp_avg"], opt.state_dict()["state"][0]["exp_avg"]
    )
    assert "torch" in ckpt.rng_state


def test_a_failed_write_leaves_the_old_checkpoint_intact(tmp_path, monkeypatch):
    path = tmp_path / "last.safetensors"
    write_atomic(path, _bytes(_Tied()))
    before = path.read_bytes()

    def crash(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(DataError, match="disk full"):  # one sentence naming the file
        write_atomic(path, b"half a checkpoint")
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["last.safetensors"]  # no temp file left


def test_truncated_and_foreign_files_are_one_sentence(tmp_path):
    good = _bytes(_Tied())
    truncated = tmp_path / "t.safetensors"
    truncated.write_bytes(good[: len(good) // 2])
    with pytest.raises(CheckpointError, match="truncated or not safetensors"):
        read_checkpoint(truncated)
    with pytest.raises(CheckpointError, match="does not exist"):
        read_checkpoint(tmp_path / "missing.safetensors")
    from safetensors.torch import save_file

    save_file({"x": torch.zeros(1)}, str(tmp_path / "other.safetensors"))
    with pytest.raises(CheckpointError, match="not a seq2seq checkpoint"):
        read_checkpoint(tmp_path / "other.safetensors")


def test_weights_of_another_architecture_are_refused(tmp_path):
    path = tmp_path / "c.safetensors"
    write_atomic(path, _bytes(_Tied()))
    other = torch.nn.Sequential(torch.nn.Linear(3, 3))
    with pytest.raises(CheckpointError, match="different model architecture"):
        load_weights(other, read_checkpoint(path))
    wider = _Tied()
    wider.embed = torch.nn.Embedding(7, 4)
    wider.out = torch.nn.Linear(4, 7, bias=False)
    with pytest.raises(CheckpointError, match="does not fit this model"):
        load_weights(wider, read_checkpoint(path))
