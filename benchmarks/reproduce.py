"""Reproduce the paper's findings on Multi30k: train every experiment, score it, write the table.

    python benchmarks/reproduce.py [--only NAME ...] [--list] [--minutes M] [--table-only]
                                   [--runs-dir runs/experiments] [--set KEY=VALUE ...]
                                   [--results-dir benchmarks/results/reproduce]

Each experiment is a file configs/experiments/NAME.yaml holding only what differs from
configs/small-cpu.yaml, plus a `reproduce:` section (removed before validation) that says
- `description`: one line for the table;
- `dataset`: which prepared data directory it trains on (DATASETS below, prepared once under
  data/ on first use);
- `beams`: the beam sizes to evaluate on test_2016_flickr (default: 1 and the config's beam);
- `members`: for a decode-only row, the trained experiments decoded together (an ensemble when
  more than one, paper §3.6);
- `rescore`: for a decode-only row, `nbest_from` (an experiment), `by` (experiments), `n`, `weight`:
  re-rank the first model's n-best lists with the others (paper §3.6).

A training run lives in RUNS/NAME. It is finished when RUNS/NAME/done.json exists; a directory
with checkpoints but no done.json was interrupted and resumes from its newest checkpoint (the
trainer's --resume); anything else starts afresh. Test-set results go to RUNS/NAME/results.json
and to RESULTS_DIR/NAME.json (committed, so the table outlives the run directories and rows from
different sessions add up); the table of every RESULTS_DIR/*.json goes to docs/results.md between
the markers below. Each result records the command (with its overrides) that produced it.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from seq2seq.commands import setup_logging
from seq2seq.config import Config, apply_overrides, config_from_dict
from seq2seq.errors import ConfigError, Seq2SeqError

ROOT = Path(__file__).resolve().parents[1]
BASE_CONFIG = ROOT / "configs" / "small-cpu.yaml"
EXPERIMENTS = ROOT / "configs" / "experiments"
MULTI30K = ROOT.parent / "shared" / "data" / "multi30k"
RESULTS_DOC = ROOT / "docs" / "results.md"
RESULTS_DIR = ROOT / "benchmarks" / "results" / "reproduce"
TABLE_BEGIN = "<!-- reproduce.py table: begin -->"
TABLE_END = "<!-- reproduce.py table: end -->"
README = ROOT / "README.md"
HEADLINE_BEGIN = "<!-- headline: begin -->"
HEADLINE_END = "<!-- headline: end -->"
DONE = "done.json"
RESULTS = "results.json"
TEST_SET = "test_2016_flickr"
# The table's order: the paper's findings one after another; rows not listed come last.
TABLE_ORDER = [
    "reversed", "forward", "forward-seed-2", "forward-seed-3", "reversed-word", "forward-word",
    "depth-1", "depth-4", "beam-sweep", "seed-2", "seed-3", "seed-4", "seed-5", "ensemble", "rescore",
    "context-bridge", "context-concat", "context-peeky", "gru", "luong", "bahdanau", "luong-word",
    "luong-word-copy",
    "en-de-reversed", "en-de-luong", "en-de-bahdanau",
]  # fmt: skip
# Rows the README's headline leaves to the full table: the beam sweep repeats the base model's
# beam 5, and seeds 2-5 are the ensemble's members (the findings section sums them up).
NOT_IN_HEADLINE = {"beam-sweep", "seed-2", "seed-3", "seed-4", "seed-5", "forward-seed-2",
                   "forward-seed-3", "tatoeba-base", "tatoeba-attention", "luong-word",
                   "luong-word-copy"}  # fmt: skip
# (the Tatoeba rows score another test set: the headline is Multi30k's; the two copy rows trained
# 10 minutes on one shared thread, not the headline's 15 on two: benchmarks/results/copy_rare_words.md)

# Prepared data directories: name -> (directory under the data cache, languages, prepare options).
# The word vocabularies split punctuation off words (reversibly: Multi30k is raw text) and keep
# every word seen at least twice in Multi30k's training half (6,250 English, 6,500 French types;
# the paper's §3.1 160k/80k would keep every word here).
DATASETS: dict[str, tuple[str, str, str, dict[str, Any]]] = {
    "en-fr-bpe8k": ("multi30k-en-fr", "en", "fr", {"vocab": "bpe", "joint": True,
                                                    "src_vocab_size": 8000}),
    "en-fr-word": ("multi30k-en-fr-word", "en", "fr", {"vocab": "word", "split_punct": True,
                                                        "src_vocab_size": 6250,
                                                        "tgt_vocab_size": 6500}),
    "en-de-bpe8k": ("multi30k-en-de", "en", "de", {"vocab": "bpe", "joint": True,
                                                    "src_vocab_size": 8000}),
    "tatoeba-en-fr-bpe8k": ("tatoeba-en-fr", "en", "fr", {"vocab": "bpe", "joint": True,
                                                           "src_vocab_size": 8000}),
}  # fmt: skip
# Datasets whose raw files are not Multi30k's: name -> (their directory, the file split standing
# for each Multi30k split). benchmarks/scale/tatoeba_split.py writes the Tatoeba split there.
RAW_FILES: dict[str, tuple[Path, dict[str, str]]] = {
    "tatoeba-en-fr-bpe8k": (ROOT / "data" / "tatoeba-en-fr",
                            {"train": "train", "val": "valid", TEST_SET: "test"}),
}  # fmt: skip


def raw_file(dataset: str, multi30k: Path, split: str, lang: str) -> Path:
    """One raw file of a dataset: a Multi30k split, or what RAW_FILES puts in its place."""
    if dataset in RAW_FILES:
        folder, names = RAW_FILES[dataset]
        return folder / f"{names[split]}.{lang}.gz"
    return multi30k / f"{split}.{lang}.gz"


def test_set_name(dataset: str) -> str:
    if dataset in RAW_FILES:
        folder, names = RAW_FILES[dataset]
        return f"{folder.name} {names[TEST_SET]}"
    return TEST_SET


@dataclass
class Experiment:
    """One row (or group of rows) of the table, read from configs/experiments/NAME.yaml."""

    name: str
    description: str
    config: Config | None = None  # None for decode-only rows
    dataset: str | None = None
    beams: list[int] = field(default_factory=list)
    members: list[str] = field(default_factory=list)
    rescore: dict[str, Any] | None = None
    # {"beam_size": [...], "length_penalty": [...]}: chosen by BLEU on val, then test decoded once
    val_sweep: dict[str, list] | None = None

    @property
    def trains(self) -> bool:
        return self.config is not None

    def needs(self) -> list[str]:
        """The trained experiments this row decodes with."""
        if self.trains:
            return [self.name]
        extra = [self.rescore["nbest_from"], *self.rescore["by"]] if self.rescore else []
        return list(dict.fromkeys(self.members + extra))


# ---------------------------------------------------------------------------------------------
# Reading experiments


def deep_merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """`over` laid onto `base`, section by section (neither is modified)."""
    merged = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f":{mark.line + 1}" if mark else ""
        raise ConfigError(f"{path}{where} is not valid YAML") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path} must be a mapping of config sections")
    return raw


def load_experiment(
    path: Path,
    runs_dir: Path,
    data_cache: Path,
    overrides: list[str] | None = None,
) -> Experiment:
    """Merge one experiment file onto the base recipe and validate it into an `Experiment`."""
    raw = _read_yaml(path)
    spec = raw.pop("reproduce", None) or {}
    name = path.stem
    known = {"description", "dataset", "beams", "members", "rescore", "val_sweep"}
    unknown = sorted(set(spec) - known)
    if unknown:
        raise ConfigError(f"{path}: unknown reproduce key '{unknown[0]}'; allowed: {sorted(known)}")
    exp = Experiment(name, spec.get("description", name), beams=list(spec.get("beams", [])))
    exp.val_sweep = spec.get("val_sweep")
    if "members" in spec or "rescore" in spec:
        if raw:
            raise ConfigError(f"{path}: a decode-only row (members/rescore) takes no config keys")
        exp.members = list(spec.get("members", []))
        exp.rescore = spec.get("rescore")
        if exp.rescore is not None and not {"nbest_from", "by"} <= set(exp.rescore):
            raise ConfigError(f"{path}: reproduce.rescore needs 'nbest_from' and 'by'")
        exp.beams = exp.beams or ([1] if exp.members else [])
        return exp
    dataset = spec.get("dataset", "en-fr-bpe8k")
    if dataset not in DATASETS:
        raise ConfigError(f"{path}: dataset '{dataset}' is not one of {', '.join(DATASETS)}")
    merged = deep_merge(_read_yaml(BASE_CONFIG), raw)
    merged = deep_merge(
        merged,
        {
            "data": {"dir": str(data_cache / DATASETS[dataset][0])},
            "train": {"out_dir": str(runs_dir / name)},
        },
    )
    try:
        exp.config = config_from_dict(apply_overrides(merged, list(overrides or [])))
    except ConfigError as err:
        raise ConfigError(f"{path}: {err}") from None
    exp.dataset = dataset
    exp.beams = exp.beams or sorted({1, exp.config.decode.beam_size})
    return exp


def load_experiments(
    runs_dir: Path, data_cache: Path, overrides: list[str] | None = None
) -> dict[str, Experiment]:
    """Every configs/experiments/*.yaml, by name; checks that decode rows name trained rows."""
    found = {
        path.stem: load_experiment(path, runs_dir, data_cache, overrides)
        for path in sorted(EXPERIMENTS.glob("*.yaml"))
    }
    for exp in found.values():
        for need in exp.needs():
            if need not in found or not found[need].trains:
                raise ConfigError(
                    f"{EXPERIMENTS / (exp.name + '.yaml')}: '{need}' is not a training experiment"
                )
    return found


# ---------------------------------------------------------------------------------------------
# Data and training


def ensure_dataset(name: str, data_cache: Path, multi30k: Path) -> Path:
    """Prepare the dataset's directory from the raw Multi30k files unless it is there already."""
    from seq2seq.data.io import ParallelSource
    from seq2seq.data.prepare import MANIFEST, prepare

    subdir, src, tgt, options = DATASETS[name]
    out = data_cache / subdir
    if (out / MANIFEST).is_file():
        return out
    print(f"reproduce: preparing {out} ({name})", file=sys.stderr)

    def pair(split: str) -> ParallelSource:
        paths = [raw_file(name, multi30k, split, lang) for lang in (src, tgt)]
        for path in paths:
            if not path.is_file():
                hint = "benchmarks/scale/tatoeba_split.py" if name in RAW_FILES else "--multi30k"
                raise Seq2SeqError(f"raw file {path} is missing (see {hint})")
        return ParallelSource(*paths)

    prepare(
        out,
        pair("train"),
        valid=pair("val"),
        src_lang=src,
        tgt_lang=tgt,
        progress=False,
        **options,
    )
    return out


def run_status(run_dir: Path) -> str:
    """'done' (done.json), 'resume' (checkpoints, no done.json) or 'new'."""
    from seq2seq.train.rundir import RunDir

    if (run_dir / DONE).is_file():
        return "done"
    return "resume" if RunDir(run_dir).latest() is not None else "new"


def train(exp: Experiment) -> None:
    """Train (or resume, or skip) one experiment; writes done.json with its training totals."""
    from seq2seq.experiment import build_trainer

    assert exp.config is not None
    run_dir = Path(exp.config.train.out_dir)
    status = run_status(run_dir)
    if status == "done":
        print(f"reproduce: {exp.name} already trained, skipping", file=sys.stderr)
        return
    print(f"reproduce: training {exp.name} ({status})", file=sys.stderr)
    trainer = build_trainer(exp.config, resume=status == "resume")
    state = trainer.fit()
    totals = {
        "steps": state.step,
        "epochs": round(state.step / trainer.steps_per_epoch, 3),
        "train_seconds": round(state.train_seconds, 1),
        "target_tokens": state.target_tokens,
        "tgt_tok_s": round(state.target_tokens / max(state.train_seconds, 1e-9), 1),
        "parameters": trainer.model.num_parameters(),
    }
    (run_dir / DONE).write_text(json.dumps(totals, indent=2) + "\n", encoding="utf-8")


# ---------------------------------------------------------------------------------------------
# Evaluation on test_2016_flickr


@dataclass
class TestSet:
    """Aligned test sources and references."""

    sources: list[str]
    references: list[str]
    tokenized: list[str] | None = None  # the official lc.norm.tok references, when present
    lang: str = ""


def read_test_set(
    exp: Experiment, found: dict[str, Experiment], multi30k: Path, limit: int | None
) -> TestSet:
    """The row's test_2016_flickr sources and references (its languages), first `limit` lines."""

    return read_split(exp, found, multi30k, TEST_SET, limit)


def read_split(
    exp: Experiment, found: dict[str, Experiment], multi30k: Path, split: str, limit: int | None
) -> TestSet:
    """One Multi30k split in the row's languages (and its official tokenised references)."""
    from seq2seq.evaluate.scores import read_lines

    dataset = found[exp.needs()[0]].dataset or ""
    _, src, tgt, _ = DATASETS[dataset]
    sources = read_lines(raw_file(dataset, multi30k, split, src))[:limit]
    references = read_lines(raw_file(dataset, multi30k, split, tgt))[:limit]
    tok = multi30k / "tok" / f"{split}.lc.norm.tok.{tgt}.gz"
    tokenized = read_lines(tok)[:limit] if tok.is_file() and dataset not in RAW_FILES else None
    return TestSet(sources, references, tokenized, tgt)


def score(label: str, hyps: list[str], test: TestSet) -> dict[str, Any]:
    """Cased and lower-cased sacreBLEU and chrF of one system output, and BLEU as the Multi30k
    literature counts it when the official tokenised references are there."""
    from seq2seq.evaluate.scores import corpus_scores, tokenized_bleu

    cased = corpus_scores(hyps, test.references)
    lower = corpus_scores(hyps, test.references, lowercase=True)
    extra = {}
    if test.tokenized is not None:
        tok = tokenized_bleu(hyps, test.tokenized, test.lang)
        extra = {"bleu_tok": round(tok.bleu, 2), "bleu_tok_signature": tok.signature}
    return {
        **extra,
        "search": label,
        "bleu": round(cased.bleu, 2),
        "bleu_lc": round(lower.bleu, 2),
        "chrf": round(cased.chrf, 2),
        "bleu_text": cased.bleu_text,
        "bleu_signature": cased.bleu_signature,
        "bleu_lc_signature": lower.bleu_signature,
        "chrf_signature": cased.chrf_signature,
        "sentences": cased.sentences,
    }


def checkpoints(names: list[str], found: dict[str, Experiment]) -> list[Path]:
    paths = [Path(found[n].config.train.out_dir) / "best.safetensors" for n in names]  # type: ignore[union-attr]
    for path in paths:
        if not path.is_file():
            raise Seq2SeqError(f"checkpoint {path} is missing; train that experiment first")
    return paths


def decode_rows(
    exp: Experiment, found: dict, test: TestSet, out: Path, val: TestSet | None = None
) -> list[dict[str, Any]]:
    """Greedy / beam decodes of the row's model (or ensemble), outputs kept in `out`."""
    from seq2seq.decode.translator import Translator

    members = exp.needs() if exp.trains else exp.members
    translator = Translator.load(checkpoints(members, found))
    rows = []
    for beam in exp.beams:
        hyps = translator.translate(test.sources, beam_size=beam, n_best=1)
        (out / f"test.beam{beam}.txt").write_text("\n".join(hyps) + "\n", encoding="utf-8")
        rows.append(score("greedy" if beam == 1 else f"beam {beam}", hyps, test))
    if exp.val_sweep and val is not None:
        rows.append(val_chosen_row(exp, translator, test, val, out))
    return rows


def val_chosen_row(
    exp: Experiment, translator, test: TestSet, val: TestSet, out: Path
) -> dict[str, Any]:
    """Beam size and length penalty chosen by BLEU on val (never on test), then test once."""
    import itertools

    assert exp.val_sweep is not None
    sweep = []
    for beam, alpha in itertools.product(
        exp.val_sweep.get("beam_size", [5]), exp.val_sweep.get("length_penalty", [1.0])
    ):
        hyps = translator.translate(val.sources, beam_size=beam, length_penalty=alpha)
        sweep.append({"beam_size": beam, "length_penalty": alpha,
                      "val_bleu": round(score("", hyps, val)["bleu"], 2)})  # fmt: skip
    best = max(sweep, key=lambda r: r["val_bleu"])
    hyps = translator.translate(
        test.sources, beam_size=best["beam_size"], length_penalty=best["length_penalty"]
    )
    (out / "test.val-chosen.txt").write_text("\n".join(hyps) + "\n", encoding="utf-8")
    label = f"beam {best['beam_size']}, lp {best['length_penalty']} (chosen on val)"
    return {**score(label, hyps, test), "val_bleu": best["val_bleu"], "val_sweep": sweep}


def rescore_rows(exp: Experiment, found: dict, test: TestSet) -> list[dict[str, Any]]:
    """The weak model's n-best 1-best, then the lists re-ranked by the ensemble (paper §3.6)."""
    from seq2seq.decode.rescore import NBestEntry, rescore
    from seq2seq.decode.translator import Translator

    spec = exp.rescore or {}
    n = int(spec.get("n", 50))
    weak = Translator.load(checkpoints([spec["nbest_from"]], found))
    lists = weak.translate_hypotheses(test.sources, weak.settings(beam_size=n, n_best=n))
    entries = [NBestEntry(i, t.text, "", t.log_prob) for i, hyps in enumerate(lists) for t in hyps]
    strong = Translator.load(checkpoints(list(spec["by"]), found))
    own = strong.score([test.sources[e.sentence] for e in entries], [e.text for e in entries])
    ranked = rescore(entries, own, weight=float(spec.get("weight", 0.5)))
    before = [hyps[0].text if hyps else "" for hyps in lists]
    after = [ranked[i][0].text if i in ranked else "" for i in range(len(lists))]
    return [score(f"{n}-best, 1-best", before, test), score(f"{n}-best rescored", after, test)]


def training_totals(names: list[str], found: dict[str, Experiment]) -> dict[str, Any]:
    """Parameters, training time and speed summed over the trained runs a row uses."""
    from seq2seq.train.metrics_log import read_log

    totals: dict[str, Any] = {"parameters": 0, "train_seconds": 0.0, "target_tokens": 0}
    steps = []
    for name in names:
        run_dir = Path(found[name].config.train.out_dir)  # type: ignore[union-attr]
        done = json.loads((run_dir / DONE).read_text(encoding="utf-8"))
        for key in totals:
            totals[key] += done[key]
        steps.append(done["steps"])
    # One model's steps; for several, each model's (no one number stands for them all).
    totals["steps"] = steps[0] if len(steps) == 1 else None
    if len(steps) > 1:
        totals["member_steps"] = steps
    totals["tgt_tok_s"] = round(totals["target_tokens"] / max(totals["train_seconds"], 1e-9), 1)
    if len(names) == 1:
        run_dir = Path(found[names[0]].config.train.out_dir)  # type: ignore[union-attr]
        valid = (
            read_log(run_dir / "log.jsonl", "valid") if (run_dir / "log.jsonl").is_file() else []
        )
        ppls = [r["ppl"] for r in valid if "ppl" in r]
        totals["dev_ppl"] = round(min(ppls), 2) if ppls else None
    return totals


def evaluate(
    exp: Experiment,
    found: dict,
    runs_dir: Path,
    multi30k: Path,
    limit: int | None,
    results_dir: Path | None = None,
    options: str = "",
) -> dict[str, Any]:
    """Write RUNS/NAME/results.json (and RESULTS_DIR/NAME.json when given) for one row.

    `options` are the command-line options the row was trained and scored with (overrides,
    step or time budgets, test limit), so the recorded command reproduces it exactly.
    """
    test = read_test_set(exp, found, multi30k, limit)
    val = read_split(exp, found, multi30k, "val", limit) if exp.val_sweep else None
    out = runs_dir / exp.name
    out.mkdir(parents=True, exist_ok=True)
    rows = rescore_rows(exp, found, test) if exp.rescore else []
    if exp.trains or exp.members:
        rows = decode_rows(exp, found, test, out, val) + rows
    used = exp.needs() if exp.trains or not exp.members else exp.members
    result = {
        "name": exp.name,
        "description": exp.description,
        "command": f"python benchmarks/reproduce.py --only {exp.name}{options}",
        "date": time.strftime("%Y-%m-%d"),
        "machine": machine_line(),
        "uses": used,
        "test_set": f"{test_set_name(found[exp.needs()[0]].dataset or '')} "
        f"({len(test.sources)} sentences)",
        "training": training_totals(used, found),
        "decodes": rows,
    }
    text = json.dumps(result, indent=2) + "\n"
    (out / RESULTS).write_text(text, encoding="utf-8")
    if results_dir is not None:
        results_dir.mkdir(parents=True, exist_ok=True)
        (results_dir / f"{exp.name}.json").write_text(text, encoding="utf-8")
    return result


def machine_line() -> str:
    """CPU model, cores and the torch version: enough to tell whose timings a row holds."""
    import platform

    import torch

    model = platform.processor() or platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text(encoding="utf-8", errors="replace").splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return f"{model}, {os.cpu_count()} cores, {torch.get_num_threads()} threads, torch {torch.__version__}"


# ---------------------------------------------------------------------------------------------
# The table


def _cell(value: Any, fmt: str = "{}") -> str:
    return "—" if value is None else fmt.format(value)


def render_table(results: list[dict[str, Any]]) -> str:
    """Markdown: one line per (row, search), then the sacreBLEU signatures used."""
    lines = [
        "| experiment | search | BLEU | BLEU (lc) | chrF | dev ppl | parameters | train time "
        "| target tok/s | command |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    signatures: set[str] = set()
    for res in results:
        t = res["training"]
        for d in res["decodes"]:
            signatures.update((d["bleu_signature"], d["bleu_lc_signature"], d["chrf_signature"]))
            lines.append(
                f"| {res['name']}: {res['description']} | {d['search']} | {d['bleu']:.2f} "
                f"| {d['bleu_lc']:.2f} | {d['chrf']:.2f} | {_cell(t.get('dev_ppl'), '{:.2f}')} "
                f"| {t['parameters']:,} | {t['train_seconds'] / 60:.1f} min "
                f"| {t['tgt_tok_s']:,.0f} | `{res['command']}` |"
            )
    tests = sorted({res["test_set"] for res in results})
    lines += ["", f"Test set: {', '.join(tests) or '—'}. Signatures:", ""]
    lines += [f"- `{s}`" for s in sorted(signatures)]
    return "\n".join(lines) + "\n"


def _earlier_tokenized() -> dict[tuple[str, str], float]:
    """(row, search) -> tokenised lc BLEU from benchmarks/tokenized_bleu.py's last table, for
    rows scored before the reproduction computed it itself."""
    path = ROOT / "benchmarks" / "results" / "tokenized_bleu.json"
    if not path.is_file():
        return {}
    rows = json.loads(path.read_text(encoding="utf-8"))["rows"]
    return {(r["run"], r["search"]): r["tokenized_lc"] for r in rows}


def headline_decode(decodes: list[dict[str, Any]]) -> dict[str, Any]:
    """The decode a row is known by: the one chosen on val, else its (one) beam search.
    (Rows list one beam size; the beam sweep row is left out of the headline.)"""
    chosen = [d for d in decodes if "val_bleu" in d]
    if chosen:
        return chosen[0]
    beams = [d for d in decodes if d["search"].startswith("beam")]
    return max(beams, key=lambda d: int(d["search"].split()[1])) if beams else decodes[-1]


def render_headline(results: list[dict[str, Any]]) -> str:
    """One line per row: greedy and beam BLEU (cased, lower-cased, and tokenised lower-cased as
    the Multi30k literature counts it), chrF, dev ppl."""
    lines = [
        "| experiment | dev ppl | BLEU greedy | BLEU beam | BLEU beam (lc) | BLEU beam (tok lc) "
        "| chrF beam | steps |",
        "|---|---|---|---|---|---|---|---|",
    ]
    earlier = _earlier_tokenized()
    for res in results:
        if res["name"] in NOT_IN_HEADLINE:
            continue
        decodes = res["decodes"]
        greedy = next((d for d in decodes if d["search"] == "greedy"), None)
        best = headline_decode(decodes)
        tok = best.get("bleu_tok", earlier.get((res["name"], best["search"])))
        t = res["training"]
        lines.append(
            f"| {res['name']}: {res['description']} | {_cell(t.get('dev_ppl'), '{:.2f}')} "
            f"| {_cell(greedy and greedy['bleu'], '{:.2f}')} | {best['bleu']:.2f} ({best['search']}) "
            f"| {best['bleu_lc']:.2f} | {_cell(tok, '{:.2f}')} | {best['chrf']:.2f} "
            f"| {_cell(t.get('steps'), '{:,}')} |"
        )
    return "\n".join(lines) + "\n"


def collect_results(results_dir: Path) -> list[dict[str, Any]]:
    """Every RESULTS_DIR/*.json, in TABLE_ORDER."""
    files = sorted(results_dir.glob("*.json")) if results_dir.is_dir() else []
    results = [json.loads(path.read_text(encoding="utf-8")) for path in files]
    rank = {name: i for i, name in enumerate(TABLE_ORDER)}
    return sorted(results, key=lambda r: (rank.get(r["name"], len(rank)), r["name"]))


def write_table(doc: Path, results: list[dict[str, Any]]) -> None:
    """Replace the text between the table markers in `doc` (append the markers if absent)."""
    replace_block(doc, TABLE_BEGIN, TABLE_END, render_table(results), append=True)


def replace_block(doc: Path, begin: str, end: str, body: str, append: bool = False) -> None:
    """Put `body` between the `begin` and `end` markers of `doc`; without them, append the
    block when `append`, else leave the file alone."""
    text = doc.read_text(encoding="utf-8") if doc.is_file() else ""
    block = f"{begin}\n{body}{end}"
    if begin in text and end in text:
        head, _, rest = text.partition(begin)
        _, _, tail = rest.partition(end)
        text = head + block + tail
    elif append:
        text = text.rstrip("\n") + ("\n\n" if text else "") + block + "\n"
    else:
        return
    doc.write_text(text, encoding="utf-8")


# ---------------------------------------------------------------------------------------------
# CLI


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="+", metavar="NAME", help="run only these experiments")
    parser.add_argument("--list", action="store_true", help="list the experiments and stop")
    parser.add_argument("--minutes", type=float, help="override train.max_minutes (smoke tests)")
    parser.add_argument("--max-steps", type=int, help="override train.max_steps (smoke tests)")
    parser.add_argument(
        "--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
        help="override a config key in every experiment, e.g. --set model.hidden_size=64",
    )  # fmt: skip
    parser.add_argument("--table-only", action="store_true", help="only regenerate the table")
    parser.add_argument("--runs-dir", type=Path, default=ROOT / "runs" / "experiments")
    parser.add_argument("--data-cache", type=Path, default=ROOT / "data",
                        help="where prepared data directories are kept")  # fmt: skip
    parser.add_argument("--multi30k", type=Path, default=MULTI30K, help="raw Multi30k files")
    parser.add_argument("--test-limit", type=int, help="score only the first N test sentences")
    parser.add_argument("--table", type=Path, default=RESULTS_DOC, help="document for the table")
    parser.add_argument("--readme", type=Path, default=None,
                        help="document whose headline block gets the one-line-per-row table "
                             "(default: README.md when --table is the default)")  # fmt: skip
    parser.add_argument("--results-dir", type=Path, default=RESULTS_DIR,
                        help="where each row's results JSON is kept (the table's source)")  # fmt: skip
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    setup_logging("reproduce")  # the library's progress and warnings to stderr
    args = parse_args(argv)
    overrides = list(args.overrides)
    if args.minutes is not None:
        overrides.append(f"train.max_minutes={args.minutes}")
    if args.max_steps is not None:
        overrides.append(f"train.max_steps={args.max_steps}")
    found = load_experiments(args.runs_dir, args.data_cache, overrides)
    options = "".join(f" --set {shlex.quote(item)}" for item in overrides)
    if args.test_limit is not None:
        options += f" --test-limit {args.test_limit}"
    if args.list:
        for exp in found.values():
            kind = "train" if exp.trains else "decode"
            print(f"{exp.name:16} {kind:6} {exp.description}")
        return 0
    selected = args.only or list(found)
    for name in selected:
        if name not in found:
            raise ConfigError(f"no experiment '{name}' in {EXPERIMENTS}; see --list")
    if not args.table_only:
        needed = list(dict.fromkeys(n for name in selected for n in found[name].needs()))
        for name in needed:
            ensure_dataset(found[name].dataset or "", args.data_cache, args.multi30k)
            train(found[name])
        for name in selected:
            start = time.perf_counter()
            evaluate(found[name], found, args.runs_dir, args.multi30k, args.test_limit,
                     args.results_dir, options)  # fmt: skip
            print(f"reproduce: evaluated {name} in {time.perf_counter() - start:.0f} s",
                  file=sys.stderr)  # fmt: skip
    results = collect_results(args.results_dir)
    write_table(args.table, results)
    headline = render_headline(results)
    # The README follows the default results page only: a scratch --table leaves it alone.
    readme = args.readme or (README if args.table == RESULTS_DOC else None)
    for doc in (args.table, readme):
        if doc is not None:
            replace_block(doc, HEADLINE_BEGIN, HEADLINE_END, headline)
    print(f"reproduce: {len(results)} results tabulated in {args.table}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit(130)
    except Seq2SeqError as err:
        print(f"reproduce: error: {err}", file=sys.stderr)
        sys.exit(2)
