"""The package's shape: dependencies run one way, the command layer alone owns the terminal,
and no command-line flag is declared twice (scripts/architecture.py holds the layer rules)."""

from __future__ import annotations

import argparse
import importlib.util
import re
import sys
from pathlib import Path

import pytest

from seq2seq.commands import COMMANDS, build_parser

REPO = Path(__file__).resolve().parents[1]


def _architecture():
    spec = importlib.util.spec_from_file_location(
        "architecture", REPO / "scripts" / "architecture.py"
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules["architecture"] = module
    spec.loader.exec_module(module)
    return module


def test_no_module_imports_another_that_imports_it_back():
    arch = _architecture()
    assert arch.cycles(arch.graph()) == []


def test_the_cycle_finder_finds_a_planted_cycle():
    arch = _architecture()
    planted = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert arch.cycles(planted) == [["a", "b", "c"]]


def test_imports_run_down_the_layers_and_only_commands_touch_the_terminal():
    arch = _architecture()
    assert arch.violations(arch.graph()) == []


def test_the_layer_checker_reports_an_upward_and_a_sibling_import():
    arch = _architecture()
    edges = {
        "seq2seq.model.encoder": {"seq2seq.decode.search"},  # up
        "seq2seq.train.trainer": {"seq2seq.decode.search"},  # sibling
        "seq2seq.decode.search": {"seq2seq.config"},  # fine
    }
    found = [p for p in arch.violations(edges) if " at line " not in p]
    assert found == [
        "seq2seq.model.encoder imports seq2seq.decode.search, a higher layer",
        "seq2seq.train.trainer imports seq2seq.decode.search, a sibling",
    ]


def test_the_terminal_checker_finds_bars_prompts_and_tty_checks():
    arch = _architecture()
    planted = "\n".join(
        [
            "import argparse",  # 1
            "from tqdm import tqdm",  # 2
            "import tqdm.auto",  # 3
            "answer = input('> ')",  # 4
            "print(answer)",  # 5
            "if sys.stdin.isatty(): pass",  # 6
            "import logging",  # 7: fine
            "self.input_feeding(x)",  # 8: fine, a method named like input
        ]
    )
    found = arch.terminal_code("seq2seq.decode.x", planted)
    assert [re.match(r"(.*) at line (\d+)", p).groups() for p in found] == [
        ("seq2seq.decode.x imports argparse", "1"),
        ("seq2seq.decode.x imports tqdm", "2"),
        ("seq2seq.decode.x imports tqdm", "3"),
        ("seq2seq.decode.x calls input", "4"),
        ("seq2seq.decode.x calls print", "5"),
        ("seq2seq.decode.x calls isatty", "6"),
    ]


def test_the_generated_architecture_block_is_up_to_date():
    """All of it: parts, imports, file and line counts, and the diagram."""
    arch = _architecture()
    text = arch.DOC.read_text(encoding="utf-8")
    written = text[text.index(arch.BEGIN) + len(arch.BEGIN) : text.index(arch.END)]
    assert written.strip() == arch.render(arch.graph()).strip(), (
        "docs/ARCHITECTURE.md is stale: run python scripts/architecture.py --write"
    )


def _flags(parser: argparse.ArgumentParser) -> list[str]:
    return [f for action in parser._actions for f in action.option_strings]


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_every_command_parses_its_help_and_declares_each_flag_once(command):
    parser = build_parser(command)
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    child = sub.choices[command]
    parsers = [child] + [
        p
        for action in child._actions
        if isinstance(action, argparse._SubParsersAction)
        for p in action.choices.values()
    ]
    for p in parsers:
        flags = _flags(p)
        assert len(flags) == len(set(flags)), f"{command}: a flag is declared twice"
        assert p.format_help()


def test_shared_flags_are_declared_in_one_place():
    """--checkpoint, --device, the decode flags: only commands/options.py spells them."""
    sources = {
        path.name: path.read_text(encoding="utf-8")
        for path in (REPO / "src" / "seq2seq" / "commands").glob("*.py")
        if path.name != "options.py"
    }
    for flag in ('"--checkpoint"', '"--device"', '"--beam-size"', '"--precision"', '"--shortlist"'):
        pattern = re.compile(r"add_argument\(\s*" + re.escape(flag))
        spelled = [name for name, text in sources.items() if pattern.search(text)]
        assert spelled == [], f"{flag} declared outside commands/options.py in {spelled}"
