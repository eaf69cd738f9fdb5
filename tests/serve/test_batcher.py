"""The dynamic batcher on its own, with a stand-in translator that records how it is called."""

from __future__ import annotations

import asyncio
import threading
import time
from dataclasses import dataclass

import pytest

from seq2seq.config import DecodeConfig
from seq2seq.decode.translator import Translator
from seq2seq.errors import ServeError
from seq2seq.serve.batcher import Batcher


@dataclass
class Out:
    text: str


class WordIds:
    def encode_batch(self, lines):
        return [[4] * len(line.split()) for line in lines]


class RecordingTranslator:
    """Upper-cases each line; records every call and whether two calls ever overlapped.

    It screens lines with the real `Translator.screen` (over a vocabulary of one id per word)."""

    max_src_len = 10
    screen = Translator.screen
    check_min_len = Translator.check_min_len

    def __init__(self, seconds: float = 0.01, fail_on: str | None = None) -> None:
        self.src_vocab = WordIds()
        self.seconds = seconds
        self.fail_on = fail_on
        self.calls: list[tuple[list[str], DecodeConfig]] = []
        self.attention: list[bool] = []
        self.active = 0
        self.overlapped = False
        self.threads: set[str] = set()
        self._lock = threading.Lock()

    def translate_sources(self, sources, settings, attention=False):
        lines = [source.text for source in sources]
        self.attention.append(attention)
        with self._lock:
            self.active += 1
            self.overlapped |= self.active > 1
        self.threads.add(threading.current_thread().name)
        time.sleep(self.seconds)
        with self._lock:
            self.active -= 1
        self.calls.append((list(lines), settings))
        if self.fail_on is not None and self.fail_on in lines:
            raise RuntimeError("boom")
        return [[Out(line.upper())] * settings.n_best for line in lines]


def run(coroutine):
    return asyncio.run(coroutine)


async def _serve(batcher, requests):
    """Submit (lines, settings) pairs concurrently; the batcher started and closed around."""
    await batcher.start()
    try:
        return await asyncio.gather(*(batcher.submit(lines, s) for lines, s in requests))
    finally:
        await batcher.close()


BEAM3 = DecodeConfig(beam_size=3)


def test_concurrent_requests_share_one_search_and_keep_their_order():
    translator = RecordingTranslator()
    batcher = Batcher(translator, max_wait_ms=50)
    requests = [([f"a{i} b", f"c{i}"], BEAM3) for i in range(6)]
    results = run(_serve(batcher, requests))
    assert len(translator.calls) == 1 and len(translator.calls[0][0]) == 12
    for i, result in enumerate(results):
        assert [r.hypotheses[0].text for r in result.lines] == [f"A{i} B", f"C{i}"]
        assert result.batch_sentences == 12 and result.batch_requests == 6
    assert translator.threads == {"seq2seq-model_0"}  # one model thread, not the event loop


def test_requests_with_different_settings_are_searched_apart_never_at_once():
    translator = RecordingTranslator(seconds=0.02)
    batcher = Batcher(translator, max_wait_ms=50)
    beam1, nbest2 = DecodeConfig(beam_size=1), DecodeConfig(beam_size=3, n_best=2)
    requests = [(["x"], BEAM3), (["y"], beam1), (["z"], BEAM3), (["w"], nbest2)]
    results = run(_serve(batcher, requests))
    assert sorted((lines, s.beam_size, s.n_best) for lines, s in translator.calls) == [
        (["w"], 3, 2),
        (["x", "z"], 3, 1),
        (["y"], 1, 1),
    ]
    assert not translator.overlapped
    assert [len(r.lines[0].hypotheses) for r in results] == [1, 1, 1, 2]


def test_a_batch_stops_growing_at_the_sentence_limit():
    translator = RecordingTranslator()
    batcher = Batcher(translator, max_batch_sentences=4, max_wait_ms=50)
    requests = [([f"s{i}"], BEAM3) for i in range(10)]
    run(_serve(batcher, requests))
    assert [len(lines) for lines, _ in translator.calls] == [4, 4, 2]


def test_a_batch_stops_growing_at_the_token_limit():
    translator = RecordingTranslator()
    batcher = Batcher(translator, max_batch_tokens=6, max_wait_ms=50)
    requests = [(["a b c"], BEAM3) for _ in range(4)]  # 3 tokens each
    run(_serve(batcher, requests))
    assert [len(lines) for lines, _ in translator.calls] == [2, 2]


def test_an_idle_server_waits_at_most_max_wait_for_company():
    translator = RecordingTranslator(seconds=0)
    batcher = Batcher(translator, max_wait_ms=30)

    async def one():
        await batcher.start()
        start = time.monotonic()
        result = await batcher.submit(["a"], BEAM3)
        elapsed = time.monotonic() - start
        await batcher.close()
        return result, elapsed

    result, elapsed = run(one())
    assert 0.025 <= result.queue_seconds < 0.5 and elapsed < 0.5


def test_empty_and_over_long_lines_never_reach_the_model():
    translator = RecordingTranslator()
    batcher = Batcher(translator)
    long_line = " ".join(["w"] * 11)  # max_src_len is 10
    (result,) = run(_serve(batcher, [(["", "a b", long_line, "   "], BEAM3)]))
    assert translator.calls[0][0] == ["a b"]
    assert [r.hypotheses and r.hypotheses[0].text for r in result.lines] == [[], "A B", [], []]
    assert result.lines[2].warning == (
        "input line 3 has 11 tokens, more than the maximum source length 10; its output is empty"
    )
    assert result.lines[0].warning is None  # a blank line in a text is no mistake
    (nothing,) = run(_serve(Batcher(translator), [([""], BEAM3)]))
    assert nothing.batch_sentences == 0 and nothing.lines[0].hypotheses == []


def test_a_failed_search_fails_its_requests_only_and_the_worker_goes_on():
    translator = RecordingTranslator(fail_on="bad")
    batcher = Batcher(translator, max_wait_ms=0)

    async def scenario():
        await batcher.start()
        with pytest.raises(RuntimeError, match="boom"):
            await batcher.submit(["bad"], BEAM3)
        after = await batcher.submit(["good"], BEAM3)
        await batcher.close()
        return after

    assert run(scenario()).lines[0].hypotheses[0].text == "GOOD"


def test_close_answers_what_is_queued_then_refuses():
    translator = RecordingTranslator(seconds=0.05)
    batcher = Batcher(translator, max_wait_ms=1000)

    async def scenario():
        await batcher.start()
        pending = asyncio.ensure_future(batcher.submit(["queued"], BEAM3))
        await asyncio.sleep(0.01)
        start = time.monotonic()
        await batcher.close()  # does not wait out the 1 s window
        result = await pending
        with pytest.raises(ServeError) as refused:
            await batcher.submit(["late"], BEAM3)
        return result, time.monotonic() - start, refused.value.status

    result, seconds, status = run(scenario())
    assert result.lines[0].hypotheses[0].text == "QUEUED" and seconds < 0.9 and status == 503


def test_attention_is_collected_for_a_search_only_when_a_request_asks():
    translator = RecordingTranslator()

    async def two(attention):
        await batcher.start()
        try:
            return await asyncio.gather(
                batcher.submit(["a"], BEAM3), batcher.submit(["b"], BEAM3, attention)
            )
        finally:
            await batcher.close()

    for attention in (False, True):
        batcher = Batcher(translator, max_wait_ms=50)
        run(two(attention))
    assert translator.attention == [False, True]


def test_a_min_len_above_a_lines_length_cap_is_refused_before_any_search():
    translator = RecordingTranslator()
    batcher = Batcher(translator, max_wait_ms=0)
    capped = DecodeConfig(min_len=13, max_len_ratio=2.0, max_len_offset=10)  # cap of 1 word: 12

    async def scenario():
        await batcher.start()
        try:
            with pytest.raises(ServeError, match="decode.min_len=13 is more than the 12 output"):
                await batcher.submit(["a", "b c d"], capped)
            # the neighbour: a min length equal to the cap is searched
            return await batcher.submit(["a"], DecodeConfig(min_len=12))
        finally:
            await batcher.close()

    assert run(scenario()).lines[0].hypotheses[0].text == "A"
    assert [lines for lines, _ in translator.calls] == [["a"]]


def test_a_server_with_a_min_len_above_the_warm_up_lines_cap_still_starts(translator):
    # The warm-up searches one one-token line (a cap of 12 tokens); it is no request, so a
    # --min-len of 20 must not stop the server: requests are checked line by line instead.
    Batcher(translator).warm_up(translator.settings(min_len=20))
