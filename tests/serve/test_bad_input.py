"""Bad input never takes the server down: each case gets its status and one sentence, never a
500 or a traceback, and the server answers the next request as before."""

from __future__ import annotations

import httpx
import pytest

from conftest import WORDS, make_app, running_server
from seq2seq.errors import ConfigError
from seq2seq.serve.keys import ApiKeys

PAIR = {"source": "en", "target": "fr"}


def check_error(response: httpx.Response, status: int, *words: str) -> str:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    message = response.json()["error"]
    assert "Traceback" not in message and "\n" not in message and len(message) < 200
    for word in words:
        assert word in message, message
    return message


@pytest.fixture(autouse=True)
def still_serving(client):
    yield
    assert client.get("/health").json()["status"] == "ok"
    response = client.post("/translate", json={"q": "w1 w2", **PAIR})
    assert response.json() == {"translatedText": "w1 w2"}


@pytest.mark.parametrize("path", ["/translate", "/v1/translate"])
@pytest.mark.parametrize(
    ("body", "headers", "words"),
    [
        (b'{"q": "w1", ', {"content-type": "application/json"}, ("not valid JSON",)),
        (b"q=w1", {"content-type": "application/json"}, ("not valid JSON",)),
        (b'{"source": "en", "target": "fr"}', {}, ("no field 'q'",)),
        (b'{"q": 42, "source": "en", "target": "fr"}', {}, ("'q' must be a string",)),
        (b'{"q": ["w1", 7]}', {}, ("'q' must be a string",)),
        (b'{"q": null}', {}, ("'q' must be a string",)),
        (b'["w1"]', {}, ("must be a JSON object", "array")),
        (b'"w1"', {}, ("must be a JSON object",)),
        (b'{"q": "caf\xe9"}', {}, ("not valid UTF-8",)),
        (b"\xff\xfe\x00q", {}, ("not valid UTF-8",)),
        (b'{"q": "\\ud800"}', {}, ("lone surrogate",)),
        (b"", {}, ("empty",)),
        (
            b"[" * 50_000 + b"]" * 50_000,
            {},
            (),
        ),  # deeper than the parser goes (over 20 kB: 413)
        (b'{"q": "w1", "api_key": 5}', {}, ("api_key",)),
        (b'{"q": "w1", "beam_size": ' + b"9" * 5000 + b"}", {}, ("number",)),
        (b"q=caf%E9", {"content-type": "application/x-www-form-urlencoded"}, ("UTF-8",)),
        (b"--x\r\n", {"content-type": "multipart/form-data; boundary=x"}, ("JSON",)),
    ],
)
def test_malformed_bodies_are_400(client, path, body, headers, words):
    response = client.post(path, content=body, headers=headers)
    status = 413 if len(body) > 20_000 else 400
    check_error(response, status, *words)


def test_deep_nesting_within_the_size_limit_is_400(client):
    check_error(client.post("/translate", content=b"[" * 9000 + b"]" * 9000), 400, "nests")


def test_native_fields_are_checked(client):
    check_error(client.post("/v1/translate", json={"q": "w1", "beam_size": 0}), 400, "beam_size")
    check_error(client.post("/v1/translate", json={"q": "w1", "beam_size": "wide"}), 400)
    check_error(client.post("/v1/translate", json={"q": "w1", "beam_size": 9}), 400, "beam size 9")
    check_error(
        client.post("/v1/translate", json={"q": "w1", "beam_size": 2, "n_best": 3}), 400, "n_best"
    )
    check_error(client.post("/v1/translate", json={"q": "w1\nw2"}), 400, "line break")
    check_error(
        client.post("/translate", json={"q": "w1", "alternatives": -1, **PAIR}), 400, "alternatives"
    )
    check_error(client.post("/translate", json={"q": "w1", "format": "html", **PAIR}), 400, "text")


def test_a_pair_the_model_does_not_serve_is_400_naming_the_pair_it_does(client):
    for source, target in [("de", "fr"), ("en", "de"), ("fr", "en")]:
        response = client.post("/translate", json={"q": "w1", "source": source, "target": target})
        check_error(response, 400, "translates en to fr", f"not {source} to {target}")
    response = client.post("/v1/translate", json={"q": "w1", "target": "es"})
    check_error(response, 400, "en to fr")


def test_over_the_limits_is_413(client):
    big = "w1 " * 8000  # 24 kB, the test server's limit is 20 kB
    check_error(client.post("/translate", json={"q": big, **PAIR}), 413, "20,000 bytes")
    check_error(
        client.post("/v1/translate", json={"q": ["w1"] * 41}), 413, "41 sentences", "limit of 40"
    )
    lines = "\n".join(["w1"] * 41)  # LibreTranslate's texts count their lines
    check_error(client.post("/translate", json={"q": lines, **PAIR}), 413, "41 sentences")
    huge = client.post("/translate", content=b"x" * 300_000, headers={"content-type": "text/plain"})
    check_error(huge, 413)


def test_empty_and_over_long_sentences_get_empty_translations(client):
    empty = client.post("/translate", json={"q": "", **PAIR})
    assert empty.status_code == 200 and empty.json() == {"translatedText": ""}
    blank = client.post("/translate", json={"q": ["", "   ", "w2"], **PAIR})
    assert blank.json() == {"translatedText": ["", "", "w2"]}
    assert client.post("/translate", json={"q": [], **PAIR}).json() == {"translatedText": []}
    words = " ".join(["w3"] * 2000)  # the test translator's max_src_len is 50
    long = client.post("/translate", json={"q": words, **PAIR})
    assert long.status_code == 200, long.text
    assert long.json()["translatedText"] == ""
    (warning,) = long.json()["warnings"]
    assert warning == (
        "input line 1 has 2000 tokens, more than the maximum source length 50; its output is empty"
    )
    native = client.post("/v1/translate", json={"q": [words, "w4"]}).json()["translations"]
    assert native[0]["text"] == "" and native[0]["hypotheses"] == []
    assert "2000 tokens" in native[0]["warning"] and native[1]["text"] == "w4"


def test_unknown_paths_and_methods(client):
    check_error(client.get("/nowhere"), 404, "/nowhere")
    check_error(client.get("/translate"), 405, "GET")
    check_error(client.post("/languages"), 405)


@pytest.fixture(scope="module")
def keyed_url(translator, tmp_path_factory):
    path = tmp_path_factory.mktemp("keys") / "keys.txt"
    path.write_text("# keys of the tests\nkey-one-12345\n\nkey-two-67890  # second\n", "utf-8")
    keys = ApiKeys.from_file(path)
    assert len(keys) == 2
    with running_server(make_app(translator, keys=keys)) as url:
        yield url


def test_api_keys(keyed_url):
    with httpx.Client(base_url=keyed_url, timeout=30) as http:
        check_error(http.post("/translate", json={"q": "w1", **PAIR}), 403, "API key")
        wrong = {"q": "w1", "api_key": "key-one-1234", **PAIR}
        check_error(http.post("/translate", json=wrong), 403, "not valid")
        check_error(http.post("/v1/translate", json={"q": "w1"}), 403)
        right = http.post("/translate", json={"q": "w1", "api_key": "key-two-67890", **PAIR})
        assert right.json() == {"translatedText": "w1"}
        form = http.post("/translate", data={"q": "w2", "api_key": "key-one-12345", **PAIR})
        assert form.json() == {"translatedText": "w2"}
        header = http.post(
            "/v1/translate", json={"q": "w3"}, headers={"X-API-Key": "key-one-12345"}
        )
        assert header.json()["translations"][0]["text"] == "w3"
        bearer = {"Authorization": "Bearer key-two-67890"}
        assert http.post("/v1/translate", json={"q": "w4"}, headers=bearer).status_code == 200
        assert http.get("/languages").status_code == 200  # as LibreTranslate: open
        assert http.get("/v1/info").json()["api_key_required"] is True
        assert http.get("/health").status_code == 200


@pytest.mark.parametrize(
    ("text", "message"),
    [("", "holds no key"), ("short\n", "at least 8"), ("two words-here\n", "one word")],
)
def test_bad_key_files_are_one_sentence(tmp_path, text, message):
    path = tmp_path / "keys.txt"
    path.write_text(text, "utf-8")
    with pytest.raises(ConfigError, match=message):
        ApiKeys.from_file(path)
    with pytest.raises(ConfigError, match="cannot read"):
        ApiKeys.from_file(tmp_path / "missing.txt")


def test_attention_from_a_model_without_attention_is_a_400_with_a_sentence():
    from seq2seq.config import Config
    from seq2seq.data.vocab import WordVocab
    from seq2seq.decode.translator import Translator
    from seq2seq.model.seq2seq import Seq2Seq

    config = Config.model_validate(
        {"model": {"embedding_size": 8, "hidden_size": 8, "layers": 1}, "decode": {"beam_size": 2}}
    )
    vocab = WordVocab(WORDS)
    model = Seq2Seq(config.model, len(vocab), len(vocab))
    translator = Translator(model, [config], vocab, vocab, max_src_len=50)
    with running_server(make_app(translator)) as url, httpx.Client(base_url=url) as http:
        refused = http.post("/v1/translate", json={"q": "w1 w2", "attention": True})
        check_error(refused, 400, "has no attention", "'attention'")
        # the neighbour: without attention, or with false, the same model answers
        for body in ({"q": "w1 w2"}, {"q": "w1 w2", "attention": False}):
            plain = http.post("/v1/translate", json=body)
            assert plain.status_code == 200, plain.text
            assert "attention" not in plain.json()["translations"][0]
