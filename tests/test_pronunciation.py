"""Grapheme to phoneme end to end on the committed CMUdict slice (tests/data/cmudict): the seeded
split that keeps a word's pronunciations together (benchmarks/tasks/cmudict_split.py), `prepare`
with a character source and a word target, a tiny model trained for a few steps, `translate` on a
word list and `evaluate` by the pronunciation metrics."""

from __future__ import annotations

import importlib.util
import json
import re
import sys
from pathlib import Path

import pytest

from seq2seq.commands import main as seq2seq

REPO = Path(__file__).resolve().parents[1]
SLICE = REPO / "tests" / "data" / "cmudict" / "cmudict.slice.dict"


def _split_module():
    path = REPO / "benchmarks" / "tasks" / "cmudict_split.py"
    spec = importlib.util.spec_from_file_location("cmudict_split", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_the_slice_holds_3000_whole_words_with_their_licence():
    lines = SLICE.read_text(encoding="utf-8").splitlines()
    words = [re.sub(r"\(\d+\)$", "", line.split()[0]) for line in lines]
    assert len(lines) == 3197 and len(set(words)) == 3000
    firsts = {w: i for i, w in reversed(list(enumerate(words)))}
    assert all(words[firsts[w] + k] == w for w in set(words) for k in range(words.count(w)))
    assert "Carnegie Mellon University" in (SLICE.parent / "LICENSE").read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def split(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("cmudict") / "split"
    assert _split_module().main(["--dict", str(SLICE), "--dev", "100", "--out", str(out)]) == 0
    return out


def test_the_split_keeps_every_pronunciation_of_a_word_on_one_side(split):
    sizes = json.loads((split / "split.json").read_text(encoding="utf-8"))["splits"]
    assert {name: s["groups"] for name, s in sizes.items()} == {
        "train": 2600,
        "dev": 100,
        "test": 300,
    }
    assert sum(s["pairs"] for s in sizes.values()) == 3197
    words = {name: (split / f"{name}.src").read_text("utf-8").split() for name in sizes}
    assert not set(words["test"]) & set(words["train"]) and not set(words["dev"]) & set(
        words["train"]
    )
    assert not any("(" in w for w in words["train"])  # word(2) is the word
    tgt = (split / "test.tgt").read_text("utf-8").splitlines()
    assert len(tgt) == len(words["test"]) and all("#" not in line for line in tgt)


def test_read_cmudict_strips_variants_and_comments_and_names_a_bad_line():
    from seq2seq.errors import DataError

    read = _split_module().read_cmudict
    lines = ["aalborg AO1 L B AO0 R G # place, danish", "aalborg(2) AA1 L B AO0 R G", "", "x"]
    with pytest.raises(DataError, match="d:4: 'x' has a word but no phonemes"):
        list(read(lines, "d"))
    assert list(read(lines[:3], "d")) == [
        ("aalborg", "AO1 L B AO0 R G"),
        ("aalborg", "AA1 L B AO0 R G"),
    ]


def test_g2p_with_a_character_source_end_to_end(split, tmp_path, capsys):
    from seq2seq.checkpoint import read_task
    from seq2seq.config import Config
    from seq2seq.data.vocab import CharVocab, WordVocab
    from seq2seq.decode.translator import Translator
    from seq2seq.experiment import build_trainer

    data = tmp_path / "data"
    argv = ["prepare", "--src", f"{split}/train.src", "--tgt", f"{split}/train.tgt",
            "--valid-src", f"{split}/dev.src", "--valid-tgt", f"{split}/dev.tgt",
            "--task", "pronunciation", "--src-vocab", "char", "--tgt-vocab", "word", "--out", str(data)]  # fmt: skip
    assert seq2seq(argv) == 0
    assert capsys.readouterr().out.startswith("pronunciation, src -> tgt: char/word vocabulary")
    config = Config.model_validate(
        {
            "data": {"dir": str(data), "batch_size": 32, "reverse_source": True},
            "model": {"embedding_size": 16, "hidden_size": 32, "layers": 1, "context": "attention"},
            "train": {"out_dir": str(tmp_path / "run"), "max_steps": 20, "valid_every": 20,
                      "log_every": 10, "valid_bleu": False, "tensorboard": False, "threads": 1,
                      "optimizer": "adam", "lr": 0.01},
        }
    )  # fmt: skip
    build_trainer(config).fit()
    ckpt = tmp_path / "run" / "best.safetensors"
    assert read_task(ckpt).name == "pronunciation"
    translator = Translator.load([ckpt])
    assert isinstance(translator.src_vocab, CharVocab) and isinstance(
        translator.tgt_vocab, WordVocab
    )
    assert translator.reverse_source  # the encoder reads the letters last to first
    words = (split / "test.src").read_text("utf-8").split()[:20]
    (tmp_path / "words").write_text("".join(w + "\n" for w in words), encoding="utf-8")
    argv = ["translate", "--checkpoint", str(ckpt), "--input", str(tmp_path / "words"),
            "--output", str(tmp_path / "prons"), "--beam-size", "2", "--quiet"]  # fmt: skip
    assert seq2seq(argv) == 0
    prons = (tmp_path / "prons").read_text("utf-8").splitlines()
    phonemes = set(translator.tgt_vocab.tokens[4:])
    assert len(prons) == 20 and all(set(p.split()) <= phonemes | {"<unk>"} for p in prons)
    assert any(prons)  # 20 steps: not a good pronouncer, but it speaks phonemes
    [[translation]] = translator.translate_hypotheses(
        ["sun"], translator.settings(beam_size=1), attention=True
    )
    alignment = translator.alignment("sun", translation)
    assert alignment.source_tokens == ["s", "u", "n"]  # one column per letter, reading order
    assert alignment.weights == translation.attention.flip(-1).float().tolist()  # read reversed
    argv = ["evaluate", "--checkpoint", str(ckpt), "--src", f"{split}/test.src",
            "--ref", f"{split}/test.tgt", "--beam-size", "1"]  # fmt: skip
    capsys.readouterr()
    assert seq2seq(argv) == 0
    out = capsys.readouterr().out
    assert "wer-no-stress = " in out and "per = " in out and "task: pronunciation" in out


def test_the_recipe_loads_and_its_header_commands_parse():
    import shlex

    from seq2seq.commands import build_parser
    from seq2seq.config import load_config

    recipe = REPO / "configs" / "tasks" / "cmudict-g2p.yaml"
    config = load_config(recipe)
    assert config.train.max_minutes == 60 and config.model.context == "attention"
    header = [
        line[1:].strip() for line in recipe.read_text("utf-8").splitlines() if line[:1] == "#"
    ]
    text = " ".join(header).replace("\\ ", " ").replace("$S", "data/cmudict/split")
    for command in ("prepare", "train", "evaluate"):
        start = text.index(f"seq2seq {command} ")
        segment = re.split(r" (?:then:|and judge|A pronouncer)", text[start:])[0]
        argv = shlex.split(segment)[1:]
        args = build_parser(command).parse_args(argv)  # exits (fails the test) on a bad flag
        assert args.command == command
    assert "--src-vocab char --tgt-vocab word" in text and "--task pronunciation" in text


@pytest.mark.slow
def test_a_small_pronouncer_learns_to_read_words_it_never_saw(split, tmp_path):
    """A few hundred steps on the slice's training words: on held-out words the phoneme error
    rate falls far below the untrained model's, and some whole words come out right."""
    from seq2seq.config import Config
    from seq2seq.evaluate.evaluate import evaluate
    from seq2seq.experiment import build_trainer

    data = tmp_path / "data"
    argv = ["prepare", "--src", f"{split}/train.src", "--tgt", f"{split}/train.tgt",
            "--valid-src", f"{split}/dev.src", "--valid-tgt", f"{split}/dev.tgt",
            "--task", "pronunciation", "--src-vocab", "char", "--tgt-vocab", "word", "--out", str(data)]  # fmt: skip
    assert seq2seq(argv) == 0

    def per_after(steps: int) -> dict[str, float]:
        config = Config.model_validate(
            {
                "data": {"dir": str(data), "batch_size": 32, "reverse_source": False},
                "model": {"embedding_size": 32, "hidden_size": 96, "layers": 1,
                          "context": "attention", "attention": "bahdanau", "bidirectional": True,
                          "dropout": 0.0},
                "train": {"out_dir": str(tmp_path / f"run{steps}"), "max_steps": steps,
                          "valid_every": max(steps, 1), "log_every": 50, "valid_bleu": False,
                          "tensorboard": False, "threads": 1, "optimizer": "adam", "lr": 0.005,
                          "seed": 1},
            }
        )  # fmt: skip
        build_trainer(config).fit()
        result = evaluate(split / "dev.src", split / "dev.tgt",
                          [tmp_path / f"run{steps}" / "last.safetensors"], decode={"beam_size": 1})  # fmt: skip
        return {m["name"]: m["score"] for m in result["metrics"]}

    untrained, trained = per_after(1), per_after(600)
    assert untrained["per-no-stress"] > 90
    assert trained["per-no-stress"] < 45, trained
    assert trained["wer-no-stress"] < 90, trained
