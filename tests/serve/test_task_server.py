"""A server words itself by its checkpoint's task: a chatbot answers POST /v1/generate and says
"Question → Answer" on its page and in GET /v1/info, and answers LibreTranslate's endpoints with
404 and a sentence pointing at /v1/generate; a translator keeps them."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from conftest import running_server
from seq2seq.config import ServeConfig
from seq2seq.tasks import TASKS


@pytest.fixture(scope="module")
def chatbot_url(translator) -> Iterator[str]:
    from seq2seq.commands.serve import served_config
    from seq2seq.serve.app import create_app

    task = TASKS["chatbot"]
    config = served_config(ServeConfig(max_wait_ms=5), (None, None), task)
    app = create_app(translator, config, translator.settings(), task=task)
    with running_server(app) as url:
        yield url


def test_a_chatbot_answers_v1_generate_with_the_translators_batching(chatbot_url, client):
    sentence = "w3 w1 w4 w1 w5 w9"
    answer = httpx.post(chatbot_url + "/v1/generate", json={"q": [sentence], "n_best": 2})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    translated = client.post("/v1/translate", json={"q": [sentence], "n_best": 2}).json()
    assert body["translations"] == translated["translations"]  # one model, one search
    assert len(body["translations"][0]["hypotheses"]) == 2
    assert (body["source"], body["target"]) == ("", "")  # the model records no languages


def test_a_chatbot_says_its_task_and_labels_in_v1_info_and_on_its_page(chatbot_url):
    info = httpx.get(chatbot_url + "/v1/info").json()
    assert info["task"] == "chatbot"
    assert (info["source_label"], info["target_label"], info["verb"]) == (
        "Question", "Answer", "answer"
    )  # fmt: skip
    page = httpx.get(chatbot_url + "/").text
    assert "<title>seq2seq chatbot: Question \u2192 Answer</title>" in page
    assert '<h2 id="source-name">Question</h2>' in page
    assert '<h2 id="target-name">Answer</h2>' in page
    assert '<button id="translate" type="button">Answer</button>' in page
    assert "Best answers (n-best)" in page and 'fetch("/v1/generate"' in page
    assert "{{" not in page  # every placeholder filled


@pytest.mark.parametrize(
    "method, path",
    [("post", "/translate"), ("get", "/languages"), ("post", "/v1/translate")],
)
def test_a_chatbot_answers_the_translation_endpoints_with_404_pointing_at_v1(
    chatbot_url, method, path
):
    answer = httpx.request(method.upper(), chatbot_url + path, json={"q": "w1", "source": "auto"})
    assert answer.status_code == 404
    assert answer.json()["error"] == (
        f"this server's model is a chatbot (Question \u2192 Answer), not a translator: {path} is "
        "for translation models; send POST /v1/generate (see /docs)"
    )


def test_a_translator_keeps_libretranslate_and_answers_v1_generate_too(client):
    assert client.get("/languages").status_code == 200
    assert (
        client.post("/translate", json={"q": "w1 w2", "source": "en", "target": "fr"}).json()[
            "translatedText"
        ]
        == client.post("/v1/generate", json={"q": "w1 w2"}).json()["translations"][0]["text"]
    )
    info = client.get("/v1/info").json()
    assert (info["task"], info["source_label"], info["target_label"]) == (
        "translation", "Text", "Translation"
    )  # fmt: skip
    page = client.get("/").text
    assert "<title>seq2seq translation: Text \u2192 Translation</title>" in page
    assert '<button id="translate" type="button">Translate</button>' in page
    assert client.get("/nowhere").json()["error"] == (
        "there is no /nowhere here; the API is described at /docs"
    )


def test_a_translation_without_a_language_pair_is_served_under_neutral_codes():
    from seq2seq.commands.serve import served_config

    translation = TASKS["translation"]
    neutral = served_config(ServeConfig(), (None, None), translation)
    assert (neutral.source_lang, neutral.target_lang) == ("src", "tgt")
    recorded = served_config(ServeConfig(), ("en", "fr"), translation)
    assert (recorded.source_lang, recorded.target_lang) == ("en", "fr")
    named = served_config(ServeConfig(source_lang="de"), ("en", "fr"), translation)
    assert (named.source_lang, named.target_lang) == ("de", "fr")
    chatbot = served_config(ServeConfig(), ("ko", "ko"), TASKS["chatbot"])
    assert (chatbot.source_lang, chatbot.target_lang) == ("ko", "ko")


def test_an_ensemble_of_two_tasks_is_refused(tmp_path, copy_checkpoint):
    from safetensors import safe_open
    from safetensors.torch import load_file, save_file

    from seq2seq.commands.serve import served_task
    from seq2seq.errors import ConfigError

    with safe_open(str(copy_checkpoint), framework="pt") as handle:
        meta = handle.metadata()
    chatbot = tmp_path / "chatbot.safetensors"
    save_file(load_file(copy_checkpoint), chatbot, metadata={**meta, "task": "chatbot"})
    assert served_task([chatbot, chatbot]).name == "chatbot"
    assert served_task([copy_checkpoint]).name == "translation"
    with pytest.raises(ConfigError, match="is a translation model but .* is a chatbot model"):
        served_task([copy_checkpoint, chatbot])
