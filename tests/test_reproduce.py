"""benchmarks/reproduce.py: experiment files, listing, resume, and one tiny run end to end."""

from __future__ import annotations

import gzip
import importlib.util
import json
import shutil
import sys
from pathlib import Path

import pytest

from seq2seq.config import Config
from seq2seq.errors import ConfigError, Seq2SeqError

REPO = Path(__file__).resolve().parents[1]
SPEC = importlib.util.spec_from_file_location("reproduce", REPO / "benchmarks" / "reproduce.py")
reproduce = importlib.util.module_from_spec(SPEC)
sys.modules["reproduce"] = reproduce
SPEC.loader.exec_module(reproduce)

# A model small enough to train 4-6 steps and decode 12 sentences in a second or two.
TINY = [
    "model.embedding_size=16",
    "model.hidden_size=16",
    "train.tensorboard=false",
    "train.threads=1",
    "data.max_valid_sentences=20",
    "decode.batch_size=16",
]


def test_every_experiment_merges_into_a_valid_config(tmp_path):
    found = reproduce.load_experiments(tmp_path / "runs", tmp_path / "data")
    assert len(found) >= 20
    trained = {name for name, exp in found.items() if exp.trains}
    for name in trained:
        config = found[name].config
        assert isinstance(config, Config)
        assert config.train.out_dir == str(tmp_path / "runs" / name)
        # the base recipe's budget is kept, except by the hour-long quality recipes (issue 16)
        # and the hour-long Tatoeba runs (issue 17)
        expected = 60 if name.startswith(("multi30k-", "tatoeba-")) else 15
        assert config.train.max_minutes == expected
    assert found["forward"].config.data.reverse_source is False
    assert found["reversed"].config.data.reverse_source is True
    assert found["depth-4"].config.model.layers == 4
    assert found["seed-3"].config.train.seed == 3
    assert found["luong"].config.model.context == "attention"
    assert found["bahdanau"].config.model.attention == "bahdanau"
    assert found["gru"].config.model.cell == "gru"
    assert found["reversed-word"].dataset == "en-fr-word"
    assert found["en-de-luong"].config.data.dir.endswith("multi30k-en-de")
    # decode-only rows name trained runs; the ensemble is seeds 1..5 of one recipe
    ensemble = found["ensemble"]
    assert not ensemble.trains and ensemble.beams == [1, 2, 12]
    assert {found[m].config.train.seed for m in ensemble.members} == {1, 2, 3, 4, 5}
    assert found["beam-sweep"].beams == [1, 2, 5, 12]
    assert set(found["rescore"].needs()) == {"depth-1", *ensemble.members}


def test_every_trained_experiment_builds_a_model(tmp_path):
    from seq2seq.model.seq2seq import Seq2Seq

    found = reproduce.load_experiments(tmp_path, tmp_path)
    for exp in found.values():
        if exp.trains:
            model = Seq2Seq(exp.config.model, 50, 60)
            assert model.num_parameters() > 0, exp.name


def test_overrides_and_bad_files(tmp_path, monkeypatch):
    found = reproduce.load_experiments(tmp_path, tmp_path, ["train.max_minutes=0.5"])
    assert found["depth-1"].config.train.max_minutes == 0.5
    bad = tmp_path / "experiments"
    bad.mkdir()
    (bad / "typo.yaml").write_text("model:\n  layer: 3\n", encoding="utf-8")
    monkeypatch.setattr(reproduce, "EXPERIMENTS", bad)
    with pytest.raises(ConfigError, match="typo.yaml.*model.layer"):
        reproduce.load_experiments(tmp_path, tmp_path)
    (bad / "typo.yaml").write_text("reproduce:\n  members: [nowhere]\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="'nowhere' is not a training experiment"):
        reproduce.load_experiments(tmp_path, tmp_path)


def test_list(capsys):
    assert reproduce.main(["--list"]) == 0
    out = capsys.readouterr().out
    assert "reversed " in out and "ensemble" in out and "decode" in out and "train" in out


def test_table_replaces_only_its_block(tmp_path):
    doc = tmp_path / "results.md"
    doc.write_text("# Results\n\nkept text\n", encoding="utf-8")
    row = {
        "name": "x",
        "description": "d",
        "command": "c",
        "test_set": "t",
        "training": {"parameters": 1234, "train_seconds": 90, "tgt_tok_s": 10, "dev_ppl": None},
        "decodes": [
            {"search": "greedy", "bleu": 1.5, "bleu_lc": 2.0, "chrf": 3.0}
            | {k: "sig" for k in ("bleu_signature", "bleu_lc_signature", "chrf_signature")}
        ],
    }
    reproduce.write_table(doc, [row])
    reproduce.write_table(doc, [row, {**row, "name": "y"}])
    text = doc.read_text(encoding="utf-8")
    assert text.startswith("# Results\n\nkept text\n")
    assert text.count(reproduce.TABLE_BEGIN) == 1
    assert "| x: d | greedy | 1.50 | 2.00 | 3.00 | — | 1,234 | 1.5 min | 10 | `c` |" in text
    assert "| y: d |" in text


def test_headline_leaves_repeats_and_ensemble_members_to_the_full_table():
    def row(name):
        decode = {"search": "beam 5", "bleu": 30.0, "bleu_lc": 30.5, "bleu_tok": 31.0, "chrf": 50.0}
        return {"name": name, "description": "d", "training": {"steps": None}, "decodes": [decode]}

    headline = reproduce.render_headline([row("reversed"), row("seed-2"), row("beam-sweep")])
    assert "| reversed: d | — | — | 30.00 (beam 5) | 30.50 | 31.00 | 50.00 | — |" in headline
    assert "seed-2" not in headline and "beam-sweep" not in headline


def test_the_headline_shows_the_decode_chosen_on_val_not_the_best_on_test():
    test_best = {"search": "beam 10", "bleu": 40.0, "bleu_lc": 40.5, "chrf": 60.0}
    chosen = {"search": "beam 5, lp 0.6 (chosen on val)", "bleu": 39.0, "bleu_lc": 39.5,
              "bleu_tok": 39.9, "chrf": 59.0, "val_bleu": 41.0}  # fmt: skip
    res = {
        "name": "x",
        "description": "d",
        "training": {"steps": 10},
        "decodes": [test_best, chosen],
    }
    headline = reproduce.render_headline([res])
    assert "| 39.00 (beam 5, lp 0.6 (chosen on val)) | 39.50 | 39.90 | 59.00 | 10 |" in headline


@pytest.fixture(scope="module")
def multi30k_dir(corpus, tmp_path_factory) -> Path:
    """What `--multi30k` names: the committed EN->FR slice (not Multi30k's text) under Multi30k's
    raw file names, {train,val,test_2016_flickr}.{en,fr}.gz."""
    folder = tmp_path_factory.mktemp("multi30k-layout")
    for split, name in (("train", "train"), ("valid", "val"), ("test", "test_2016_flickr")):
        for lang in ("en", "fr"):
            shutil.copyfile(corpus / f"{split}.{lang}.gz", folder / f"{name}.{lang}.gz")
    return folder


def test_word_dataset_is_prepared_once(tmp_path, multi30k_dir):
    from seq2seq.data.vocab import split_punctuation

    out = reproduce.ensure_dataset("en-fr-word", tmp_path, multi30k_dir)
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["vocab"]["kind"] == "word"
    # the recipe keeps the 6,250 / 6,500 most frequent words, punctuation split off: every one
    # where the training half has fewer types, as the slice's 2,000 pairs have
    options, sizes = reproduce.DATASETS["en-fr-word"][3], []
    for lang, key in (("en", "src_vocab_size"), ("fr", "tgt_vocab_size")):
        with gzip.open(multi30k_dir / f"train.{lang}.gz", "rt", encoding="utf-8") as handle:
            types = {word for line in handle for word in split_punctuation(line)}
        assert len(types) < options[key]
        sizes.append(len(types) + 4)
    assert [manifest["vocab"]["src_size"], manifest["vocab"]["tgt_size"]] == sizes
    assert manifest["vocab"]["split_punct"]
    assert manifest["splits"]["train"]["pairs"] == 2000
    stamp = (out / "manifest.json").stat().st_mtime_ns
    assert reproduce.ensure_dataset("en-fr-word", tmp_path, multi30k_dir) == out
    assert (out / "manifest.json").stat().st_mtime_ns == stamp  # cached, not rebuilt
    with pytest.raises(Seq2SeqError, match="nowhere/train.en.gz is missing"):
        reproduce.ensure_dataset("en-de-bpe8k", tmp_path, tmp_path / "nowhere")


@pytest.fixture
def cache(tmp_path, data_dir):
    """A data cache whose EN->FR BPE directory is the conftest's small prepared subset."""
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "multi30k-en-fr").symlink_to(data_dir, target_is_directory=True)
    return tmp_path / "data"


def test_interrupted_run_resumes_then_one_row_end_to_end(tmp_path, cache, multi30k_dir, capsys):
    runs = tmp_path / "runs"
    first = reproduce.load_experiments(runs, cache, [*TINY, "train.max_steps=4"])["depth-1"]
    assert reproduce.run_status(runs / "depth-1") == "new"
    reproduce.train(first)
    assert reproduce.run_status(runs / "depth-1") == "done"
    (runs / "depth-1" / reproduce.DONE).unlink()  # as if killed after its last checkpoint
    assert reproduce.run_status(runs / "depth-1") == "resume"

    args = ["--runs-dir", str(runs), "--data-cache", str(cache), "--multi30k", str(multi30k_dir)]
    args += ["--test-limit", "12", "--table", str(tmp_path / "results.md"), "--max-steps", "6"]
    args += ["--results-dir", str(tmp_path / "results")]
    args += [f"--set={item}" for item in TINY]
    readme = tmp_path / "README.md"
    readme.write_text(f"intro\n{reproduce.HEADLINE_BEGIN}\nold\n{reproduce.HEADLINE_END}\nrest\n")
    args += ["--readme", str(readme)]
    assert reproduce.main(["--only", "depth-1", *args]) == 0
    assert "resumed from" in capsys.readouterr().err
    done = json.loads((runs / "depth-1" / reproduce.DONE).read_text(encoding="utf-8"))
    assert done["steps"] == 6 and done["parameters"] > 0 and done["train_seconds"] > 0

    result = json.loads((runs / "depth-1" / reproduce.RESULTS).read_text(encoding="utf-8"))
    assert [d["search"] for d in result["decodes"]] == ["greedy", "beam 5"]
    for decode in result["decodes"]:
        assert 0.0 <= decode["bleu"] <= 100.0 and 0.0 < decode["chrf"] <= 100.0
        assert "case:mixed" in decode["bleu_signature"]
        assert "case:lc" in decode["bleu_lc_signature"]
    assert result["training"]["dev_ppl"] > 1.0
    assert len((runs / "depth-1" / "test.beam5.txt").read_text("utf-8").splitlines()) == 12
    table = (tmp_path / "results.md").read_text(encoding="utf-8")
    assert "| depth-1: 1 layer, reversed, no attention | greedy |" in table
    assert "`python benchmarks/reproduce.py --only depth-1 --set " in table  # its overrides
    assert "--set train.max_steps=6 --test-limit 12`" in table
    headline = readme.read_text(encoding="utf-8")
    assert headline.startswith("intro\n") and headline.endswith("rest\n") and "old" not in headline
    assert "| depth-1: 1 layer, reversed, no attention | " in headline and "(beam 5)" in headline
    kept = json.loads((tmp_path / "results" / "depth-1.json").read_text(encoding="utf-8"))
    assert kept == result and "cores" in kept["machine"]

    # a finished run is skipped, not retrained
    assert reproduce.main(["--only", "depth-1", *args]) == 0
    assert "already trained, skipping" in capsys.readouterr().err

    # decode-only rows: an "ensemble" of the run with itself and a rescored 3-best list
    found = reproduce.load_experiments(runs, cache, TINY)
    ensemble = reproduce.Experiment("ens", "d", members=["depth-1", "depth-1"], beams=[1])
    spec = {"nbest_from": "depth-1", "by": ["depth-1"], "n": 3, "weight": 0.5}
    resc = reproduce.Experiment("resc", "d", rescore=spec)
    paired = reproduce.evaluate(ensemble, found, runs, multi30k_dir, 12)
    rescored = reproduce.evaluate(resc, found, runs, multi30k_dir, 12)
    # the same model twice is the same distribution: the ensemble's greedy output is the model's
    assert paired["training"]["parameters"] == 2 * result["training"]["parameters"]
    # several models have no one step count: each member's is kept instead
    assert paired["training"]["steps"] is None
    assert paired["training"]["member_steps"] == [6, 6]
    read = lambda run: (runs / run / "test.beam1.txt").read_text("utf-8")  # noqa: E731
    assert read("ens") == read("depth-1")
    # re-ranked by its own log-probability, each list's winner is its most probable entry
    assert [d["search"] for d in rescored["decodes"]] == ["3-best, 1-best", "3-best rescored"]
    _check_rescored(runs / "depth-1" / "best.safetensors", multi30k_dir, rescored["decodes"][1])


def _check_rescored(checkpoint, multi30k, decode):
    from seq2seq.decode.translator import Translator
    from seq2seq.evaluate.scores import corpus_scores, read_lines

    src = read_lines(multi30k / "test_2016_flickr.en.gz")[:12]
    ref = read_lines(multi30k / "test_2016_flickr.fr.gz")[:12]
    model = Translator.load(checkpoint)
    lists = model.translate_hypotheses(src, model.settings(beam_size=3, n_best=3))
    best = [max(hyps, key=lambda h: h.log_prob).text for hyps in lists]
    assert decode["bleu"] == pytest.approx(corpus_scores(best, ref).bleu, abs=0.01)
