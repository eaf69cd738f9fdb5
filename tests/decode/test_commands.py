"""The translate, rescore and chat commands end to end, and the Moses n-best format."""

from __future__ import annotations

import gzip
import io
import math
import sys

import pytest
import torch
from decode_standins import copy_sentences

from seq2seq.cli import main
from seq2seq.decode.nbest import NBestEntry, parse_nbest_line, read_nbest
from seq2seq.errors import DataError

torch.set_num_threads(1)


def feed_stdin(monkeypatch, text: str) -> None:
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(text.encode("utf-8"))))


def test_translate_stdin_to_stdout(copy_checkpoint, monkeypatch, capsys):
    lines = ["w3 w1 w4", "", "w5 w9 w2 w6"]
    feed_stdin(monkeypatch, "\n".join(lines) + "\n")
    assert main(["translate", "--checkpoint", str(copy_checkpoint), "--beam-size", "2"]) == 0
    out, err = capsys.readouterr()
    assert out.splitlines() == ["w3 w1 w4", "", "w5 w9 w2 w6"]
    assert "input line 2 is empty" in err


def test_translate_files_with_n_best_in_moses_format(copy_checkpoint, tmp_path, capsys):
    lines = copy_sentences(6, seed=21)
    src = tmp_path / "in.txt.gz"
    with gzip.open(src, "wt", encoding="utf-8") as handle:
        handle.write("\n".join(lines) + "\n")
    nbest = tmp_path / "out.nbest"
    argv = [
        "translate",
        "--checkpoint",
        str(copy_checkpoint),
        "--input",
        str(src),
        "--output",
        str(nbest),
    ]
    assert main([*argv, "--n-best", "3", "--length-penalty", "0"]) == 0
    entries = read_nbest(nbest)
    assert len(entries) == 18
    assert [e.sentence for e in entries] == [i for i in range(6) for _ in range(3)]
    for i in range(6):
        own = entries[3 * i : 3 * i + 3]
        assert own[0].text == " ".join(w if int(w[1:]) < 15 else "<unk>" for w in lines[i].split())
        assert [e.score for e in own] == sorted((e.score for e in own), reverse=True)
        for e in own:  # with no length penalty the score is the log-probability feature
            assert e.features.startswith("logprob= ")
            assert float(e.features.split()[1]) == pytest.approx(e.score, abs=1e-5)
            assert parse_nbest_line(e.format(), "x") == e
    assert "sent" in capsys.readouterr().err  # the progress bar went to stderr


def test_ensemble_n_best_names_each_member(copy_checkpoint, monkeypatch, capsys):
    feed_stdin(monkeypatch, "w1 w2 w3\n")
    ckpt = str(copy_checkpoint)
    assert main(["translate", "--checkpoint", ckpt, ckpt, "--n-best", "2"]) == 0
    first = parse_nbest_line(capsys.readouterr().out.splitlines()[0], "stdout:1")
    names = [f for f in first.features.split() if f.endswith("=")]
    assert names == ["model0=", "model1=", "logprob="]


def test_missing_checkpoint_is_one_sentence(tmp_path, capsys):
    assert main(["translate", "--checkpoint", str(tmp_path / "nope.safetensors")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("seq2seq translate: error: checkpoint") and "does not exist" in err
    assert len(err.splitlines()) == 1


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ("0 ||| a b ||| f= 1", "expected 'id ||| text ||| features ||| score' but found 3 fields"),
        ("x ||| a b ||| f= 1 ||| -2", "sentence id 'x' is not a non-negative integer"),
        ("0 ||| a b ||| f= 1 ||| high", "score 'high' is not a number"),
    ],
)
def test_malformed_n_best_line_names_file_and_line(tmp_path, line, problem):
    path = tmp_path / "list.nbest"
    path.write_text(f"0 ||| w1 ||| f= 1 ||| -1\n{line}\n", encoding="utf-8")
    with pytest.raises(DataError) as err:
        read_nbest(path)
    assert str(err.value) == f"{path}:2: {problem}"


def buried_nbest(lines: list[str]) -> list[NBestEntry]:
    """For each sentence: 3 wrong hypotheses with good external scores, the right one last."""
    entries = []
    for i, line in enumerate(lines):
        words = line.split()
        wrong = [words[::-1], words[1:], [*words, words[0]]]
        for rank, hyp in enumerate(wrong):
            entries.append(NBestEntry(i, " ".join(hyp), f"ext= {-1.0 - rank}", -1.0 - rank))
        entries.append(NBestEntry(i, line, "ext= -6", -6.0))
    return entries


def test_rescoring_moves_the_buried_correct_line_up(copy_checkpoint, tmp_path, capsys):
    lines = [s for s in copy_sentences(40, seed=22) if all(int(w[1:]) < 15 for w in s.split())][:8]
    lines = [s for s in lines if s.split() != s.split()[::-1]]
    src, nbest = tmp_path / "src.txt", tmp_path / "list.nbest"
    src.write_text("\n".join(lines) + "\n", encoding="utf-8")
    nbest.write_text("".join(e.format() + "\n" for e in buried_nbest(lines)), encoding="utf-8")
    best, full = tmp_path / "best.txt", tmp_path / "rescored.nbest"
    argv = [
        "rescore",
        "--checkpoint",
        str(copy_checkpoint),
        "--src",
        str(src),
        "--nbest",
        str(nbest),
    ]
    assert main([*argv, "--output", str(best), "--nbest-output", str(full)]) == 0
    assert best.read_text(encoding="utf-8").splitlines() == lines
    rescored = read_nbest(full)
    assert len(rescored) == 4 * len(lines)
    for entry in rescored[:4]:  # combined = 0.5 * model + 0.5 * external (paper §3.6)
        external = float(entry.features.split()[1])
        own = float(entry.features.split()[3])
        assert entry.features.split()[2] == "seq2seq="
        assert entry.score == pytest.approx(0.5 * own + 0.5 * external, abs=1e-5)
        assert own < 0 and math.isfinite(own)
    # With weight 0 the external ranking stands: a wrong hypothesis stays on top.
    assert main([*argv, "--output", str(best), "--weight", "0"]) == 0
    assert best.read_text(encoding="utf-8").splitlines() == [
        " ".join(s.split()[::-1]) for s in lines
    ]


def test_rescore_rejects_ids_without_a_source_line(copy_checkpoint, tmp_path, capsys):
    src, nbest = tmp_path / "src.txt", tmp_path / "list.nbest"
    src.write_text("w1 w2\n", encoding="utf-8")
    nbest.write_text("0 ||| w1 w2 ||| x= 1 ||| -1\n5 ||| w1 ||| x= 1 ||| -2\n", encoding="utf-8")
    argv = [
        "rescore",
        "--checkpoint",
        str(copy_checkpoint),
        "--src",
        str(src),
        "--nbest",
        str(nbest),
    ]
    assert main([*argv, "--output", str(tmp_path / "o")]) == 2
    assert "sentence id 5 has no line in" in capsys.readouterr().err


def test_chat_answers_and_leaves_on_eof(copy_checkpoint, monkeypatch, capsys):
    feed_stdin(monkeypatch, "w1 w2 w3\n:nbest 2\nw4 w5\n:bogus\n")
    assert main(["chat", "--checkpoint", str(copy_checkpoint), "--beam-size", "2"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "w1 w2 w3"
    assert out[1] == "beam size 2, showing 2 best"
    assert out[2].startswith("1. w4 w5  (score ") and out[3].startswith("2. ")
    assert out[4] == "unknown command ':bogus'; type :help"


def test_translate_samples_with_the_generated_flags_and_repeats(
    copy_checkpoint, monkeypatch, capsys
):
    lines = copy_sentences(5, seed=3)
    argv = ["translate", "--checkpoint", str(copy_checkpoint), "--sampling", "--temperature", "3"]

    def run(*extra: str) -> list[str]:
        feed_stdin(monkeypatch, "\n".join(lines) + "\n")
        assert main([*argv, *extra]) == 0
        return capsys.readouterr().out.splitlines()

    first = run("--seed", "4", "--n-best", "3")
    assert len(first) == 15 and all(" ||| " in line for line in first)
    assert run("--seed", "4", "--n-best", "3") == first
    assert run("--seed", "5", "--n-best", "3") != first
    feed_stdin(monkeypatch, "w1 w2\n")
    assert main([*argv, "--beam-size", "4"]) == 2
    assert "--sampling draws one token per step, so it runs with --beam-size=1, not 4" in (
        capsys.readouterr().err
    )


def test_chat_samples_numbering_its_turns(copy_checkpoint, monkeypatch, capsys):
    line = "w1 w2 w3 w4 w5 w6"
    feed_stdin(
        monkeypatch, f":sample 5\n{line}\n{line}\n:sample x\n:beam 1\n{line}\n:sample\n:nbest 2\n"
    )
    assert main(["chat", "--checkpoint", str(copy_checkpoint), "--seed", "1"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "sampling at temperature 5, showing 1 samples"
    assert out[1] != out[2]  # two turns, two draws (at T=5 the copy model wanders)
    assert out[3] == "the temperature must be a number, not 'x'"
    assert out[4] == "beam size 1, showing 1 best"
    assert out[5] == line
    assert out[6:] == [  # :sample keeps the temperature it had (the default, after :beam)
        "sampling at temperature 1, showing 1 samples",
        "sampling at temperature 1, showing 2 samples",
    ]
    feed_stdin(monkeypatch, f":sample 5\n{line}\n{line}\n")
    assert main(["chat", "--checkpoint", str(copy_checkpoint), "--seed", "1"]) == 0
    assert capsys.readouterr().out.splitlines()[1:3] == out[1:3]  # the same conversation again
