"""The HTTP API against a real server on a free port: LibreTranslate's endpoints, the native
one, health, metrics and docs; and the server's outputs against `seq2seq translate`'s."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from conftest import copy_sentences
from seq2seq.commands import main


def metric_samples(client) -> dict[str, float]:
    """{'name{label=value,...}': value} of the server's /metrics."""
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    samples = {}
    for family in text_string_to_metric_families(response.text):
        for s in family.samples:
            labels = ",".join(f"{k}={v}" for k, v in sorted(s.labels.items()))
            samples[f"{s.name}{{{labels}}}"] = s.value
    return samples


def translate_command(checkpoint, lines, tmp_path, *flags) -> list[str]:
    source, output = tmp_path / "input.txt", tmp_path / "output.txt"
    source.write_text("\n".join(lines) + "\n", "utf-8")
    args = ["translate", "--checkpoint", str(checkpoint), "--input", str(source)]
    assert main([*args, "--output", str(output), "--quiet", *flags]) == 0
    return output.read_text("utf-8").splitlines()


def test_concurrent_requests_are_coalesced_and_translate_as_the_command_does(
    server_url, copy_checkpoint, tmp_path
):
    sentences = copy_sentences(40, seed=2024) + ["", "w3", " ".join(["w5"] * 60)]
    # The server's translator has max_src_len=50: the 60-word line is empty in both.
    expected = translate_command(copy_checkpoint, sentences, tmp_path, "--max-src-len", "50")
    assert expected[-1] == "" and expected[-3] == ""
    with httpx.Client(base_url=server_url) as http:
        before = metric_samples(http)
    burst = threading.Barrier(16)

    def translate(item: tuple[int, str]) -> str:
        index, sentence = item
        with httpx.Client(base_url=server_url, timeout=30) as http:
            if index < 16:  # the first 16 requests leave together
                burst.wait(timeout=10)
            response = http.post("/translate", json={"q": sentence, "source": "en", "target": "fr"})
            assert response.status_code == 200, response.text
            return response.json()["translatedText"]

    with ThreadPoolExecutor(16) as pool:
        got = list(pool.map(translate, enumerate(sentences)))
    assert got == expected
    with httpx.Client(base_url=server_url) as http:
        after = metric_samples(http)
    searches = after["seq2seq_batch_requests_count{}"] - before["seq2seq_batch_requests_count{}"]
    requests = after["seq2seq_batch_requests_sum{}"] - before["seq2seq_batch_requests_sum{}"]
    assert requests > searches  # at least one search served several requests


def test_native_n_best_scores_and_greedy_match_the_command(client, copy_checkpoint, tmp_path):
    sentences = copy_sentences(6, seed=7)
    nbest = translate_command(copy_checkpoint, sentences, tmp_path, "--n-best", "3")
    response = client.post("/v1/translate", json={"q": sentences, "n_best": 3})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["settings"]["beam_size"] == 3 and body["settings"]["n_best"] == 3
    rows = [line.split(" ||| ") for line in nbest]
    for i, translation in enumerate(body["translations"]):
        mine = [r for r in rows if r[0] == str(i)]
        hyps = translation["hypotheses"]
        assert [h["text"] for h in hyps] == [r[1] for r in mine]
        assert [h["score"] for h in hyps] == pytest.approx([float(r[3]) for r in mine], abs=1e-5)
        assert hyps == sorted(hyps, key=lambda h: -h["score"])
        assert translation["text"] == hyps[0]["text"]
    greedy = translate_command(copy_checkpoint, sentences, tmp_path, "--beam-size", "1")
    response = client.post("/v1/translate", json={"q": sentences, "beam_size": 1})
    assert [t["text"] for t in response.json()["translations"]] == greedy


def test_native_sampling_is_seeded_and_draws_as_the_command_does(
    server_url, copy_checkpoint, tmp_path
):
    sentences = copy_sentences(5, seed=11)
    flags = ["--sampling", "--temperature", "3", "--seed", "7", "--n-best", "3"]
    nbest = [
        line.split(" ||| ")
        for line in translate_command(copy_checkpoint, sentences, tmp_path, *flags)
    ]
    body = {"q": sentences, "sampling": True, "temperature": 3, "seed": 7, "n_best": 3}

    def ask(_: int) -> list[list[str]]:
        with httpx.Client(base_url=server_url, timeout=30) as http:
            response = http.post("/v1/translate", json=body)
            assert response.status_code == 200, response.text
            return [[h["text"] for h in t["hypotheses"]] for t in response.json()["translations"]]

    with ThreadPoolExecutor(4) as pool:  # requests searched together draw what one alone does
        answers = list(pool.map(ask, range(4)))
    for i, texts in enumerate(answers[0]):
        assert texts == [r[1] for r in nbest if r[0] == str(i)]
    assert all(answer == answers[0] for answer in answers)
    with httpx.Client(base_url=server_url, timeout=30) as http:
        other = http.post("/v1/translate", json={**body, "seed": 8}).json()["translations"]
        assert [[h["text"] for h in t["hypotheses"]] for t in other] != answers[0]
        refusals = {
            "decode.temperature=0.5 applies only to sampling": {"temperature": 0.5},
            "decode.beam_size=1, not 3": {"sampling": True, "beam_size": 3},
            "decode.top_p": {"sampling": True, "top_p": 1.5},
            "samples per sentence are more than this server allows": {
                "sampling": True,
                "n_best": 64,
            },
        }
        for expected, fields in refusals.items():
            response = http.post("/v1/translate", json={"q": "w1 w2", **fields})
            assert response.status_code == 400 and expected in response.json()["error"]


def test_native_attention_is_in_reading_order_and_rows_sum_to_one(client):
    sentence = "w1 w2 w3 w4 w5 w6 w7"
    response = client.post("/v1/translate", json={"q": sentence, "attention": True})
    (translation,) = response.json()["translations"]
    attention = translation["attention"]
    assert attention["source_tokens"] == sentence.split()
    assert attention["target_tokens"] == translation["text"].split() + ["<eos>"]
    weights = attention["weights"]
    assert len(weights) == len(attention["target_tokens"])
    assert all(len(row) == 7 and sum(row) == pytest.approx(1, abs=1e-3) for row in weights)
    # The copy model writes word t while looking at source word t (the model itself read the
    # source reversed: the server turns the weights back into reading order).
    looks_at = [max(range(7), key=row.__getitem__) for row in weights[:7]]
    assert sum(t == s for t, s in enumerate(looks_at)) >= 5
    timings = response.json()["timings"]
    assert timings["total_ms"] >= timings["search_ms"] > 0 and timings["batch_sentences"] >= 1
    plain = client.post("/v1/translate", json={"q": sentence}).json()["translations"][0]
    assert "attention" not in plain


def test_libretranslate_shapes(client):
    one = client.post("/translate", json={"q": "w1 w2", "source": "en", "target": "fr"})
    assert one.json() == {"translatedText": "w1 w2"}
    many = client.post("/translate", json={"q": ["w1", "w2 w3"], "source": "en", "target": "fr"})
    assert many.json() == {"translatedText": ["w1", "w2 w3"]}
    lines = client.post("/translate", json={"q": "w1 w2\nw3\r\n\nw4", "target": "fr"})
    assert lines.json()["translatedText"] == "w1 w2\nw3\n\nw4"  # each line on its own
    auto = client.post("/translate", json={"q": "w4", "source": "auto", "target": "fr"}).json()
    assert auto["detectedLanguage"] == {"language": "en", "confidence": 100.0}
    alternatives = client.post(
        "/translate", json={"q": "w5 w6", "source": "en", "target": "fr", "alternatives": 2}
    ).json()
    assert alternatives["translatedText"] == "w5 w6"
    assert len(alternatives["alternatives"]) == 2 and "w5 w6" not in alternatives["alternatives"]
    form = client.post("/translate", data={"q": "w7 w8", "source": "en", "target": "fr"})
    assert form.json() == {"translatedText": "w7 w8"}
    assert client.get("/languages").json() == [
        {"code": "en", "name": "English", "targets": ["fr"]},
        {"code": "fr", "name": "French", "targets": []},
    ]


def test_health_info_metrics_and_docs(client):
    assert client.get("/health").json() == {"status": "ok", "queue_depth": 0}
    info = client.get("/v1/info").json()
    assert (info["source"], info["target"], info["attention"]) == ("en", "fr", True)
    assert info["settings"]["beam_size"] == 3 and info["max_beam_size"] == 8
    client.post("/translate", json={"q": "w1", "source": "en", "target": "fr"})
    client.post("/translate", json={"q": "w1", "source": "de", "target": "fr"})
    samples = metric_samples(client)
    assert samples["seq2seq_requests_total{code=200,endpoint=/translate}"] >= 1
    assert samples["seq2seq_request_errors_total{code=400,endpoint=/translate}"] >= 1
    assert samples["seq2seq_request_latency_seconds_count{endpoint=/translate}"] >= 2
    assert samples["seq2seq_batch_sentences_count{}"] >= 1
    assert samples["seq2seq_sentences_translated_total{}"] >= 1
    assert samples["seq2seq_queue_depth{}"] == 0
    spec = client.get("/openapi.json").json()
    assert {"/translate", "/languages", "/v1/translate", "/health", "/metrics"} <= set(
        spec["paths"]
    )
    body = spec["paths"]["/translate"]["post"]["requestBody"]["content"]
    assert set(body) == {"application/json", "application/x-www-form-urlencoded"}
    docs = client.get("/docs")
    assert docs.status_code == 200 and "cdn" not in docs.text.lower()  # works offline
    for asset in ("swagger-ui-bundle.js", "swagger-ui.css"):
        assert client.get(f"/static-offline-docs/{asset}").status_code == 200


def test_the_page_is_self_contained(client):
    page = client.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "http://" not in page.text and "https://" not in page.text
    assert "<script src" not in page.text and "<link" not in page.text
