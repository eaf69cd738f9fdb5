"""The seeded grouped split (data/split.py and `seq2seq split`): every copy of a source on one
side, the same bytes for the same seed, the sizes asked for, and one-sentence errors."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import pytest

from seq2seq.commands import main
from seq2seq.data.io import ParallelSource
from seq2seq.data.split import (
    key_stripping,
    read_csv_pairs,
    read_pairs,
    split_pairs,
    write_split,
)
from seq2seq.errors import DataError

SLICE = Path(__file__).resolve().parent / "chatbot-ko" / "ChatbotData.slice.csv.gz"


@pytest.fixture(scope="module")
def chatbot_pairs():
    return list(read_csv_pairs(SLICE, "Q", "A"))


def test_the_slice_reads_as_3000_pairs_with_questions_asked_twice(chatbot_pairs):
    questions = Counter(q for q, _ in chatbot_pairs)
    assert len(chatbot_pairs) == 3000
    assert len(questions) == 2957
    assert sum(1 for n in questions.values() if n > 1) == 43


def test_every_copy_of_a_question_is_on_one_side_and_no_pair_is_lost(chatbot_pairs):
    split = split_pairs(chatbot_pairs, dev=100, test=100, seed=1)
    sides = {name: {q for q, _ in pairs} for name, pairs in split.pairs.items()}
    assert not sides["train"] & sides["dev"]
    assert not sides["train"] & sides["test"]
    assert not sides["dev"] & sides["test"]
    together = [pair for pairs in split.pairs.values() for pair in pairs]
    assert Counter(together) == Counter(chatbot_pairs)
    repeated = {q for q, n in Counter(q for q, _ in chatbot_pairs).items() if n > 1}
    held_out = repeated & (sides["dev"] | sides["test"])
    assert held_out, "the invariant is only tested if a repeated question is held out"
    for question in held_out:
        side = "dev" if question in sides["dev"] else "test"
        copies = sum(1 for q, _ in split.pairs[side] if q == question)
        assert copies == sum(1 for q, _ in chatbot_pairs if q == question)


def test_sizes_count_groups_or_a_share_of_them(chatbot_pairs):
    split = split_pairs(chatbot_pairs, dev=100, test=50, seed=1)
    assert split.groups == {"train": 2957 - 150, "dev": 100, "test": 50}
    for name, pairs in split.pairs.items():
        assert len({q for q, _ in pairs}) == split.groups[name]
    assert sum(len(p) for p in split.pairs.values()) == 3000
    shares = split_pairs(chatbot_pairs, dev=0.05, test=0.1, seed=1)
    assert shares.groups["dev"] == round(0.05 * 2957) == 148
    assert shares.groups["test"] == round(0.1 * 2957) == 296


def test_the_same_seed_gives_the_same_split_and_another_seed_another(chatbot_pairs):
    first = split_pairs(chatbot_pairs, dev=100, test=100, seed=1)
    again = split_pairs(list(chatbot_pairs), dev=100, test=100, seed=1)
    other = split_pairs(chatbot_pairs, dev=100, test=100, seed=2)
    assert first.pairs == again.pairs
    assert first.pairs["test"] != other.pairs["test"]


def test_pairs_keep_their_input_order_within_a_split(chatbot_pairs):
    numbered = [(q, f"{i} {a}") for i, (q, a) in enumerate(chatbot_pairs)]  # every pair unique
    split = split_pairs(numbered, dev=100, test=100, seed=1)
    for pairs in split.pairs.values():
        order = [int(a.split()[0]) for _, a in pairs]
        assert order == sorted(order)


def test_a_stripped_key_groups_the_variants_of_a_word():
    entries = [(f"w{i}", f"P{i}") for i in range(20)]
    entries += [(f"w{i}(2)", f"Q{i}") for i in range(20)]  # CMUdict's second pronunciations
    split = split_pairs(entries, dev=5, test=5, seed=3, group_key=key_stripping(r"\(\d+\)$"))
    for pairs in split.pairs.values():
        words = {w.removesuffix("(2)") for w, _ in pairs}
        assert len(pairs) == 2 * len(words)
    with pytest.raises(DataError, match="not a regular expression"):
        key_stripping("(")


def test_sizes_that_leave_nothing_to_train_on_are_refused():
    pairs = [(str(i), "x") for i in range(10)]
    with pytest.raises(DataError, match="leave none of the 10 groups for training"):
        split_pairs(pairs, dev=5, test=5, seed=1)
    with pytest.raises(DataError, match="strictly between 0 and 1"):
        split_pairs(pairs, dev=1.5, test=1, seed=1)


def test_a_missing_column_names_the_file_and_the_columns_it_has():
    with pytest.raises(DataError) as err:
        list(read_csv_pairs(SLICE, "question", "A"))
    message = str(err.value)
    assert message == f"{SLICE} has no column 'question'; its columns are Q, A, label"


def test_quoted_fields_may_hold_commas_and_line_breaks(tmp_path):
    path = tmp_path / "pairs.csv"
    path.write_text('id,q,a\n1,"hi, there","hello\nfriend"\n2,,empty\n3,ok,fine\n', "utf-8")
    assert list(read_csv_pairs(path, "q", "a")) == [("hi, there", "hello friend"), ("ok", "fine")]
    short = tmp_path / "short.csv"
    short.write_text("q,a\nonly\n", "utf-8")
    with pytest.raises(DataError, match=r"short.csv:2: 1 fields, but the header has 2"):
        list(read_csv_pairs(short, "q", "a"))


def test_two_aligned_files_split_like_a_csv(tmp_path):
    (tmp_path / "q.txt").write_text("".join(f"q{i % 30}\n" for i in range(60)), "utf-8")
    (tmp_path / "a.txt").write_text("".join(f"a{i}\n" for i in range(60)), "utf-8")
    pairs = read_pairs(source=ParallelSource(tmp_path / "q.txt", tmp_path / "a.txt"))
    split = split_pairs(pairs, dev=3, test=3, seed=1)
    assert {n: len(p) for n, p in split.pairs.items()} == {"train": 48, "dev": 6, "test": 6}


def test_written_files_are_aligned_and_the_manifest_records_the_split(tmp_path, chatbot_pairs):
    split = split_pairs(chatbot_pairs, dev=100, test=100, seed=1, names=("tr", "va", "te"))
    written = write_split(split, tmp_path / "out", suffixes=("q", "a"))
    assert sorted(p.name for p in written) == sorted(
        ["tr.q", "tr.a", "va.q", "va.a", "te.q", "te.a", "split.json"]
    )
    questions = (tmp_path / "out" / "te.q").read_text("utf-8").splitlines()
    answers = (tmp_path / "out" / "te.a").read_text("utf-8").splitlines()
    assert list(zip(questions, answers)) == split.pairs["te"]
    manifest = json.loads((tmp_path / "out" / "split.json").read_text("utf-8"))
    assert manifest["seed"] == 1
    assert manifest["splits"]["va"] == {"pairs": len(split.pairs["va"]), "groups": 100}
    assert not list((tmp_path / "out").glob(".*.tmp"))


def test_the_command_splits_the_slice_and_repeats_it_byte_for_byte(tmp_path, capsys):
    args = ["split", "--csv", str(SLICE), "--columns", "Q", "A", "--dev", "100", "--test", "5%"]
    assert main([*args, "--out", str(tmp_path / "one")]) == 0
    assert main([*args, "--out", str(tmp_path / "two")]) == 0
    out = capsys.readouterr().out
    assert re.search(r"^dev +\d+ pairs +100 groups", out, re.MULTILINE)
    assert re.search(r"^test +\d+ pairs +148 groups", out, re.MULTILINE)  # 5% of 2,957
    for name in ("train.src", "train.tgt", "dev.src", "dev.tgt", "test.src", "test.tgt"):
        assert (tmp_path / "one" / name).read_bytes() == (tmp_path / "two" / name).read_bytes()
    assert len((tmp_path / "one" / "test.src").read_text("utf-8").splitlines()) >= 148


def test_the_command_names_a_bad_column_in_one_sentence(tmp_path, capsys):
    status = main(
        ["split", "--csv", str(SLICE), "--columns", "Q", "Answer", "--out", str(tmp_path)]
    )
    err = capsys.readouterr().err.strip()
    assert status == 2
    assert err == (
        f"seq2seq split: error: {SLICE} has no column 'Answer'; its columns are Q, A, label"
    )
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "flags, message",
    [
        (["--tsv", "x.tsv", "--csv", "y.csv"], "give exactly one input"),
        (["--csv", "SLICE"], "name its source and target columns with --columns"),
        (["--csv", "missing.csv", "--columns", "Q", "A"], "--csv file missing.csv does not exist"),
    ],
)
def test_the_command_refuses_unclear_inputs_in_one_sentence(tmp_path, capsys, flags, message):
    flags = [str(SLICE) if f == "SLICE" else f for f in flags]
    assert main(["split", *flags, "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
