"""Typed configuration: every shipped recipe loads; every mistake is one sentence naming the key."""

import argparse
from pathlib import Path

import pytest
from pydantic import BaseModel

from seq2seq import config
from seq2seq.cli import main
from seq2seq.commands import build_parser, in_flags
from seq2seq.config import load_config, reference_yaml
from seq2seq.errors import ConfigError

CONFIGS = Path(__file__).resolve().parents[1] / "configs"


@pytest.mark.parametrize(
    "name",
    [
        "paper.yaml",
        "small-cpu.yaml",
        "reference.yaml",
        "multi30k-en-fr.yaml",
        "multi30k-en-de.yaml",
    ],
)
def test_shipped_configs_load(name):
    load_config(CONFIGS / name)


def test_reference_config_documents_every_key():
    assert (CONFIGS / "reference.yaml").read_text(encoding="utf-8") == reference_yaml()


def _settings_models() -> list[type[BaseModel]]:
    """Every settings class of seq2seq.config: the sections a file or flag can set."""
    return [
        obj
        for obj in vars(config).values()
        if isinstance(obj, type)
        and issubclass(obj, BaseModel)
        and obj.__module__ == config.__name__
        and obj is not config.Config
    ]


def test_every_setting_says_what_it_means():
    """A field without a description leaves a bare key in reference.yaml and a flag without help."""
    models = _settings_models()
    assert {"DataConfig", "ModelConfig", "TrainConfig", "DecodeConfig"} <= {
        m.__name__ for m in models
    }
    bare = [
        f"{model.__name__}.{name}"
        for model in models
        for name, field in model.model_fields.items()
        if not (field.description or "").strip()
    ]
    assert bare == [], f"settings without a description: {', '.join(bare)}"


def test_paper_recipe_is_the_papers():
    cfg = load_config(CONFIGS / "paper.yaml")
    assert (cfg.model.layers, cfg.model.hidden_size, cfg.model.embedding_size) == (4, 1000, 1000)
    assert cfg.model.cell == "lstm" and cfg.model.context == "init" and cfg.model.init_range == 0.08
    assert (cfg.train.optimizer, cfg.train.lr, cfg.train.epochs) == ("sgd", 0.7, 7.5)
    assert (cfg.train.halve_after_epochs, cfg.train.halve_every_epochs) == (5.0, 0.5)
    assert (cfg.train.clip, cfg.train.normalize, cfg.data.batch_size) == (5.0, "sentences", 128)
    assert cfg.data.reverse_source is True


def test_overrides_are_typed():
    cfg = load_config(
        CONFIGS / "small-cpu.yaml", ["model.layers=4", "train.max_minutes=null", "model.cell=gru"]
    )
    assert cfg.model.layers == 4 and cfg.train.max_minutes is None and cfg.model.cell == "gru"


@pytest.mark.parametrize(
    "override, message",
    [
        (
            "model.cel=lstm",
            "unknown config key 'model.cel'; section 'model' allows: attention, bidirectional",
        ),
        (
            "model.cell=lsmt",
            "config key 'model.cell': input should be 'lstm', 'gru' or 'rnn' (got 'lsmt')",
        ),
        ("train.lr=-1", "config key 'train.lr': input should be greater than 0"),
        ("data.batch_size=many", "config key 'data.batch_size': input should be a valid integer"),
        (
            "optimiser.lr=1",
            "unknown config key 'optimiser'; the top level allows: data, decode, model, train",
        ),
        (
            "model.decoder_layers=3",
            "context 'init' copies state layer by layer, use context 'bridge'",
        ),
        ("model.layers", "override 'model.layers' must look like section.key=value"),
    ],
)
def test_mistakes_are_one_sentence(override, message):
    with pytest.raises(ConfigError) as err:
        load_config(None, [override])
    assert message in str(err.value)
    assert "\n" not in str(err.value)


def test_bad_files(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("model:\n  layers: [1\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"not valid YAML at line \d"):
        load_config(bad)


def test_cli_reports_config_errors_without_traceback(tmp_path, capsys):
    code = main(["train", str(CONFIGS / "small-cpu.yaml"), "--set", "model.context=magic"])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("seq2seq train: error: config key 'model.context'")
    assert "Traceback" not in err and err.count("\n") == 1


def _command_parser(name: str):
    parser = build_parser(name)
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return sub.choices[name]


@pytest.mark.parametrize(
    "command, library, command_line",
    [
        (
            "translate",
            "config key 'decode.beam_size': input should be greater than 0 (got 0)",
            "--beam-size: input should be greater than 0 (got 0)",
        ),
        (
            "analyze",
            "analyze.groups must be at least 1, got 0",
            "--groups must be at least 1, got 0",
        ),
        (
            "evaluate",
            "cannot tell the language of x.tok for the Moses tokeniser; give evaluate.tok_lang",
            "cannot tell the language of x.tok for the Moses tokeniser; give --tok-lang",
        ),
        # no flag sets it on this command: the setting stays, for a config file or --set
        ("translate", "config key 'train.lr': must be > 0", "config key 'train.lr': must be > 0"),
        ("train", "config key 'model.context': bad", "config key 'model.context': bad"),
        # file names are not settings, even when they look like one
        (
            "translate",
            "runs/train.log and data.dir are missing",
            "runs/train.log and data.dir are missing",
        ),
        (
            "prepare",
            "--src raw/train.src is the file prepare writes as raw/train.src",
            "--src raw/train.src is the file prepare writes as raw/train.src",
        ),
        ("prepare", "train.src: no such file", "train.src: no such file"),
        ("prepare", "prepare.max_len: input should be > 0", "--max-len: input should be > 0"),
    ],
)
def test_library_errors_name_settings_and_the_command_line_names_flags(
    command, library, command_line
):
    assert in_flags(library, _command_parser(command), command) == command_line
