"""`seq2seq report`: one self-contained HTML page whose every plot loads in a real browser
(headless Chromium), with the run's config, curves, evaluation and analysis tables."""

from __future__ import annotations

import base64
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from seq2seq.cli import main
from seq2seq.evaluate.evaluate import evaluate

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"

# Injected into a test copy of the page: after load, write "loaded/total" images into the DOM.
COUNT_IMAGES = """<script>
window.addEventListener("load", () => {
  const images = Array.from(document.images);
  const loaded = images.filter((img) => img.complete && img.naturalWidth > 0).length;
  document.body.setAttribute("data-images", loaded + "/" + images.length);
});
</script></body>"""


@pytest.fixture(scope="module")
def report(plain_run, test_set, degraded_hyp, tmp_path_factory) -> Path:
    """A report of the plain run with an evaluation and two analyses (length, pca)."""
    src, ref = test_set
    tmp = tmp_path_factory.mktemp("report")
    ckpt = str(plain_run / "best.safetensors")
    analyses = tmp / "analyses"
    assert main(["analyze", "length", "--src", str(src), "--ref", str(ref),
                 "--system", f"degraded={degraded_hyp}", "--out", str(analyses)]) == 0  # fmt: skip
    assert main(["analyze", "pca", "--checkpoint", ckpt, "--out", str(analyses)]) == 0
    eval_json = tmp / "eval.json"
    eval_json.write_text(json.dumps(evaluate(src, ref, checkpoints=[ckpt])), "utf-8")
    out = tmp / "report.html"
    assert main(["report", str(plain_run), "--eval", str(eval_json), "--analyses",
                 str(analyses), "--out", str(out)]) == 0  # fmt: skip
    return out


def test_the_page_is_self_contained_and_holds_every_part(report, plain_run):
    page = report.read_text("utf-8")
    sources = re.findall(r'<img src="([^"]+)"', page)
    assert len(sources) == 3  # training curves, BLEU by length, PCA
    for uri in sources:
        assert uri.startswith("data:image/png;base64,")
        assert base64.b64decode(uri.split(",", 1)[1]).startswith(PNG_MAGIC)
    assert not re.search(r'(src|href)="(https?:|file:|//)', page), "no external resources"
    # The training summary agrees with the log; the config and the CSV tables are there.
    log = [json.loads(line) for line in (plain_run / "log.jsonl").read_text().splitlines()]
    best_ppl = min(r["ppl"] for r in log if r["kind"] == "valid")
    assert f"<td>{best_ppl:,.3f}</td>" in page
    assert '<td class="text">hidden_size</td><td>48</td>' in page
    # the length table's first bucket (the test sentences have 6 words or more)
    assert '<th class="text">bucket</th>' in page and '<td class="text">6-8</td>' in page
    assert "She was given a card by me in the garden" in page
    assert "nrefs:1|case:mixed|eff:no|tok:13a" in page and '<th class="text">chrF</th>' in page


def test_missing_inputs_end_in_one_sentence(tmp_path, capsys):
    assert main(["report", str(tmp_path / "nope")]) == 2
    assert f"run directory {tmp_path / 'nope'} does not exist" in capsys.readouterr().err
    bad = tmp_path / "bad.json"
    bad.write_text('{"bleu": 1}\nnot json\n', "utf-8")
    assert main(["report", str(tmp_path), "--eval", str(bad)]) == 2
    assert f"{bad}:2: not JSON" in capsys.readouterr().err


def _chromium(*args: str, user_dir: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--no-first-run", f"--user-data-dir={user_dir}", *args],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install chromium)")
def test_every_image_loads_in_headless_chromium(report, tmp_path):
    probe = tmp_path / "probe.html"
    probe.write_text(report.read_text("utf-8").replace("</body>", COUNT_IMAGES), "utf-8")
    dom = _chromium("--virtual-time-budget=5000", "--dump-dom", probe.as_uri(),
                    user_dir=tmp_path / "profile").stdout  # fmt: skip
    assert 'data-images="3/3"' in dom, dom[-500:]
    shot = tmp_path / "shot.png"
    _chromium(f"--screenshot={shot}", "--window-size=1280,2000", report.as_uri(),
              user_dir=tmp_path / "profile")  # fmt: skip
    assert shot.read_bytes().startswith(PNG_MAGIC)
    import matplotlib.image

    pixels = matplotlib.image.imread(shot)
    assert pixels.shape[:2] == (2000, 1280) and float(pixels[..., :3].std()) > 0.05
