"""The training loop's collaborators one at a time: the stop request and the log window."""

from __future__ import annotations

import math
import os
import signal

import pytest
import torch

from seq2seq.errors import TrainingError
from seq2seq.train.stopping import Interrupted, StopRequest, ValidationAbandoned
from seq2seq.train.window import Window


@pytest.fixture
def sigint_handler():
    """Python's Ctrl-C handler around the test, put back afterwards whatever the test left."""
    before = signal.signal(signal.SIGINT, signal.default_int_handler)
    terminate = signal.getsignal(signal.SIGTERM)
    yield
    signal.signal(signal.SIGINT, before)
    signal.signal(signal.SIGTERM, terminate)


def test_a_first_signal_asks_a_second_stops_and_a_third_is_ignored(sigint_handler):
    stop = StopRequest(announce=False)
    with pytest.raises(Interrupted) as raised:
        with stop.catching():
            os.kill(os.getpid(), signal.SIGINT)
            assert stop.requested and stop.signum == signal.SIGINT
            os.kill(os.getpid(), signal.SIGTERM)  # a second signal, of the other kind
    assert raised.value.signum == signal.SIGTERM
    os.kill(os.getpid(), signal.SIGINT)  # the process is shutting down: heard by no one
    assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN


def test_a_stopped_run_leaves_the_signals_ignored_and_an_unstopped_one_restores_them(
    sigint_handler,
):
    with StopRequest(announce=False).catching():
        pass
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    with StopRequest(announce=False).catching():
        os.kill(os.getpid(), signal.SIGINT)
    assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN


def test_a_signal_during_validation_abandons_it(sigint_handler):
    stop = StopRequest(announce=False)
    with stop.catching(), pytest.raises(ValidationAbandoned):
        stop.abandons_validation = True
        os.kill(os.getpid(), signal.SIGINT)


def test_the_window_remembers_the_first_diverged_step_without_waiting():
    window = Window(torch.device("cpu"))
    window.add(1, torch.tensor(20.0), 10, torch.tensor(3.0))
    window.check(last_saved=0, lr=0.5)  # 2 nats a token: fine
    window.add(2, torch.tensor(5000.0), 10, torch.tensor(4.0))  # 500 nats a token
    window.add(3, torch.tensor(math.nan), 10, torch.tensor(math.inf))
    with pytest.raises(TrainingError, match="diverged at step 2: the loss is 500 nats per target"):
        window.check(last_saved=1, lr=0.5)
    assert window.to_dict() == pytest.approx(
        {"loss": math.nan, "tokens": 30, "seconds": 0.0, "norm": math.inf, "steps": 3},
        nan_ok=True,
    )


def test_the_window_travels_in_a_checkpoint_exactly():
    window = Window(torch.device("cpu"))
    for step, loss in enumerate((1.1, 2.2, 3.3), start=1):
        window.add(step, torch.tensor(loss), 4, torch.tensor(0.1 * step))
    again = Window(torch.device("cpu"), window.to_dict())
    assert again.to_dict() == window.to_dict()
    again.add(4, torch.tensor(4.4), 4, torch.tensor(0.4))
    window.add(4, torch.tensor(4.4), 4, torch.tensor(0.4))
    assert again.to_dict() == window.to_dict()  # bit for bit: a resumed run logs the same line
