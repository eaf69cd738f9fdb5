"""`seq2seq serve` with a speech model: recordings uploaded to POST /v1/transcribe as
multipart/form-data come back as the transcripts `seq2seq transcribe` gives the same files (n-best
with scores, timings); every bad upload is a 400 (413 over a limit) with one sentence, and the
server keeps serving; /v1/generate points a speech model's clients to /v1/transcribe and a text
model answers /v1/transcribe with 404; the page's file picker transcribes in headless Chromium.

The audio is made here: tone "words" (tests/speech/speech_synth.py) and tones and noise
(tests/audio/sounds.py). Most tests serve an untrained speech checkpoint (its transcripts are
arbitrary but must be the command's); the slow one trains a tiny model that really spells them.
"""

from __future__ import annotations

import io
import sys
from pathlib import Path

import httpx
import numpy as np
import pytest
import soundfile
import torch

TESTS = Path(__file__).resolve().parents[1]
sys.path.append(str(TESTS / "speech"))  # speech_synth: tone words (appended: no shadowing)
sys.path.append(str(TESTS / "audio"))  # sounds: tones and noise

from cdp import CHROMIUM, Browser  # noqa: E402
from sounds import noise, tone  # noqa: E402
from speech_synth import (  # noqa: E402
    LETTERS,
    MODEL,
    RATE,
    random_words,
    train_tone_speller,
    waves,
    write_wav,
)

from conftest import running_server  # noqa: E402
from seq2seq.audio.io import AudioConfig  # noqa: E402
from seq2seq.config import ServeConfig  # noqa: E402
from seq2seq.decode.transcriber import Transcriber  # noqa: E402
from seq2seq.decode.translator import Translator  # noqa: E402
from seq2seq.serve.app import create_app  # noqa: E402
from seq2seq.serve.speech import SpeechTranslator  # noqa: E402
from seq2seq.tasks import TASKS  # noqa: E402

LIMITS = {"max_upload_bytes": 200_000, "max_request_sentences": 3, "max_beam_size": 4}
MAX_SECONDS = 2.0


def speech_checkpoint(path: Path, model=None, source=None, ctc: bool = True) -> Path:
    """A speech model (untrained unless `model` and its `source` are given) as a checkpoint;
    `ctc`: trained with a CTC head (train.ctc_weight 0.3), or without."""
    from seq2seq.audio.features import AudioSource, FeatureConfig
    from seq2seq.checkpoint import checkpoint_bytes
    from seq2seq.config import config_from_dict
    from seq2seq.data.vocab import CharVocab
    from seq2seq.model.seq2seq import Seq2Seq

    config = config_from_dict(
        {"data": {"reverse_source": False}, "model": MODEL, "train": {"ctc_weight": 0.3 * ctc},
         "decode": {"beam_size": 1, "max_len_ratio": 0.05, "max_len_offset": 3}}
    )  # fmt: skip
    vocab = CharVocab(list(LETTERS))
    if model is None:
        torch.manual_seed(0)
        model = Seq2Seq(config.model, 0, len(vocab), ctc=ctc)
        source = AudioSource(FeatureConfig(), np.full(80, -8.0), np.ones(80))
    path.write_bytes(checkpoint_bytes(model, config, source, vocab, task="speech"))
    return path


def speech_app(checkpoint: Path, **limits):
    translator = Translator.load(checkpoint)
    speech = SpeechTranslator.of(translator, AudioConfig(max_seconds=MAX_SECONDS))
    config = ServeConfig(max_wait_ms=20, **limits)
    return create_app(speech, config, speech.settings(), task=TASKS["speech"])


@pytest.fixture(scope="module")
def untrained(tmp_path_factory) -> Path:
    return speech_checkpoint(tmp_path_factory.mktemp("speech") / "speech.safetensors")


@pytest.fixture(scope="module")
def speech_url(untrained):
    with running_server(speech_app(untrained, **LIMITS)) as url:
        yield url


@pytest.fixture
def http(speech_url):
    with httpx.Client(base_url=speech_url, timeout=60) as client:
        yield client


def wav_bytes(wave: np.ndarray, rate: int = RATE, fmt: str = "WAV") -> bytes:
    buffer = io.BytesIO()
    soundfile.write(buffer, wave, rate, format=fmt, subtype="PCM_16" if fmt == "WAV" else None)
    return buffer.getvalue()


def check_error(response: httpx.Response, status: int, *words: str) -> str:
    assert response.status_code == status, response.text
    message = response.json()["error"]
    assert "Traceback" not in message and "\n" not in message and len(message) < 240, message
    for word in words:
        assert word in message, message
    return message


# --- the answer -------------------------------------------------------------------------------


def test_an_uploaded_wav_gets_the_transcript_seq2seq_transcribe_gives(http, untrained, tmp_path):
    path = write_wav(tmp_path / "abc.wav", "abc", seed=5)
    with path.open("rb") as handle:
        response = http.post("/v1/transcribe", files={"file": ("abc.wav", handle, "audio/wav")})
    assert response.status_code == 200, response.text
    body = response.json()
    (transcript,) = body["transcripts"]
    transcriber = Transcriber.load(untrained)
    assert transcript["text"] == transcriber.transcribe([path])[0]
    assert transcript["file"] == "abc.wav"
    assert transcript["seconds"] == pytest.approx(soundfile.info(str(path)).duration, abs=1e-3)
    assert [h["text"] for h in transcript["hypotheses"]] == [transcript["text"]]
    timings = body["timings"]
    assert timings["audio_ms"] > 0 and timings["search_ms"] > 0 and timings["batch_sentences"] == 1
    assert body["settings"]["beam_size"] == 1 and body["settings"]["n_best"] == 1


def test_n_best_with_scores_and_several_files_in_the_order_sent(http, untrained, tmp_path):
    """Form fields carry the search settings as /v1/generate's JSON does; a stereo 44.1 kHz FLAC
    is resampled and mixed down as `transcribe` does it."""
    first = write_wav(tmp_path / "de.wav", "de", seed=1, rate=8000)
    wave = waves(["cab"], seed=2)[0]
    from scipy.signal import resample_poly

    stereo = np.stack([wave, 0.5 * wave], axis=1)
    stereo = resample_poly(stereo, 441, 160, axis=0).astype(np.float32)
    second = tmp_path / "cab.flac"
    soundfile.write(str(second), stereo, 44_100)
    files = [("file", (p.name, p.read_bytes())) for p in (first, second)]
    response = http.post("/v1/transcribe", files=files, data={"beam_size": "3", "n_best": "3"})
    assert response.status_code == 200, response.text
    transcripts = response.json()["transcripts"]
    assert [t["file"] for t in transcripts] == ["de.wav", "cab.flac"]
    expected = Transcriber.load(untrained).transcribe([first, second], beam_size=3, n_best=3)
    for transcript, texts in zip(transcripts, expected, strict=True):
        hypotheses = transcript["hypotheses"]
        assert [h["text"] for h in hypotheses] == texts and transcript["text"] == texts[0]
        scores = [h["score"] for h in hypotheses]
        assert scores == sorted(scores, reverse=True) and all(h["log_prob"] < 0 for h in hypotheses)
    assert response.json()["settings"]["beam_size"] == 3


def test_a_request_sets_the_ctc_weight_of_its_own_search(http, untrained, tmp_path):
    """`ctc_weight` as a form field: the joint CTC/attention search `transcribe --ctc-weight`
    runs, for this request only (the server's default, attention alone, stays)."""
    path = write_wav(tmp_path / "bad.wav", "bad", seed=3)
    transcriber = Transcriber.load(untrained)
    for weight in ("0.5", "0"):
        response = http.post("/v1/transcribe", files={"file": (path.name, path.read_bytes())},
                             data={"beam_size": "3", "n_best": "2", "ctc_weight": weight})  # fmt: skip
        assert response.status_code == 200, response.text
        expected = transcriber.transcribe([path], beam_size=3, n_best=2, ctc_weight=float(weight))
        (transcript,) = response.json()["transcripts"]
        assert [h["text"] for h in transcript["hypotheses"]] == expected[0]
        assert response.json()["settings"]["ctc_weight"] == float(weight)
    plain = http.post("/v1/transcribe", files={"file": (path.name, path.read_bytes())})
    assert plain.json()["settings"]["ctc_weight"] == 0.0


def test_a_ctc_weight_for_a_model_without_a_ctc_head_is_one_sentence(tmp_path):
    bare = speech_checkpoint(tmp_path / "no-head.safetensors", ctc=False)
    assert Translator.load(bare).model.ctc is None
    path = write_wav(tmp_path / "ab.wav", "ab")
    with running_server(speech_app(bare, **LIMITS)) as url, httpx.Client(base_url=url) as http:
        sent = {"files": {"file": (path.name, path.read_bytes())}}
        refused = http.post("/v1/transcribe", **sent, data={"ctc_weight": "0.5"})
        check_error(refused, 400, "ctc_weight", "CTC head")
        assert http.post("/v1/transcribe", **sent).status_code == 200


# --- bad uploads: one sentence each, and the server keeps serving ------------------------------

SILENT = np.zeros(RATE // 2, np.float32) + 1e-6
TOO_LONG = 0.5 * tone(440.0, 3.0, 8000)  # the test server's limit is 2 s
NOT_UTF8 = (
    b'--b\r\nContent-Disposition: form-data; name="beam_size"\r\n\r\n\xff\r\n'
    b'--b\r\nContent-Disposition: form-data; name="file"; filename="a.wav"\r\n\r\nxx\r\n--b--\r\n'
)
# (id, what the client sends as httpx.post keywords, the status, words of the sentence)
BAD_UPLOADS = [
    ("json", {"json": {"q": "abc"}}, 400, ("multipart/form-data", "not application/json")),
    ("no-content-type", {"content": b"RIFF"}, 400, ("multipart/form-data", "no Content-Type")),
    ("no-boundary", {"content": b"x", "headers": {"content-type": "multipart/form-data"}}, 400,
     ("names no boundary",)),
    ("no-file-field", {"files": {"audio": ("a.wav", b"RIFF")}}, 400,
     ("no field 'file'", "-F file=@speech.wav")),
    ("file-as-text", {"data": {"file": "speech.wav"}, "files": {"other": ("x", b"x")}}, 400,
     ("holds text, not a file",)),
    ("empty-file", {"files": {"file": ("empty.wav", b"")}}, 400, ("empty.wav", "empty (0 bytes)")),
    ("not-audio", {"files": {"file": ("notes.wav", b"these are not samples")}}, 400,
     ("notes.wav", "cannot be read as WAV, FLAC or OGG")),
    ("no-samples", {"files": {"file": ("hollow.wav", wav_bytes(np.zeros(0, np.float32)))}}, 400,
     ("hollow.wav", "is empty (it holds no samples)")),
    ("silent", {"files": {"file": ("quiet.wav", wav_bytes(SILENT))}}, 400,
     ("quiet.wav", "is silent")),
    ("too-long", {"files": {"file": ("long.wav", wav_bytes(TOO_LONG, 8000))}}, 400,
     ("long.wav", "lasts 3 s", "limit of 2 s", "--max-seconds")),
    ("beam-too-wide", {"files": {"file": ("a.wav", b"x")}, "data": {"beam_size": "9"}}, 400,
     ("beam size 9",)),
    ("beam-not-a-number", {"files": {"file": ("a.wav", b"x")}, "data": {"beam_size": "wide"}},
     400, ("beam_size",)),
    ("ctc-weight-above-1", {"files": {"file": ("a.wav", b"x")}, "data": {"ctc_weight": "1.5"}},
     400, ("ctc_weight",)),
    ("ctc-weight-and-sampling", {"files": {"file": ("a.wav", b"x")},
                                 "data": {"ctc_weight": "0.5", "sampling": "true"}}, 400,
     ("ctc_weight", "sampling")),
    ("field-not-utf8", {"content": NOT_UTF8,
                        "headers": {"content-type": "multipart/form-data; boundary=b"}}, 400,
     ("'beam_size'", "UTF-8")),
    ("too-many-files", {"files": [("file", (f"{i}.wav", b"x")) for i in range(4)]}, 413,
     ("4 recordings", "limit of 3", "--max-request-sentences")),
    ("over-the-byte-limit", {"files": {"file": ("big.wav", wav_bytes(noise(8.0, RATE)))}}, 413,
     ("upload", "200,000 bytes", "--max-upload-bytes")),
]  # fmt: skip


@pytest.mark.parametrize(
    ("sends", "status", "words"),
    [case[1:] for case in BAD_UPLOADS],
    ids=[case[0] for case in BAD_UPLOADS],
)
def test_a_bad_upload_is_one_sentence_and_the_server_keeps_serving(
    http, tmp_path, sends, status, words
):
    check_error(http.post("/v1/transcribe", **sends), status, *words)
    assert http.get("/health").json()["status"] == "ok"
    good = write_wav(tmp_path / "ok.wav", "ab")
    assert http.post("/v1/transcribe", files={"file": good.open("rb")}).status_code == 200


def test_an_upload_declaring_a_huge_length_is_refused_before_it_is_read(speech_url):
    """A raw request (an HTTP client will not send fewer bytes than it declares)."""
    import json
    import socket

    port = int(speech_url.rsplit(":", 1)[1])
    head = (
        "POST /v1/transcribe HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
        "Content-Type: multipart/form-data; boundary=b\r\nContent-Length: 999999999\r\n\r\n--b"
    )
    with socket.create_connection(("127.0.0.1", port), timeout=60) as sock:
        sock.sendall(head.encode())
        answer = b""
        while b"}" not in answer:  # the JSON error ends the answer
            chunk = sock.recv(4096)
            assert chunk, answer
            answer += chunk
    status_line, _, rest = answer.partition(b"\r\n")
    assert status_line.split()[1] == b"413", answer
    message = json.loads(rest.split(b"\r\n\r\n", 1)[1])["error"]
    for words in ("999,999,999 bytes", "200,000", "--max-upload-bytes"):
        assert words in message, message


def test_text_is_not_a_speech_models_input_and_a_text_model_takes_no_recordings(
    http, client, tmp_path
):
    refused = http.post("/v1/generate", json={"q": "abc"})
    check_error(refused, 400, "speech model", "POST /v1/transcribe", "-F file=@speech.wav")
    check_error(http.post("/translate", json={"q": "abc"}), 404, "/translate")
    wav = write_wav(tmp_path / "a.wav", "ab")
    on_text = client.post("/v1/transcribe", files={"file": wav.open("rb")})  # the copy model
    check_error(on_text, 404, "translation", "not a speech model", "POST /v1/generate")


def test_info_says_the_task_and_the_upload_limits(http, client):
    info = http.get("/v1/info").json()
    assert info["task"] == "speech" and info["verb"] == "transcribe"
    assert info["max_upload_bytes"] == 200_000 and info["max_seconds"] == MAX_SECONDS
    assert client.get("/v1/info").json()["max_upload_bytes"] is None  # a text model has none
    paths = http.get("/openapi.json").json()["paths"]
    assert "multipart/form-data" in paths["/v1/transcribe"]["post"]["requestBody"]["content"]


def test_seq2seq_serve_serves_a_speech_checkpoint_with_its_audio_flags(untrained, tmp_path):
    from test_command import start_server

    process, url = start_server(untrained, "--max-seconds", "1.5", "--max-upload-bytes", "90000")
    try:
        wav = write_wav(tmp_path / "bad.wav", "abcde", seed=3)
        answer = httpx.post(f"{url}/v1/transcribe", files={"file": wav.open("rb")}, timeout=60)
        assert answer.status_code == 200, answer.text
        expected = Transcriber.load(untrained).transcribe([wav])[0]
        assert answer.json()["transcripts"][0]["text"] == expected
        long = tmp_path / "long.wav"
        soundfile.write(str(long), TOO_LONG, 8000, subtype="PCM_16")
        check_error(httpx.post(f"{url}/v1/transcribe", files={"file": long.open("rb")}), 400,
                    "limit of 1.5 s", "--max-seconds")  # fmt: skip
        big = httpx.post(f"{url}/v1/transcribe", files={"file": ("n.wav", b"x" * 100_000)})
        check_error(big, 413, "90,000 bytes")
    finally:
        process.terminate()
        process.wait(timeout=30)


# --- the page -------------------------------------------------------------------------------


def test_the_page_of_a_speech_model_has_a_file_picker_and_a_text_models_has_not():
    from seq2seq.serve.page import page_html

    speech = page_html(TASKS["speech"])
    assert '<input id="audio" type="file" accept="audio/*">' in speech
    assert "<textarea" not in speech and ">Transcribe</button>" in speech
    text = page_html(TASKS["translation"])
    assert 'type="file"' not in text and '<textarea id="source"' in text
    for html in (speech, text):  # self-contained: nothing fetched from elsewhere
        assert "http://" not in html and "https://" not in html and " src=" not in html


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install chromium)")
def test_pick_a_recording_press_transcribe_and_read_the_apis_transcript_in_chromium(
    speech_url, tmp_path
):
    wav = write_wav(tmp_path / "picked.wav", "bead", seed=7)
    api = httpx.post(
        speech_url + "/v1/transcribe",
        files={"file": wav.open("rb")},
        data={"beam_size": "2", "n_best": "2"},
        timeout=60,
    ).json()["transcripts"][0]
    browser = Browser(tmp_path / "profile")
    try:
        browser.goto(speech_url + "/")
        browser.wait_for("document.body.dataset.ready === 'yes'")
        assert browser.evaluate("document.getElementById('translate').textContent") == "Transcribe"
        hint = browser.evaluate("document.getElementById('hint').textContent")
        assert hint == "WAV, FLAC or OGG, up to 0.2 MB and 2 s"  # the server's limits
        browser.evaluate("document.getElementById('beam').value = '2'")
        document = browser.send("DOM.getDocument")["root"]["nodeId"]
        node = browser.send("DOM.querySelector", {"nodeId": document, "selector": "#audio"})
        browser.send("DOM.setFileInputFiles", {"files": [str(wav)], "nodeId": node["nodeId"]})
        assert browser.evaluate("document.getElementById('audio').files[0].name") == "picked.wav"
        browser.click("#translate")
        browser.wait_for("document.getElementById('result').dataset.state === 'done'", 60)
        shown = browser.evaluate("document.getElementById('result').textContent")
        assert shown == api["text"]
        rows = browser.evaluate(
            "[...document.querySelectorAll('#nbest tr')].slice(1)"
            ".map((r) => r.children[1].textContent)"
        )
        assert rows == [h["text"] for h in api["hypotheses"]]
        status = browser.evaluate("document.getElementById('status').textContent")
        assert "s of audio" in status

        # A bad recording's sentence is shown on the page, and the page keeps working.
        bad = tmp_path / "noise.wav"
        bad.write_bytes(b"not a recording")
        browser.send("DOM.setFileInputFiles", {"files": [str(bad)], "nodeId": node["nodeId"]})
        browser.click("#translate")
        browser.wait_for("document.getElementById('result').dataset.state === 'error'", 60)
        message = browser.evaluate("document.getElementById('result').textContent")
        assert "noise.wav cannot be read as WAV, FLAC or OGG" in message
    finally:
        browser.close()


# --- a model that has learned ---------------------------------------------------------------


@pytest.mark.slow
def test_a_trained_speech_model_served_spells_what_the_uploads_say(tmp_path):
    """Ten unseen words, uploaded one request each and all in one request: the server's
    transcripts are the command's, and they spell the words (character error rate under 15%;
    a guess scores about 80%)."""
    import jiwer

    model, source, _ = train_tone_speller(tmp_path)
    checkpoint = speech_checkpoint(tmp_path / "trained.safetensors", model, source)
    words = random_words(10, seed=9)
    wavs = [write_wav(tmp_path / f"{i}-{w}.wav", w, seed=20 + i) for i, w in enumerate(words)]
    expected = Transcriber.load(checkpoint).transcribe(wavs)
    app = speech_app(checkpoint, max_request_sentences=16)
    with running_server(app) as url, httpx.Client(base_url=url, timeout=120) as http:
        alone = [
            http.post("/v1/transcribe", files={"file": w.open("rb")}).json()["transcripts"][0]
            for w in wavs
        ]
        together = http.post(
            "/v1/transcribe", files=[("file", (w.name, w.read_bytes())) for w in wavs]
        ).json()["transcripts"]
    assert [t["text"] for t in alone] == [t["text"] for t in together] == expected
    assert jiwer.cer(words, [t or "-" for t in expected]) < 0.15, list(zip(words, expected))
