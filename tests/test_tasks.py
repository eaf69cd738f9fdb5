"""The task notion (seq2seq/tasks.py): the registry, and a task recorded by `prepare --task`,
copied into every checkpoint by training and read back; data and checkpoints without one are
translations."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import get_args

import pytest

from seq2seq.tasks import DEFAULT_TASK, TASKS, TaskName, get_task

PAIRS = [("how are you", "fine thanks"), ("what time is it", "it is late"), ("hello", "hi there")]


def test_the_registry_lists_every_task_once_with_its_labels_and_metrics():
    from seq2seq.evaluate.metrics import METRICS, METRICS_BY_TASK

    assert tuple(TASKS) == get_args(TaskName)
    assert set(TASKS) == {"translation", "chatbot", "summarisation", "pronunciation", "speech"}
    assert TASKS["chatbot"].labels == "Question \u2192 Answer"
    assert TASKS["translation"].labels == "Text \u2192 Translation"
    assert TASKS["pronunciation"].labels == "Word \u2192 Pronunciation"
    assert TASKS["summarisation"].labels == "E-mail \u2192 Subject"
    assert TASKS["speech"].labels == "Audio \u2192 Transcript"
    assert [name for name, task in TASKS.items() if task.libretranslate] == ["translation"]
    for name, task in TASKS.items():  # one place: the metrics module reads the registry
        assert set(task.metrics) <= set(METRICS), name
        assert METRICS_BY_TASK[name] == list(task.metrics)
    assert TASKS["chatbot"].metrics == ("bleu", "chrf", "distinct-1", "distinct-2", "length")


def test_no_task_is_a_translation_and_an_unknown_one_is_named():
    from seq2seq.errors import ConfigError

    assert get_task(None).name == DEFAULT_TASK == "translation"
    with pytest.raises(ConfigError, match=r"unknown task 'poetry' in x.json; tasks: translation, "):
        get_task("poetry", "x.json")


def _write_pairs(folder: Path) -> tuple[Path, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    src, tgt = folder / "train.src", folder / "train.tgt"
    src.write_text("".join(q + "\n" for q, _ in PAIRS * 20), encoding="utf-8")
    tgt.write_text("".join(a + "\n" for _, a in PAIRS * 20), encoding="utf-8")
    return src, tgt


def _train(data_dir: Path, run_dir: Path) -> Path:
    from seq2seq.config import Config
    from seq2seq.experiment import build_trainer

    config = Config.model_validate(
        {
            "data": {"dir": str(data_dir), "batch_size": 8},
            "model": {"embedding_size": 8, "hidden_size": 8, "layers": 1},
            "train": {"out_dir": str(run_dir), "max_steps": 2, "valid_every": 2, "log_every": 1,
                      "valid_bleu": False, "tensorboard": False, "threads": 1},
        }
    )  # fmt: skip
    build_trainer(config).fit()
    return run_dir


def test_prepare_records_the_task_and_training_copies_it_into_every_checkpoint(tmp_path):
    from seq2seq.checkpoint import read_task
    from seq2seq.data.io import ParallelSource
    from seq2seq.data.prepare import load_prepared, prepare, summary_table

    src, tgt = _write_pairs(tmp_path / "text")
    prepare(tmp_path / "data", ParallelSource(src, tgt), valid=ParallelSource(src, tgt),
            task="chatbot")  # fmt: skip
    manifest = json.loads((tmp_path / "data" / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["task"] == "chatbot" and load_prepared(tmp_path / "data").task == "chatbot"
    assert summary_table(manifest).startswith("chatbot, src -> tgt: word vocabulary")
    run = _train(tmp_path / "data", tmp_path / "run")
    checkpoints = [run / "best.safetensors", run / "last.safetensors"]
    checkpoints += sorted((run / "checkpoints").glob("*.safetensors"))
    assert len(checkpoints) >= 3
    assert {read_task(path).name for path in checkpoints} == {"chatbot"}


def test_data_and_checkpoints_from_before_tasks_are_translations(tmp_path):
    from seq2seq.checkpoint import checkpoint_bytes, read_task, write_atomic
    from seq2seq.config import Config
    from seq2seq.data.io import ParallelSource
    from seq2seq.data.prepare import load_prepared, prepare
    from seq2seq.data.vocab import WordVocab
    from seq2seq.model.seq2seq import Seq2Seq

    src, tgt = _write_pairs(tmp_path / "text")
    prepare(tmp_path / "data", ParallelSource(src, tgt))
    manifest_path = tmp_path / "data" / "manifest.json"
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    assert manifest.pop("task") == "translation"  # the default, written down
    manifest_path.write_text(json.dumps(manifest), encoding="utf-8")
    assert load_prepared(tmp_path / "data").task == "translation"

    config = Config.model_validate({"model": {"embedding_size": 4, "hidden_size": 4}})
    vocab = WordVocab(["a", "b"])
    model = Seq2Seq(config.model, len(vocab), len(vocab))
    old = tmp_path / "old.safetensors"
    write_atomic(old, checkpoint_bytes(model, config, vocab, vocab))
    assert read_task(old).name == "translation"
    new = tmp_path / "new.safetensors"
    write_atomic(new, checkpoint_bytes(model, config, vocab, vocab, task="speech"))
    assert read_task(new).labels == "Audio \u2192 Transcript"


def test_the_prepare_flag_is_generated_from_the_setting(tmp_path):
    src, tgt = _write_pairs(tmp_path / "text")
    command = [sys.executable, "-m", "seq2seq.cli", "prepare", "--src", str(src), "--tgt",
               str(tgt), "--out", str(tmp_path / "data")]  # fmt: skip
    done = subprocess.run([*command, "--task", "chatbot"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert json.loads((tmp_path / "data" / "manifest.json").read_text())["task"] == "chatbot"
    wrong = subprocess.run([*command[:-1], str(tmp_path / "d2"), "--task", "poem"],
                           capture_output=True, text=True)  # fmt: skip
    assert wrong.returncode == 2 and "--task: invalid choice: 'poem'" in wrong.stderr


class _Terminal:
    """A stdin that says it is a terminal, holding `text` (already decoded)."""

    def __init__(self, text: str) -> None:
        import io

        self.lines = io.StringIO(text)

    def isatty(self) -> bool:
        return True

    def readline(self) -> str:
        return self.lines.readline()


def _checkpoint(path: Path, task: str | None) -> Path:
    from seq2seq.checkpoint import checkpoint_bytes, write_atomic
    from seq2seq.config import Config
    from seq2seq.data.vocab import WordVocab
    from seq2seq.model.seq2seq import Seq2Seq

    config = Config.model_validate({"model": {"embedding_size": 4, "hidden_size": 4}})
    vocab = WordVocab(["hello", "hi"])
    model = Seq2Seq(config.model, len(vocab), len(vocab))
    write_atomic(path, checkpoint_bytes(model, config, vocab, vocab, task=task))
    return path


@pytest.mark.parametrize(
    "task, prompt, banner",
    [("chatbot", "question> ", "a chatbot (Question \u2192 Answer)"),
     (None, "> ", "a translation (Text \u2192 Translation)")],
)  # fmt: skip
def test_chat_words_itself_by_the_checkpoints_task(tmp_path, monkeypatch, capsys, task, prompt,
                                                   banner):  # fmt: skip
    from seq2seq.cli import main

    checkpoint = _checkpoint(tmp_path / "model.safetensors", task)
    monkeypatch.setattr(sys, "stdin", _Terminal("hello\n"))
    assert main(["chat", "--checkpoint", str(checkpoint)]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].startswith(f"seq2seq chat, {banner}: ")
    assert out.count(prompt) == 2  # before the line, and before Ctrl-D


def test_translate_says_what_the_model_does_on_its_bar(tmp_path, capsys):
    from seq2seq.cli import main

    checkpoint = _checkpoint(tmp_path / "model.safetensors", "chatbot")
    questions = tmp_path / "questions.txt"
    questions.write_text("hello\nhi\n", encoding="utf-8")
    argv = ["translate", "--checkpoint", str(checkpoint), "--input", str(questions)]
    assert main([*argv, "--output", str(tmp_path / "answers.txt")]) == 0
    assert "answer: 100%" in capsys.readouterr().err
