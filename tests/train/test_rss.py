"""Training memory: every train record of log.jsonl carries the process's current and peak resident
memory, and `seq2seq train` runs itself again on tcmalloc where it is installed."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from seq2seq import runtime
from seq2seq.config import Config
from seq2seq.experiment import build_trainer
from seq2seq.train.metrics_log import memory_mb, read_log


def test_memory_is_read_from_proc_status(tmp_path):
    status = tmp_path / "status"
    status.write_text("Name:\tpython\nVmHWM:\t  2097152 kB\nVmRSS:\t  1048576 kB\nThreads:\t3\n")
    assert memory_mb(status) == {"rss_mb": 1024.0, "peak_rss_mb": 2048.0}
    fallback = memory_mb(tmp_path / "missing")  # getrusage's peak for both
    assert fallback["rss_mb"] == fallback["peak_rss_mb"] > 10


def test_the_training_log_records_current_and_peak_rss(data_dir, tmp_path):
    cfg = Config.model_validate(
        {
            "data": {"dir": str(data_dir), "batch_size": 32},
            "model": {"embedding_size": 16, "hidden_size": 16, "layers": 1},
            "train": {"out_dir": str(tmp_path / "run"), "max_steps": 6, "log_every": 2,
                      "valid_every": 6, "valid_bleu": False, "tensorboard": False},
        }
    )  # fmt: skip
    build_trainer(cfg).fit()
    records = read_log(tmp_path / "run" / "log.jsonl", "train")
    assert [r["step"] for r in records] == [2, 4, 6]
    peaks = [r["peak_rss_mb"] for r in records]
    assert peaks == sorted(peaks)  # a high-water mark never falls
    now = memory_mb()
    for r in records:
        assert 50 < r["rss_mb"] <= r["peak_rss_mb"] <= now["peak_rss_mb"]


class Exec(Exception):
    """os.execve, caught: the arguments it was called with."""


@pytest.fixture
def execve(monkeypatch):
    def fake(path, args, env):
        raise Exec(path, args, env)

    monkeypatch.setattr(runtime.os, "execve", fake)
    monkeypatch.setattr(runtime.sys, "platform", "linux")


def test_train_runs_itself_again_with_tcmalloc_preloaded(execve, monkeypatch):
    monkeypatch.setattr(runtime.ctypes.util, "find_library", lambda name: f"lib{name}.so.4")
    with pytest.raises(Exec) as called:
        runtime.preload_allocator(["train", "x.yaml"], {"LD_PRELOAD": "libother.so"})
    path, args, env = called.value.args
    assert path == sys.executable and args[0] == sys.executable
    assert env["LD_PRELOAD"] == "libtcmalloc_minimal.so.4:libother.so"
    assert env["ONEDNN_PRIMITIVE_CACHE_CAPACITY"] == "64"  # training's kernel cache, capped
    own = {"ONEDNN_PRIMITIVE_CACHE_CAPACITY": "512", "SEQ2SEQ_MALLOC": "glibc"}
    runtime.preload_allocator(["train", "x.yaml"], own)
    assert own["ONEDNN_PRIMITIVE_CACHE_CAPACITY"] == "512"  # a user's own setting stands
    # the second time round, another command, or glibc asked for: no execve
    runtime.preload_allocator(["train", "x.yaml"], env)
    runtime.preload_allocator(["translate", "--checkpoint", "c"], {})
    runtime.preload_allocator(["train", "x.yaml"], {"SEQ2SEQ_MALLOC": "glibc"})
    with pytest.raises(Exec) as called:
        runtime.preload_allocator(["train", "x.yaml"], {"SEQ2SEQ_MALLOC": "jemalloc"})
    assert called.value.args[2]["LD_PRELOAD"] == "libjemalloc.so.4"


def test_a_missing_or_unknown_allocator(execve, monkeypatch):
    monkeypatch.setattr(runtime.ctypes.util, "find_library", lambda name: None)
    runtime.preload_allocator(["train", "x.yaml"], {})  # auto, none installed: stays on glibc
    with pytest.raises(ValueError, match=r"SEQ2SEQ_MALLOC=jemalloc but libjemalloc.so is not "
                       r"installed \(Debian and Ubuntu: apt install libjemalloc2\)"):  # fmt: skip
        runtime.preload_allocator(["train", "x.yaml"], {"SEQ2SEQ_MALLOC": "jemalloc"})
    with pytest.raises(ValueError, match="'fast' is not an allocator; use auto, tcmalloc"):
        runtime.preload_allocator(["train", "x.yaml"], {"SEQ2SEQ_MALLOC": "fast"})


def test_the_command_says_a_bad_allocator_in_one_sentence(tmp_path):
    env = {"SEQ2SEQ_MALLOC": "fast", "PATH": "/usr/bin:/bin"}
    result = subprocess.run([sys.executable, "-m", "seq2seq.cli", "train", "x.yaml"], env=env,
                            capture_output=True, text=True, cwd=tmp_path)  # fmt: skip
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "seq2seq: error: SEQ2SEQ_MALLOC='fast' is not an allocator; use auto, tcmalloc, jemalloc "
        "or glibc"
    ]


@pytest.mark.skipif(
    runtime.ctypes.util.find_library("tcmalloc_minimal") is None, reason="tcmalloc not installed"
)
def test_train_maps_tcmalloc_when_installed():
    """The process runs itself again, and the new one has tcmalloc mapped."""
    code = (
        "import sys; from seq2seq import runtime; runtime.preload_allocator(sys.argv[1:]);"
        "print('tcmalloc' in open('/proc/self/maps').read())"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("SEQ2SEQ_MALLOC", "LD_PRELOAD")}
    result = subprocess.run([sys.executable, "-c", code, "train"], env=env, capture_output=True,
                            text=True)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "True"
