"""Two nodes on one machine: `torchrun --nnodes 2 --node-rank {0,1} --master-addr 127.0.0.1` (gloo)
trains to the very weights of one node's two processes, and a node killed mid-run (agent and
worker, SIGKILL) makes the other fail with one sentence; relaunching both with --resume finishes
with the weights of the run that was never killed, dropout included (each rank's generator is in
the checkpoint)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import yaml

from seq2seq.checkpoint import read_checkpoint
from seq2seq.train.metrics_log import read_log

STEPS, SAVE_EVERY, STOP_AT = 30, 5, 13  # the killed node freezes at its 13th step: 10 committed


def _config(data_dir: Path, tmp: Path, run: str) -> Path:
    cfg = {
        "data": {"dir": str(data_dir), "batch_size": 32},
        "model": {"embedding_size": 32, "hidden_size": 48, "layers": 1, "dropout": 0.3},
        "train": {
            "out_dir": str(tmp / run), "optimizer": "sgd", "lr": 0.5, "schedule": "constant",
            "normalize": "sentences", "max_steps": STEPS, "valid_every": STEPS,
            "save_every": SAVE_EVERY, "log_every": 5, "valid_bleu": False, "tensorboard": False,
            "threads": 1,
        },
    }  # fmt: skip
    path = tmp / f"{run}.yaml"
    path.write_text(yaml.safe_dump(cfg), encoding="utf-8")
    return path


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "SEQ2SEQ_FAULT"}
    return {**env, "OMP_NUM_THREADS": "1", **extra}


def _node(rank: int, port: int, config: Path, *extra: str, **env: str) -> subprocess.Popen:
    """One node's torchrun: its agent and one worker, in a session of their own."""
    cmd = [
        sys.executable, "-m", "torch.distributed.run", "--nnodes", "2", "--nproc-per-node", "1",
        "--node-rank", str(rank), "--master-addr", "127.0.0.1", "--master-port", str(port),
        "-m", "seq2seq.cli", "train", str(config), *extra,
    ]  # fmt: skip
    return subprocess.Popen(
        cmd, env=_env(**env), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        start_new_session=True,
    )  # fmt: skip


def _two_nodes(config: Path, *extra: str) -> None:
    port = _free_port()
    nodes = [_node(rank, port, config, *extra) for rank in (0, 1)]
    outputs = [node.communicate(timeout=300)[0] for node in nodes]
    for rank, (node, out) in enumerate(zip(nodes, outputs)):
        assert node.returncode == 0, f"node {rank}:\n{out[-3000:]}"


def _weights(run: Path) -> dict[str, torch.Tensor]:
    return read_checkpoint(run / "last.safetensors").model_state


def _assert_same_weights(a: Path, b: Path) -> None:
    wa, wb = _weights(a), _weights(b)
    assert wa.keys() == wb.keys()
    for name in wa:
        assert torch.equal(wa[name], wb[name]), name


@pytest.fixture(scope="module")
def one_node(data_dir, tmp_path_factory) -> Path:
    """The reference: one node, two processes (`--standalone --nproc-per-node 2`)."""
    tmp = tmp_path_factory.mktemp("one-node")
    cmd = [
        sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
        "-m", "seq2seq.cli", "train", str(_config(data_dir, tmp, "run")),
    ]  # fmt: skip
    result = subprocess.run(cmd, env=_env(), capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    return tmp / "run"


def test_two_nodes_train_to_the_weights_of_one_node_with_two_processes(
    one_node, data_dir, tmp_path
):
    _two_nodes(_config(data_dir, tmp_path, "run"))
    _assert_same_weights(one_node, tmp_path / "run")
    train = read_log(tmp_path / "run" / "log.jsonl", "train")
    assert [r["step"] for r in train] == list(range(5, STEPS + 1, 5))  # rank 0 alone logs
    assert train[-1]["loss"] < train[0]["loss"]
    assert train[-1]["peak_rss_mb"] >= train[-1]["rss_mb"] > 50  # the log line records memory


def _tree(pid: int) -> list[int]:
    """`pid` and its descendants (torchrun's workers run in sessions of their own)."""
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        try:
            for task in os.listdir(f"/proc/{current}/task"):
                todo += map(int, Path(f"/proc/{current}/task/{task}/children").read_text().split())
        except OSError:
            continue
    return found


def _frozen(pid: int) -> bool:
    """Whether a process of `pid`'s tree is stopped (SIGSTOP by its fault point)."""
    for member in _tree(pid):
        try:
            state = Path(f"/proc/{member}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue
        if state == "T":
            return True
    return False


@pytest.mark.slow
@pytest.mark.parametrize("victim", [1, 0], ids=["worker-node-killed", "master-node-killed"])
def test_a_killed_node_stops_the_other_and_both_resume_to_the_same_weights(
    one_node, data_dir, tmp_path, victim
):
    config = _config(data_dir, tmp_path, "run")
    port = _free_port()
    freeze = {"SEQ2SEQ_FAULT": f"train.forward@{STOP_AT}:STOP"}
    nodes = [_node(rank, port, config, **(freeze if rank == victim else {})) for rank in (0, 1)]
    deadline = time.time() + 240
    while not _frozen(nodes[victim].pid) and time.time() < deadline:
        assert nodes[1 - victim].poll() is None, nodes[1 - victim].communicate()[0][-3000:]
        time.sleep(0.05)
    for pid in _tree(nodes[victim].pid):  # the whole node: its torchrun agent and its worker
        os.kill(pid, signal.SIGKILL)
    nodes[victim].communicate()
    start = time.time()
    survivor = nodes[1 - victim].communicate(timeout=120)[0]
    assert nodes[1 - victim].returncode != 0
    assert time.time() - start < 60  # promptly, not after a collective's 30-minute timeout
    assert "another training process stopped" in survivor and "--resume" in survivor, survivor
    manifest = (tmp_path / "run" / "manifest.json").read_text(encoding="utf-8")
    assert '"last": 10' in manifest  # the last step committed before the kill

    _two_nodes(config, "--resume")
    _assert_same_weights(one_node, tmp_path / "run")
    steps = [r["step"] for r in read_log(tmp_path / "run" / "log.jsonl", "train")]
    assert steps == list(range(5, STEPS + 1, 5))  # each step logged once, resumed from 10


def _slurm_script() -> str:
    """The sbatch script of docs/scaling.md, as a user copies it."""
    text = (Path(__file__).resolve().parents[2] / "docs" / "scaling.md").read_text(encoding="utf-8")
    start = text.index("```bash\n#!/bin/bash") + len("```bash\n")
    return text[start : text.index("```", start)]


def _port_for_job() -> int:
    """A free port in 20000-39999, which the script's `20000 + job id % 20000` can name."""
    for port in range(20000 + os.getpid() % 1000, 40000, 997):
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port in 20000-39999")


@pytest.mark.slow
def test_the_slurm_script_of_docs_scaling_md_trains_on_two_nodes(one_node, data_dir, tmp_path):
    """Run as it is under stand-ins: `scontrol` names the nodes, `srun` starts one task a node."""
    bin_dir, venv = tmp_path / "bin", tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    bin_dir.mkdir()
    python_bin = Path(sys.executable).parent
    (venv / "bin" / "activate").write_text(f'export PATH="{python_bin}:$PATH"\n')
    stand_ins = {
        "scontrol": '[ "$1 $2" = "show hostnames" ] && echo 127.0.0.1 && echo 127.0.0.2\n',
        "srun": 'shift; pids=""\nfor node in 0 1; do SLURM_NODEID=$node "$@" & pids="$pids $!"; '
        "done\nstatus=0\nfor pid in $pids; do wait $pid || status=1; done\nexit $status\n",
    }
    for name, body in stand_ins.items():
        (bin_dir / name).write_text("#!/bin/bash\n" + body)
        (bin_dir / name).chmod(0o755)
    script = tmp_path / "train.sbatch"
    script.write_text(_slurm_script())
    port = _port_for_job()
    env = _env(
        PATH=f"{bin_dir}:{os.environ['PATH']}", CONFIG=str(_config(data_dir, tmp_path, "ignored")),
        OUT=str(tmp_path / "run"), VENV=str(venv), SLURM_JOB_NODELIST="node[1-2]",
        SLURM_JOB_ID=str(port - 20000), SLURM_JOB_NUM_NODES="2", SLURM_CPUS_PER_TASK="1",
    )  # fmt: skip
    result = subprocess.run(["bash", str(script)], env=env, capture_output=True, text=True,
                            timeout=300)  # fmt: skip
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    _assert_same_weights(one_node, tmp_path / "run")
    assert not (tmp_path / "ignored").exists()  # train.out_dir came from OUT
