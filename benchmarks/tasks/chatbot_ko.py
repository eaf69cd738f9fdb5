"""The Korean chatbot judged as dialogue work judges it: one command makes the whole results table
on the held-out questions of the recipe's split (configs/tasks/chatbot-ko.yaml), each row with the
command line that made its answers, and writes the chatbot section of docs/tasks.md.

    python benchmarks/tasks/chatbot_ko.py          # the retrieval baseline and the people's answers
    python benchmarks/tasks/chatbot_ko.py --forward runs/chatbot-ko/best.safetensors \\
        --backward runs/chatbot-ko-backward/best.safetensors          # every row, docs, curves
    python benchmarks/tasks/chatbot_ko.py --forward ... --backward ... --limit 50   # a quick check

A system is a function that returns a `Row` (see `SYSTEMS`):
  retrieval  the answer of the nearest training question by TF-IDF cosine (features chosen on dev)
  beam       `seq2seq evaluate --beam-size 5` (which also prints the test perplexity)
  greedy     `seq2seq evaluate --beam-size 1`
  sampling   `seq2seq translate --sampling --temperature 0.7 --top-p 0.9 --seed 1`
  mmi        `seq2seq rescore --backward BWD --n-best 10 --tune-src dev.src --tune-ref dev.tgt`:
             the beam's 10-best re-ranked by p(question | answer) (Li et al. 2016), λ chosen on dev
  reference  the test split's answers: the distinct-n and length a person's answers have
The model rows run their command lines as written (subprocesses, outputs under --work) and score
what they wrote by the chatbot task's metrics (seq2seq.evaluate.metrics: BLEU and chrF against the
one reference answer, distinct-1 / distinct-2, mean answer length, each with its signature); the
perplexity is that of the test references under the forward model, as `seq2seq evaluate` prints
it. `--answers NAME FILE COMMAND` scores answers some other command wrote.

With --forward the harness also draws the learning curves (benchmarks/curves.py) into docs/ and
writes its section of docs/tasks.md: the split, the recipe, the table, the goals of issue 23 met
or missed with their numbers, twenty sample exchanges chosen by --seed, and the curves. Other
tasks keep their own sections of that page (see `write_docs_section`).

The split must exist first (its sizes are read from its split.json):
    seq2seq split --csv ../shared/data/chatbot-ko/ChatbotData.csv --columns Q A \\
        --seed 1 --dev 500 --test 500 --out data/chatbot-ko/split

Writes benchmarks/results/chatbot_ko.{md,json} (--out to change).
"""

from __future__ import annotations

import argparse
import json
import random
import re
import shlex
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.tasks.common import (  # noqa: E402
    last_json,
    rel,
    replace_between,
    run_command,
    write_docs_section,
)

from seq2seq.evaluate.metrics import MetricScore, score, score_task  # noqa: E402
from seq2seq.evaluate.retrieval import RetrievalBaseline  # noqa: E402
from seq2seq.evaluate.scores import read_lines  # noqa: E402

SPLIT = ROOT / "data" / "chatbot-ko" / "split"
OUT = ROOT / "benchmarks" / "results" / "chatbot_ko"
DOCS = ROOT / "docs" / "tasks.md"
TASK = "chatbot"
HARNESS = "chatbot_ko"
# (analyzer, n-gram range) the retrieval baseline tries on dev; the best dev chrF answers test
RETRIEVAL_SETTINGS = [
    ("char_wb", (1, 2)),
    ("char_wb", (1, 3)),
    ("char_wb", (2, 4)),
    ("word", (1, 1)),
    ("word", (1, 2)),
]
BEAM = 5
SAMPLING = ["--sampling", "--temperature", "0.7", "--top-p", "0.9", "--seed", "1"]
MMI_N_BEST = 10
SAMPLES = 20


@dataclass
class Row:
    """One system's answers to the test questions, scored, and how to make them again."""

    system: str
    command: str
    scores: list[MetricScore]
    notes: str = ""
    extra: dict = field(default_factory=dict)
    key: str = ""
    answers: list[str] = field(default_factory=list, repr=False)
    perplexity: float | None = None

    def to_dict(self) -> dict:
        return {
            "system": self.system,
            "key": self.key,
            "command": self.command,
            "scores": [s.to_dict() for s in self.scores],
            "perplexity": self.perplexity,
            "notes": self.notes,
            **self.extra,
        }


def read_split(split_dir: Path, name: str) -> tuple[list[str], list[str]]:
    """Questions and reference answers of one split written by `seq2seq split`."""
    return read_lines(split_dir / f"{name}.src"), read_lines(split_dir / f"{name}.tgt")


def this_command(*args: str) -> str:
    """The command line that reruns this script for one system."""
    return shlex.join(["python", "benchmarks/tasks/chatbot_ko.py", *args])


def resolve_inputs(args: argparse.Namespace) -> None:
    """Point args.test / args.dev at the split's files, or at --limit first lines of each (--work)."""
    args.test = {s: args.split / f"test.{s}" for s in ("src", "tgt")}
    args.dev = {s: args.split / f"dev.{s}" for s in ("src", "tgt")}
    if args.limit:
        args.work.mkdir(parents=True, exist_ok=True)
        for name in ("test", "dev"):
            for side in ("src", "tgt"):
                lines = read_lines(args.split / f"{name}.{side}")[: args.limit]
                path = args.work / f"{name}.{side}"
                path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
                getattr(args, name)[side] = path


def references(args: argparse.Namespace) -> list[str]:
    return read_lines(args.test["tgt"])


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
    hypotheses = baseline.answer(read_lines(args.test["src"]))
    if args.save_answers:
        args.save_answers.write_text("".join(h + "\n" for h in hypotheses), encoding="utf-8")
    low, high = best["ngram_range"]
    limit = ["--limit", str(args.limit)] if args.limit else []
    return Row(
        system="retrieval (TF-IDF cosine, nearest training question)",
        command=this_command("--systems", "retrieval", "--split", rel(args.split), *limit),
        scores=score_task(TASK, hypotheses, references(args)),
        notes=f"{best['analyzer']} {low}-{high}-grams, chosen on dev by chrF; {baseline.describe()}",
        extra={"dev_sweep": [_sweep_dict(entry) for entry in sweep]},
        key="retrieval",
        answers=hypotheses,
    )


def reference_row(args: argparse.Namespace) -> Row:
    """The test split's reference answers: the diversity and length a person's answers have."""
    answers = references(args)
    return Row(
        system="reference answers (people)",
        command=f"cat {rel(args.test['tgt'])}",
        scores=score(["distinct-1", "distinct-2", "length"], answers, answers),
        notes="BLEU and chrF are 100 by definition",
        key="reference",
        answers=answers,
    )


def _evaluate_row(
    args: argparse.Namespace, key: str, system: str, beam: int, checkpoint: Path | None = None
) -> Row:
    """`seq2seq evaluate` with a beam of `beam`: the answers, their metrics and the perplexity
    (of the forward model, or of `checkpoint`)."""
    _need_forward(args, key)
    output = args.work / f"test.{key}.txt"
    argv = ["seq2seq", "evaluate", "--checkpoint", rel(checkpoint or args.forward)]
    argv += ["--src", rel(args.test["src"]), "--ref", rel(args.test["tgt"])]
    argv += ["--task", TASK, "--beam-size", str(beam), "--output", rel(output), "--json"]
    result = json.loads(last_json(HARNESS, argv))
    return Row(
        system=system,
        command=shlex.join(argv),
        scores=[MetricScore(**m) for m in result["metrics"]],
        key=key,
        answers=read_lines(output),
        perplexity=result["perplexity"]["perplexity"],
    )


def beam_row(args: argparse.Namespace) -> Row:
    return _evaluate_row(args, "beam", f"seq2seq, beam search (beam {BEAM})", BEAM)


def greedy_row(args: argparse.Namespace) -> Row:
    return _evaluate_row(args, "greedy", "seq2seq, greedy search", 1)


def copy_row(args: argparse.Namespace) -> Row:
    """The same recipe with the copy mechanism (configs/tasks/chatbot-ko-copy.yaml), beam 5."""
    if args.copy is None:
        sys.exit("chatbot_ko: the copy row needs --copy (a chatbot trained with model.copy)")
    system = f"seq2seq with copy (pointer-generator), beam search (beam {BEAM})"
    return _evaluate_row(args, "copy", system, BEAM, checkpoint=args.copy)


def sampling_row(args: argparse.Namespace) -> Row:
    """`seq2seq translate --sampling`, seeded: one draw per question."""
    _need_forward(args, "sampling")
    output = args.work / "test.sampling.txt"
    argv = ["seq2seq", "translate", "--checkpoint", rel(args.forward), "--input"]
    argv += [rel(args.test["src"]), "--output", rel(output), "--quiet", *SAMPLING]
    run_command(HARNESS, argv)
    answers = read_lines(output)
    settings = " ".join(SAMPLING[1:]).replace("--", "")
    return Row(
        system=f"seq2seq, sampling ({settings})",
        command=shlex.join(argv),
        scores=score_task(TASK, answers, references(args)),
        key="sampling",
        answers=answers,
    )


def mmi_row(args: argparse.Namespace) -> Row:
    """`seq2seq rescore --backward`: the beam's n-best re-ranked by MMI-bidi, λ tuned on dev BLEU."""
    _need_forward(args, "mmi")
    if args.backward is None:
        sys.exit("chatbot_ko: the mmi row needs --backward (a p(question | answer) checkpoint)")
    output, nbest = args.work / "test.mmi.txt", args.work / "test.mmi.nbest"
    argv = ["seq2seq", "rescore", "--checkpoint", rel(args.forward)]
    argv += ["--backward", rel(args.backward), "--src", rel(args.test["src"])]
    argv += ["--beam-size", str(MMI_N_BEST), "--n-best", str(MMI_N_BEST)]
    argv += ["--tune-src", rel(args.dev["src"]), "--tune-ref", rel(args.dev["tgt"])]
    argv += ["--output", rel(output), "--nbest-output", rel(nbest)]
    printed = run_command(HARNESS, argv)
    weight, dev_bleu = parse_tuning(printed)
    answers = read_lines(output)
    return Row(
        system=f"seq2seq, MMI re-ranking of the {MMI_N_BEST}-best (λ={weight:g}, chosen on dev)",
        command=shlex.join(argv),
        scores=score_task(TASK, answers, references(args)),
        notes=f"dev BLEU by λ: {dev_bleu}",
        extra={"lambda": weight, "dev_bleu_by_lambda": dev_bleu},
        key="mmi",
        answers=answers,
    )


def parse_tuning(printed: str) -> tuple[float, str]:
    """λ and the dev BLEU-by-λ line from what `seq2seq rescore --tune-src` printed."""
    chosen = re.search(r"chosen λ=([0-9.eE+-]+)", printed)
    by_weight = re.search(r"dev BLEU by λ \([^)]*\): (.*)", printed)
    if chosen is None or by_weight is None:
        sys.exit(f"chatbot_ko: seq2seq rescore printed no chosen λ:\n{printed[-2000:]}")
    return float(chosen.group(1)), by_weight.group(1).strip()


def answers_row(system: str, path: Path, command: str, args: argparse.Namespace) -> Row:
    """Answers another command wrote to `path`, one per test question, scored."""
    answers = read_lines(path)
    return Row(
        system=system,
        command=command,
        scores=score_task(TASK, answers, references(args)),
        key=system,
        answers=answers,
    )


SYSTEMS: dict[str, Callable[[argparse.Namespace], Row]] = {
    "retrieval": retrieval_row,
    "beam": beam_row,
    "greedy": greedy_row,
    "sampling": sampling_row,
    "mmi": mmi_row,
    "copy": copy_row,
    "reference": reference_row,
}
MODEL_SYSTEMS = ("beam", "greedy", "sampling", "mmi", "copy")


def _need_forward(args: argparse.Namespace, key: str) -> None:
    if args.forward is None:
        sys.exit(f"chatbot_ko: the {key} row needs --forward (the chatbot's checkpoint)")
    args.work.mkdir(parents=True, exist_ok=True)


def _by_name(scores: list[MetricScore]) -> dict[str, MetricScore]:
    return {s.name: s for s in scores}


def _sweep_dict(entry: dict) -> dict:
    return {**entry, "scores": [s.to_dict() for s in entry["scores"]]}


def _fmt(s: MetricScore) -> str:
    return f"{s.score:.4f}" if s.name.startswith("distinct") else f"{s.score:.2f}"


def _brief(scores: list[MetricScore]) -> str:
    return "  ".join(f"{s.name} {_fmt(s)}" for s in scores)


COLUMNS = ["bleu", "chrf", "distinct-1", "distinct-2", "length"]


def table(rows: list[Row]) -> list[str]:
    """The results table in Markdown, one line per row; '—' where a metric does not apply."""
    lines = [
        "| system | test ppl | BLEU | chrF | distinct-1 | distinct-2 | mean length | command |",
        "|---|---|---|---|---|---|---|---|",
    ]
    model_ppl = next(
        (r.perplexity for r in rows if r.perplexity is not None and r.key != "copy"), None
    )
    for row in rows:
        scores = _by_name(row.scores)
        cells = [_fmt(scores[c]) if c in scores else "—" for c in COLUMNS]
        ppl = row.perplexity if row.key == "copy" else None
        ppl = ppl if ppl is not None or row.key not in MODEL_SYSTEMS else model_ppl
        cells.insert(0, f"{ppl:.2f}" if ppl is not None else "—")
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


def goals(rows: list[Row]) -> list[tuple[str, bool, str]]:
    """Issue 23's goals for the rows present: (goal, met, the numbers that decide it)."""
    by_key = {row.key: _by_name(row.scores) for row in rows}
    checks = []
    if "beam" in by_key and "retrieval" in by_key:
        beam, retrieval = by_key["beam"], by_key["retrieval"]
        for metric, label in (("bleu", "BLEU"), ("chrf", "chrF")):
            b, r = beam[metric].score, retrieval[metric].score
            checks.append((f"seq2seq (beam {BEAM}) beats retrieval on {label}", b > r,
                           f"{b:.2f} vs {r:.2f} ({b - r:+.2f})"))  # fmt: skip
        b, r = beam["distinct-2"].score, retrieval["distinct-2"].score
        checks.append((f"seq2seq (beam {BEAM}) distinct-2 at least retrieval's", b >= r,
                       f"{b:.4f} vs {r:.4f} ({b - r:+.4f})"))  # fmt: skip
    if "beam" in by_key and "mmi" in by_key:
        beam, mmi = by_key["beam"], by_key["mmi"]
        d_b, d_m = beam["distinct-2"].score, mmi["distinct-2"].score
        cost = beam["bleu"].score - mmi["bleu"].score
        checks.append((f"MMI re-ranking: distinct-2 higher than beam {BEAM}'s",
                       d_m > d_b, f"{d_m:.4f} vs {d_b:.4f} ({d_m - d_b:+.4f})"))  # fmt: skip
        checks.append(("MMI re-ranking costs at most 1 BLEU", cost <= 1.0,
                       f"{mmi['bleu'].score:.2f} vs {beam['bleu'].score:.2f} "
                       f"({-cost:+.2f} BLEU)"))  # fmt: skip
    return checks


def goal_lines(rows: list[Row]) -> list[str]:
    return [
        f"- **{'met' if met else 'missed'}**: {goal}: {numbers}"
        for goal, met, numbers in goals(rows)
    ]


def sample_lines(rows: list[Row], questions: list[str], seed: int, count: int) -> list[str]:
    """`count` exchanges drawn by `seed` (random.Random(seed).sample), one table row each."""
    picked = sorted(random.Random(seed).sample(range(len(questions)), min(count, len(questions))))
    by_key = {row.key: row for row in rows}
    columns = [("reference", "reference")]
    columns += [(k, n) for k, n in (("beam", f"beam {BEAM}"), ("sampling", "sampling"),
                ("mmi", "MMI"), ("retrieval", "retrieval")) if k in by_key]  # fmt: skip
    lines = [
        "| # | question | " + " | ".join(name for _, name in columns) + " |",
        "|---|---" + "|---" * len(columns) + "|",
    ]
    for i in picked:
        cells = [_cell(questions[i])] + [_cell(by_key[k].answers[i]) for k, _ in columns]
        lines.append(f"| {i + 1} | " + " | ".join(cells) + " |")
    return lines


def _cell(text: str) -> str:
    return text.replace("|", "\\|") or "(empty)"


def write_report(rows: list[Row], args: argparse.Namespace) -> None:
    """`out`.json (every row, its signatures and the dev sweep) and `out`.md (the tables)."""
    manifest = json.loads((args.split / "split.json").read_text(encoding="utf-8"))
    stamp = time.strftime("%Y-%m-%d", time.gmtime())
    data = {
        "date": stamp,
        "task": TASK,
        "command": this_command(*sys.argv[1:]),
        "limit": args.limit,
        "split": manifest,
        "goals": [{"goal": g, "met": m, "numbers": n} for g, m, n in goals(rows)],
        "rows": [r.to_dict() for r in rows],
    }
    out = args.out
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(
        json.dumps(data, indent=1, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    lines = ["# Korean chatbot: answers to held-out questions", "", *_about(rows, args, stamp)]
    lines += ["", *table(rows), "", _signatures(rows)]
    if goals(rows):
        lines += ["", "Goals (issue 23):", "", *goal_lines(rows)]
    for row in rows:
        if "dev_sweep" in row.extra:
            lines += ["", f"Features of the retrieval baseline on dev ({row.notes}):", ""]
            lines += sweep_table(row.extra["dev_sweep"])
    out.with_suffix(".md").write_text("\n".join(lines) + "\n", encoding="utf-8")


def _about(rows: list[Row], args: argparse.Namespace, stamp: str) -> list[str]:
    manifest = json.loads((args.split / "split.json").read_text(encoding="utf-8"))
    test = len(references(args))
    subset = f" (its first {test} questions: --limit {args.limit})" if args.limit else ""
    return [
        f"{stamp} · `{this_command(*sys.argv[1:])}` · the test split{subset} of `seq2seq split` "
        f"(seed {manifest['seed']}; {_counts(manifest['splits'])}; every copy of a question on "
        "one side) of songys/Chatbot_data (11,823 pairs, MIT). One reference answer per question; "
        f"{_verbatim(args)} of the test answers occur word for word among the training answers "
        "(the data set gives paraphrased questions one answer), which is what retrieval can find."
    ]


def _signatures(rows: list[Row]) -> str:
    signatures = {s.name: s.signature for row in rows for s in row.scores}
    text = "Signatures: " + "; ".join(f"{name}: `{sig}`" for name, sig in signatures.items())
    if any(r.perplexity is not None for r in rows):
        text += (
            "; test ppl: the perplexity of the test reference answers under the forward model "
            "(teacher-forced, per SentencePiece token and EOS), as `seq2seq evaluate` prints it"
        )
    return text


def _verbatim(args: argparse.Namespace) -> str:
    """How many test reference answers are also training answers, as 'N of M (P%)'."""
    train = set(read_split(args.split, "train")[1])
    test = references(args)
    found = sum(answer in train for answer in test)
    return f"{found:,} of {len(test):,} ({100 * found / len(test):.1f}%)"


def _counts(sizes: dict) -> str:
    return ", ".join(
        f"{name} {size['pairs']:,} pairs / {size['groups']:,} questions"
        for name, size in sizes.items()
    )


def draw_curves(args: argparse.Namespace) -> list[tuple[str, str, str]]:
    """Learning curves of the forward and backward runs by benchmarks/curves.py: (name, png, cmd)."""
    drawn = []
    for name, checkpoint in (
        ("forward", args.forward), ("backward", args.backward), ("copy", args.copy)
    ):  # fmt: skip
        if checkpoint is None or not (checkpoint.parent / "log.jsonl").is_file():
            continue
        png = args.docs.parent / f"chatbot-ko{'' if name == 'forward' else '-' + name}-curves.png"
        argv = ["python", "benchmarks/curves.py", rel(checkpoint.parent), rel(png)]
        run_command(HARNESS, argv)
        drawn.append((name, png.name, shlex.join(argv)))
    return drawn


def recipe_lines(args: argparse.Namespace) -> list[str]:
    """The command lines from the CSV to the two models, with each run's own overrides."""
    split = rel(args.split)
    lines = [
        "seq2seq split --csv ../shared/data/chatbot-ko/ChatbotData.csv --columns Q A \\",
        f"    --seed 1 --dev 500 --test 500 --out {split}",
    ]
    for name, config, checkpoint in (
        ("forward", "chatbot-ko", args.forward),
        ("backward", "chatbot-ko-backward", args.backward),
        ("copy", "chatbot-ko-copy", args.copy),
    ):
        if checkpoint is None:
            continue
        src, tgt = ("src", "tgt") if name == "forward" else ("tgt", "src")
        if name == "copy":  # the forward data, the recipe with model.copy
            lines.append(_train_command(config, checkpoint.parent, max_minutes=True))
            continue
        lines += [
            f"seq2seq prepare --src {split}/train.{src} --tgt {split}/train.{tgt} \\",
            f"    --valid-src {split}/dev.{src} --valid-tgt {split}/dev.{tgt} \\",
            f"    --test-src {split}/test.{src} --test-tgt {split}/test.{tgt} \\",
            "    --src-lang ko --tgt-lang ko --task chatbot --vocab bpe --joint \\",
            f"    --src-vocab-size 4000 --character-coverage 1.0 --out data/chatbot-ko/{name}",
            _train_command(config, checkpoint.parent),
        ]
    return lines


def _train_command(config: str, run_dir: Path, max_minutes: bool = False) -> str:
    """`seq2seq train` as the run was made: the recipe plus the run's out_dir and threads (and
    its time budget, with `max_minutes`)."""
    argv = ["seq2seq", "train", f"configs/tasks/{config}.yaml"]
    recipe = yaml.safe_load((ROOT / "configs" / "tasks" / f"{config}.yaml").read_text("utf-8"))
    used_file = run_dir / "config.yaml"
    used = yaml.safe_load(used_file.read_text("utf-8")) if used_file.is_file() else recipe
    for key in ("threads", "out_dir", *(("max_minutes",) if max_minutes else ())):
        value = used["train"].get(key)
        if str(value) != str(recipe["train"].get(key)):
            argv += ["--set", f"train.{key}={value}"]
    return shlex.join(argv)


def _run_summary(checkpoint: Path) -> str:
    """'best step N by dev METRIC V of M steps', from the run's manifest.json."""
    manifest_file = checkpoint.parent / "manifest.json"
    if not manifest_file.is_file():
        return ""
    manifest = json.loads(manifest_file.read_text("utf-8"))
    best = manifest.get("best") or {}
    if not best:
        return ""
    return (
        f"`{rel(checkpoint)}`: step {best['step']:,} of {manifest['last']:,}, the best by dev "
        f"{best['metric']} ({best['value']:.2f})"
    )


def docs_section(rows: list[Row], args: argparse.Namespace, curves: list) -> list[str]:
    """The chatbot's section of docs/tasks.md."""
    stamp = time.strftime("%Y-%m-%d", time.gmtime())
    questions = read_lines(args.test["src"])
    lines = ["## Chatbot (Korean question → answer)", "", *_about(rows, args, stamp), ""]
    lines += ["The recipe (configs/tasks/chatbot-ko.yaml and chatbot-ko-backward.yaml; each "
              "trains for 30 minutes):", "", "```bash", *recipe_lines(args), "```", ""]  # fmt: skip
    lines += ["Then `seq2seq chat --checkpoint runs/chatbot-ko/best.safetensors` talks to it "
              "(`:sample 0.8` to draw, `:beam 5` back), and `seq2seq serve` answers "
              "`/v1/generate`. The checkpoints measured:", ""]  # fmt: skip
    runs = [_run_summary(c) for c in (args.forward, args.backward, args.copy) if c is not None]
    lines += [f"- {summary}" for summary in runs if summary] + [""]
    lines += ["### Results", "", *table(rows), "", _signatures(rows), ""]
    if goals(rows):
        lines += ["### Goals (issue 23)", "", *goal_lines(rows), ""]
    mmi = next((r for r in rows if r.key == "mmi"), None)
    if mmi is not None:
        by_weight = mmi.extra["dev_bleu_by_lambda"]
        lines += [f"MMI's λ was chosen on dev by BLEU (dev BLEU by λ: {by_weight}).", ""]
    lines += [f"### {min(SAMPLES, len(questions))} sample exchanges", "",
              f"Drawn by `random.Random({args.seed}).sample` over the test questions (`--seed "
              f"{args.seed}`), not chosen by hand; the number is the test line.", "",
              *sample_lines(rows, questions, args.seed, SAMPLES), ""]  # fmt: skip
    if curves:
        lines += ["### Learning curves", ""]
        for name, png, command in curves:
            lines += [f"The {name} model (`{command}`):", "", f"![{name}]({png})", ""]
    return lines


README = ROOT / "README.md"
README_BEGIN, README_END = "<!-- chatbot-ko: begin -->", "<!-- chatbot-ko: end -->"


def readme_table(rows: list[Row]) -> list[str]:
    """The README's short table: retrieval beside the model's rows, the people's for scale."""
    lines = [
        "| system | BLEU | chrF | distinct-1 | distinct-2 | mean length |",
        "|---|---|---|---|---|---|",
    ]
    for row in rows:
        scores = _by_name(row.scores)
        cells = [_fmt(scores[c]) if c in scores else "—" for c in COLUMNS]
        lines.append(f"| {row.system} | {' | '.join(cells)} |")
    return lines


def update_readme(path: Path, rows: list[Row]) -> bool:
    """Replace the table between README_BEGIN and README_END in `path`; False when absent."""
    met = goal_lines(rows)
    goals_text = ["", "Issue 23's goals on these rows:", "", *met] if met else []
    return replace_between(path, README_BEGIN, README_END, [*readme_table(rows), *goals_text])


def kept_rows(args: argparse.Namespace) -> dict[str, Row]:
    """The model rows of the last run (--out's .json) whose answers are still in --work."""
    path = args.out.with_suffix(".json")
    saved = json.loads(path.read_text(encoding="utf-8"))["rows"] if path.is_file() else []
    fields = ("system", "key", "command", "scores", "perplexity", "notes")
    kept = {}
    for r in saved:
        answers = args.work / f"test.{r['key']}.txt"
        if r["key"] in MODEL_SYSTEMS and answers.is_file():
            extra = {k: v for k, v in r.items() if k not in fields}
            kept[r["key"]] = Row(r["system"], r["command"], [MetricScore(**m) for m in r["scores"]],
                                 r["notes"], extra, r["key"], read_lines(answers), r["perplexity"])  # fmt: skip
    return kept


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if not (args.split / "split.json").is_file():
        sys.exit(f"chatbot_ko: {args.split}/split.json does not exist; run seq2seq split first")
    resolve_inputs(args)
    rows, kept = [], kept_rows(args) if args.keep else {}
    for name in args.systems:
        if name in kept and name not in args.keep_except:
            rows.append(kept[name])
            print(f"{name}: kept from {rel(args.out.with_suffix('.json'))}", file=sys.stderr)
            continue
        rows.append(SYSTEMS[name](args))
        print(f"{rows[-1].system}: {_brief(rows[-1].scores)}", file=sys.stderr)
    rows += [answers_row(n, Path(f), c, args) for n, f, c in args.answers]
    write_report(rows, args)
    if args.forward is not None and not args.no_docs:
        write_docs_section(args.docs, "chatbot-ko", docs_section(rows, args, draw_curves(args)))
        if args.readme is not None and not args.limit:
            update_readme(args.readme, rows)
    for row in rows:
        ppl = f"ppl {row.perplexity:.2f}  " if row.perplexity is not None else ""
        print(f"{row.system}: {ppl}{_brief(row.scores)}")
    for goal, met, numbers in goals(rows):
        print(f"{'met' if met else 'MISSED'}: {goal}: {numbers}")
    return 0


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--split", type=Path, default=SPLIT, help="a split from seq2seq split")
    parser.add_argument("--forward", type=Path, help="the chatbot's checkpoint (model rows)")
    parser.add_argument("--backward", type=Path, help="a p(question | answer) checkpoint (mmi)")
    parser.add_argument("--copy", type=Path, help="the recipe trained with model.copy (copy row)")
    parser.add_argument(
        "--systems", nargs="*", default=None, choices=list(SYSTEMS),
        help="rows to add (default: all with --forward, else retrieval and reference)",
    )  # fmt: skip
    parser.add_argument(
        "--answers", nargs=3, action="append", default=[], metavar=("NAME", "FILE", "COMMAND"),
        help="also score FILE (one answer per test question) as the row NAME made by COMMAND",
    )  # fmt: skip
    parser.add_argument(
        "--keep",
        action="store_true",
        help="model rows the last run measured keep its figures and answers (--work)",
    )
    parser.add_argument("--keep-except", nargs="*", default=[], metavar="SYSTEM",
                        help="with --keep: measure these again")  # fmt: skip
    parser.add_argument("--limit", type=int, default=0, help="only the first N test/dev lines")
    parser.add_argument("--seed", type=int, default=1, help="draws the sample exchanges")
    parser.add_argument("--work", type=Path, help="model outputs (default: FORWARD's dir/results)")
    parser.add_argument("--save-answers", type=Path, help="write the retrieval answers here")
    parser.add_argument("--out", type=Path, default=OUT, help="results file stem (.md, .json)")
    parser.add_argument("--docs", type=Path, default=DOCS, help="the page to write a section of")
    parser.add_argument("--no-docs", action="store_true", help="leave --docs and curves alone")
    parser.add_argument(
        "--readme", type=Path, default=README,
        help="its table between the chatbot-ko markers is rewritten (not with --limit)",
    )  # fmt: skip
    args = parser.parse_args(argv)
    if args.systems is None:
        args.systems = list(SYSTEMS) if args.forward else ["retrieval", "reference"]
        if args.forward and not args.backward:
            args.systems.remove("mmi")
        if args.forward and not args.copy:
            args.systems.remove("copy")
    if args.work is None:
        args.work = (args.forward.parent if args.forward else ROOT / "runs") / "results"
        if args.limit:
            args.work = args.work / f"limit{args.limit}"
    return args


if __name__ == "__main__":
    sys.exit(main())
