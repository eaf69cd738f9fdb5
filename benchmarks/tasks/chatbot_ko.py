"""The Korean chatbot judged as dialogue work judges it, one row per system, on the held-out
questions of the recipe's split (configs/tasks/chatbot-ko.yaml).

    python benchmarks/tasks/chatbot_ko.py                       # the retrieval baseline's row
    python benchmarks/tasks/chatbot_ko.py --answers "beam 5" runs/chatbot-ko/test.beam5.txt \\
        "seq2seq translate --checkpoint runs/chatbot-ko/best.safetensors --beam-size 5 ..."

Every row is the chatbot task's metrics (seq2seq.evaluate.metrics: BLEU and chrF against the one
reference answer, distinct-1 / distinct-2, mean answer length) of one list of answers to the test
questions, with the command line that produced those answers. A system is a function that returns
a `Row` (see `SYSTEMS`): the retrieval baseline picks its features on the dev split and answers
the test questions; `--answers NAME FILE COMMAND` scores answers some other command wrote (a
trained model's beam, sampling or MMI re-ranked output). The reference answers themselves are a
row too, for the distinct-n and length a person's answers have (their BLEU and chrF, 100 by
definition, are left out).

The split must exist first (its sizes are read from its split.json):
    seq2seq split --csv ../shared/data/chatbot-ko/ChatbotData.csv --columns Q A \\
        --seed 1 --dev 500 --test 500 --out data/chatbot-ko/split

Writes benchmarks/results/chatbot_retrieval.{md,json} (--out to change).
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from seq2seq.evaluate.metrics import MetricScore, score, score_task
from seq2seq.evaluate.retrieval import RetrievalBaseline
from seq2seq.evaluate.scores import read_lines

ROOT = Path(__file__).resolve().parents[2]
SPLIT = ROOT / "data" / "chatbot-ko" / "split"
OUT = ROOT / "benchmarks" / "results" / "chatbot_retrieval"
TASK = "chatbot"
# (analyzer, n-gram range) the retrieval baseline tries on dev; the best dev chrF answers test
RETRIEVAL_SETTINGS = [
    ("char_wb", (1, 2)),
    ("char_wb", (1, 3)),
    ("char_wb", (2, 4)),
    ("word", (1, 1)),
    ("word", (1, 2)),
]


@dataclass
class Row:
    """One system's answers to the test questions, scored, and how to make them again."""

    system: str
    command: str
    scores: list[MetricScore]
    notes: str = ""
    extra: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {
            "system": self.system,
            "command": self.command,
            "scores": [s.to_dict() for s in self.scores],
            "notes": self.notes,
            **self.extra,
        }


def read_split(split_dir: Path, name: str) -> tuple[list[str], list[str]]:
    """Questions and reference answers of one split written by `seq2seq split`."""
    return read_lines(split_dir / f"{name}.src"), read_lines(split_dir / f"{name}.tgt")


def this_command(*args: str) -> str:
    """The command line that reruns this script for one system."""
    return shlex.join(["python", "benchmarks/tasks/chatbot_ko.py", *args])


def retrieval_dev_sweep(split_dir: Path) -> list[dict]:
    """Each RETRIEVAL_SETTINGS entry fitted on train and scored on dev."""
    questions, answers = read_split(split_dir, "train")
    dev_questions, dev_answers = read_split(split_dir, "dev")
    sweep = []
    for analyzer, ngrams in RETRIEVAL_SETTINGS:
        baseline = RetrievalBaseline(questions, answers, analyzer=analyzer, ngram_range=ngrams)
        scores = score_task(TASK, baseline.answer(dev_questions), dev_answers)
        sweep.append({"analyzer": analyzer, "ngram_range": list(ngrams), "scores": scores})
        print(f"dev  {analyzer:8} {ngrams}  {_brief(scores)}", file=sys.stderr)
    return sweep


def retrieval_row(args: argparse.Namespace) -> Row:
    """The retrieval baseline with the features that won on dev (chrF), on the test questions."""
    sweep = retrieval_dev_sweep(args.split)
    best = max(sweep, key=lambda entry: _by_name(entry["scores"])["chrf"].score)
    questions, answers = read_split(args.split, "train")
    baseline = RetrievalBaseline(
        questions, answers, analyzer=best["analyzer"], ngram_range=tuple(best["ngram_range"])
    )
    test_questions, references = read_split(args.split, "test")
    hypotheses = baseline.answer(test_questions)
    if args.save_answers:
        args.save_answers.write_text("".join(h + "\n" for h in hypotheses), encoding="utf-8")
    low, high = best["ngram_range"]
    return Row(
        system="retrieval (TF-IDF cosine, nearest training question)",
        command=this_command("--systems", "retrieval", "--split", _rel(args.split)),
        scores=score_task(TASK, hypotheses, references),
        notes=f"{best['analyzer']} {low}-{high}-grams, chosen on dev by chrF; {baseline.describe()}",
        extra={"dev_sweep": [_sweep_dict(entry) for entry in sweep]},
    )


def reference_row(args: argparse.Namespace) -> Row:
    """The test split's reference answers: the diversity and length a person's answers have."""
    _, references = read_split(args.split, "test")
    names = ["distinct-1", "distinct-2", "length"]
    return Row(
        system="reference answers (people)",
        command=f"cat {_rel(args.split)}/test.tgt",
        scores=score(names, references, references),
        notes="BLEU and chrF are 100 by definition",
    )


def answers_row(system: str, path: Path, command: str, split_dir: Path) -> Row:
    """Answers another command wrote to `path`, one per test question, scored."""
    _, references = read_split(split_dir, "test")
    return Row(
        system=system, command=command, scores=score_task(TASK, read_lines(path), references)
    )


SYSTEMS: dict[str, Callable[[argparse.Namespace], Row]] = {
    "retrieval": retrieval_row,
    "reference": reference_row,
}


def _by_name(scores: list[MetricScore]) -> dict[str, MetricScore]:
    return {s.name: s for s in scores}


def _sweep_dict(entry: dict) -> dict:
    return {**entry, "scores": [s.to_dict() for s in entry["scores"]]}


def _rel(path: Path) -> str:
    path = Path(path).resolve()
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def _fmt(s: MetricScore) -> str:
    return f"{s.score:.4f}" if s.name.startswith("distinct") else f"{s.score:.2f}"


def _brief(scores: list[MetricScore]) -> str:
    return "  ".join(f"{s.name} {_fmt(s)}" for s in scores)


COLUMNS = ["bleu", "chrf", "distinct-1", "distinct-2", "length"]


def table(rows: list[Row]) -> list[str]:
    """The results table in Markdown, one line per row; '—' where a metric does not apply."""
    lines = [
        "| system | BLEU | chrF | distinct-1 | distinct-2 | mean length | command |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        scores = _by_name(row.scores)
        cells = [_fmt(scores[c]) if c in scores else "—" for c in COLUMNS]
        lines.append(f"| {row.system} | {' | '.join(cells)} | `{row.command}` |")
    return lines


def sweep_table(sweep: list[dict]) -> list[str]:
    lines = [
        "| features | BLEU | chrF | distinct-1 | distinct-2 | mean length |",
        "|---|---|---|---|---|---|",
    ]
    for entry in sweep:
        scores = {s["name"]: MetricScore(**s) for s in entry["scores"]}
        low, high = entry["ngram_range"]
        cells = [_fmt(scores[c]) for c in COLUMNS]
        lines.append(f"| {entry['analyzer']} {low}-{high}-grams | {' | '.join(cells)} |")
    return lines


def write_report(rows: list[Row], split_dir: Path, out: Path) -> None:
    """`out`.json (every row, its signatures and the dev sweep) and `out`.md (the tables)."""
    manifest = json.loads((split_dir / "split.json").read_text(encoding="utf-8"))
    stamp = time.strftime("%Y-%m-%d", time.gmtime())
    sizes = manifest["splits"]
    data = {"date": stamp, "task": TASK, "split": manifest, "rows": [r.to_dict() for r in rows]}
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(
        json.dumps(data, indent=1, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    signatures = {s.name: s.signature for row in rows for s in row.scores}
    lines = [
        "# Korean chatbot: answers to held-out questions",
        "",
        f"{stamp} · `{this_command(*sys.argv[1:])}` · the test split of `seq2seq split` "
        f"(seed {manifest['seed']}; {_counts(sizes)}; every copy of a question on one side) of "
        "songys/Chatbot_data (11,823 pairs, MIT). One reference answer per question; "
        f"{_verbatim(split_dir)} of the test answers occur word for word among the training "
        "answers (the data set gives paraphrased questions one answer), which is what retrieval "
        "can find.",
        "",
        *table(rows),
        "",
        "Signatures: " + "; ".join(f"{name}: `{sig}`" for name, sig in signatures.items()),
    ]
    for row in rows:
        if "dev_sweep" in row.extra:
            lines += ["", f"Features of the retrieval baseline on dev ({row.notes}):", ""]
            lines += sweep_table(row.extra["dev_sweep"])
    out.with_suffix(".md").write_text("\n".join(lines) + "\n", encoding="utf-8")


def _verbatim(split_dir: Path) -> str:
    """How many test reference answers are also training answers, as 'N of M (P%)'."""
    train = set(read_split(split_dir, "train")[1])
    test = read_split(split_dir, "test")[1]
    found = sum(answer in train for answer in test)
    return f"{found:,} of {len(test):,} ({100 * found / len(test):.1f}%)"


def _counts(sizes: dict) -> str:
    return ", ".join(
        f"{name} {size['pairs']:,} pairs / {size['groups']:,} questions"
        for name, size in sizes.items()
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--split", type=Path, default=SPLIT, help="a split from seq2seq split")
    parser.add_argument(
        "--systems", nargs="*", default=list(SYSTEMS), choices=list(SYSTEMS), help="rows to add"
    )
    parser.add_argument(
        "--answers",
        nargs=3,
        action="append",
        default=[],
        metavar=("NAME", "FILE", "COMMAND"),
        help="also score FILE (one answer per test question) as the row NAME made by COMMAND",
    )
    parser.add_argument("--save-answers", type=Path, help="write the retrieval answers here")
    parser.add_argument("--out", type=Path, default=OUT, help="results file stem (.md, .json)")
    args = parser.parse_args(argv)
    if not (args.split / "split.json").is_file():
        sys.exit(f"chatbot_ko: {args.split}/split.json does not exist; run seq2seq split first")
    rows = [SYSTEMS[name](args) for name in args.systems]
    rows += [answers_row(n, Path(f), c, args.split) for n, f, c in args.answers]
    write_report(rows, args.split, args.out)
    for row in rows:
        print(f"{row.system}: {_brief(row.scores)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
