"""Training end to end on real EN->FR data (the committed Tatoeba slice): every context mode
learns, a killed run resumes exactly, and two DDP processes match one process on the same global
batch."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import yaml

from seq2seq.checkpoint import read_checkpoint
from seq2seq.config import Config
from seq2seq.experiment import build_trainer
from seq2seq.train.metrics_log import read_log


def _config(data_dir: Path, out_dir: Path, **model) -> Config:
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
                "max_steps": 40,
                "valid_every": 20,
                "log_every": 5,
                "valid_bleu": False,
                "tensorboard": False,
                "threads": 1,
            },
        }
    )


@pytest.mark.parametrize(
    "model",
    [
        {"context": "init"},
        {"context": "bridge", "decoder_hidden_size": 40},
        {"context": "concat"},
        {"context": "peeky"},
        {"context": "attention", "attention": "general"},
        {"context": "attention", "attention": "bahdanau", "input_feeding": False},
        {"context": "init", "cell": "gru"},
    ],
    ids=["init", "bridge", "concat", "peeky", "luong", "bahdanau", "gru"],
)
def test_every_context_mode_learns_on_real_text(data_dir, tmp_path, model):
    state = build_trainer(_config(data_dir, tmp_path / "run", **model)).fit()
    assert state.step == 40
    train = read_log(tmp_path / "run" / "log.jsonl", "train")
    valid = read_log(tmp_path / "run" / "log.jsonl", "valid")
    assert train[-1]["loss"] < train[0]["loss"] - 1.0, [r["loss"] for r in train]
    assert valid[-1]["ppl"] < valid[0]["ppl"], [r["ppl"] for r in valid]
    assert (tmp_path / "run" / "best.safetensors").is_file()


def test_checkpoints_carry_the_training_data_lexical_shortlist_and_languages(data_dir, tmp_path):
    from seq2seq.checkpoint import read_languages, read_shortlist
    from seq2seq.data.shortlist import DEFAULT_K

    cfg = _config(data_dir, tmp_path / "run")
    cfg.train.max_steps = cfg.train.valid_every = 2
    build_trainer(cfg).fit()
    from seq2seq.data.prepare import load_prepared

    data = load_prepared(data_dir)
    shortlist = read_shortlist(tmp_path / "run" / "best.safetensors")
    assert shortlist is not None and shortlist.table.shape == (len(data.src_vocab), DEFAULT_K)
    # "chien" (dog) is among the target words most associated with "dog"
    dog, chien = data.src_vocab.encode("dog")[0], data.tgt_vocab.encode("chien")[0]
    assert chien in shortlist.table[dog].tolist()
    # the language pair of the prepared data (train.en / train.fr), which the server announces
    assert read_languages(tmp_path / "run" / "best.safetensors") == ("en", "fr")
    assert read_languages(tmp_path / "run" / "last.safetensors") == ("en", "fr")


def test_a_run_dir_with_checkpoints_is_not_clobbered(data_dir, tmp_path):
    cfg = _config(data_dir, tmp_path / "run")
    cfg.train.max_steps = 5
    cfg.train.valid_every = 5
    build_trainer(cfg).fit()
    from seq2seq.errors import Seq2SeqError

    with pytest.raises(Seq2SeqError, match="already holds checkpoints.*--resume"):
        build_trainer(cfg)
    other = _config(data_dir, tmp_path / "run", hidden_size=64)
    from seq2seq.errors import CheckpointError

    with pytest.raises(CheckpointError, match="model.hidden_size=48 but the config asks for 64"):
        build_trainer(other, resume=True)


def _train_cmd(config_path: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "seq2seq.cli", "train", str(config_path), *extra]


def _write_config(cfg: Config, path: Path) -> Path:
    path.write_text(yaml.safe_dump(cfg.to_dict()), encoding="utf-8")
    return path


def _final_weights(run: Path) -> dict[str, torch.Tensor]:
    return read_checkpoint(run / "last.safetensors").model_state


@pytest.mark.slow
def test_killed_run_resumes_as_if_never_stopped(data_dir, tmp_path):
    """Kill (SIGKILL) a run after its step-10 checkpoint, resume, compare with an unbroken run."""

    def config(run: str) -> Path:
        cfg = _config(data_dir, tmp_path / run, dropout=0.3)  # dropout: the RNG must resume too
        cfg.train.max_steps, cfg.train.valid_every, cfg.train.save_every = 30, 15, 5
        cfg.train.optimizer, cfg.train.schedule, cfg.train.keep_last = "sgd", "halving", 10
        cfg.train.lr, cfg.train.epochs, cfg.train.halve_after_epochs = 0.5, 1.0, 0.3
        return _write_config(cfg, tmp_path / f"{run}.yaml")

    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    subprocess.run(_train_cmd(config("unbroken")), check=True, env=env, capture_output=True)

    proc = subprocess.Popen(_train_cmd(config("killed")), env=env, stderr=subprocess.DEVNULL)
    marker = tmp_path / "killed" / "checkpoints" / "step-00000010.safetensors"
    deadline = time.time() + 120
    while not marker.exists() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert marker.exists()
    assert not (tmp_path / "killed" / "checkpoints" / "step-00000030.safetensors").exists()

    resumed = subprocess.run(
        _train_cmd(config("killed"), "--resume"), env=env, capture_output=True, text=True
    )
    assert resumed.returncode == 0, resumed.stderr
    assert "resumed from" in resumed.stderr
    a, b = _final_weights(tmp_path / "unbroken"), _final_weights(tmp_path / "killed")
    for name in a:
        torch.testing.assert_close(a[name], b[name], rtol=1e-5, atol=1e-6, msg=name)
    steps = [r["step"] for r in read_log(tmp_path / "killed" / "log.jsonl", "train")]
    assert steps == sorted(set(steps)) and steps[-1] == 30  # no duplicated records after resume


@pytest.mark.slow
def test_two_ddp_processes_match_one_process(data_dir, tmp_path):
    """torchrun, 2 CPU ranks with gloo, each half of every global batch == 1 process, whole batch."""

    def config(run: str) -> Path:
        cfg = _config(data_dir, tmp_path / run)
        cfg.train.max_steps, cfg.train.valid_every = 8, 8
        cfg.train.optimizer, cfg.train.schedule, cfg.train.lr = "sgd", "constant", 0.5
        cfg.train.normalize = "sentences"
        return _write_config(cfg, tmp_path / f"{run}.yaml")

    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    subprocess.run(_train_cmd(config("single")), check=True, env=env, capture_output=True)
    ddp = [
        sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
        "-m", "seq2seq.cli", "train", str(config("ddp")),
    ]  # fmt: skip
    result = subprocess.run(ddp, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-3000:]
    a, b = _final_weights(tmp_path / "single"), _final_weights(tmp_path / "ddp")
    for name in a:
        torch.testing.assert_close(a[name], b[name], rtol=1e-4, atol=1e-5, msg=name)


@pytest.mark.slow
def test_tensorboard_shows_each_step_once_after_a_kill_and_resume(data_dir, tmp_path):
    """Killed at step 36 with step 20 committed: the old event file holds steps 25-35, which the
    resumed run logs again. TensorBoard must show them once, from the resumed run."""
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    cfg = _config(data_dir, tmp_path / "run")
    cfg.train.max_steps, cfg.train.valid_every, cfg.train.save_every = 40, 20, 20
    cfg.train.tensorboard = True
    path = _write_config(cfg, tmp_path / "run.yaml")
    env = {**os.environ, "OMP_NUM_THREADS": "1", "SEQ2SEQ_FAULT": "train.forward@36"}
    killed = subprocess.run(_train_cmd(path), env=env, capture_output=True, text=True)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    logged = [r["step"] for r in read_log(tmp_path / "run" / "log.jsonl", "train")]
    assert logged[-1] == 35  # logged past the committed step 20: the old event file has them too

    env.pop("SEQ2SEQ_FAULT")
    resumed = subprocess.run(_train_cmd(path, "--resume"), env=env, capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stderr
    events = EventAccumulator(str(tmp_path / "run" / "tensorboard"))
    events.Reload()
    shown = [event.step for event in events.Scalars("train/loss")]
    assert shown == list(range(5, 41, 5))  # each step once, in order
    in_log = {r["step"]: r["loss"] for r in read_log(tmp_path / "run" / "log.jsonl", "train")}
    for event in events.Scalars("train/loss"):  # the values of the run that counts
        assert event.value == pytest.approx(in_log[event.step], rel=1e-4)
