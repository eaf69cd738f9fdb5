"""The AESLC harness (benchmarks/tasks/aeslc.py) on a tiny synthetic e-mail set (never the corpus):
LEAD and the people's rows with their command lines, and with two tiny models (slow) the copy
row beating the no-copy row, the docs section, the curves and the README block."""

from __future__ import annotations

import importlib.util
import json
import shlex
import sys
from pathlib import Path

import pytest
from aeslc_fake import write_fake_aeslc

from seq2seq.commands import main as seq2seq
from seq2seq.data.aeslc import write_aeslc
from seq2seq.data.io import ParallelSource
from seq2seq.data.prepare import prepare
from seq2seq.evaluate.lead import lead_for
from seq2seq.evaluate.metrics import score

pytest.importorskip("rouge_score")
REPO = Path(__file__).resolve().parents[2]


def _harness():
    path = REPO / "benchmarks" / "tasks" / "aeslc.py"
    spec = importlib.util.spec_from_file_location("aeslc_harness", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("aeslc-harness")
    split, prepared = root / "split", root / "prepared"
    write_aeslc(write_fake_aeslc(root / "corpus", train=160, dev=24), split)
    prepare(
        prepared,
        ParallelSource(split / "train.src", split / "train.tgt"),
        valid=ParallelSource(split / "dev.src", split / "dev.tgt"),
        task="summarisation",
        lowercase=True,
        split_punct=True,
        truncate_src=40,
        progress=False,
    )
    return split, prepared


def _args(data, tmp_path: Path) -> list[str]:
    split, prepared = data
    return ["--split", str(split), "--prepared", str(prepared), "--work", str(tmp_path / "w"),
            "--out", str(tmp_path / "results" / "aeslc")]  # fmt: skip


def test_lead_and_the_people_rows_with_command_lines_that_give_their_scores(data, tmp_path, capsys):
    split, _ = data
    harness = _harness()
    assert harness.main([*_args(data, tmp_path), "--docs", str(tmp_path / "tasks.md")]) == 0
    result = json.loads((tmp_path / "results" / "aeslc.json").read_text("utf-8"))
    rows = {row["key"]: row for row in result["rows"]}
    assert list(rows) == ["lead", "subject", "ann0"]
    outputs, length = lead_for((split / "dev.src").read_text("utf-8").splitlines(),
                               (split / "train.tgt").read_text("utf-8").splitlines())  # fmt: skip
    refs = (split / "dev.tgt").read_text("utf-8").splitlines()
    expected = score(["rouge1", "rouge2", "rougeL"], outputs, refs)
    got = {s["name"]: s["score"] for s in rows["lead"]["subject"]}
    assert [got[s.name] for s in expected] == [s.score for s in expected]
    assert got["rouge1"] > 30  # the synthetic subjects are words of the first sentence
    assert f"first {length} tokens" in rows["lead"]["system"]
    argv = shlex.split(rows["subject"]["commands"][0])  # the people's row, rerun by hand
    capsys.readouterr()
    assert seq2seq(argv[1:]) == 0
    again = {m["name"]: m["score"] for m in json.loads(capsys.readouterr().out)["metrics"]}
    assert again["rouge1"] == rows["subject"]["annotated"][0]["score"]
    assert rows["subject"]["subject"] is None and rows["ann0"]["annotated"] is None
    table = (tmp_path / "results" / "aeslc.md").read_text("utf-8")
    published = (
        "| Zhang & Tetreault 2019, multi-stage extractor/abstractor + RL (best), **test** | "
    )
    assert published + "23.67 | 10.29 | 23.44 |" in table and "DEV" in table
    assert not (tmp_path / "tasks.md").exists()  # no model row: the docs are left alone


def _train(prepared: Path, out: Path, copy: bool) -> Path:
    from seq2seq.config import Config
    from seq2seq.experiment import build_trainer

    config = Config.model_validate({
        "data": {"dir": str(prepared), "batch_size": 16, "reverse_source": False},
        "model": {"embedding_size": 32, "hidden_size": 48, "layers": 1, "bidirectional": True,
                  "context": "attention", "attention": "bahdanau", "input_feeding": False,
                  "copy": copy},
        "train": {"out_dir": str(out), "optimizer": "adam", "lr": 0.01, "schedule": "constant",
                  "normalize": "tokens", "max_steps": 200, "valid_every": 100, "log_every": 20,
                  "tensorboard": False, "threads": 1, "best_metric": "bleu"},
        "decode": {"beam_size": 2, "batch_size": 32},
    })  # fmt: skip
    build_trainer(config).fit()
    return out / "best.safetensors"


@pytest.mark.slow
def test_the_copy_row_beats_no_copy_and_the_docs_and_readme_are_written(data, tmp_path):
    _, prepared = data
    nocopy = _train(prepared, tmp_path / "runs" / "nocopy", copy=False)
    copy = _train(prepared, tmp_path / "runs" / "copy", copy=True)
    readme = tmp_path / "README.md"
    readme.write_text("intro\n<!-- aeslc: begin -->\nold\n<!-- aeslc: end -->\nrest\n", "utf-8")
    docs = tmp_path / "docs" / "tasks.md"
    argv = [*_args(data, tmp_path), "--copy", str(copy), "--nocopy", str(nocopy)]
    assert _harness().main([*argv, "--docs", str(docs), "--readme", str(readme)]) == 0
    result = json.loads((tmp_path / "results" / "aeslc.json").read_text("utf-8"))
    rows = {row["key"]: row for row in result["rows"]}
    assert list(rows) == ["lead", "nocopy", "copy", "subject", "ann0"]
    r1 = {k: next(s["score"] for s in rows[k]["subject"] if s["name"] == "rouge1")
          for k in ("nocopy", "copy")}  # fmt: skip
    # made-up words are nearly all outside the target vocabulary: only copying can write them
    assert r1["copy"] > r1["nocopy"] + 10, r1
    assert rows["copy"]["commands"][0].startswith("seq2seq evaluate --checkpoint")
    assert "--ref" in rows["copy"]["commands"][1] and rows["copy"]["annotated"]
    page = docs.read_text("utf-8")
    assert "<!-- task: aeslc -->" in page and "seq2seq with copy (beam 5)" in page
    assert (docs.parent / "aeslc-curves.png").is_file()
    assert (docs.parent / "aeslc-nocopy-curves.png").is_file()
    text = readme.read_text("utf-8")
    assert "old" not in text and text.startswith("intro\n") and text.endswith("rest\n")
    assert "| seq2seq with copy (beam 5) |" in text
    assert any(g["goal"].startswith("copy beats the same model without copy") and g["met"]
               for g in result["goals"])  # fmt: skip
