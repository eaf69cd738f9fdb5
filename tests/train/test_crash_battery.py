"""The crash battery: a training run stopped by kill -9 at random moments and during every kind of
write, and by SIGINT / SIGTERM mid-step, mid-validation and mid-save, resumed with --resume each
time, ends bit-identical (weights, optimiser, random generators, schedule, log) to a run never
stopped; best and last agree with the log, and no temporary file remains (docs/reliability.md).

The stops are deterministic where it matters: the named points come from checkpoint.py's
`SEQ2SEQ_FAULT` hook, the random moments from a seeded generator, and no assertion depends on
where a random stop landed. The runs are real processes (tests/train/crash_runner.py).
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import yaml

from seq2seq.checkpoint import read_checkpoint
from seq2seq.train.metrics_log import read_log
from seq2seq.train.rundir import Best, Manifest, RunDir

HERE = Path(__file__).resolve().parent
SEED = 13
MAX_STEPS = 120

# (name, SEQ2SEQ_FAULT, the exit status it must end with). Order matters where a point needs
# the previous stop's leftovers: `recover` follows an uncommitted step file and manifest, and
# `write.log` (the resumed run cutting its log back) a stop after logging past the last commit.
FAULTS = [
    ("kill -9 with the second manifest written, not renamed", "write.manifest@2", -9),
    ("kill -9 in the start-up recovery", "recover", -9),
    ("kill -9 mid-validation", "valid.metrics", -9),
    ("kill -9 while cutting the log back at start-up", "write.log", -9),
    ("kill -9 with a step file written, not renamed", "write.step", -9),
    ("kill -9 just after the commit (best, last stale)", "commit", -9),
    ("kill -9 while recording the config", "write.config", -9),
    ("kill -9 while relinking last", "write.last", -9),
    ("kill -9 while relinking best", "write.best", -9),
    ("kill -9 while pruning", "prune", -9),
    ("kill -9 between the update and the step count", "train.update@2", -9),
    ("SIGINT mid-step (after the forward pass)", "train.forward@2:INT", 130),
    ("SIGTERM between the update and the step count", "train.update@2:TERM", 143),
    ("SIGINT mid-validation", "valid.metrics:INT", 130),
    ("SIGTERM while writing a step file", "write.step:TERM", 143),
    ("SIGINT while writing the manifest", "write.manifest:INT", 130),
]
RANDOM_KILLS = 12
RANDOM_SIGNALS = [["INT"], ["TERM"], ["INT", "INT"], ["TERM"]]  # the last pair: Ctrl-C twice


@pytest.fixture(scope="module")
def demo_data(tmp_path_factory) -> Path:
    """The demo task's synthetic language (seq2seq/demo_task.py): a vocabulary of 60 words makes
    checkpoints of kilobytes and steps of milliseconds."""
    from seq2seq.data.io import ParallelSource
    from seq2seq.data.prepare import prepare
    from seq2seq.demo_task import make_splits

    tmp = tmp_path_factory.mktemp("demo")
    sources = {}
    for split, pairs in make_splits({"train": 640, "valid": 48}, seed=SEED).items():
        paths = []
        for side, lang in ((0, "en"), (1, "xx")):
            paths.append(tmp / f"{split}.{lang}")
            paths[-1].write_text("\n".join(p[side] for p in pairs) + "\n", "utf-8")
        sources[split] = ParallelSource(*paths)
    prepare(tmp / "data", sources["train"], valid=sources["valid"], vocab="word", progress=False)
    return tmp / "data"


def _config(data: Path, out: Path, **train) -> dict:
    return {
        "data": {"dir": str(data), "batch_size": 16},
        "model": {"embedding_size": 16, "hidden_size": 24, "layers": 1, "dropout": 0.3},
        "train": {
            "out_dir": str(out),
            "device": "cpu",
            "threads": 1,
            "optimizer": "adam",
            "lr": 0.02,
            "schedule": "plateau",  # validation results steer the learning rate
            "plateau_patience": 0,
            "epochs": 100,
            "max_steps": MAX_STEPS,
            "valid_every": 4,
            "save_every": 3,  # saves fall between validations, and an improvement saves too
            "log_every": 2,  # a save between log lines carries the half-filled log window
            "keep_last": 2,
            "tensorboard": False,
            "valid_bleu": True,
            **train,
        },
    }


def _write(config: dict, path: Path) -> str:
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return str(path)


def _plan(tmp: Path, data: Path) -> list[dict]:
    ref_cfg = _write(_config(data, tmp / "ref", save_every=1, keep_last=10_000), tmp / "ref.yaml")
    cfg = _write(_config(data, tmp / "run"), tmp / "run.yaml")
    rng = random.Random(SEED)
    runs = [{"name": "unbroken", "argv": ["train", ref_cfg], "run_dir": str(tmp / "ref")}]
    cases = [{"name": n, "fault": f, "expect": e} for n, f, e in FAULTS]
    # random stops go last: how far a run gets before one depends on the machine's speed
    stops = [["KILL"]] * RANDOM_KILLS + RANDOM_SIGNALS
    rng.shuffle(stops)
    for signals in stops:  # each at a moment up to 1.5 steps after a step 1 to 4 steps on
        stop = {
            "signals": signals,
            "after": rng.randint(1, 4),
            "delay_steps": round(rng.uniform(0.0, 1.5), 3),
            "gap": 0.003,
        }
        name = f"{'+'.join(signals)} {stop['delay_steps']:.2f} steps after step +{stop['after']}"
        expect = {"KILL": -9, "INT": 130, "TERM": 143}[signals[-1]]
        cases.append({"name": name, "stop": stop, "expect": expect})
    cases.append({"name": "the last resume, to the end", "expect": 0})
    for i, case in enumerate(cases):
        argv = ["train", cfg] + (["--resume"] if i else [])
        runs.append({**case, "argv": argv, "run_dir": str(tmp / "run")})
    for i, run in enumerate(runs):
        run.update(log=str(tmp / f"stderr-{i:02d}.txt"), archive=str(tmp / "archive"))
        if run["name"] == "unbroken":
            run["archive"] = None
    return runs


def _state(path: Path) -> dict:
    """What must survive a stop: every tensor and number of a checkpoint but the clock's."""
    ckpt = read_checkpoint(path)
    run = dict(ckpt.train_state["run"])
    for clock in ("train_seconds", "last_save_step"):
        run.pop(clock)
    window = {k: v for k, v in ckpt.train_state["window"].items() if k != "seconds"}
    optim = ckpt.optim_state
    return {
        "tensors": {
            **{f"model.{k}": v for k, v in ckpt.model_state.items()},
            **{f"rng.{k}": v for k, v in ckpt.rng_state.items()},
            **{f"optim.{i}.{k}": v for i, s in optim["state"].items() for k, v in s.items()},
        },
        "param_groups": optim["param_groups"],
        "run": run,
        "schedule": ckpt.train_state["schedule"],
        "window": window,
    }


def _assert_same(a: dict, b: dict, where: str, validated: bool = True) -> None:
    assert a["tensors"].keys() == b["tensors"].keys(), where
    for name, tensor in a["tensors"].items():
        assert torch.equal(tensor, b["tensors"][name]), f"{where}: {name} differs"
    assert a["param_groups"] == b["param_groups"], where
    assert a["window"] == b["window"], where
    if validated:
        assert (a["run"], a["schedule"]) == (b["run"], b["schedule"]), where
    else:  # a stop abandoned this step's validation; the resumed run does it first
        fields = ("step", "epoch", "batch_in_epoch", "target_tokens")
        assert [a["run"][k] for k in fields] == [b["run"][k] for k in fields], where


def _records(run: Path) -> list[tuple]:
    """The log without its clock and memory: every record's kind, step and measured values."""
    clock = {"time", "tgt_tok_s", "rss_mb", "peak_rss_mb"}
    return [
        (r["kind"], r["step"], sorted((k, v) for k, v in r.items() if k not in clock))
        for r in read_log(run / "log.jsonl")
    ]


@pytest.mark.slow
def test_crash_battery(demo_data, tmp_path):
    plan = _plan(tmp_path, demo_data)
    (tmp_path / "plan.json").write_text(json.dumps({"runs": plan}), encoding="utf-8")
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    env.pop("SEQ2SEQ_FAULT", None)
    subprocess.run(
        [sys.executable, str(HERE / "crash_runner.py"), str(tmp_path / "plan.json"),
         str(tmp_path / "result.json")],
        check=True, env=env, timeout=600,
    )  # fmt: skip
    results = json.loads((tmp_path / "result.json").read_text(encoding="utf-8"))

    def stderr(i: int) -> str:
        return (tmp_path / f"stderr-{i:02d}.txt").read_text(encoding="utf-8", errors="replace")

    ref, run = tmp_path / "ref", tmp_path / "run"
    assert results[0]["code"] == 0, stderr(0)[-2000:]
    kills = signals = 0
    for i, (case, result) in enumerate(zip(plan[1:], results[1:]), start=1):
        where = f"run {i} ({case['name']}): exit {result['code']}\n{stderr(i)[-2000:]}"
        assert result["code"] == case["expect"], where
        if case.get("stop"):
            assert result["stopped"], where  # the signal, not the end of training, stopped it
        if case["expect"] == -9:
            kills += 1
        elif case["expect"] in (130, 143):
            signals += 1
            if case.get("stop", {}).get("signals", [""])[-2:] != ["INT", "INT"]:
                # a single signal: the run saved the step it was in and committed it
                assert f"saved step {result['manifest']['last']} in" in stderr(i), where
        if i > 1:
            assert "resumed from" in stderr(i), where
    assert kills >= 10 + RANDOM_KILLS and signals >= 5 + len(RANDOM_SIGNALS)

    # the end: bit-identical to the unbroken run, and so is every checkpoint written on the way
    _assert_same(_state(run / "last.safetensors"), _state(ref / "last.safetensors"), "last")
    archived = sorted((tmp_path / "archive").iterdir())
    assert len(archived) > len(plan) // 2
    for file in archived:
        step = int(file.name.split("-")[2].split(".")[0])
        mine, theirs = _state(file), _state(RunDir(ref).step_path(step))
        validated = mine["run"]["last_valid_step"] == theirs["run"]["last_valid_step"]
        _assert_same(mine, theirs, file.name, validated)
    assert _records(run) == _records(ref)  # the log too: no record lost, doubled or altered

    # best and last are the manifest's, which agrees with the log; nothing else is left
    manifest = RunDir(run).committed()
    valid = read_log(run / "log.jsonl", "valid")
    best = min(valid, key=lambda r: r["ppl"])
    assert manifest.last == MAX_STEPS and manifest.best == Best(best["step"], "ppl", best["ppl"])
    assert os.path.samefile(run / "last.safetensors", RunDir(run).step_path(MAX_STEPS))
    assert os.path.samefile(run / "best.safetensors", RunDir(run).step_path(best["step"]))
    assert read_checkpoint(run / "best.safetensors").train_state["run"]["best"] == best["ppl"]
    steps = sorted(s for s, _ in RunDir(run).step_checkpoints())
    assert steps == manifest.steps and best["step"] in steps
    left = [p.name for p in run.rglob("*") if p.name.endswith(".tmp") or "-tmp-" in p.name]
    assert left == []
    assert f"best dev ppl {best['ppl']:.2f} at step {best['step']}" in stderr(len(plan) - 1)


# ---------------------------------------------------------------------------------------------
# The parts, one at a time (seconds)


def _tiny(data: Path, out: Path, **train):
    from seq2seq.config import Config

    cfg = _config(data, out, max_steps=8, valid_every=4, save_every=4, valid_bleu=False)
    cfg["train"].update(train)
    return Config.model_validate(cfg)


def test_the_start_up_check_repairs_what_a_kill_left(tmp_path):
    from seq2seq.config import Config

    run = RunDir(tmp_path / "run")
    run.start(Config(), resume=False, overwrite=False)
    for step in (3, 6, 9):
        best = Best(step, "ppl", 10.0 - step) if step == 6 else None
        run.save(f"checkpoint {step}".encode(), step, keep_last=2, best=best)
    assert run.committed().steps == [6, 9]
    # what kills can leave: temporary files of writes, a step file written but never committed,
    # one committed away but not yet pruned, best and last not (yet) following the manifest
    leftovers = [
        run.checkpoints / ".step-00000012.safetensors.k1ll.tmp",
        run.path / ".manifest.json.k1ll.tmp",
        run.path / ".last.safetensors.k1ll.tmp",
    ]
    for path in [*leftovers, run.step_path(12), run.step_path(3)]:
        path.write_bytes(b"left behind")
    run.last.unlink()
    run.last.write_bytes(b"checkpoint 6")  # stale: a copy, as an older version wrote it
    run.best.unlink()

    again = RunDir(tmp_path / "run")
    again.start(Config(), resume=True, overwrite=False)
    assert again.manifest == Manifest(last=9, best=Best(6, "ppl", 4.0), steps=[6, 9])
    assert [s for s, _ in again.step_checkpoints()] == [6, 9]
    assert not any(p.exists() for p in leftovers)
    assert os.path.samefile(again.last, again.step_path(9))
    assert os.path.samefile(again.best, again.step_path(6))
    assert again.last.read_bytes() == b"checkpoint 9"


def test_the_best_checkpoint_outlives_pruning(tmp_path):
    from seq2seq.config import Config

    run = RunDir(tmp_path / "run")
    run.start(Config(), resume=False, overwrite=False)
    run.save(b"step 1", 1, keep_last=1, best=Best(1, "ppl", 3.0))
    for step in range(2, 6):
        run.save(f"step {step}".encode(), step, keep_last=1)
    assert [s for s, _ in run.step_checkpoints()] == [1, 5]
    assert run.best.read_bytes() == b"step 1" and run.last.read_bytes() == b"step 5"


def test_a_run_directory_from_before_manifests_resumes(demo_data, tmp_path):
    from seq2seq.experiment import build_trainer

    build_trainer(_tiny(demo_data, tmp_path / "run")).fit()
    run = RunDir(tmp_path / "run")
    # the older layout: no manifest; best and last are copies of their own
    run.manifest_path.unlink()
    for link in (run.best, run.last):
        data = link.read_bytes()
        link.unlink()
        link.write_bytes(data)
    valid = read_log(run.log, "valid")
    best = min(valid, key=lambda r: r["ppl"])
    assert run.committed() == Manifest(
        last=8, best=Best(best["step"], "ppl", best["ppl"]), steps=[4, 8]
    )

    trainer = build_trainer(_tiny(demo_data, tmp_path / "run", max_steps=12), resume=True)
    assert trainer.state.step == 8 and run.manifest_path.is_file()
    trainer.fit()
    assert RunDir(tmp_path / "run").committed().last == 12


def test_a_refused_resume_writes_nothing(demo_data, tmp_path):
    from seq2seq.errors import CheckpointError
    from seq2seq.experiment import build_trainer

    build_trainer(_tiny(demo_data, tmp_path / "run", max_steps=4)).fit()
    (tmp_path / "run" / ".config.yaml.k1ll.tmp").write_text("a killed write")

    def snapshot() -> dict:
        return {
            p: (p.read_bytes(), p.stat().st_mtime_ns)
            for p in (tmp_path / "run").rglob("*")
            if p.is_file()
        }

    before = snapshot()
    other = _tiny(demo_data, tmp_path / "run", max_steps=4)
    other.model.hidden_size = 32
    with pytest.raises(CheckpointError, match="model.hidden_size=24 but the config asks for 32"):
        build_trainer(other, resume=True)
    assert snapshot() == before


@pytest.mark.parametrize(
    ("valid_every", "message"),
    [(1, "diverged by step 1: the dev loss is"), (100, "diverged at step 2: the loss is")],
    ids=["seen-by-validation", "seen-by-the-next-step"],
)
def test_a_diverging_run_stops_with_an_error_and_marks_nothing_best(
    demo_data, tmp_path, capsys, valid_every, message
):
    from seq2seq.commands import main

    cfg = _config(demo_data, tmp_path / "run", max_steps=40, valid_every=valid_every, save_every=1)
    cfg["train"].update(optimizer="sgd", lr=1e4, clip_mode="none", schedule="constant")
    assert main(["train", _write(cfg, tmp_path / "diverge.yaml")]) == 2
    err = capsys.readouterr().err
    assert f"error: training {message}" in err and "lower train.lr (now 10000)" in err
    assert "done:" not in err
    run = RunDir(tmp_path / "run")
    manifest = run.committed()
    assert manifest is None or manifest.last < 2  # nothing of the diverged steps was saved
    assert not run.best.exists()


# ---------------------------------------------------------------------------------------------
# One process per run directory, and the run directory's files moved under it (issue 22)


def _cli(*argv: str, **kw) -> subprocess.CompletedProcess:
    """`python -m seq2seq.cli ARGV` with Ctrl-C's default disposition (a background shell job
    inherits SIGINT ignored)."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    env.pop("SEQ2SEQ_FAULT", None)
    return subprocess.run(
        [sys.executable, "-m", "seq2seq.cli", *argv], env=env, capture_output=True, text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL), timeout=300, **kw,
    )  # fmt: skip


def _start_training(demo_data: Path, tmp_path: Path) -> tuple[subprocess.Popen, str]:
    """A `seq2seq train` that runs until killed, once it has saved a best checkpoint."""
    cfg = _write(_config(demo_data, tmp_path / "run", max_steps=10**6, valid_bleu=False),
                 tmp_path / "long.yaml")  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    env.pop("SEQ2SEQ_FAULT", None)
    proc = subprocess.Popen([sys.executable, "-m", "seq2seq.cli", "train", cfg], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)  # fmt: skip
    deadline = time.monotonic() + 120
    while not (tmp_path / "run" / "best.safetensors").exists():
        assert proc.poll() is None and time.monotonic() < deadline, proc.stderr.read()
        time.sleep(0.02)
    return proc, cfg


@pytest.mark.slow
def test_a_second_train_on_a_run_directory_is_refused_naming_the_holder(demo_data, tmp_path):
    proc, cfg = _start_training(demo_data, tmp_path)
    try:
        for extra in (["--resume"], ["--overwrite"]):
            second = _cli("train", cfg, *extra)
            assert second.returncode == 2, second.stderr
            sentence = second.stderr.strip()
            assert sentence.count("\n") == 0 and "Traceback" not in sentence, sentence
            assert f"run directory {tmp_path / 'run'} is in use by process {proc.pid}" in sentence
            assert "train" in sentence and "since" in sentence
        assert (tmp_path / "run" / "best.safetensors").exists()  # --overwrite deleted nothing
        # the neighbour: reading best while the run trains is allowed (readers take no lock)
        src = tmp_path / "in.txt"
        src.write_text((demo_data / "valid.src").read_text("utf-8").splitlines()[0] + "\n")
        read = _cli("translate", "--checkpoint", str(tmp_path / "run" / "best.safetensors"),
                    "--input", str(src), "--quiet")  # fmt: skip
        assert read.returncode == 0 and read.stdout.strip(), read.stderr
    finally:
        proc.kill()  # kill -9: the lock dies with the process
        proc.wait()
    resumed = _cli("train", cfg, "--resume", "--set", "train.max_steps=1")
    assert resumed.returncode == 0, resumed.stderr


def test_two_prepares_into_one_folder_are_refused(demo_data, tmp_path):
    from seq2seq.commands import main
    from seq2seq.locking import hold

    out = tmp_path / "data"
    src, tgt = tmp_path / "train.en", tmp_path / "train.xx"
    src.write_text("a b\nc d\n", "utf-8")
    tgt.write_text("e f\ng h\n", "utf-8")
    argv = ["prepare", "--src", str(src), "--tgt", str(tgt), "--out", str(out)]
    with hold(out, "--out"):  # the first prepare, still writing
        assert main(argv) == 2
        assert not (out / "manifest.json").exists()
    assert main(argv) == 0  # the neighbour: one after the other is fine


def _tiny_run(demo_data: Path, tmp_path: Path) -> RunDir:
    from seq2seq.experiment import build_trainer

    build_trainer(_tiny(demo_data, tmp_path / "run")).fit()
    return RunDir(tmp_path / "run")


def test_a_deleted_step_file_is_recovered_from_its_intact_link(demo_data, tmp_path, caplog):
    from seq2seq.experiment import build_trainer

    run = _tiny_run(demo_data, tmp_path)
    last = run.committed().last
    run.step_path(last).unlink()  # last.safetensors still holds the same bytes
    build_trainer(_tiny(demo_data, run.path, max_steps=12), resume=True).fit()
    assert run.committed().last == 12 and "restored from last.safetensors" in caplog.text


def test_a_deleted_step_file_without_a_link_says_what_the_manifest_names(demo_data, tmp_path):
    from seq2seq.errors import CheckpointError
    from seq2seq.experiment import build_trainer

    run = _tiny_run(demo_data, tmp_path)
    last = run.committed().last
    run.step_path(last).unlink()
    run.last.unlink()
    if run.committed().best.step == last:
        run.best.unlink()
    with pytest.raises(CheckpointError, match="names as the run's last checkpoint; put the file"):
        build_trainer(_tiny(demo_data, run.path, max_steps=12), resume=True)


def test_a_shortlist_added_to_best_survives_a_resume(demo_data, tmp_path):
    from seq2seq.checkpoint import read_shortlist
    from seq2seq.commands import main
    from seq2seq.experiment import build_trainer

    run = _tiny_run(demo_data, tmp_path)
    assert main(["shortlist", "--checkpoint", str(run.best), "--k", "3"]) == 0
    best_step = run.committed().best.step
    assert os.path.samefile(run.best, run.step_path(best_step))  # written into the step file
    trainer = build_trainer(_tiny(demo_data, run.path, max_steps=12), resume=True)  # recovers
    assert os.path.samefile(run.best, run.step_path(best_step))
    assert read_shortlist(run.best).table.size(1) == 3
    # the neighbour: a run directory in use refuses the shortlist (the resumed run holds it)
    assert main(["shortlist", "--checkpoint", str(run.best), "--k", "2"]) == 2
    del trainer
    # and a checkpoint outside any run directory is rewritten in place
    alone = tmp_path / "alone.safetensors"
    alone.write_bytes(run.best.read_bytes())
    assert main(["shortlist", "--checkpoint", str(alone), "--k", "2"]) == 0
    assert read_shortlist(alone).table.size(1) == 2


@pytest.mark.slow
def test_ctrl_c_again_and_again_stops_quietly_at_any_moment(demo_data, tmp_path):
    """SIGINT every few milliseconds from the first training step to the end: the signals land in
    the handler, the save, the log's closing and the command's last message; the run ends with
    130 and one line, never a traceback, and resumes."""
    cfg = _write(_config(demo_data, tmp_path / "run", max_steps=10**6), tmp_path / "c.yaml")
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    env.pop("SEQ2SEQ_FAULT", None)
    for attempt, delay in enumerate((0.0, 0.05, 0.2)):
        argv = [sys.executable, "-m", "seq2seq.cli", "train", cfg] + (
            ["--resume"] if attempt else []
        )
        proc = subprocess.Popen(argv, env=env, stderr=subprocess.PIPE, text=True,
                                preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))  # fmt: skip
        top = _log_top(tmp_path / "run" / "log.jsonl")
        manifest = tmp_path / "run" / "manifest.json"  # a commit to resume from
        while (_log_top(manifest.parent / "log.jsonl") <= top or not manifest.exists()) and (
            proc.poll() is None
        ):
            time.sleep(0.005)
        time.sleep(delay)
        while proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            time.sleep(0.003)
        err = proc.stderr.read()
        assert proc.returncode == 130 and "Traceback" not in err, err[-3000:]
    final = _cli("train", cfg, "--resume", "--set", "train.max_steps=1")
    assert final.returncode == 0, final.stderr


def _log_top(path: Path) -> int:
    try:
        return max([-1] + [r["step"] for r in read_log(path)])
    except (OSError, ValueError, KeyError):
        return -1
