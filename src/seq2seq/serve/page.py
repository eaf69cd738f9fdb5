"""The web page at ``/``: type or paste text, read the model's output, its n-best list and attention.

One self-contained HTML document (inline CSS and JavaScript, no fonts, scripts or styles from
elsewhere), so it works offline. `page_html` words it by the model's task (seq2seq/tasks.py): a
chatbot's page says "Question → Answer" and has an "Answer" button, a translator's names its
languages. It reads the server's defaults from ``GET /v1/info`` and sends the text to
``POST /v1/generate``; each line of the text is a sentence. ``/?q=TEXT&beam=N`` fills the form
and runs at once (a link to an output). A speech model's page has a file picker instead of the
text box, and its "Transcribe" button posts the chosen recording to ``POST /v1/transcribe``.

Element ids the tests rely on: ``source`` (text) or ``audio`` (speech), ``beam``, ``translate``,
``result`` (its ``data-state`` is ``busy``, ``done`` or ``error``), ``nbest``, ``heatmap``,
``status``.
"""

from __future__ import annotations

from html import escape

from seq2seq.tasks import Task

PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{TITLE}}</title>
<style>
  :root { --ink: #1f2328; --muted: #656d76; --line: #d0d7de; --accent: #0969da; --bg: #f6f8fa; }
  * { box-sizing: border-box; }
  body { margin: 0; font: 15px/1.5 system-ui, -apple-system, "Segoe UI", sans-serif;
         color: var(--ink); background: #fff; }
  header { padding: 14px 24px; border-bottom: 1px solid var(--line); background: var(--bg); }
  header h1 { margin: 0; font-size: 19px; font-weight: 600; }
  header .models { color: var(--muted); font-size: 13px; }
  main { max-width: 1180px; margin: 0 auto; padding: 18px 24px 40px; }
  .panes { display: grid; grid-template-columns: 1fr 1fr; gap: 16px; }
  .pane h2 { margin: 0 0 6px; font-size: 14px; font-weight: 600; color: var(--muted); }
  textarea, #result { width: 100%; min-height: 150px; padding: 10px 12px; font: inherit;
         border: 1px solid var(--line); border-radius: 6px; }
  textarea { resize: vertical; }
  .audio { min-height: 150px; padding: 10px 12px; border: 1px dashed var(--line);
           border-radius: 6px; background: var(--bg); }
  .audio input { border: 0; padding: 0; margin-top: 8px; }
  #result { white-space: pre-wrap; background: var(--bg); }
  #result[data-state="error"] { color: #cf222e; }
  .controls { display: flex; gap: 14px; align-items: center; margin: 12px 0 4px; flex-wrap: wrap; }
  button { font: inherit; font-weight: 600; color: #fff; background: var(--accent); border: 0;
           border-radius: 6px; padding: 7px 18px; cursor: pointer; }
  button:disabled { opacity: .6; cursor: progress; }
  select, input { font: inherit; padding: 4px 6px; border: 1px solid var(--line); border-radius: 6px; }
  .hint, #status { color: var(--muted); font-size: 13px; }
  section { margin-top: 22px; }
  section h2 { font-size: 15px; margin: 0 0 8px; }
  table.nbest { border-collapse: collapse; width: 100%; }
  table.nbest th, table.nbest td { text-align: left; padding: 5px 8px;
                                   border-bottom: 1px solid var(--line); }
  table.nbest td.num { font-variant-numeric: tabular-nums; color: var(--muted); white-space: nowrap; }
  table.nbest tr.best td { font-weight: 600; }
  .heat { border-collapse: collapse; font-size: 13px; }
  .heat td { width: 30px; height: 24px; border: 1px solid #fff; }
  .heat th { font-weight: normal; padding: 0 6px; white-space: nowrap; }
  .heat thead th { vertical-align: bottom; padding: 0; }
  .heat thead th div { writing-mode: vertical-rl; transform: rotate(180deg); padding: 4px 0; }
  .heat tbody th { text-align: right; }
  .legend { color: var(--muted); font-size: 13px; margin-top: 6px; }
  .hidden { display: none; }
</style>
</head>
<body>
<header>
  <h1 id="title">{{TITLE}}</h1>
  <div class="models" id="models"></div>
</header>
<main>
  <div class="panes">
    <div class="pane">
      <h2 id="source-name">{{SOURCE_LABEL}}</h2>
      {{SOURCE_INPUT}}
    </div>
    <div class="pane">
      <h2 id="target-name">{{TARGET_LABEL}}</h2>
      <div id="result" data-state="empty" aria-live="polite"></div>
    </div>
  </div>
  <div class="controls">
    <button id="translate" type="button">{{VERB}}</button>
    <label>Beam size <select id="beam"></select></label>
    <label id="key-label" class="hidden">API key <input id="api-key" type="password" size="18"></label>
    <label id="line-label" class="hidden">Details for line <select id="line"></select></label>
    <span class="hint" id="hint">{{HINT}}</span>
  </div>
  <div id="status"></div>
  <section id="nbest-section" class="hidden">
    <h2>Best {{TARGET_NOUN}}s (n-best) with scores</h2>
    <table class="nbest" id="nbest"></table>
    <div class="legend">score: log-probability divided by length<sup>&alpha;</sup>, the order the
      beam search ranks by; log p: the total log-probability.</div>
  </section>
  <section id="heatmap-section" class="hidden">
    <h2>Attention of the best {{TARGET_NOUN}}</h2>
    <div id="heatmap"></div>
    <div class="legend">Each row is an output token; darker cells are the source tokens the
      decoder attended to while writing it.</div>
  </section>
</main>
<script>
"use strict";
const $ = (id) => document.getElementById(id);
let info = null;
let last = null;

function text(tag, content, cls) {
  const el = document.createElement(tag);
  el.textContent = content;
  if (cls) el.className = cls;
  return el;
}

async function loadInfo() {
  const response = await fetch("/v1/info");
  info = await response.json();
  if (info.task === "translation" && info.source && info.target) {
    $("title").textContent = "seq2seq translation: " + info.source_name + " \\u2192 " + info.target_name;
    $("source-name").textContent = info.source_name + " (" + info.source + ")";
    $("target-name").textContent = info.target_name + " (" + info.target + ")";
  }
  $("models").textContent = (info.models.length > 1 ? "ensemble of " : "model ") +
      info.models.join(", ") + (info.attention ? " (attention)" : "");
  const beam = $("beam");
  for (let k = 1; k <= info.max_beam_size; k++) {
    const option = text("option", String(k));
    option.value = String(k);
    beam.appendChild(option);
  }
  beam.value = String(Math.min(info.settings.beam_size, info.max_beam_size));
  if (info.api_key_required) $("key-label").classList.remove("hidden");
  if (info.max_upload_bytes) {
    $("hint").textContent = "WAV, FLAC or OGG, up to " + (info.max_upload_bytes / 1e6).toFixed(1) +
        " MB" + (info.max_seconds ? " and " + info.max_seconds + " s" : "");
  }
}

async function transcribe() {
  const file = $("audio").files[0];
  const result = $("result");
  if (!file) {
    result.textContent = "choose a recording first";
    result.dataset.state = "error";
    return;
  }
  const beam = Number($("beam").value);
  const form = new FormData();
  form.append("file", file, file.name);
  form.append("beam_size", String(beam));
  form.append("n_best", String(beam));
  const key = $("api-key").value.trim();
  if (key) form.append("api_key", key);
  await call(() => fetch("/v1/transcribe", { method: "POST", body: form }), (data) => {
    last = { translations: data.transcripts };
    result.textContent = data.transcripts.map((t) => t.text).join("\\n");
    const t = data.timings;
    const seconds = data.transcripts.reduce((sum, s) => sum + s.seconds, 0);
    $("status").textContent = "beam " + data.settings.beam_size + " \\u00b7 " +
        seconds.toFixed(2) + " s of audio in " + t.total_ms.toFixed(0) + " ms (reading " +
        t.audio_ms.toFixed(0) + " ms, search " + t.search_ms.toFixed(0) + " ms)";
    showLines(data.transcripts.map((s) => s.file));
  });
}

async function translate() {
  const lines = $("source").value.split(/\\r?\\n/);
  const beam = Number($("beam").value);
  const body = { q: lines, beam_size: beam, n_best: beam, attention: info.attention };
  const key = $("api-key").value.trim();
  if (key) body.api_key = key;
  const request = () => fetch("/v1/generate", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
  await call(request, (data) => {
    last = data;
    $("result").textContent = data.translations.map((t) => t.text).join("\\n");
    const t = data.timings;
    const warnings = data.translations.filter((s) => s.warning).map((s) => s.warning);
    $("status").textContent = "beam " + data.settings.beam_size + " \\u00b7 " +
        t.total_ms.toFixed(0) + " ms (search " + t.search_ms.toFixed(0) + " ms, batch of " +
        t.batch_sentences + (t.batch_sentences === 1 ? " sentence)" : " sentences)") + (warnings.length ? " \\u00b7 " + warnings.join("; ") : "");
    showLines(lines);
  });
}

// One API call from the page (`request()` sends it): busy while it runs, `show(data)` on
// success, the server's one-sentence error (or the HTTP status) in the result box otherwise.
async function call(request, show) {
  const result = $("result");
  result.dataset.state = "busy";
  $("translate").disabled = true;
  $("status").textContent = "working\\u2026";
  try {
    const response = await request();
    const data = await response.json();
    if (!response.ok) throw new Error(data.error || ("HTTP " + response.status));
    show(data);
    result.dataset.state = "done";
  } catch (err) {
    result.textContent = String(err.message || err);
    result.dataset.state = "error";
    $("status").textContent = "";
    $("nbest-section").classList.add("hidden");
    $("heatmap-section").classList.add("hidden");
  } finally {
    $("translate").disabled = false;
  }
}

function showLines(lines) {
  const select = $("line");
  select.innerHTML = "";
  let first = -1;
  lines.forEach((line, i) => {
    if (!line.trim()) return;
    if (first < 0) first = i;
    const option = text("option", String(i + 1) + ": " + line.slice(0, 40));
    option.value = String(i);
    select.appendChild(option);
  });
  $("line-label").classList.toggle("hidden", select.options.length < 2);
  showDetails(Math.max(first, 0));
}

function showDetails(index) {
  const sentence = last.translations[index];
  const table = $("nbest");
  table.innerHTML = "";
  const head = document.createElement("tr");
  ["#", info.target_label.toLowerCase(), "score", "log p"].forEach((h) => head.appendChild(text("th", h)));
  table.appendChild(head);
  sentence.hypotheses.forEach((h, rank) => {
    const row = document.createElement("tr");
    if (rank === 0) row.className = "best";
    row.appendChild(text("td", String(rank + 1), "num"));
    row.appendChild(text("td", h.text));
    row.appendChild(text("td", h.score.toFixed(3), "num"));
    row.appendChild(text("td", h.log_prob.toFixed(3), "num"));
    table.appendChild(row);
  });
  $("nbest-section").classList.toggle("hidden", sentence.hypotheses.length === 0);
  drawHeatmap(sentence.attention);
}

function drawHeatmap(attention) {
  const box = $("heatmap");
  box.innerHTML = "";
  $("heatmap-section").classList.toggle("hidden", !attention);
  if (!attention) return;
  const table = document.createElement("table");
  table.className = "heat";
  const thead = document.createElement("thead");
  const top = document.createElement("tr");
  top.appendChild(document.createElement("th"));
  attention.source_tokens.forEach((tok) => {
    const th = document.createElement("th");
    th.appendChild(text("div", tok));
    top.appendChild(th);
  });
  thead.appendChild(top);
  table.appendChild(thead);
  const tbody = document.createElement("tbody");
  attention.weights.forEach((row, t) => {
    const tr = document.createElement("tr");
    tr.appendChild(text("th", attention.target_tokens[t]));
    row.forEach((w, s) => {
      const td = document.createElement("td");
      td.style.background = "rgba(9, 105, 218, " + w.toFixed(3) + ")";
      td.title = attention.target_tokens[t] + " \\u2190 " + attention.source_tokens[s] + ": " +
          w.toFixed(3);
      tr.appendChild(td);
    });
    tbody.appendChild(tr);
  });
  table.appendChild(tbody);
  box.appendChild(table);
}

const SPEECH = $("audio") !== null;  // a speech model's page: a recording, not text
$("translate").addEventListener("click", SPEECH ? transcribe : translate);
$("line").addEventListener("change", (e) => showDetails(Number(e.target.value)));
if (!SPEECH) $("source").addEventListener("keydown", (e) => {
  if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) { e.preventDefault(); translate(); }
});

loadInfo().then(() => {
  const params = new URLSearchParams(location.search);
  if (params.has("beam")) $("beam").value = params.get("beam");
  if (params.has("q") && !SPEECH) { $("source").value = params.get("q"); translate(); }
  document.body.dataset.ready = "yes";
}).catch((err) => {
  $("status").textContent = "cannot reach the server: " + err;
});
</script>
</body>
</html>
"""


TEXT_INPUT = """<textarea id="source" autofocus
        placeholder="Type or paste text; each line is a {{SOURCE_NOUN}} of its own."></textarea>"""
AUDIO_INPUT = """<div class="audio"><label for="audio">Choose a recording:</label><br>
        <input id="audio" type="file" accept="audio/*"></div>"""


def page_html(task: Task) -> str:
    """The page worded for `task`: its title, pane labels, button and headings; a speech
    model's has a file picker where the others have a text box."""
    speech = task.name == "speech"
    words = {
        "TITLE": f"seq2seq {task.name}: {task.labels}",
        "SOURCE_LABEL": task.source_label,
        "TARGET_LABEL": task.target_label,
        "SOURCE_NOUN": task.source_label.lower(),
        "TARGET_NOUN": task.output_noun,
        "VERB": task.verb.capitalize(),
        "HINT": "WAV, FLAC or OGG" if speech else f"Ctrl+Enter: {task.verb}",
    }
    html = PAGE.replace("{{SOURCE_INPUT}}", AUDIO_INPUT if speech else TEXT_INPUT)
    for key, value in words.items():
        html = html.replace("{{" + key + "}}", escape(value))
    return html
