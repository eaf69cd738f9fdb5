"""`seq2seq serve` as a real process: it serves, and on SIGTERM answers the requests in flight,
refuses new ones and exits 0."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time

import httpx
import pytest

from conftest import free_port
from seq2seq.commands import main

ENTRY = "import sys; from seq2seq.commands import main; sys.exit(main())"


def start_server(checkpoint, *flags: str) -> tuple[subprocess.Popen, str]:
    port = free_port()
    command = [sys.executable, "-c", ENTRY, "serve", "--checkpoint", str(checkpoint)]
    command += ["--port", str(port), "--threads", "1", *flags]
    env = {**os.environ, "OMP_WAIT_POLICY": "PASSIVE", "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"seq2seq serve exited {process.returncode}:\n{process.stdout.read()}")
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                return process, url
        except httpx.TransportError:
            time.sleep(0.2)
    process.kill()
    pytest.fail("seq2seq serve did not answer /health within 90 s")


@pytest.mark.slow
def test_sigterm_answers_requests_in_flight_refuses_new_ones_and_exits_0(copy_checkpoint):
    # A 5 s batching window keeps the first requests waiting in the queue when SIGTERM comes.
    process, url = start_server(
        copy_checkpoint, "--source-lang", "en", "--target-lang", "fr", "--max-wait-ms", "5000"
    )
    try:
        answers: dict[str, httpx.Response] = {}
        answered_at: dict[str, float] = {}

        def send(sentence: str) -> None:
            body = {"q": sentence, "source": "en", "target": "fr"}
            answers[sentence] = httpx.post(f"{url}/translate", json=body, timeout=30)
            answered_at[sentence] = time.monotonic()

        sentences = ["w1 w2 w3", "w4 w5", "w6 w7 w8 w9"]
        threads = [threading.Thread(target=send, args=(s,)) for s in sentences]
        started = time.monotonic()
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + 4
        while _queue_depth(url) < len(sentences):  # all three are waiting for the model
            assert time.monotonic() < deadline, "the requests never reached the queue"
            time.sleep(0.05)
        process.send_signal(signal.SIGTERM)
        time.sleep(0.5)
        try:
            late = httpx.post(f"{url}/translate", json={"q": "w1"}, timeout=5)
            assert late.status_code == 503 and "shutting down" in late.json()["error"]
        except httpx.TransportError:  # the listening socket is already closed: refused
            pass
        for thread in threads:
            thread.join(timeout=30)
        for sentence in sentences:
            assert answers[sentence].status_code == 200
            assert answers[sentence].json() == {"translatedText": sentence}
        assert process.wait(timeout=30) == 0
        # Searched at once on SIGTERM: the 5 s window would have held them past started + 5.
        assert max(answered_at.values()) < started + 4.5
        log = process.stdout.read()
        assert "shutting down" in log and "Traceback" not in log
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def _queue_depth(url: str) -> int:
    return int(httpx.get(f"{url}/health", timeout=5).json()["queue_depth"])


@pytest.mark.slow
def test_a_checkpoint_without_languages_is_served_under_neutral_codes(copy_checkpoint):
    process, url = start_server(copy_checkpoint)  # no flag: every checkpoint is servable
    try:
        languages = httpx.get(f"{url}/languages", timeout=10).json()
        assert [language["code"] for language in languages] == ["src", "tgt"]
        body = {"q": "w1 w2 w3", "source": "auto", "target": "tgt"}
        answer = httpx.post(f"{url}/translate", json=body, timeout=30)
        assert answer.json()["translatedText"] == "w1 w2 w3"
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
    assert "records no language pair: serving it as src -> tgt" in process.stdout.read()


@pytest.mark.slow
def test_a_chatbot_checkpoint_is_served_as_one_with_no_flag(copy_checkpoint, tmp_path):
    from seq2seq.checkpoint import checkpoint_bytes, load_model, write_atomic

    model, config, src_vocab, tgt_vocab = load_model(copy_checkpoint)
    path = tmp_path / "chatbot.safetensors"
    write_atomic(path, checkpoint_bytes(model, config, src_vocab, tgt_vocab, task="chatbot"))
    process, url = start_server(path)
    try:
        info = httpx.get(f"{url}/v1/info", timeout=10).json()
        assert (info["task"], info["source_label"], info["target_label"]) == (
            "chatbot", "Question", "Answer"
        )  # fmt: skip
        answer = httpx.post(f"{url}/v1/generate", json={"q": "w1 w2 w3"}, timeout=30)
        assert answer.json()["translations"][0]["text"] == "w1 w2 w3"
        refused = httpx.post(f"{url}/translate", json={"q": "w1"}, timeout=10)
        assert refused.status_code == 404 and "POST /v1/generate" in refused.json()["error"]
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0


@pytest.mark.slow
def test_a_checkpoint_that_records_its_languages_needs_no_flags(copy_checkpoint, tmp_path):
    from seq2seq.checkpoint import checkpoint_bytes, load_model, read_languages, write_atomic

    model, config, src_vocab, tgt_vocab = load_model(copy_checkpoint)
    path = tmp_path / "de-en.safetensors"
    write_atomic(
        path, checkpoint_bytes(model, config, src_vocab, tgt_vocab, languages=("de", "en"))
    )
    assert read_languages(path) == ("de", "en")
    process, url = start_server(path)
    try:
        assert httpx.get(f"{url}/languages", timeout=10).json()[0]["code"] == "de"
        body = {"q": "w1 w2 w3", "source": "de", "target": "en"}
        answer = httpx.post(f"{url}/translate", json=body, timeout=30)
        assert answer.json() == {"translatedText": "w1 w2 w3"}
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0


def test_settings_the_checkpoint_cannot_serve_fail_at_start(copy_checkpoint, capsys):
    flags = ["--source-lang", "en", "--target-lang", "fr", "--port", "0"]
    assert main(["serve", "--checkpoint", str(copy_checkpoint), *flags, "--shortlist"]) == 2
    assert "no lexical shortlist" in capsys.readouterr().err
    assert main(["serve", "--checkpoint", str(copy_checkpoint), *flags, "--beam-size", "20"]) == 2
    assert "--max-beam-size" in capsys.readouterr().err


def _listening(host: str = "127.0.0.1") -> socket.socket:
    """A socket of another program, listening on a free port of `host`."""
    sock = socket.socket()
    sock.bind((host, 0))
    sock.listen()
    return sock


def test_a_port_in_use_is_one_sentence_before_the_model_loads(tmp_path, capsys):
    # The checkpoint is garbage: had the model been loaded first, the error would be about it.
    garbage = tmp_path / "garbage.safetensors"
    garbage.write_bytes(b"not a checkpoint")
    with _listening() as busy:
        port = busy.getsockname()[1]
        assert main(["serve", "--checkpoint", str(garbage), "--port", str(port)]) == 2
    err = capsys.readouterr().err
    assert err == f"seq2seq serve: error: --port {port} on 127.0.0.1 is in use by another program; choose another port\n"  # fmt: skip


@pytest.mark.parametrize(
    "host, says",
    [("256.0.0.1", "is not an address to listen on"), ("192.0.2.1", "cannot listen on --host")],
    ids=["unresolvable", "not-this-machine"],
)
def test_an_unusable_host_is_one_sentence_before_the_model_loads(host, says, tmp_path, capsys):
    garbage = tmp_path / "garbage.safetensors"
    garbage.write_bytes(b"not a checkpoint")
    assert main(["serve", "--checkpoint", str(garbage), "--host", host, "--port", "0"]) == 2
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("seq2seq serve: error: ") and says in lines[0]
    assert host in lines[0] and "Traceback" not in lines[0]


@pytest.mark.slow
def test_the_same_port_on_another_local_address_is_free_to_serve(copy_checkpoint):
    """Neighbour: a port is in use per address; 127.0.0.2 serves where 127.0.0.1 is taken."""
    with _listening("127.0.0.1") as busy:
        port = str(busy.getsockname()[1])
        command = [sys.executable, "-c", ENTRY, "serve", "--checkpoint", str(copy_checkpoint)]
        command += ["--host", "127.0.0.2", "--port", port, "--threads", "1"]
        command += ["--source-lang", "en", "--target-lang", "fr"]
        env = {**os.environ, "OMP_WAIT_POLICY": "PASSIVE", "PYTHONUNBUFFERED": "1"}
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                   text=True, env=env)  # fmt: skip
        try:
            deadline = time.monotonic() + 90
            while True:
                assert process.poll() is None, process.stdout.read()
                assert time.monotonic() < deadline, "no answer from 127.0.0.2 within 90 s"
                try:
                    health = httpx.get(f"http://127.0.0.2:{port}/health", timeout=1)
                    break
                except httpx.TransportError:
                    time.sleep(0.2)
            assert health.status_code == 200
        finally:
            process.send_signal(signal.SIGTERM)
            assert process.wait(timeout=30) == 0


def test_every_serve_setting_is_a_flag_whose_help_is_its_description():
    """The server's flags are generated from ServeConfig: each field, its help, its value."""
    import argparse

    from seq2seq.commands import serve
    from seq2seq.commands.options import flag, given_settings
    from seq2seq.config import ServeConfig

    parser = argparse.ArgumentParser()
    serve.add_arguments(parser)
    actions = {a.option_strings[0]: a for a in parser._actions if a.option_strings}
    for name, field in ServeConfig.model_fields.items():
        assert actions[flag(name)].help.startswith(field.description.replace("%", "%%")), name
    args = parser.parse_args(["--checkpoint", "x", "--max-wait-ms", "7", "--access-log"])
    config = ServeConfig(**given_settings(args, "serve_"))
    assert (config.max_wait_ms, config.access_log, config.port) == (7.0, True, 8080)


@pytest.mark.slow
def test_the_demos_checkpoint_is_served_with_no_flag(tmp_path):
    from seq2seq.commands.demo import run_demo

    run_demo(tmp_path, max_steps=5, examples=0)  # the demo's own code path, a few steps
    process, url = start_server(tmp_path / "run" / "best.safetensors")
    try:
        languages = httpx.get(f"{url}/languages", timeout=10).json()
        assert [language["code"] for language in languages] == ["en", "x-demo"]
        info = httpx.get(f"{url}/v1/info", timeout=10).json()
        assert (info["task"], info["target_name"]) == ("translation", "Demo (synthetic)")
        body = {"q": "the big dog sees a red ball", "source": "en", "target": "x-demo"}
        assert httpx.post(f"{url}/translate", json=body, timeout=30).status_code == 200
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
