"""E-mail subject lines judged as summarisation work judges them: one command makes the results table
on AESLC's dev e-mails (Zhang & Tetreault 2019) for LEAD, the recurrent model without and with the
copy mechanism (configs/tasks/aeslc-nocopy.yaml, aeslc.yaml), and the people's own subjects, each
row with the command lines that made and scored it, beside the published test figures, and writes
the summarisation section of docs/tasks.md and the README's AESLC table.

    python benchmarks/tasks/aeslc.py                  # LEAD and the people's subjects only
    python benchmarks/tasks/aeslc.py --copy runs/aeslc/best.safetensors \\
        --nocopy runs/aeslc-nocopy/best.safetensors   # every row, docs, curves, README
    python benchmarks/tasks/aeslc.py --copy ... --nocopy ... --limit 100 --no-docs   # quick check

Rows, each scored by ROUGE-1/2/L F1 (seq2seq.evaluate.metrics: rouge-score, Porter stemming, its
tokeniser; the mean over e-mails) against the sender's subject (``@subject``) and against the three
annotators' subjects (``@ann0``..``@ann2``, the best of the three per e-mail):
  lead      LEAD (seq2seq.evaluate.lead): the body's first sentence cut to the mean training
            subject length in tokens, computed here
  nocopy    `seq2seq evaluate --beam-size 5` of the model without copy on the prepared (cut) dev
            sources, then `seq2seq evaluate --hyp` of its output against the three annotations
  copy      the same for the copy model
  subject   the sender's subject against the three annotations (how far people agree)
  ann0      the first annotator's subject against the sender's
The published figures (their test split, which this copy of the corpus does not hold) stand below,
marked as not measured here. No text of the corpus (CC BY-NC-SA) is written anywhere but under
data/ and the --work folder: the docs show the models' own subject lines only.

The split and prepared data must exist first (their commands are in configs/tasks/aeslc.yaml).
Writes benchmarks/results/aeslc.{md,json} (--out to change).
"""

from __future__ import annotations

import argparse
import json
import random
import shlex
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.tasks.common import (  # noqa: E402
    DOCS,
    README,
    last_json,
    rel,
    replace_between,
    run_command,
    write_docs_section,
)

from seq2seq.evaluate.lead import lead_for  # noqa: E402
from seq2seq.evaluate.metrics import MetricScore, join_references, score  # noqa: E402
from seq2seq.evaluate.scores import read_lines  # noqa: E402

HARNESS = "aeslc"
SPLIT = ROOT / "data" / "aeslc" / "split"
PREPARED = ROOT / "data" / "aeslc" / "prepared"
OUT = ROOT / "benchmarks" / "results" / "aeslc"
README_BEGIN, README_END = "<!-- aeslc: begin -->", "<!-- aeslc: end -->"
TASK = "summarisation"
METRICS = ["rouge1", "rouge2", "rougeL"]
ANNOTATIONS = 3
BEAM = 5
SAMPLES = 12
GOAL_ROUGE1 = 24.0  # issue 24: dev ROUGE-1 against @subject at least this
GOAL_MINUTES = 60.0
# Zhang & Tetreault 2019 (ACL, "This Email Could Save Your Life"), their best system (a multi-stage
# extractor/abstractor trained with reinforcement learning), TEST split: ROUGE-1/2/L F1.
PUBLISHED = [("Zhang & Tetreault 2019, multi-stage extractor/abstractor + RL (best)",
              23.67, 10.29, 23.44)]  # fmt: skip
RECIPE = [
    "seq2seq split --aeslc ../shared/data/aeslc --out data/aeslc/split",
    "S=data/aeslc/split",
    "seq2seq prepare --src $S/train.src --tgt $S/train.tgt --valid-src $S/dev.src \\",
    "    --valid-tgt $S/dev.tgt --task summarisation --vocab word --lowercase --split-punct \\",
    "    --truncate-src 100 --src-vocab-size 20000 --tgt-vocab-size 10000 --out data/aeslc/prepared",
]


@dataclass
class Row:
    """One system's subject lines for the dev e-mails, scored two ways, and how they were made."""

    system: str
    key: str
    commands: list[str]
    subject: list[MetricScore] | None  # against @subject; None where it makes no sense
    annotated: list[MetricScore] | None  # against the three @ann (best per e-mail)
    outputs: list[str]
    seconds: float = 0.0
    notes: str = ""

    def score(self, against: str, name: str) -> float | None:
        scores = self.subject if against == "subject" else self.annotated
        return next((s.score for s in scores or [] if s.name == name), None)

    def to_dict(self) -> dict:
        as_dicts = {k: [s.to_dict() for s in v] if v is not None else None
                    for k, v in (("subject", self.subject), ("annotated", self.annotated))}  # fmt: skip
        return {"system": self.system, "key": self.key, "commands": self.commands, **as_dicts,
                "seconds": round(self.seconds, 1), "notes": self.notes}  # fmt: skip


def this_command(*args: str) -> str:
    return shlex.join(["python", "benchmarks/tasks/aeslc.py", *args])


def resolve_inputs(args: argparse.Namespace) -> None:
    """args.dev: the dev files the rows read (the split's, the prepared cut sources as
    ``model_src``), or their first --limit lines copied into --work."""
    args.dev = {"src": args.split / "dev.src", "tgt": args.split / "dev.tgt"}
    args.dev |= {f"ann{i}": args.split / f"dev.ann{i}" for i in range(ANNOTATIONS)}
    args.dev["model_src"] = args.prepared / "valid.src"
    args.work.mkdir(parents=True, exist_ok=True)
    if args.limit:
        for key, path in list(args.dev.items()):
            lines = read_lines(path)[: args.limit]
            args.dev[key] = args.work / f"limit.{key}"
            args.dev[key].write_text("".join(line + "\n" for line in lines), encoding="utf-8")


def annotations(args: argparse.Namespace) -> list[str]:
    return join_references([read_lines(args.dev[f"ann{i}"]) for i in range(ANNOTATIONS)])


def ann_flags(args: argparse.Namespace) -> list[str]:
    return [arg for i in range(ANNOTATIONS) for arg in ("--ref", rel(args.dev[f"ann{i}"]))]


def _metrics(result: dict) -> list[MetricScore]:
    return [MetricScore(**m) for m in result["metrics"] if m["name"] in [*METRICS, "length"]]


def lead_row(args: argparse.Namespace) -> Row:
    """LEAD, computed here: the first sentence cut to the training subjects' mean length."""
    start = time.perf_counter()
    outputs, length = lead_for(read_lines(args.dev["src"]), read_lines(args.split / "train.tgt"))
    seconds = time.perf_counter() - start
    (args.work / "dev.lead.txt").write_text("".join(o + "\n" for o in outputs), encoding="utf-8")
    names = [*METRICS, "length"]
    limit = ["--limit", str(args.limit)] if args.limit else []
    return Row(
        system=f"LEAD (first sentence, first {length} tokens)",
        key="lead",
        commands=[this_command("--systems", "lead", *limit)],
        subject=score(names, outputs, read_lines(args.dev["tgt"])),
        annotated=score(names, outputs, annotations(args)),
        outputs=outputs,
        seconds=seconds,
        notes=f"{length} = the mean training subject length in word tokens, rounded",
    )


def model_row(args: argparse.Namespace, key: str, system: str) -> Row:
    """`seq2seq evaluate` (beam 5) against @subject, then its output against the three @ann."""
    checkpoint = getattr(args, key)
    if checkpoint is None:
        sys.exit(f"{HARNESS}: the {key} row needs --{key} (its checkpoint)")
    output = args.work / f"dev.{key}.txt"
    decode = ["seq2seq", "evaluate", "--checkpoint", rel(checkpoint)]
    decode += ["--src", rel(args.dev["model_src"]), "--ref", rel(args.dev["tgt"])]
    decode += ["--task", TASK, "--beam-size", str(BEAM), "--output", rel(output), "--json"]
    start = time.perf_counter()
    first = json.loads(last_json(HARNESS, decode))
    seconds = time.perf_counter() - start
    again = ["seq2seq", "evaluate", "--hyp", rel(output), "--src", rel(args.dev["model_src"])]
    again += [*ann_flags(args), "--task", TASK, "--json"]
    second = json.loads(last_json(HARNESS, again))
    return Row(system, key, [shlex.join(decode), shlex.join(again)], _metrics(first),
               _metrics(second), read_lines(output), seconds)  # fmt: skip


def people_rows(args: argparse.Namespace) -> list[Row]:
    """The sender's subject against the annotators', and the first annotator's against the
    sender's: how much people agree, on the same scale."""
    subject_cmd = ["seq2seq", "evaluate", "--hyp", rel(args.dev["tgt"]), "--src"]
    subject_cmd += [rel(args.dev["src"]), *ann_flags(args), "--task", TASK, "--json"]
    ann_cmd = ["seq2seq", "evaluate", "--hyp", rel(args.dev["ann0"]), "--src"]
    ann_cmd += [rel(args.dev["src"]), "--ref", rel(args.dev["tgt"]), "--task", TASK, "--json"]
    subject = _metrics(json.loads(last_json(HARNESS, subject_cmd)))
    ann0 = _metrics(json.loads(last_json(HARNESS, ann_cmd)))
    return [
        Row("people: the sender's subject (@subject)", "subject", [shlex.join(subject_cmd)],
            None, subject, [], notes="against @subject it is 100 by definition"),
        Row("people: annotator 0's subject (@ann0)", "ann0", [shlex.join(ann_cmd)],
            ann0, None, [], notes="one of the three annotations itself"),
    ]  # fmt: skip


def _cells(row: Row) -> list[str]:
    cells = []
    for against in ("subject", "annotated"):
        for name in METRICS:
            value = row.score(against, name)
            cells.append("—" if value is None else f"{value:.2f}")
    length = row.score("subject", "length") or row.score("annotated", "length")
    return [*cells, "—" if length is None else f"{length:.1f}"]


HEAD = [
    "| system | R-1 | R-2 | R-L | R-1 (3 ann.) | R-2 (3 ann.) | R-L (3 ann.) | length | command |",
    "|---|---|---|---|---|---|---|---|---|",
]


def table(rows: list[Row], commands: bool = True) -> list[str]:
    """Measured rows (dev), then the published figures (test, not measured here)."""
    head = HEAD if commands else [HEAD[0].rsplit(" command |", 1)[0], HEAD[1][:-4]]
    lines = list(head)
    for row in rows:
        command = f" `{row.commands[0]}` |" if commands else ""
        lines.append(f"| {row.system} | {' | '.join(_cells(row))} |{command}")
    for system, r1, r2, rl in PUBLISHED:
        command = " not measured here |" if commands else ""
        lines.append(f"| {system}, **test** | {r1:.2f} | {r2:.2f} | {rl:.2f} | — | — | — | — |"
                     f"{command}")  # fmt: skip
    return lines


def run_summary(checkpoint: Path | None) -> dict:
    """Steps, minutes, threads and the best dev BLEU of a checkpoint's run (log.jsonl,
    config.yaml); {} when the run left no log."""
    if checkpoint is None or not (checkpoint.parent / "log.jsonl").is_file():
        return {}
    text = (checkpoint.parent / "log.jsonl").read_text(encoding="utf-8")
    records = [json.loads(line) for line in text.splitlines() if line.strip()]
    train = [r for r in records if r.get("kind") == "train"]
    valid = [r for r in records if r.get("kind") == "valid" and r.get("bleu") is not None]
    if not train:
        return {}
    elapsed = train[-1].get("elapsed")
    if elapsed is None:  # a log without elapsed times: first to last record
        elapsed = records[-1]["time"] - records[0]["time"]
    summary = {"steps": train[-1]["step"], "minutes": elapsed / 60, "epochs": train[-1]["epoch"]}
    if valid:
        best = max(valid, key=lambda r: r["bleu"])
        summary |= {"best_step": best["step"], "best_bleu": best["bleu"], "best_ppl": best["ppl"]}
    config = checkpoint.parent / "config.yaml"
    if config.is_file():
        import yaml

        summary["threads"] = (
            (yaml.safe_load(config.read_text("utf-8")) or {}).get("train", {}).get("threads")
        )
    return summary


def goals(rows: list[Row], args: argparse.Namespace) -> list[tuple[str, bool, str]]:
    """Issue 24's summarisation goals for the rows present: (goal, met, the numbers)."""
    by_key = {row.key: row for row in rows}
    checks: list[tuple[str, bool, str]] = []
    copy = by_key.get("copy")
    if copy is not None:
        r1 = copy.score("subject", "rouge1") or 0.0
        checks.append((f"the copy model's dev ROUGE-1 against @subject at least {GOAL_ROUGE1:.0f} "
                       "(the paper's best test figure is 23.67)", r1 >= GOAL_ROUGE1,
                       f"{r1:.2f} ({r1 - GOAL_ROUGE1:+.2f}; {r1 - 23.67:+.2f} against 23.67)"))  # fmt: skip
        for other, label in (("nocopy", "the same model without copy"), ("lead", "LEAD")):
            if other in by_key:
                o = by_key[other].score("subject", "rouge1") or 0.0
                checks.append((f"copy beats {label} on ROUGE-1 against @subject", r1 > o,
                               f"{r1:.2f} vs {o:.2f} ({r1 - o:+.2f})"))  # fmt: skip
        run = run_summary(args.copy)
        if run:
            threads = run.get("threads")
            checks.append((f"trained for at most {GOAL_MINUTES:.0f} minutes",
                           run["minutes"] <= GOAL_MINUTES + 0.5,
                           f"{run['minutes']:.1f} minutes, {run['steps']:,} steps, "
                           f"{threads or 'all'} thread(s)"))  # fmt: skip
    return checks


def goal_lines(rows: list[Row], args: argparse.Namespace) -> list[str]:
    return [f"- **{'met' if met else 'missed'}**: {goal}: {numbers}"
            for goal, met, numbers in goals(rows, args)]  # fmt: skip


def sample_lines(rows: list[Row], seed: int) -> list[str]:
    """SAMPLES dev e-mails drawn by `seed`: the models' subject lines only (no corpus text)."""
    models = [row for row in rows if row.key in ("nocopy", "copy")]
    if not models:
        return []
    count = len(models[0].outputs)
    picked = sorted(random.Random(seed).sample(range(count), min(SAMPLES, count)))
    lines = ["| dev e-mail | " + " | ".join(row.system for row in models) + " |",
             "|---" * (len(models) + 1) + "|"]  # fmt: skip
    for i in picked:
        cells = [row.outputs[i].replace("|", "\\|") or "(empty)" for row in models]
        lines.append(f"| {i + 1} | " + " | ".join(cells) + " |")
    return lines


def about(args: argparse.Namespace) -> str:
    sizes = json.loads((args.split / "split.json").read_text(encoding="utf-8"))["splits"]
    prepared = json.loads((args.prepared / "manifest.json").read_text(encoding="utf-8"))
    cut = prepared["splits"].get("valid", {}).get("src_truncated", 0)
    subset = f" (its first {args.limit}: --limit)" if args.limit else ""
    return (
        f"AESLC (Zhang & Tetreault 2019; CC BY-NC-SA 4.0, not redistributed here): train "
        f"{sizes['train']['pairs']:,} e-mails, dev {sizes['dev']['pairs']:,}{subset}, each dev "
        f"e-mail with the sender's subject and three annotators' subjects. Sources are lower-cased "
        f"word tokens with punctuation split off, cut to their first "
        f"{prepared['settings']['truncate_src']} tokens ({cut:,} dev e-mails cut). ROUGE-1/2/L F1 "
        "from rouge-score 0.1.2 with Porter stemming and its own tokeniser (lower case, a-z0-9), "
        "the mean over e-mails; against the three annotations each e-mail counts its best one. "
        "The published figures are on the paper's TEST split, ours on DEV; the settings of their "
        "ROUGE are theirs, so the comparison is indicative."
    )


def draw_curves(args: argparse.Namespace) -> list[tuple[str, str, str]]:
    """Learning curves of the two runs (benchmarks/curves.py): (system, png name, command)."""
    drawn = []
    for key, name in (("nocopy", "aeslc-nocopy"), ("copy", "aeslc")):
        checkpoint = getattr(args, key)
        if checkpoint is None or not (checkpoint.parent / "log.jsonl").is_file():
            continue
        png = args.docs.parent / f"{name}-curves.png"
        argv = ["python", "benchmarks/curves.py", rel(checkpoint.parent), rel(png)]
        run_command(HARNESS, argv)
        drawn.append((key, png.name, shlex.join(argv)))
    return drawn


def docs_section(rows: list[Row], args: argparse.Namespace, curves: list) -> list[str]:
    """The summarisation section of docs/tasks.md."""
    stamp = time.strftime("%Y-%m-%d", time.gmtime())
    lines = ["## Summarisation (e-mail body → subject line, AESLC)", "",
             f"Written by `{this_command(*args.argv)}` on {stamp}. {about(args)}", "",
             "The recipe (configs/tasks/aeslc.yaml with the pointer-generator copy mechanism, "
             "`model.copy: true`; configs/tasks/aeslc-nocopy.yaml the same without it: a "
             "bidirectional 1x256 LSTM encoder, a 1x512 LSTM decoder with additive attention, "
             "60 minutes each):", "", "```bash", *RECIPE,
             "seq2seq train configs/tasks/aeslc-nocopy.yaml",
             "seq2seq train configs/tasks/aeslc.yaml", f"{this_command(*args.argv)}", "```", ""]  # fmt: skip
    for key in ("nocopy", "copy"):
        run = run_summary(getattr(args, key))
        if run:
            lines.append(
                f"- `{rel(getattr(args, key))}`: {run['steps']:,} steps ({run['epochs']:.1f} "
                f"epochs) in {run['minutes']:.0f} minutes at {run.get('threads') or 'all'} "
                f"thread(s); best dev BLEU {run.get('best_bleu', 0):.2f} (greedy) at step "
                f"{run.get('best_step', 0):,}"
            )
    lines += ["", "### Results (dev, F1 in percent)", "",
              "R-1/R-2/R-L against the sender's subject (`@subject`); \"3 ann.\" against the three "
              "annotated subjects, the best per e-mail; length in tokens.", "", *table(rows), ""]  # fmt: skip
    lines += ["Each measured row's command lines (the second scores its output against the three "
              "annotations):", ""]  # fmt: skip
    for row in rows:
        lines += [f"- {row.system}: " + "; ".join(f"`{c}`" for c in row.commands)]
    if goal_lines(rows, args):
        lines += ["", "### Goals (issue 24)", "", *goal_lines(rows, args)]
    samples = sample_lines(rows, args.seed)
    if samples:
        lines += ["", f"### {len(samples) - 2} dev subject lines drawn with seed {args.seed}", "",
                  "The models' own outputs only: the corpus's licence (CC BY-NC-SA) keeps its "
                  "e-mails and subjects out of this repository; the number is the dev line.", "",
                  *samples]  # fmt: skip
    if curves:
        lines += ["", "### Learning curves", ""]
        for key, png, command in curves:
            lines += [f"The {'copy' if key == 'copy' else 'no-copy'} model (`{command}`):", "",
                      f"![{key}]({png})", ""]  # fmt: skip
    return lines + [""]


def readme_block(rows: list[Row], args: argparse.Namespace) -> list[str]:
    return [*table(rows, commands=False), "", *goal_lines(rows, args)]


def write_report(rows: list[Row], args: argparse.Namespace) -> None:
    """benchmarks/results/aeslc.md and .json (scores, signatures, command lines)."""
    args.out.parent.mkdir(parents=True, exist_ok=True)
    runs = {key: run_summary(getattr(args, key)) for key in ("nocopy", "copy")}
    data = {"command": this_command(*args.argv), "date": time.strftime("%Y-%m-%d", time.gmtime()),
            "limit": args.limit, "rows": [r.to_dict() for r in rows], "runs": runs,
            "published_test": [dict(zip(["system", *METRICS], p, strict=True)) for p in PUBLISHED],
            "goals": [{"goal": g, "met": m, "numbers": n} for g, m, n in goals(rows, args)]}  # fmt: skip
    args.out.with_suffix(".json").write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
    signatures = {s.signature: s.name for r in rows for s in [*(r.subject or []),
                                                              *(r.annotated or [])]}  # fmt: skip
    text = ["# E-mail subject lines (AESLC dev)", "", about(args), "", *table(rows), "",
            "Signatures: " + "; ".join(f"`{s}`" for s in signatures), ""]  # fmt: skip
    text += [f"- {row.system}: " + "; ".join(f"`{c}`" for c in row.commands) for row in rows]
    if goals(rows, args):
        text += ["", "Goals (issue 24):", "", *goal_lines(rows, args)]
    args.out.with_suffix(".md").write_text("\n".join(text) + "\n", encoding="utf-8")
    print(f"wrote {rel(args.out.with_suffix('.md'))}", file=sys.stderr)


SYSTEMS = ["lead", "nocopy", "copy", "people"]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--copy", type=Path, help="the copy model's checkpoint")
    parser.add_argument("--nocopy", type=Path, help="the no-copy model's checkpoint")
    parser.add_argument("--systems", nargs="+", choices=SYSTEMS,
                        help="rows (default: lead, people and each model given)")  # fmt: skip
    parser.add_argument("--split", type=Path, default=SPLIT, help="seq2seq split --aeslc's folder")
    parser.add_argument("--prepared", type=Path, default=PREPARED, help="the prepared data")
    parser.add_argument("--limit", type=int, default=0, help="only the first N dev e-mails")
    parser.add_argument("--seed", type=int, default=1, help="seed of the sample subject lines")
    parser.add_argument("--work", type=Path, default=ROOT / "data" / "aeslc" / "outputs")
    parser.add_argument("--out", type=Path, default=OUT, help="results file stem (.md, .json)")
    parser.add_argument("--docs", type=Path, default=DOCS, help="the page to write a section of")
    parser.add_argument("--readme", type=Path, default=README, help="its aeslc block is rewritten")
    parser.add_argument("--no-docs", action="store_true", help="leave docs/ and README alone")
    args = parser.parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)
    if args.systems is None:
        args.systems = ["lead", *[k for k in ("nocopy", "copy") if getattr(args, k)], "people"]
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    for needed in (args.split / "split.json", args.prepared / "manifest.json"):
        if not needed.is_file():
            sys.exit(
                f"{HARNESS}: {needed} does not exist; run the recipe's split and prepare first"
            )
    resolve_inputs(args)
    builders = {
        "lead": lambda: [lead_row(args)],
        "nocopy": lambda: [model_row(args, "nocopy", f"seq2seq without copy (beam {BEAM})")],
        "copy": lambda: [model_row(args, "copy", f"seq2seq with copy (beam {BEAM})")],
        "people": lambda: people_rows(args),
    }
    rows = [row for key in args.systems for row in builders[key]()]
    write_report(rows, args)
    if not args.no_docs and (args.copy or args.nocopy):
        write_docs_section(args.docs, "aeslc", docs_section(rows, args, draw_curves(args)))
        if not args.limit and not replace_between(
            args.readme, README_BEGIN, README_END, readme_block(rows, args)
        ):
            print(
                f"{HARNESS}: {args.readme} has no {README_BEGIN} block; left alone", file=sys.stderr
            )
    for row in rows:
        print(f"{row.system}: " + "  ".join(_cells(row)))
    for goal, met, numbers in goals(rows, args):
        print(f"{'met' if met else 'MISSED'}: {goal}: {numbers}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
