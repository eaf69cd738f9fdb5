"""AESLC's own layout (data/aeslc.py, `seq2seq split --aeslc`) and prepare's source cut
(`--truncate-src`), on a tiny synthetic e-mail set (tests/data/aeslc_fake.py; never the corpus)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from aeslc_fake import write_fake_aeslc

from seq2seq.commands import main
from seq2seq.data.aeslc import read_email, read_split, write_aeslc
from seq2seq.data.io import ParallelSource
from seq2seq.data.prepare import cut_source, load_prepared, prepare
from seq2seq.data.vocab import split_punctuation
from seq2seq.errors import DataError


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    return write_fake_aeslc(tmp_path_factory.mktemp("aeslc"))


@pytest.fixture(scope="module")
def split(corpus, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("split")
    write_aeslc(corpus, out)
    return out


def _lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines()


def _email(tmp_path: Path, text: str, name: str = "a_inbox_1.subject") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_an_email_file_reads_as_body_subject_and_annotations(tmp_path):
    path = _email(
        tmp_path,
        "Hello there,  team.\n@ noon is fine\n\n@subject\nLunch  plans\n\n@ann0\nlunch\n\n"
        "@ann1\nnoon lunch\n\n@ann2\nlunch at noon",
    )
    email = read_email(path)
    assert email.body == "Hello there, team. @ noon is fine"  # a line starting '@ ' is body
    assert email.subject == "Lunch plans"
    assert email.annotations == ("lunch", "noon lunch", "lunch at noon")


@pytest.mark.parametrize(
    "text, says",
    [
        ("Body only.\n", "has no @subject line"),
        ("\n\n@subject\nA subject\n", "body before @subject is empty"),
        ("Body.\n@subject\n\n@ann0\nx\n", "@subject section is empty"),
        ("Body.\n@subject\nOne\n@subject\nTwo\n", "two @subject sections"),
        ("Body.\n@subject\nOne\n@ann1\nx\n", "not ann0, ann1"),
    ],
)
def test_a_malformed_email_is_one_sentence_naming_the_file(tmp_path, text, says):
    path = _email(tmp_path, text)
    with pytest.raises(DataError) as caught:
        read_email(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: ") and says in message and "\n" not in message


def test_a_split_folder_must_carry_one_number_of_annotations(tmp_path):
    _email(tmp_path, "Body.\n@subject\nOne\n@ann0\nx\n", "a.subject")
    _email(tmp_path, "Body.\n@subject\nTwo\n", "b.subject")
    with pytest.raises(DataError, match=r"b\.subject: 0 annotated subjects, but a\.subject"):
        read_split(tmp_path)


def test_the_corpus_becomes_aligned_files_with_the_annotations_as_references(corpus, split):
    sizes = json.loads((split / "split.json").read_text("utf-8"))["splits"]
    assert sizes == {"train": {"pairs": 40, "references": 1}, "dev": {"pairs": 12, "references": 4}}
    assert not (split / "train.ann0").exists()
    dev_files = sorted((corpus / "enron_subject_line" / "dev").iterdir())
    for i, path in enumerate(dev_files):
        email = read_email(path)
        assert _lines(split / "dev.src")[i] == email.body
        assert _lines(split / "dev.tgt")[i] == email.subject
        assert [_lines(split / f"dev.ann{k}")[i] for k in range(3)] == list(email.annotations)
    assert all("\n" not in line and line for line in _lines(split / "train.src"))


def test_the_command_writes_the_same_files_and_names_a_bad_email(corpus, split, tmp_path, capsys):
    assert main(["split", "--aeslc", str(corpus), "--out", str(tmp_path / "out")]) == 0
    assert "dev         12 e-mails + 3 extra references" in capsys.readouterr().out
    for name in ("train.src", "train.tgt", "dev.src", "dev.ann2"):
        assert (tmp_path / "out" / name).read_bytes() == (split / name).read_bytes()
    bad = tmp_path / "bad"
    write_fake_aeslc(bad, train=3, dev=2)
    broken = sorted((bad / "enron_subject_line" / "train").iterdir())[1]
    broken.write_text("Just a body.\n", encoding="utf-8")
    assert main(["split", "--aeslc", str(bad), "--out", str(tmp_path / "never")]) == 2
    err = capsys.readouterr().err
    assert f"{broken}: the e-mail has no @subject line" in err and err.count("\n") == 1
    assert not (tmp_path / "never").exists()


def test_the_command_refuses_a_folder_that_is_no_aeslc_copy(tmp_path, capsys):
    assert main(["split", "--aeslc", str(tmp_path), "--out", str(tmp_path / "out")]) == 2
    assert "is not an AESLC copy" in capsys.readouterr().err


def _words(text: str) -> int:
    return len(split_punctuation(text.lower()))


def test_cut_source_keeps_whole_words_within_the_limit():
    text = "Hello, world: this is a longer e-mail body."
    cut, was_cut = cut_source(text, 4, _words)
    assert was_cut and cut == "Hello, world:"  # 4 tokens; "this" (or "t") would make 5
    assert cut_source(text, 5, _words)[0] == "Hello, world: this"
    assert cut_source(text, 100, _words) == (text, False)
    assert cut_source("Supercalifragilistic rest", 5, len) == ("Super", True)  # inside a word


def _prepare(split: Path, out: Path, **settings):
    words = {"lowercase": True, "split_punct": True} if "vocab" not in settings else {}
    return prepare(
        out,
        ParallelSource(split / "train.src", split / "train.tgt"),
        valid=ParallelSource(split / "dev.src", split / "dev.tgt"),
        progress=False,
        **words,
        **settings,
    )


def test_truncate_src_cuts_every_split_and_counts_the_cut(split, tmp_path):
    prepared = _prepare(split, tmp_path / "cut", truncate_src=30, max_len=40)
    for name, raw in (("train", "train.src"), ("valid", "dev.src")):
        originals = _lines(split / raw)
        written = _lines(prepared.dir / f"{name}.src")
        longer = sum(_words(line) > 30 for line in originals)
        assert longer >= 2, "the synthetic set must hold long e-mails in each split"
        assert prepared.manifest["splits"][name]["src_truncated"] == longer
        assert prepared.manifest["splits"][name]["pairs"] == len(originals)  # none dropped
        for original, cut in zip(originals, written, strict=True):
            assert _words(cut) <= 30 and original.startswith(cut)
            assert _words(cut) > 25 or cut == original  # a cut keeps about the limit
    assert prepared.manifest["splits"]["train"]["src_len_max"] == 30
    assert load_prepared(prepared.dir).manifest["settings"]["truncate_src"] == 30


def test_without_truncate_src_max_len_drops_the_long_emails(split, tmp_path):
    prepared = _prepare(split, tmp_path / "uncut", max_len=40)
    longer = sum(_words(line) > 40 for line in _lines(split / "train.src"))
    assert longer >= 2
    assert prepared.manifest["splits"]["train"]["too_long"] == longer
    assert prepared.manifest["splits"]["train"]["src_truncated"] == 0


def test_a_sentencepiece_source_is_cut_by_its_own_pieces(split, tmp_path):
    prepared = _prepare(split, tmp_path / "bpe", vocab="bpe", src_vocab_size=60,
                        tgt_vocab_size=60, truncate_src=40)  # fmt: skip
    cut = prepared.manifest["splits"]["train"]["src_truncated"]
    assert cut >= 2 and prepared.manifest["splits"]["train"]["src_len_max"] <= 40
    for line in _lines(prepared.dir / "train.src"):
        assert len(prepared.src_vocab.encode(line)) <= 40


def test_the_prepare_command_reports_the_cut(split, tmp_path, capsys):
    argv = ["prepare", "--src", str(split / "train.src"), "--tgt", str(split / "train.tgt")]
    argv += ["--lowercase", "--split-punct", "--truncate-src", "30", "--out", str(tmp_path / "p")]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "sources cut to 30 tokens (truncate_src): train " in out
    assert main([*argv[:-2], "--truncate-src", "0", "--out", str(tmp_path / "q")]) == 2
    assert "truncate" in capsys.readouterr().err


def _header_commands(recipe: Path) -> list[str]:
    """The `seq2seq ...` command lines of a recipe's header comment, continuations joined."""
    commands: list[str] = []
    open_line = False
    for line in recipe.read_text("utf-8").splitlines():
        if not line.startswith("#"):
            break
        text = line[1:].strip()
        if open_line:
            commands[-1] += " " + text.rstrip("\\").strip()
        elif "seq2seq " in text and text.split("seq2seq ")[0].strip() in ("", "then:"):
            commands.append("seq2seq " + text.split("seq2seq ", 1)[1].rstrip("\\").strip())
        open_line = text.endswith("\\")
    return [
        c.replace("$S", "data/aeslc/split").replace("$P", "data/aeslc/prepared") for c in commands
    ]


@pytest.mark.parametrize("name, copy", [("aeslc", True), ("aeslc-nocopy", False)])
def test_the_recipes_load_differ_only_by_copy_and_their_commands_parse(name, copy):
    import shlex

    from seq2seq.commands import build_parser
    from seq2seq.config import load_config

    recipes = Path(__file__).resolve().parents[2] / "configs" / "tasks"
    config, other = load_config(recipes / f"{name}.yaml"), load_config(recipes / "aeslc.yaml")
    assert config.model.copy is copy and config.train.max_minutes == 60
    assert config.model.context == "attention" and config.data.dir == "data/aeslc/prepared"
    assert config.model.model_dump() == {**other.model.model_dump(), "copy": copy}
    assert config.train.model_dump() == {**other.train.model_dump(), "out_dir": f"runs/{name}"}
    commands = _header_commands(recipes / f"{name}.yaml")
    assert {c.split()[1] for c in commands} >= {"split", "prepare", "train", "evaluate"}
    for command in commands:
        argv = shlex.split(command)[1:]
        assert build_parser(argv[0]).parse_args(argv).command == argv[0]  # exits on a bad flag
    prepare_line = next(c for c in commands if c.split()[1] == "prepare")
    for flag in ("--task summarisation", "--vocab word", "--lowercase", "--split-punct",
                 "--truncate-src 100"):  # fmt: skip
        assert flag in prepare_line
