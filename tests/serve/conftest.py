"""Fixtures for the server tests: a tiny trained checkpoint and servers on free ports.

The checkpoint is an attention model trained for a few seconds to copy sentences of a 20-word
language (reversed source, as in the paper), saved once per session; it needs nothing outside
the repository. `running_server` serves an application in a thread of this process (uvicorn
on a socket bound to port 0); the shutdown tests start `seq2seq serve` as a real process.
"""

from __future__ import annotations

import random
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
import torch
import torch.nn.functional as F

from seq2seq.config import Config
from seq2seq.data.batching import make_source_batch, make_target_batch
from seq2seq.data.vocab import WordVocab

WORDS = [f"w{i}" for i in range(20)]
SOURCE, TARGET = "en", "fr"  # the codes the tests serve the copy model under


def copy_sentences(n: int, seed: int, min_len: int = 2, max_len: int = 8) -> list[str]:
    rng = random.Random(seed)
    return [" ".join(rng.choices(WORDS, k=rng.randint(min_len, max_len))) for _ in range(n)]


def _train_copy_model(steps: int = 150):
    from seq2seq.model.seq2seq import Seq2Seq

    config = Config.model_validate(
        {
            "data": {"reverse_source": True},
            "model": {
                "cell": "lstm",
                "embedding_size": 32,
                "hidden_size": 64,
                "layers": 1,
                "context": "attention",
                "input_feeding": False,
            },
            "decode": {"beam_size": 3, "batch_size": 16},
        }
    )
    torch.manual_seed(0)
    vocab = WordVocab(WORDS)
    model = Seq2Seq(config.model, len(vocab), len(vocab))
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    for step in range(steps):
        lines = copy_sentences(64, seed=step)
        src, lengths = make_source_batch([vocab.encode(s) for s in lines], 0, True)
        tgt_in, tgt_out = make_target_batch([vocab.encode(s) for s in lines])
        loss = F.cross_entropy(
            model(src, lengths, tgt_in).flatten(0, 1), tgt_out.flatten(), ignore_index=0
        )
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return model.eval(), config, vocab


@pytest.fixture(scope="session")
def copy_checkpoint(tmp_path_factory) -> Path:
    from seq2seq.checkpoint import checkpoint_bytes, write_atomic

    torch.set_num_threads(1)
    model, config, vocab = _train_copy_model()
    path = tmp_path_factory.mktemp("serve") / "copy.safetensors"
    write_atomic(path, checkpoint_bytes(model, config, vocab, vocab))
    return path


@pytest.fixture(scope="session")
def translator(copy_checkpoint):
    from seq2seq.decode.translator import Translator

    return Translator.load(copy_checkpoint, max_src_len=50)


def make_app(translator, keys=None, **limits):
    from seq2seq.config import ServeConfig
    from seq2seq.serve.app import create_app

    config = ServeConfig(source_lang=SOURCE, target_lang=TARGET, **limits)
    return create_app(translator, config, translator.settings(), keys)


@contextmanager
def running_server(app) -> Iterator[str]:
    """Serve `app` on a free port of 127.0.0.1 in a thread; yields its base URL."""
    from seq2seq.serve.server import make_server

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = make_server(app, "127.0.0.1", port, shutdown_timeout=10, log_level="warning")
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the server did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()
        thread.join(timeout=20)
        sock.close()


@pytest.fixture(scope="session")
def server_url(translator) -> Iterator[str]:
    """One server for the API tests: limits small enough to test, a 20 ms batching window."""
    app = make_app(
        translator, max_wait_ms=20, max_body_bytes=20_000, max_request_sentences=40,
        max_beam_size=8,
    )  # fmt: skip
    with running_server(app) as url:
        yield url


@pytest.fixture
def client(server_url) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server_url, timeout=30) as http:
        yield http


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
