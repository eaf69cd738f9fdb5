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


def _split(tmp_path: Path) -> Path:
    split = tmp_path / "split"
    args = ["--columns", "Q", "A", "--dev", "100", "--test", "100", "--out", str(split)]
    assert seq2seq(["split", "--csv", str(SLICE), *args]) == 0
    return split


def _tiny_checkpoint(path: Path, split: Path) -> Path:
    """An untrained attention model over the slice's words: it answers, badly, in Korean."""
    import torch

    from seq2seq.checkpoint import checkpoint_bytes, write_atomic
    from seq2seq.config import Config
    from seq2seq.data.vocab import WordVocab
    from seq2seq.model.seq2seq import Seq2Seq

    torch.manual_seed(0)
    words = sorted({w for name in ("train.src", "train.tgt") for w in
                    (split / name).read_text("utf-8").split()})  # fmt: skip
    config = Config.model_validate(
        {
            "data": {"reverse_source": True},
            "model": {"cell": "lstm", "embedding_size": 8, "hidden_size": 16, "layers": 1,
                      "context": "attention"},
            "decode": {"beam_size": 5, "batch_size": 64, "max_len_ratio": 1.0,
                       "max_len_offset": 3},
        }
    )  # fmt: skip
    vocab = WordVocab(words)
    model = Seq2Seq(config.model, len(vocab), len(vocab))
    write_atomic(path, checkpoint_bytes(model, config, vocab, vocab))
    return path


@pytest.mark.slow
def test_one_command_makes_every_row_the_goals_the_samples_and_the_docs(tmp_path, capsys):
    split = _split(tmp_path)
    forward = _tiny_checkpoint(tmp_path / "fwd" / "best.safetensors", split)
    backward = _tiny_checkpoint(tmp_path / "bwd" / "best.safetensors", split)
    docs, out = tmp_path / "docs" / "tasks.md", tmp_path / "results"
    docs.parent.mkdir()
    docs.write_text("# Tasks\n\n<!-- task: other -->\nkept\n<!-- end of task: other -->\n", "utf-8")
    argv = ["--split", str(split), "--forward", str(forward), "--backward", str(backward)]
    argv += ["--limit", "12", "--out", str(out), "--docs", str(docs)]
    assert _harness().main(argv) == 0
    data = json.loads(out.with_suffix(".json").read_text("utf-8"))
    keys = [row["key"] for row in data["rows"]]
    assert keys == ["retrieval", "beam", "greedy", "sampling", "mmi", "reference"]
    rows = {row["key"]: row for row in data["rows"]}
    assert rows["beam"]["command"].startswith("seq2seq evaluate --checkpoint ")
    assert "--beam-size 5" in rows["beam"]["command"]
    assert "--sampling --temperature 0.7 --top-p 0.9 --seed 1" in rows["sampling"]["command"]
    assert "--tune-src" in rows["mmi"]["command"] and "--backward" in rows["mmi"]["command"]
    assert f"λ={rows['mmi']['lambda']:g}, chosen on dev" in rows["mmi"]["system"]
    assert rows["beam"]["perplexity"] > 1 and rows["retrieval"]["perplexity"] is None
    assert [g["goal"].split()[0] for g in data["goals"]] == ["seq2seq"] * 3 + ["MMI"] * 2
    page = docs.read_text("utf-8")
    assert "<!-- task: other -->\nkept\n<!-- end of task: other -->" in page
    assert page.count("## Chatbot (Korean question → answer)") == 1
    assert "| # | question | reference | beam 5 | sampling | MMI | retrieval |" in page
    assert page.count("\n| ") - page.count("| # |") > 12  # table rows and 12 samples (limit)
    assert "chatbot-ko-curves.png" not in page  # the tiny runs have no log.jsonl
    printed = capsys.readouterr().out
    assert "seq2seq, MMI re-ranking" in printed and ("met: " in printed or "MISSED" in printed)
    # rerunning replaces the chatbot's section, the other task's stays
    assert _harness().main([*argv, "--systems", "retrieval", "reference"]) == 0
    page = docs.read_text("utf-8")
    assert page.count("## Chatbot") == 1 and "kept" in page and "seq2seq, beam search" not in page


def test_the_docs_page_keeps_other_tasks_sections(tmp_path):
    _harness()  # puts the repository root on sys.path, as the harness does when run
    from benchmarks.tasks import common as harness  # every task harness writes through it

    page = tmp_path / "tasks.md"
    harness.write_docs_section(page, "chatbot-ko", ["first"])
    assert page.read_text("utf-8").startswith(harness.DOCS_HEADER)
    harness.write_docs_section(page, "summaries", ["ROUGE table"])
    harness.write_docs_section(page, "chatbot-ko", ["second"])
    text = page.read_text("utf-8")
    assert "first" not in text and text.count("second") == 1 and text.count("ROUGE table") == 1
    assert text.index("second") < text.index("ROUGE table")  # replaced where it was


def _row(harness, key, **values):
    scores = [harness.MetricScore(name, value, "sig") for name, value in values.items()]
    return harness.Row(system=key, command="", scores=scores, key=key)


def test_goals_are_decided_by_the_numbers():
    harness = _harness()
    rows = [
        _row(harness, "retrieval", bleu=20.0, chrf=25.0, **{"distinct-2": 0.80}),
        _row(harness, "beam", bleu=21.0, chrf=24.0, **{"distinct-2": 0.80}),
        _row(harness, "mmi", bleu=20.5, chrf=24.0, **{"distinct-2": 0.85}),
    ]
    met = {goal: ok for goal, ok, _ in harness.goals(rows)}
    assert list(met.values()) == [True, False, True, True, True]
    rows[2] = _row(harness, "mmi", bleu=20.0, chrf=24.0, **{"distinct-2": 0.80})
    assert [ok for _, ok, _ in harness.goals(rows)][3:] == [
        False,
        True,
    ]  # equal is not higher; a cost of exactly 1 is allowed
    rows[2] = _row(harness, "mmi", bleu=19.99, chrf=24.0, **{"distinct-2": 0.9})
    assert [ok for _, ok, _ in harness.goals(rows)][3:] == [True, False]  # 1.01 BLEU is too much


def test_samples_are_drawn_by_the_seed():
    harness = _harness()
    questions = [f"q{i}" for i in range(100)]
    rows = [harness.Row("ref", "", [], key="reference", answers=[f"a{i}" for i in range(100)])]
    first = harness.sample_lines(rows, questions, 1, 20)
    assert first == harness.sample_lines(rows, questions, 1, 20)
    assert first != harness.sample_lines(rows, questions, 2, 20)
    assert len(first) == 2 + 20
    numbers = [int(line.split("|")[1]) for line in first[2:]]
    assert numbers == sorted(numbers) and len(set(numbers)) == 20


def test_the_chosen_lambda_is_read_from_rescore():
    printed = "dev BLEU by λ (dev.src): 0: 1.00  0.5: 2.00\nchosen λ=0.5 (dev BLEU 2.00)\n"
    assert _harness().parse_tuning(printed) == (0.5, "0: 1.00  0.5: 2.00")


def test_the_readme_table_is_rewritten_between_its_markers_only(tmp_path):
    harness = _harness()
    readme = tmp_path / "README.md"
    readme.write_text(
        "# Title\n\n<!-- chatbot-ko: begin -->\nold\n<!-- chatbot-ko: end -->\n\nafter\n"
    )
    rows = [_row(harness, "retrieval", bleu=27.0, chrf=29.76, **{"distinct-2": 0.8051})]
    assert harness.update_readme(readme, rows)
    text = readme.read_text("utf-8")
    assert "old" not in text and text.startswith("# Title\n\n") and text.endswith("\n\nafter\n")
    assert "| retrieval | 27.00 | 29.76 | — | 0.8051 | — |" in text
    assert not harness.update_readme(tmp_path / "missing.md", rows)
