"""The package's layers and import graph, read from the code itself.

    python scripts/architecture.py            # print the layer table and the diagram
    python scripts/architecture.py --write    # refresh the generated block of docs/ARCHITECTURE.md
    python scripts/architecture.py --check    # exit 1 on a cycle or an import against the layers

Every `import` in every module counts, including those inside functions (lazy imports are still
dependencies). tests/test_architecture.py runs the same checks.
"""

from __future__ import annotations

import argparse
import ast
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "seq2seq"
DOC = ROOT / "docs" / "ARCHITECTURE.md"
BEGIN, END = "<!-- layers: begin (scripts/architecture.py) -->", "<!-- layers: end -->"

# Layers, bottom first. A part is a subpackage or a top-level module of seq2seq.
LAYERS: list[tuple[str, list[str]]] = [
    (
        "base",
        ["errors", "config", "precision", "runtime", "locking", "demo_task", "tasks", "audio"],
    ),
    ("data, model", ["data", "model"]),
    ("checkpoint I/O, scoring", ["checkpoint", "scoring", "average"]),
    ("train, decode", ["train", "decode", "export"]),
    ("evaluate, serve, experiment", ["evaluate", "serve", "experiment"]),
    ("commands and the package's face", ["commands", "cli", "__init__"]),
]
# Parts of one layer that must not import each other (siblings).
SIBLINGS = [{"data", "model"}, {"train", "decode"}, {"evaluate", "serve"}]
# The only parts that may touch the terminal: argparse, progress bars, prompts, print, isatty.
TERMINAL_ALLOWED = {"commands", "cli"}
TERMINAL_MODULES = {
    "argparse": "outside the command layer (library functions take typed settings)",
    "tqdm": "outside the command layer (report progress through a callback)",
}
TERMINAL_CALLS = {
    "print": "(use logging)",
    "input": "(prompting is the command layer's)",
}
# `seq2seq/__init__.py` re-exports the public API (Translator) lazily: the top of the house.


def modules() -> dict[str, Path]:
    """{dotted module name: file} for every module of the package."""
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


def part_of(module: str) -> str:
    """'seq2seq.decode.search' -> 'decode'; 'seq2seq' -> '__init__'."""
    pieces = module.split(".")
    return pieces[1] if len(pieces) > 1 else "__init__"


def layer_of(part: str) -> int:
    for index, (_, parts) in enumerate(LAYERS):
        if part in parts:
            return index
    raise KeyError(f"seq2seq.{part} is in no layer of scripts/architecture.py; add it to LAYERS")


def imports(path: Path, known: set[str]) -> set[str]:
    """The package modules that `path` imports, anywhere in the file."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts[:-1])
    found: set[str] = set()
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1])
                base = f"{base}.{node.module}" if node.module else base
            names = [base] + [f"{base}.{alias.name}" for alias in node.names]
        for name in names:
            while name and name not in known:
                name = name.rpartition(".")[0]
            if name.startswith("seq2seq"):
                found.add(name)
    return found


def graph() -> dict[str, set[str]]:
    """{module: modules it imports} within the package (parent packages not counted)."""
    mods = modules()
    known = set(mods)
    edges = {}
    for name, path in mods.items():
        edges[name] = {
            m for m in imports(path, known) if m != name and not name.startswith(m + ".")
        }
        edges[name] -= {"seq2seq"} if name != "seq2seq" else set()
    return edges


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Every strongly connected group of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(edges.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                group.append(top)
                if top == node:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    sys.setrecursionlimit(10_000)
    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def violations(edges: dict[str, set[str]]) -> list[str]:
    """Imports that run up the layers or between siblings, and terminal code outside commands."""
    problems = []
    for source, targets in sorted(edges.items()):
        a = part_of(source)
        for target in sorted(targets):
            b = part_of(target)
            if a == b:
                continue
            if layer_of(b) > layer_of(a):
                problems.append(f"{source} imports {target}, a higher layer")
            elif any({a, b} <= pair for pair in SIBLINGS):
                problems.append(f"{source} imports {target}, a sibling")
    for name, path in modules().items():
        if part_of(name) not in TERMINAL_ALLOWED:
            problems += terminal_code(name, path.read_text(encoding="utf-8"))
    return problems


def terminal_code(name: str, source: str) -> list[str]:
    """What in module `name` belongs to the command layer: argparse, tqdm, print, input, isatty."""
    problems = []
    for node in ast.walk(ast.parse(source)):
        modules_named = [a.name for a in node.names] if isinstance(node, ast.Import) else []
        if isinstance(node, ast.ImportFrom):
            modules_named = [node.module or ""]
        for module in modules_named:
            top = module.partition(".")[0]
            if top in TERMINAL_MODULES:
                problems.append(
                    f"{name} imports {top} at line {node.lineno}, {TERMINAL_MODULES[top]}"
                )
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        if isinstance(func, ast.Name) and func.id in TERMINAL_CALLS:
            problems.append(
                f"{name} calls {func.id} at line {node.lineno}, {TERMINAL_CALLS[func.id]}"
            )
        if isinstance(func, ast.Attribute) and func.attr == "isatty":
            problems.append(
                f"{name} calls isatty at line {node.lineno} (what a terminal gets is the command's choice)"
            )
    return problems


def lines_of(path: Path) -> int:
    return sum(1 for _ in path.open(encoding="utf-8"))


def render(edges: dict[str, set[str]]) -> str:
    """The Markdown block: the layer table with sizes, and the part-level diagram."""
    mods = modules()
    size: dict[str, int] = defaultdict(int)
    files: dict[str, int] = defaultdict(int)
    for name, path in mods.items():
        size[part_of(name)] += lines_of(path)
        files[part_of(name)] += 1
    part_edges: dict[str, set[str]] = defaultdict(set)
    for source, targets in edges.items():
        for target in targets:
            if part_of(source) != part_of(target):
                part_edges[part_of(source)].add(part_of(target))
    out = ["| layer | part | files | lines | imports |", "|---|---|---|---|---|"]
    for index in range(len(LAYERS) - 1, -1, -1):
        title, parts = LAYERS[index]
        for part in parts:
            if part not in size:
                continue
            deps = ", ".join(sorted(part_edges.get(part, ()))) or "—"
            out.append(f"| {index}: {title} | `{part}` | {files[part]} | {size[part]:,} | {deps} |")
    out += ["", "```"]
    for index in range(len(LAYERS) - 1, -1, -1):
        title, parts = LAYERS[index]
        present = [p for p in parts if p in size]
        total = sum(size[p] for p in present)
        out.append(f"{index}  {' · '.join(present):<44} {total:>6,} lines   ({title})")
        if index:
            below = sorted({d for p in present for d in part_edges.get(p, ()) if d not in present})
            out.append(f"   {'│ imports ' + ', '.join(below) if below else '│':<60}")
            out.append("   ▼")
    out.append("```")
    return "\n".join(out)


def write_doc(block: str) -> None:
    text = DOC.read_text(encoding="utf-8")
    start, end = text.index(BEGIN) + len(BEGIN), text.index(END)
    DOC.write_text(text[:start] + "\n" + block + "\n" + text[end:], encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="refresh docs/ARCHITECTURE.md")
    parser.add_argument("--check", action="store_true", help="exit 1 on a cycle or violation")
    args = parser.parse_args(argv)
    edges = graph()
    problems = [f"import cycle: {' -> '.join(c)}" for c in cycles(edges)] + violations(edges)
    block = render(edges)
    if args.write:
        write_doc(block)
    if not args.check:
        print(block)
    for problem in problems:
        print(problem, file=sys.stderr)
    return 1 if problems and args.check else 0


if __name__ == "__main__":
    sys.exit(main())
