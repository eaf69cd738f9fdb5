"""The chatbot results harness (benchmarks/tasks/chatbot_ko.py) on the committed Korean slice:
one row per system, each with its command line, the retrieval features chosen on dev."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

from seq2seq.commands import main as seq2seq

pytest.importorskip("sklearn")

REPO = Path(__file__).resolve().parents[1]
SLICE = REPO / "tests" / "data" / "chatbot-ko" / "ChatbotData.slice.csv.gz"


def _harness():
    path = REPO / "benchmarks" / "tasks" / "chatbot_ko.py"
    spec = importlib.util.spec_from_file_location("chatbot_ko", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_rows_per_system_with_their_command_lines(tmp_path, capsys):
    split = tmp_path / "split"
    args = ["--columns", "Q", "A", "--dev", "100", "--test", "100", "--out", str(split)]
    assert seq2seq(["split", "--csv", str(SLICE), *args]) == 0
    answers = tmp_path / "echo.txt"  # a "system" that repeats the question
    answers.write_text((split / "test.src").read_text("utf-8"), "utf-8")
    harness = _harness()
    out = tmp_path / "results"
    command = "cp test.src echo.txt"
    assert (
        harness.main(
            ["--split", str(split), "--out", str(out), "--answers", "echo", str(answers), command]
        )
        == 0
    )
    rows = json.loads(out.with_suffix(".json").read_text("utf-8"))["rows"]
    assert [r["system"].split()[0] for r in rows] == ["retrieval", "reference", "echo"]
    assert rows[0]["command"].startswith(
        "python benchmarks/tasks/chatbot_ko.py --systems retrieval"
    )
    assert rows[2]["command"] == command
    assert [s["name"] for s in rows[0]["scores"]] == [
        "bleu",
        "chrf",
        "distinct-1",
        "distinct-2",
        "length",
    ]
    sweep = rows[0]["dev_sweep"]
    assert len(sweep) == len(harness.RETRIEVAL_SETTINGS)
    best = max(sweep, key=lambda entry: entry["scores"][1]["score"])  # by dev chrF
    low, high = best["ngram_range"]
    assert rows[0]["notes"].startswith(f"{best['analyzer']} {low}-{high}-grams, chosen on dev")
    retrieval, echo = rows[0]["scores"][1]["score"], rows[2]["scores"][1]["score"]
    assert retrieval > echo  # retrieval answers; repeating the question does not
    markdown = out.with_suffix(".md").read_text("utf-8")
    assert markdown.count("\n| ") == (1 + 3) + (1 + len(sweep))  # two tables, their headers
    assert "`cp test.src echo.txt`" in markdown
    assert "retrieval (TF-IDF cosine" in capsys.readouterr().out
