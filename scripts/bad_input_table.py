"""Run the bad-input battery (tests/test_cli_bad_input.py) and print what each case gives, as the
Markdown table of docs/reliability.md's "## Bad input" section.

    python scripts/bad_input_table.py            # print the table (about 30 s)
    python scripts/bad_input_table.py --write    # and replace the table in docs/reliability.md

Each case runs exactly as the test runs it, in a fresh temporary folder; the sentence shown is
the one the command printed, with the folder's path left out.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DOC = REPO / "docs" / "reliability.md"
HEADING = "## Bad input"
BEGIN = "<!-- bad-input: begin (scripts/bad_input_table.py) -->"
END = "<!-- bad-input: end -->"
INTRO = """\
Every command checks its inputs and output paths before it loads a model or starts the work, and
ends bad input with one sentence that names what and where, exit status 2 and no traceback. No case
leaves a partial or temporary file, and none touches an earlier output: the test runs each case in
one folder and checks afterwards that no file in it changed. Ctrl-C gives exit status 130 and
SIGTERM 143, after the same clean-up (a temporary output file is removed); a closed standard
output (`seq2seq translate ... | head -1`) ends quietly with 141, as `yes | head -1` does. Library
code raises typed exceptions (`seq2seq.errors`: `ConfigError`, `DataError`, `CheckpointError`)
that API users can catch; only the command layer turns them into sentences.

What is checked before the work starts: every input file (it exists, is a file, can be read),
every output path (`seq2seq.data.io.check_writable`: not a directory where a file is meant, its
directory exists, a probe file can be created there), that no output would replace one of the
command's inputs, and every number given on the command line. A checkpoint is refused with one
sentence when it is a directory (with the `best.safetensors` inside it suggested), not
safetensors, truncated, from another program, missing its config or a vocabulary, holding
malformed JSON metadata, or written by a newer checkpoint format version than this code reads.
`seq2seq prepare` drops training pairs longer than `--max-len` tokens (default 250) and says how
many it dropped (a warning, and `too_long` in the manifest); vocabulary sizes of 0 or less are
refused.

The table is the battery of `tests/test_cli_bad_input.py`, with what each case printed (paths are
relative to the test's folder; `python scripts/bad_input_table.py --write` regenerates it).
"""


def _battery():
    path = REPO / "tests" / "test_cli_bad_input.py"
    spec = importlib.util.spec_from_file_location("bad_input", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules["bad_input"] = module
    spec.loader.exec_module(module)
    return module


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def table() -> str:
    battery = _battery()
    rows = ["| # | command | bad input | exit | what it says |", "|---|---|---|---|---|"]
    with tempfile.TemporaryDirectory(prefix="seq2seq-bad-input-") as tmp:
        root = Path(tmp)
        paths = battery.build_world(root)
        read_only = battery.make_read_only(Path(paths["ro"]))
        try:
            for number, case in enumerate(battery.CASES, 1):
                if case.read_only and not read_only:
                    said, code = "(skipped: no read-only directory here)", "-"
                else:
                    outcome = battery.run_case(case, paths, root)
                    said = battery.the_sentence(outcome).replace(f"{root}/", "")
                    code = str(outcome.code)
                    if outcome.code != case.code:
                        print(f"warning: {case.id} exited {outcome.code}", file=sys.stderr)
                if said and not said.startswith("("):  # a code span; `` when it holds a `
                    said = f"`` {said} ``" if "`" in said else f"`{said}`"
                rows.append(
                    f"| {number} | {case.command} | {_cell(case.what)} | {code} | {_cell(said)} |"
                )
                print(f"{number}/{len(battery.CASES)} {case.id}", file=sys.stderr)
        finally:
            battery.undo_read_only(Path(paths["ro"]))
    return "\n".join(rows)


def write(block: str) -> None:
    """Put the table in its section of docs/reliability.md, leaving every other section alone."""
    text = DOC.read_text(encoding="utf-8") if DOC.is_file() else "# Reliability\n"
    generated = f"{BEGIN}\n{block}\n{END}"
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        text = head + generated + rest.split(END, 1)[1]
    elif HEADING + "\n" in text:  # the section without its table: the table ends it
        start = text.index(HEADING + "\n") + len(HEADING)
        end = text.find("\n## ", start)
        end = len(text) if end < 0 else end + 1
        text = f"{text[:start]}{text[start:end].rstrip()}\n\n{generated}\n\n{text[end:]}".rstrip()
        text += "\n"
    else:
        text = f"{text.rstrip()}\n\n{HEADING}\n\n{INTRO}\n{generated}\n"
    DOC.write_text(text, encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help=f"update {DOC.relative_to(REPO)}")
    args = parser.parse_args()
    block = table()
    print(block)
    if args.write:
        write(block)
        print(f"wrote {DOC.relative_to(REPO)}", file=sys.stderr)


if __name__ == "__main__":
    main()
