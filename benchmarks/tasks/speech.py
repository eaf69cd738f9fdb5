"""Speech to text judged as the field judges it: word and character error rates of the two speech
recipes on both of their test conditions, greedy and beam 5, with the real-time factor of each
transcription as a user meets it (the whole `seq2seq evaluate` command, start-up included, over the
seconds of audio it transcribed). Writes benchmarks/results/speech.{md,json}, the results section
of docs/speech.md, the README's speech table and the learning curves.

    python benchmarks/tasks/speech.py                       # both corpora, both searches
    python benchmarks/tasks/speech.py --corpus digits       # one corpus (the other's rows are kept)
    python benchmarks/tasks/speech.py --limit 50 --no-docs  # a quick check

The corpora (their builders and recipes):
  digits     spoken digit strings from FSDD's real recordings (benchmarks/tasks/fsdd_digits.py,
             configs/tasks/fsdd-digits.yaml): unseen takes of the four training speakers, and the
             fifth speaker, never heard;
  sentences  Multi30k captions synthesised by espeak-ng (benchmarks/tasks/espeak_sentences.py,
             configs/tasks/espeak-sentences.yaml): a held-out voice, and the training voices on
             the same captions. The audio is synthetic.

Searches: beam 5, beam 5 with the CTC head's prefix scores in every step (joint CTC/attention
decoding, Watanabe et al. 2017, `--ctc-weight W`, W chosen among --ctc-weights on the first 100
utterances of the valid split) and greedy.

Real-time factor = wall seconds of the command / seconds of audio; at most 0.05 is 20x faster
than real time. Each row records the load average when its command started, since the figures are
only as good as the idle CPU they had.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shlex
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.tasks.common import last_json, rel, replace_between, run_command  # noqa: E402

HARNESS = "speech"
OUT = ROOT / "benchmarks" / "results" / "speech"
DOCS = ROOT / "docs" / "speech.md"
README = ROOT / "README.md"
DOCS_BEGIN, DOCS_END = "<!-- speech-results: begin -->", "<!-- speech-results: end -->"
README_BEGIN, README_END = "<!-- speech: begin -->", "<!-- speech: end -->"
BEAM = 5
SAMPLES = 6
RTF_GOALS = {"greedy": 0.05, "beam": 0.2}  # issue 25: 20x real time greedy, 5x with beam 5


@dataclass(frozen=True)
class Condition:
    key: str
    name: str
    manifest: str  # audio<TAB>transcript, paths relative to the manifest
    goal: tuple[str, float] | None  # (metric, at most) for issue 25, on the beam row


@dataclass(frozen=True)
class Corpus:
    key: str
    title: str
    data: str
    run: str
    recipe: list[str]
    conditions: list[Condition]


CORPORA = {
    "digits": Corpus(
        "digits", "Spoken digit strings (FSDD, real recordings)", "data/fsdd-digits",
        "runs/fsdd-digits",
        ["python benchmarks/tasks/fsdd_digits.py",
         "D=data/fsdd-digits; seq2seq prepare --manifest $D/train.tsv --valid-manifest "
         "$D/valid.tsv --test-manifest $D/test-takes.tsv --rate 8000 --tgt-vocab word "
         "--out $D/prepared",
         "seq2seq train configs/tasks/fsdd-digits.yaml"],
        [Condition("takes", "unseen takes of the 4 training speakers", "test-takes.tsv",
                   ("speech-wer", 2.0)),
         Condition("speaker", "the 5th speaker, never heard", "test-speaker.tsv",
                   ("speech-wer", 10.0))],
    ),
    "sentences": Corpus(
        "sentences", "Spoken sentences (Multi30k captions, espeak-ng voices: synthetic audio)",
        "data/espeak-multi30k", "runs/espeak-sentences",
        ["python benchmarks/tasks/espeak_sentences.py",
         "D=data/espeak-multi30k; seq2seq prepare --manifest $D/train.tsv --valid-manifest "
         "$D/valid.tsv --test-manifest $D/test.tsv --tgt-vocab char --out $D/prepared",
         "seq2seq train configs/tasks/espeak-sentences.yaml"],
        [Condition("voice", "a held-out voice (en-us-nyc+f3)", "test.tsv", ("cer", 10.0)),
         Condition("seen", "the training voices, same captions", "test-seen-voices.tsv", None)],
    ),
}  # fmt: skip
SEARCHES = {  # key: (label, beam size); "ctc" adds --ctc-weight, chosen on the valid split
    "beam": (f"beam {BEAM}", BEAM),
    "ctc": (f"beam {BEAM}, joint CTC", BEAM),
    "greedy": ("greedy", 1),
}
CTC_WEIGHTS = (0.3, 0.5, 0.7)  # the joint search's weights tried on the valid split
TUNE_LIMIT = 100  # valid utterances the weight is chosen on


@dataclass
class Row:
    corpus: str
    condition: str
    search: str
    command: str
    wer: float
    cer: float
    utterances: int
    audio_s: float
    seconds: float
    ctc_weight: float = 0.0
    load: float | None = None  # the 1-minute load average when the command started

    @property
    def label(self) -> str:
        return SEARCHES[self.search][0] + (f" {self.ctc_weight:g}" if self.ctc_weight else "")

    @property
    def rtf(self) -> float:
        return self.seconds / self.audio_s


def split_manifest(corpus: Corpus, condition: Condition, work: Path, limit: int | None):
    """The condition's manifest as evaluate's --src (audio paths) and --ref files; audio seconds."""
    import soundfile

    manifest = ROOT / corpus.data / condition.manifest
    if not manifest.is_file():
        sys.exit(f"{HARNESS}: {rel(manifest)} does not exist; build the corpus first")
    pairs = [line.split("\t", 1) for line in manifest.read_text(encoding="utf-8").splitlines()]
    pairs = pairs[:limit] if limit else pairs
    audio = [manifest.parent / path for path, _ in pairs]
    src, ref = work / f"{condition.key}.src", work / f"{condition.key}.ref"
    # evaluate reads audio paths relative to the --src file, as a manifest's
    src.write_text("".join(os.path.relpath(a, work) + "\n" for a in audio), encoding="utf-8")
    ref.write_text("".join(t.strip() + "\n" for _, t in pairs), encoding="utf-8")
    seconds = sum(soundfile.info(str(a)).duration for a in audio)
    return src, ref, len(pairs), seconds


def evaluate_row(
    args, corpus: Corpus, condition: Condition, search: str, weight: float = 0.0
) -> Row:
    """`seq2seq evaluate` on one condition with one search: WER, CER, wall seconds."""
    work = ROOT / corpus.data / "outputs"
    work.mkdir(parents=True, exist_ok=True)
    limit = TUNE_LIMIT if condition.key == "valid" else args.limit
    src, ref, count, audio_s = split_manifest(corpus, condition, work, limit)
    checkpoint = f"{corpus.run}/best.safetensors"
    output = work / f"{condition.key}.{search}{weight or ''}.txt"
    argv = ["seq2seq", "evaluate", "--checkpoint", checkpoint, "--src", rel(src)]
    argv += ["--ref", rel(ref), "--beam-size", str(SEARCHES[search][1])]
    argv += ["--ctc-weight", str(weight), "--output", rel(output), "--json"]
    load, start = os.getloadavg()[0], time.perf_counter()
    result = json.loads(last_json(HARNESS, argv))
    seconds = time.perf_counter() - start
    scores = {m["name"]: m["score"] for m in result["metrics"]}
    row = Row(corpus.key, condition.key, search, shlex.join(argv), scores["speech-wer"],
              scores["cer"], count, round(audio_s, 1), round(seconds, 1), weight,
              round(load, 2))  # fmt: skip
    print(json.dumps(asdict(row)), file=sys.stderr)
    return row


def tune_ctc_weight(args, corpus: Corpus) -> tuple[float, dict[str, float]]:
    """The joint search's weight with the lowest error rate (the corpus's goal metric) on the
    first TUNE_LIMIT utterances of the valid split, beam 5; and every weight's rate."""
    metric = corpus.conditions[0].goal[0] if corpus.conditions[0].goal else "cer"
    valid = Condition("valid", "valid", "valid.tsv", None)
    rates = {}
    for weight in args.ctc_weights:
        row = evaluate_row(args, corpus, valid, "ctc", weight)
        rates[f"{weight:g}"] = round(row.wer if metric == "speech-wer" else row.cer, 2)
    best = min(args.ctc_weights, key=lambda w: rates[f"{w:g}"])
    print(f"{corpus.key}: joint CTC weight {best:g} on valid ({metric}: {rates})", file=sys.stderr)
    return best, rates


def saved_tuning() -> dict:
    path = OUT.with_suffix(".json")
    return (
        json.loads(path.read_text(encoding="utf-8")).get("ctc_tuning", {}) if path.is_file() else {}
    )


def saved_rows() -> list[Row]:
    path = OUT.with_suffix(".json")
    if not path.is_file():
        return []
    return [Row(**r) for r in json.loads(path.read_text(encoding="utf-8"))["rows"]]


def condition_of(row: Row) -> Condition:
    return next(c for c in CORPORA[row.corpus].conditions if c.key == row.condition)


def table(rows: list[Row]) -> list[str]:
    lines = ["| corpus | test condition | search | WER % | CER % | utterances | audio | "
             "command s | real-time factor | load at start |",
             "|---|---|---|---|---|---|---|---|---|---|"]  # fmt: skip
    for r in rows:
        lines.append(
            f"| {r.corpus} | {condition_of(r).name} | {r.label} | {r.wer:.2f} | "
            f"{r.cer:.2f} | {r.utterances:,} | {r.audio_s / 60:.1f} min | {r.seconds:.1f} | "
            f"{r.rtf:.4f} | {'—' if r.load is None else f'{r.load:.1f}'} |"
        )
    return lines


def goal_lines(rows: list[Row]) -> list[str]:
    """Issue 25's goals: each condition's error rate (the better of the two beam searches) and
    the real-time factors."""
    lines = []
    for corpus in CORPORA.values():
        for condition in corpus.conditions:
            found = [r for r in rows if (r.corpus, r.condition) == (corpus.key, condition.key)
                     and r.search in ("beam", "ctc")]  # fmt: skip
            if not condition.goal or not found:
                continue
            metric, most = condition.goal
            label = "WER" if metric == "speech-wer" else "CER"
            best = min(found, key=lambda r: r.wer if metric == "speech-wer" else r.cer)
            value = best.wer if metric == "speech-wer" else best.cer
            verdict = "met" if value <= most else "missed"
            lines.append(f"- **{verdict}**: {corpus.key}, {condition.name}: {label} at most "
                         f"{most:g}%: {value:.2f}% with {best.label} "
                         f"({value - most:+.2f} points)")  # fmt: skip
    for search, most in RTF_GOALS.items():
        found = [r for r in rows if r.search == search]
        if found:
            worst = max(found, key=lambda r: r.rtf)
            verdict = "met" if worst.rtf <= most else "missed"
            lines.append(f"- **{verdict}**: real-time factor of {SEARCHES[search][0]} at most "
                         f"{most:g} ({1 / most:.0f}x real time): the slowest row "
                         f"{worst.rtf:.4f} ({worst.corpus}, {worst.condition}; "
                         f"{1 / worst.rtf:.0f}x real time)")  # fmt: skip
    return lines


def samples(rows: list[Row], seed: int) -> list[str]:
    """SAMPLES transcripts per condition (beam rows), drawn by `seed`: reference and output."""
    lines = []
    for r in (r for r in rows if r.search == "beam"):
        work = ROOT / CORPORA[r.corpus].data / "outputs"
        refs = (work / f"{r.condition}.ref").read_text(encoding="utf-8").splitlines()
        hyps = (work / f"{r.condition}.beam.txt").read_text(encoding="utf-8").splitlines()
        picked = random.Random(seed).sample(range(len(hyps)), min(SAMPLES, len(hyps)))
        lines += [f"{r.corpus}, {condition_of(r).name}:", "", "| reference | output |",
                  "|---|---|"]  # fmt: skip
        lines += [f"| {refs[i]} | {hyps[i]}{'' if hyps[i] == refs[i] else ' ✗'} |" for i in picked]
        lines.append("")
    return lines


def run_summary(run: str) -> str:
    """Steps, minutes and the best dev perplexity of a run, from its log.jsonl."""
    log = ROOT / run / "log.jsonl"
    if not log.is_file():
        return ""
    records = [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines() if line]
    train = [r for r in records if r.get("kind") == "train"]
    valid = [r for r in records if r.get("kind") == "valid"]
    if not train or not valid:
        return ""
    best = min(valid, key=lambda r: r["ppl"])
    minutes = (train[-1]["time"] - records[0]["time"]) / 60
    return (f"{run}: {train[-1]['step']:,} steps in {minutes:.0f} minutes of wall clock "
            f"(validation included), the best dev perplexity {best['ppl']:.3f} at step "
            f"{best['step']:,}")  # fmt: skip


def tuning_lines(tuning: dict) -> list[str]:
    """How each corpus's joint-search weight was chosen."""
    return [f"- {key}: joint CTC weight {entry['chosen']:g}, the lowest error rate on valid "
            f"(first {TUNE_LIMIT} utterances, beam {BEAM}; weight: rate %): "
            f"{entry[f'valid (first {TUNE_LIMIT})']}" for key, entry in tuning.items()]  # fmt: skip


def docs_section(rows: list[Row], args: argparse.Namespace, header: str) -> list[str]:
    lines = [f"Written by `python benchmarks/tasks/speech.py` ({header}). Word and character "
             "error rates are jiwer's, summed over the corpus; the real-time factor is the whole "
             "`seq2seq evaluate` command (start-up, model loading, reading the audio, features, "
             "search) over the seconds of audio, on 2 CPU cores.", "", *table(rows), "",
             *tuning_lines(args.tuning), "",
             "### Goals (issue 25)", "", *goal_lines(rows), ""]  # fmt: skip
    for key in dict.fromkeys(r.corpus for r in rows):
        corpus = CORPORA[key]
        lines += [f"### {corpus.title}", "", "```bash", *corpus.recipe, "```", ""]
        summary = run_summary(corpus.run)
        if summary:
            lines += [f"The checkpoint measured: {summary}.", ""]
        lines += [f"- {condition_of(r).name}, {r.label}: `{r.command}`"
                  for r in rows if r.corpus == key]  # fmt: skip
        curves = ROOT / "docs" / f"{Path(corpus.run).name}-curves.png"
        if curves.is_file():
            lines += ["", f"![{corpus.title}: learning curves]({curves.name})"]
        lines.append("")
    lines += [f"### Transcripts drawn with seed {args.seed}", "", *samples(rows, args.seed)]
    return lines


def readme_block(rows: list[Row]) -> list[str]:
    lines = ["| corpus | test condition | WER % | CER % | WER % with joint CTC search | CER % with "
             "joint CTC search | real-time factor (greedy / beam 5) |",
             "|---|---|---|---|---|---|---|"]  # fmt: skip
    by_key = {(r.corpus, r.condition, r.search): r for r in rows}
    for r in (r for r in rows if r.search == "beam"):
        ctc = by_key.get((r.corpus, r.condition, "ctc"))
        greedy = by_key.get((r.corpus, r.condition, "greedy"))
        rescored = f"{ctc.wer:.2f} | {ctc.cer:.2f}" if ctc else "— | —"
        factor = f"{greedy.rtf:.3f} / {r.rtf:.3f}" if greedy else f"— / {r.rtf:.3f}"
        lines.append(f"| {r.corpus} | {condition_of(r).name} | {r.wer:.2f} | {r.cer:.2f} | "
                     f"{rescored} | {factor} |")  # fmt: skip
    return lines + ["", *goal_lines(rows)]


def write_all(rows: list[Row], args: argparse.Namespace) -> None:
    header = f"written {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}"
    OUT.parent.mkdir(parents=True, exist_ok=True)
    data = {"header": header, "limit": args.limit, "ctc_tuning": args.tuning,
            "rows": [asdict(r) for r in rows]}  # fmt: skip
    OUT.with_suffix(".json").write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    text = ["# Speech to text", "", header, "", *table(rows), "", *tuning_lines(args.tuning), "",
            *goal_lines(rows)]  # fmt: skip
    OUT.with_suffix(".md").write_text("\n".join(text) + "\n", encoding="utf-8")
    print(f"wrote {rel(OUT.with_suffix('.md'))}", file=sys.stderr)
    if args.no_docs:
        return
    for key in dict.fromkeys(r.corpus for r in rows):
        run = CORPORA[key].run
        out = f"docs/{Path(run).name}-curves.png"
        run_command(HARNESS, ["python", "benchmarks/curves.py", run, out])
    if not replace_between(DOCS, DOCS_BEGIN, DOCS_END, docs_section(rows, args, header)):
        print(f"{HARNESS}: docs/speech.md has no {DOCS_BEGIN} block; left alone", file=sys.stderr)
    if not replace_between(README, README_BEGIN, README_END, readme_block(rows)):
        print(f"{HARNESS}: README has no {README_BEGIN} block; left alone", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--corpus", nargs="+", choices=list(CORPORA), default=list(CORPORA))
    parser.add_argument("--search", nargs="+", choices=list(SEARCHES), default=list(SEARCHES))
    parser.add_argument("--ctc-weights", nargs="+", type=float, default=list(CTC_WEIGHTS),
                        help="the joint search's weights tried on valid (one: no tuning)")  # fmt: skip
    parser.add_argument("--limit", type=int, help="only the first N utterances of each condition")
    parser.add_argument("--seed", type=int, default=1, help="seed of the sample transcripts")
    parser.add_argument("--reuse", action="store_true", help="rewrite the docs from the saved rows")
    parser.add_argument("--no-docs", action="store_true", help="leave docs/ and README alone")
    args = parser.parse_args(argv)
    rows, args.tuning = saved_rows(), saved_tuning()
    if not args.reuse:
        rows = [r for r in rows if r.corpus not in args.corpus]
        for key in args.corpus:
            corpus, weight = CORPORA[key], args.ctc_weights[0]
            if "ctc" in args.search and len(args.ctc_weights) > 1:
                weight, rates = tune_ctc_weight(args, corpus)
                args.tuning[key] = {"chosen": weight, f"valid (first {TUNE_LIMIT})": rates}
            for condition in corpus.conditions:
                rows += [evaluate_row(args, corpus, condition, s, weight if s == "ctc" else 0.0)
                         for s in args.search]  # fmt: skip
    order = {(c, k.key): i for i, (c, k) in enumerate(
        (c, k) for c in CORPORA for k in CORPORA[c].conditions)}  # fmt: skip
    rows.sort(key=lambda r: (order[(r.corpus, r.condition)], list(SEARCHES).index(r.search)))
    write_all(rows, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
