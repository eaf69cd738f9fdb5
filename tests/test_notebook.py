"""The tutorial notebook runs top to bottom, writes only into a temporary folder, and says what it
should: five trained variants with finite scores, and sampling more varied than beam search."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "chatbot-tutorial.ipynb"

# Appended to the notebook in memory: its results as one JSON line.
REPORT = """
import json
print("REPORT " + json.dumps({
    "rows": rows, "work": str(WORK), "best": best,
    "distinct_beam": distinct(beam, 2), "distinct_sampled": distinct(sampled, 2),
    "alignment": [len(alignment.target_tokens), len(alignment.source_tokens)],
}, ensure_ascii=False))
"""


def run_notebook(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[dict, object]:
    monkeypatch.setenv("TMPDIR", str(tmp_path))  # the notebook's work folder lands here
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    notebook.cells.append(nbformat.v4.new_code_cell(REPORT))
    client = nbclient.NotebookClient(
        notebook,
        timeout=600,
        kernel_name="python3",
        resources={"metadata": {"path": str(tmp_path)}},
    )
    client.execute()  # raises CellExecutionError on the first failing cell
    text = "".join(o.get("text", "") for o in notebook.cells[-1].outputs)
    line = next(part for part in text.splitlines() if part.startswith("REPORT "))
    return json.loads(line.removeprefix("REPORT ")), notebook


@pytest.mark.slow
def test_notebook_runs_and_compares_the_five_variants(tmp_path, monkeypatch):
    report, notebook = run_notebook(tmp_path, monkeypatch)
    work = Path(report["work"])
    assert work.is_relative_to(tmp_path), "the notebook wrote outside its temp dir"
    assert not work.exists(), "the notebook left its work folder behind"
    rows = report["rows"]
    assert list(rows) == ["fixed vector", "bridge", "concat", "peeky", "attention"]
    for name, row in rows.items():
        assert all(math.isfinite(v) for v in row.values()), (name, row)
        # 1,200 pieces: a model that learned nothing has a perplexity in the hundreds
        assert 1.0 < row["dev ppl"] < 100.0, (name, row["dev ppl"])
        assert 0.0 <= row["distinct-2"] <= 1.0 and row["length"] > 0, (name, row)
    assert report["best"] == min(rows, key=lambda n: rows[n]["dev ppl"])
    # the point of section 6: beam search gives the generic answer, sampling varies
    assert report["distinct_sampled"] > report["distinct_beam"]
    target, source = report["alignment"]
    assert target >= 2 and source >= 1
    images = [o for cell in notebook.cells for o in cell.get("outputs", []) if "data" in o
              and "image/png" in o["data"]]  # fmt: skip
    assert len(images) == 2  # the comparison plot and the attention heatmap


def test_committed_notebook_has_its_outputs():
    """The notebook is stored executed, so it reads well on a code-hosting page, and stays small."""
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert code and all(cell.outputs for cell in code), "a code cell has no stored output"
    assert not any(o.output_type == "error" for cell in code for o in cell.outputs)
    assert NOTEBOOK.stat().st_size < 400_000
