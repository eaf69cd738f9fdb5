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
