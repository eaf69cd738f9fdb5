"""Decode settings at their extremes: each float setting is finite and in range or refused in one
sentence naming the key; a min length above a line's length cap is refused, never padded."""

from __future__ import annotations

import math

import pytest
import torch
from decode_standins import TinyRNNModel, random_batch, settings

from seq2seq import Translator
from seq2seq.config import (
    LENGTH_PENALTY_LIMIT,
    MAX_LEN_RATIO_LIMIT,
    TEMPERATURE_LIMIT,
    DecodeConfig,
)
from seq2seq.decode.search import normalise, search
from seq2seq.errors import ConfigError

torch.set_num_threads(1)

FLOAT_SETTINGS = sorted(
    name for name, field in DecodeConfig.model_fields.items() if field.annotation is float
)
LIMITS = {
    "ctc_weight": 1.0,
    "length_penalty": LENGTH_PENALTY_LIMIT,
    "max_len_ratio": MAX_LEN_RATIO_LIMIT,
    "temperature": TEMPERATURE_LIMIT,
    "top_p": 1.0,
}
EXTREMES = [math.inf, -math.inf, math.nan, 1e308, -1e308, 1000.0, -1.0, -1e-300]


def test_every_float_setting_has_a_bound():
    # A new float setting must join the sweep below (and get a bound), not slip past it.
    assert FLOAT_SETTINGS == sorted(LIMITS)


@pytest.mark.parametrize("name", FLOAT_SETTINGS)
@pytest.mark.parametrize("value", EXTREMES)
def test_an_extreme_float_setting_is_refused_in_one_sentence_naming_it(
    copy_checkpoint, name, value
):
    translator = Translator.load(copy_checkpoint)
    with pytest.raises(ConfigError) as refused:
        translator.settings(**{name: value})
    message = str(refused.value)
    assert f"decode.{name}" in message and "\n" not in message and len(message) < 200


@pytest.mark.parametrize(
    "overrides",
    [
        {"length_penalty": 0.0},
        {"length_penalty": LENGTH_PENALTY_LIMIT},
        {"length_penalty": 5e-324},
        {"max_len_ratio": 1e-300},
        {"max_len_ratio": MAX_LEN_RATIO_LIMIT, "max_len_offset": 0},
    ],
)
def test_the_edges_of_every_range_search_without_error(overrides):
    model = TinyRNNModel(20, 10, seed=3)
    src, lengths = random_batch(6, 20, 6, seed=3)
    for beam in (1, 4):
        results = search(model, src, lengths, settings(beam_size=beam, n_best=1, **overrides))
        assert all(len(hyps) == 1 and math.isfinite(hyps[0].log_prob) for hyps in results)


@pytest.mark.parametrize("alpha", [1000.0, 1e308, math.inf])
def test_normalisation_past_floats_range_does_not_overflow(alpha):
    # float(50) ** 1000 raised OverflowError in the search; the divisor is now checked in log space.
    assert normalise(-3.0, 50, alpha) == 0.0
    assert normalise(-3.0, 50, 2.0) == pytest.approx(-3.0 / 2500)
    # The search itself survives such a penalty (built past validation, as a library caller might).
    model = TinyRNNModel(20, 10, seed=4)
    src, lengths = random_batch(4, 20, 6, seed=4)
    unchecked = DecodeConfig.model_construct(
        **{**settings(beam_size=3).model_dump(), "length_penalty": alpha}
    )
    assert all(len(hyps) == 1 for hyps in search(model, src, lengths, unchecked))


def test_a_min_len_above_a_lines_length_cap_is_refused(copy_checkpoint):
    translator = Translator.load(copy_checkpoint)
    lines = ["w1 w2 w3 w4", "w1"]  # caps floor(2 * 4 + 10) = 18 and floor(2 * 1 + 10) = 12
    with pytest.raises(ConfigError) as refused:
        translator.translate(lines, min_len=13)
    assert str(refused.value) == (
        "decode.min_len=13 is more than the 12 output tokens the length cap allows input line 2 "
        "(1 source tokens, decode.max_len_ratio=2.0, decode.max_len_offset=10)"
    )


def test_a_min_len_equal_to_the_cap_gives_exactly_that_many_tokens(copy_checkpoint):
    translator = Translator.load(copy_checkpoint)
    for beam in (1, 3):
        [text] = translator.translate(["w1"], beam_size=beam, min_len=12)
        assert len(text.split()) == 12
