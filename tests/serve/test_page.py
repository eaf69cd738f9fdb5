"""The web page in headless Chromium: load it, type a sentence, press Translate, read the result,
which must be the API's; then a narrower beam, the n-best table and the attention heatmap.

Set SEQ2SEQ_SCREENSHOT=path.png to keep the screenshot (docs/ has one made this way)."""

from __future__ import annotations

import os
import shutil

import httpx
import pytest
from cdp import CHROMIUM, Browser

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install chromium)")
def test_type_translate_and_read_the_result_in_chromium(server_url, tmp_path):
    sentence = "w3 w1 w4 w1 w5 w9"
    browser = Browser(tmp_path / "profile")
    try:
        browser.goto(server_url + "/")
        browser.wait_for("document.body.dataset.ready === 'yes'")
        assert browser.evaluate("document.getElementById('beam').value") == "3"  # the default
        browser.click("#source")
        browser.type(sentence)
        assert browser.evaluate("document.getElementById('source').value") == sentence
        browser.click("#translate")
        browser.wait_for("document.getElementById('result').dataset.state === 'done'")
        shown = browser.evaluate("document.getElementById('result').textContent")
        api = httpx.post(
            server_url + "/translate", json={"q": sentence, "source": "en", "target": "fr"}
        )
        assert shown == api.json()["translatedText"] == sentence

        # n-best list with scores (beam 3 -> 3 rows) and a heatmap of 7 x 6 cells (6 words + EOS).
        rows = browser.evaluate("document.querySelectorAll('#nbest tr').length")
        assert rows == 1 + 3
        best = browser.evaluate(
            "document.querySelector('#nbest tr.best td:nth-child(2)').textContent"
        )
        assert best == shown
        cells = browser.evaluate("document.querySelectorAll('#heatmap td').length")
        assert cells == 7 * 6
        screenshot = tmp_path / "page.png"
        browser.screenshot(screenshot)
        assert screenshot.read_bytes().startswith(PNG_MAGIC)
        if os.environ.get("SEQ2SEQ_SCREENSHOT"):
            shutil.copy(screenshot, os.environ["SEQ2SEQ_SCREENSHOT"])

        # A greedy search chosen on the page gives what the native API gives for beam 1.
        browser.evaluate("document.getElementById('beam').value = '1'")
        browser.click("#translate")
        browser.wait_for(
            "document.getElementById('result').dataset.state === 'done' && "
            "document.querySelectorAll('#nbest tr').length === 2"
        )
        greedy = httpx.post(server_url + "/v1/translate", json={"q": sentence, "beam_size": 1})
        shown = browser.evaluate("document.getElementById('result').textContent")
        assert shown == greedy.json()["translations"][0]["text"]

        # An error is shown on the page, and the page keeps working.
        browser.evaluate("document.getElementById('source').value = 'w1\\n' + 'w2 '.repeat(8000)")
        browser.click("#translate")
        browser.wait_for("document.getElementById('result').dataset.state === 'error'")
        message = browser.evaluate("document.getElementById('result').textContent")
        assert "20,000 bytes" in message
    finally:
        browser.close()


NODE = shutil.which("node")
# A stand-in DOM for the page's script under Node: elements by id, fetch answering /v1/info.
DOM_STUB = """
const els = {};
function el(id) {
  if (!els[id]) els[id] = { id, textContent: "", value: "", dataset: {}, options: [],
    classList: { add() {}, remove() {}, toggle() {} }, appendChild(c) { this.options.push(c); },
    addEventListener() {}, style: {} };
  return els[id];
}
let made = 0;
global.document = { getElementById: el, createElement: () => el("made-" + made++),
                    body: { dataset: {} } };
global.location = { search: "" };
global.fetch = async () => ({ ok: true, json: async () => INFO });
"""
SHOW = "['title', 'source-name', 'target-name', 'translate'].map((id) => el(id).textContent)"


def _page_after_info(task: str, info: dict) -> list[str]:
    """The page's title, pane labels and button once its script has read `info`."""
    import json
    import subprocess

    from seq2seq.serve.page import page_html
    from seq2seq.tasks import TASKS

    html = page_html(TASKS[task])
    script = html.split("<script>")[1].split("</script>")[0]
    served = {}  # what the HTML says before the script runs
    for name in ("title", "source-name", "target-name"):
        served[name] = html.split(f'id="{name}">')[1].split("<")[0]
    served["translate"] = html.split('id="translate" type="button">')[1].split("<")[0]
    setup = "".join(
        f"el({json.dumps(k)}).textContent = {json.dumps(v)};\n" for k, v in served.items()
    )
    program = (
        f"{DOM_STUB}\nconst INFO = {json.dumps(info)};\n{setup}{script}\n"
        f"setTimeout(() => console.log(JSON.stringify({SHOW})), 50);"
    )
    done = subprocess.run([NODE, "-e", program], capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.mark.skipif(NODE is None, reason="node is not installed")
def test_the_page_says_question_to_answer_for_a_chatbot_and_languages_for_a_translator():
    info = {
        "task": "chatbot", "source_label": "Question", "target_label": "Answer",
        "verb": "answer", "source": "ko", "target": "ko", "source_name": "Korean",
        "target_name": "Korean", "models": ["best.safetensors"], "attention": True,
        "settings": {"beam_size": 3}, "max_beam_size": 4, "max_request_sentences": 8,
        "api_key_required": False,
    }  # fmt: skip
    assert _page_after_info("chatbot", info) == [
        "seq2seq chatbot: Question \u2192 Answer", "Question", "Answer", "Answer"
    ]  # fmt: skip
    translation = {**info, "task": "translation", "source": "en", "target": "fr",
                   "source_name": "English", "target_name": "French"}  # fmt: skip
    assert _page_after_info("translation", translation) == [
        "seq2seq translation: English \u2192 French", "English (en)", "French (fr)", "Translate"
    ]  # fmt: skip
    unknown = {**translation, "source": "", "target": ""}  # no pair recorded: the labels stay
    assert _page_after_info("translation", unknown)[:3] == [
        "seq2seq translation: Text \u2192 Translation", "Text", "Translation"
    ]  # fmt: skip
