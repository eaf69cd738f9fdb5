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


def test_imports_run_down_the_layers_and_only_commands_use_argparse_or_print():
    arch = _architecture()
    assert arch.violations(arch.graph()) == []


def test_the_layer_checker_reports_an_upward_and_a_sibling_import():
    arch = _architecture()
    edges = {
        "seq2seq.model.encoder": {"seq2seq.decode.search"},  # up
        "seq2seq.train.trainer": {"seq2seq.decode.search"},  # sibling
        "seq2seq.decode.search": {"seq2seq.config"},  # fine
    }
    found = [p for p in arch.violations(edges) if "argparse" not in p and "print" not in p]
    assert found == [
        "seq2seq.model.encoder imports seq2seq.decode.search, a higher layer",
        "seq2seq.train.trainer imports seq2seq.decode.search, a sibling",
    ]


def _parts_and_imports(block: str) -> list[tuple[str, str]]:
    """(part, imports) of each row of the layer table: what the sizes column aside says."""
    rows = [line.split("|") for line in block.splitlines() if line.startswith("| ")]
    return [(cells[2].strip(), cells[5].strip()) for cells in rows[1:]]


def test_the_generated_architecture_block_is_up_to_date():
    arch = _architecture()
    text = arch.DOC.read_text(encoding="utf-8")
    written = text[text.index(arch.BEGIN) + len(arch.BEGIN) : text.index(arch.END)]
    assert _parts_and_imports(written) == _parts_and_imports(arch.render(arch.graph())), (
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
