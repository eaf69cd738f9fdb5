"""The demo's whole pipeline (prepare -> train -> translate) learns its synthetic language."""

import random
import re

import pytest

from seq2seq.cli import main
from seq2seq.commands import COMMANDS
from seq2seq.commands.demo import run_demo
from seq2seq.demo_task import VERBS, make_pair, make_splits


def test_the_synthetic_language_reorders_and_agrees():
    rng = random.Random(3)
    for _ in range(500):
        src, tgt = make_pair(rng)
        src_words, tgt_words = src.split(), tgt.split()
        plural_subject = tgt_words[1] == "tachi"  # the subject noun comes first, its plural next
        assert (tgt_words[-1] == "masu") == plural_subject
        verb = tgt_words[-2] if plural_subject else tgt_words[-1]
        assert verb in VERBS.values()  # verb-final
        # one target word per source word, plus the plural and agreement markers
        assert len(tgt_words) == len(src_words) + tgt_words.count("tachi") + plural_subject
    splits = make_splits({"train": 500, "test": 100}, seed=5)
    assert not {s for s, _ in splits["train"]} & {s for s, _ in splits["test"]}


@pytest.mark.slow
def test_demo_learns_the_task_end_to_end(tmp_path, capsys):
    result = run_demo(tmp_path, minutes=5, max_steps=600, examples=2)
    out = capsys.readouterr().out
    assert "source:" in out and "reference:" in out and "exact match" in out
    assert result["bleu"] > 60, result
    assert result["accuracy"] > 0.2, result
    assert (tmp_path / "run" / "best.safetensors").is_file()


def test_cli_lists_every_command(capsys):
    """Every command of the table (commands/__init__.py) ships and is listed with its help line."""
    with pytest.raises(SystemExit) as exit_:
        main(["--help"])
    assert exit_.value.code == 0
    text = capsys.readouterr().out
    listed = re.findall(r"^    (\w+)\s{2,}(.+)$", text, flags=re.MULTILINE)
    assert [name for name, _ in listed] == list(COMMANDS), "a command's module is missing"
    for name, help_line in listed:
        assert help_line.strip() == COMMANDS[name][1][: len(help_line.strip())], name
