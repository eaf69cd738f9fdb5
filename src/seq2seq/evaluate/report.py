"""`seq2seq report RUN_DIR`: one self-contained HTML page about a training run.

The page holds the run's config, its training curves drawn from ``log.jsonl`` (training loss,
train and dev perplexity, dev BLEU against the step), the results of ``seq2seq evaluate --json``
(``--eval``), and every plot and table that ``seq2seq analyze`` left in a directory
(``--analyses``). Plots are embedded as base64 PNG data URIs and the style sheet is inline, so the
file can be mailed or archived alone and opened without a network::

    seq2seq evaluate --checkpoint runs/x/best.safetensors --src test.en --ref test.fr --json > eval.json
    seq2seq analyze length --checkpoint x=runs/x/best.safetensors --src test.en --ref test.fr --out an/
    seq2seq report runs/x --eval eval.json --analyses an/ --out report.html
"""

from __future__ import annotations

import base64
import csv
import datetime
import html
import json
import tempfile
from pathlib import Path
from typing import Any

import yaml

from seq2seq.errors import DataError

MAX_TABLE_ROWS = 200

TITLES = {
    "bleu_by_length": "BLEU by sentence length (paper Fig. 3, left)",
    "bleu_by_rarity": "BLEU by average word-frequency rank (paper Fig. 3, right)",
    "beams": "Beam size: BLEU and speed (paper §3.6)",
    "pca": "Sentence vectors, 2-D PCA (paper Fig. 2)",
    "attention": "Attention weights",
}

STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2em auto;
       max-width: 1200px; padding: 0 1em; color: #222; background: #fff; }
h1 { font-size: 1.6em; margin-bottom: 0.2em; } h2 { border-bottom: 1px solid #ddd;
     padding-bottom: 0.2em; margin-top: 2em; } h3 { margin-top: 1.5em; }
.meta { color: #666; font-size: 0.9em; }
table { border-collapse: collapse; margin: 0.6em 0; font-size: 0.85em; }
th, td { border: 1px solid #ddd; padding: 3px 8px; text-align: right; }
th { background: #f4f4f4; } td.text, th.text { text-align: left; }
.sections { display: flex; flex-wrap: wrap; gap: 1.5em; }
figure { margin: 0.8em 0; } img { max-width: 100%; height: auto; border: 1px solid #eee; }
code, pre { font-size: 0.85em; background: #f7f7f7; padding: 1px 4px; }
.scroll { overflow-x: auto; }
"""


# ---------------------------------------------------------------------------------------------
# Reading the inputs


def read_evaluations(path: Path) -> list[dict[str, Any]]:
    """One JSON object, a JSON list of them, or one object per line (JSONL)."""
    if not path.is_file():
        raise DataError(f"evaluation file {path} does not exist")
    text = path.read_text(encoding="utf-8").strip()
    try:
        data = json.loads(text)
        items = data if isinstance(data, list) else [data]
    except json.JSONDecodeError:
        items = []
        for lineno, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                items.append(json.loads(line))
            except json.JSONDecodeError as err:
                raise DataError(f"{path}:{lineno}: not JSON ({err.msg})") from None
    if not items:
        raise DataError(f"evaluation file {path} is empty")
    for item in items:
        if not isinstance(item, dict) or "bleu" not in item:
            raise DataError(f"{path} does not hold `seq2seq evaluate --json` results")
    return items


def read_csv(path: Path) -> list[list[str]]:
    with open(path, encoding="utf-8", newline="") as handle:
        return list(csv.reader(handle))


def _png_data_uri(path: Path) -> str:
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode("ascii")


# ---------------------------------------------------------------------------------------------
# HTML pieces


def _esc(value: Any) -> str:
    return html.escape(str(value))


def _number(value: Any, digits: int = 2) -> str:
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    return _esc(value if value is not None else "–")


def html_table(rows: list[list[Any]], header: list[str] | None = None) -> str:
    """A table; numbers are right-aligned, anything else left-aligned."""

    def cell(tag: str, value: Any) -> str:
        text = str(value)
        try:
            float(text.replace(",", ""))
        except ValueError:
            return f'<{tag} class="text">{_esc(text)}</{tag}>'
        return f"<{tag}>{_esc(text)}</{tag}>"

    parts = ['<div class="scroll"><table>']
    if header:
        parts.append("<tr>" + "".join(cell("th", h) for h in header) + "</tr>")
    parts += ["<tr>" + "".join(cell("td", v) for v in row) + "</tr>" for row in rows]
    parts.append("</table></div>")
    return "\n".join(parts)


def _short(text: str) -> str:
    """A CSV decimal (6 places) shortened for reading: 89.630935 -> 89.63, 0.0012345 -> 0.001234."""
    if "." not in text:
        return text
    try:
        number = float(text)
    except ValueError:
        return text
    return f"{number:.2f}" if abs(number) >= 1 else f"{number:.4g}"


def _figure(data_uri: str, alt: str) -> str:
    return f'<figure><img src="{data_uri}" alt="{_esc(alt)}"></figure>'


def config_section(run_dir: Path) -> str:
    path = run_dir / "config.yaml"
    if not path.is_file():
        return "<h2>Configuration</h2><p>No config.yaml in this run directory.</p>"
    config = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    blocks = []
    for section, values in config.items():
        if isinstance(values, dict):
            rows = [[key, json.dumps(value)] for key, value in values.items()]
            blocks.append(
                f"<div><h3>{_esc(section)}</h3>{html_table(rows, ['key', 'value'])}</div>"
            )
    return '<h2>Configuration</h2><div class="sections">' + "".join(blocks) + "</div>"


def training_section(run_dir: Path, workdir: Path) -> str:
    from seq2seq.evaluate.plots import plot_training_curves
    from seq2seq.train.metrics_log import read_log

    log = run_dir / "log.jsonl"
    if not log.is_file():
        return "<h2>Training</h2><p>No log.jsonl in this run directory.</p>"
    try:
        train, valid = read_log(log, "train"), read_log(log, "valid")
    except json.JSONDecodeError as err:
        raise DataError(f"{log}:{err.lineno}: not a JSON record ({err.msg})") from None
    if not train and not valid:
        return "<h2>Training</h2><p>The training log is empty.</p>"
    summary = [
        ["steps logged", train[-1]["step"] if train else "–"],
        ["epochs", _number(train[-1].get("epoch"), 3) if train else "–"],
        ["last training loss", _number(train[-1]["loss"], 4) if train else "–"],
    ]
    dev_ppl = [r["ppl"] for r in valid if r.get("ppl") is not None]
    dev_bleu = [r["bleu"] for r in valid if r.get("bleu") is not None]
    summary.append(["validations", len(valid)])
    summary.append(["best dev perplexity", _number(min(dev_ppl), 3) if dev_ppl else "–"])
    summary.append(["best dev BLEU (greedy)", _number(max(dev_bleu)) if dev_bleu else "–"])
    png = plot_training_curves(train, valid, workdir / "curves.png")
    return (
        "<h2>Training</h2>"
        + html_table(summary, ["", "value"])
        + _figure(_png_data_uri(png), "training loss, perplexity and dev BLEU against the step")
    )


def evaluation_section(evaluations: list[dict[str, Any]]) -> str:
    rows = []
    for item in evaluations:
        ppl = item.get("perplexity") or {}
        system = ", ".join(item.get("checkpoints") or []) or item.get("hyp") or "–"
        rows.append(
            [
                system,
                item.get("beam_size", "–"),
                item.get("sentences", "–"),
                _number(item["bleu"]),
                _number(item.get("chrf")),
                _number(ppl.get("perplexity"), 3),
            ]
        )
    header = ["system", "beam", "sentences", "BLEU", "chrF", "perplexity"]
    details = "".join(
        f"<li><code>{_esc(item.get('bleu_text', ''))}</code><br><code>"
        f"{_esc(item.get('bleu_signature', ''))}</code> · <code>"
        f"{_esc(item.get('chrf_signature', ''))}</code></li>"
        for item in evaluations
    )
    return f"<h2>Evaluation</h2>{html_table(rows, header)}<ul>{details}</ul>"


def analyses_section(directory: Path) -> str:
    if not directory.is_dir():
        raise DataError(f"analyses directory {directory} does not exist")
    found = {p.stem for p in directory.iterdir() if p.suffix in (".png", ".csv")}
    known = list(TITLES)  # the paper's analyses first, in the order of TITLES, then the rest
    stems = sorted(found, key=lambda s: (known.index(s) if s in known else len(known), s))
    if not stems:
        return f"<h2>Analyses</h2><p>No PNG or CSV files in {_esc(directory)}.</p>"
    parts = ["<h2>Analyses</h2>"]
    for stem in stems:
        parts.append(f"<h3>{_esc(TITLES.get(stem, stem.replace('_', ' ')))}</h3>")
        png, table = directory / f"{stem}.png", directory / f"{stem}.csv"
        if png.is_file():
            parts.append(_figure(_png_data_uri(png), f"{stem} plot"))
        if table.is_file():
            rows = read_csv(table)
            if rows:
                shown = [[_short(v) for v in row] for row in rows[1 : MAX_TABLE_ROWS + 1]]
                parts.append(html_table(shown, rows[0]))
                if len(rows) - 1 > len(shown):
                    parts.append(
                        f"<p>First {len(shown)} of {len(rows) - 1} rows of {stem}.csv.</p>"
                    )
    return "\n".join(parts)


# ---------------------------------------------------------------------------------------------
# The page


def build_report(
    run_dir: Path, evaluations: list[dict[str, Any]] | None = None, analyses: Path | None = None
) -> str:
    """The whole HTML page as a string."""
    if not run_dir.is_dir():
        raise DataError(f"run directory {run_dir} does not exist")
    stamp = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
    with tempfile.TemporaryDirectory() as tmp:
        body = [
            f"<h1>seq2seq run: {_esc(run_dir.resolve().name)}</h1>",
            f'<p class="meta">{_esc(run_dir.resolve())} · report written {stamp}</p>',
            training_section(run_dir, Path(tmp)),
        ]
    if evaluations:
        body.append(evaluation_section(evaluations))
    if analyses is not None:
        body.append(analyses_section(analyses))
    body.append(config_section(run_dir))
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>seq2seq report: {_esc(run_dir.resolve().name)}</title>"
        f"<style>{STYLE}</style></head><body>\n" + "\n".join(body) + "\n</body></html>\n"
    )
