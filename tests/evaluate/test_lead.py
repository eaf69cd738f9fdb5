"""LEAD (evaluate/lead.py): the first sentence, cut to the training subjects' mean length."""

from __future__ import annotations

import pytest

from seq2seq.errors import DataError
from seq2seq.evaluate.lead import first_sentence, lead, lead_for, mean_length


def test_the_first_sentence_ends_at_a_full_stop_followed_by_a_space():
    assert first_sentence("Hi Jo,  the 3.5 MW deal is done. Call me!") == (
        "Hi Jo, the 3.5 MW deal is done."
    )
    assert first_sentence('He said "stop." Then left.') == 'He said "stop."'
    assert first_sentence("No full stop at all") == "No full stop at all"
    assert first_sentence("Why? Because.") == "Why?"


def test_lead_cuts_the_first_sentence_to_the_length_in_word_tokens():
    bodies = ["Gas prices for March are attached, see below. Thanks", "Short one. Then more."]
    assert lead(bodies, 5) == ["Gas prices for March are", "Short one."]
    assert lead(bodies, 6) == ["Gas prices for March are attached", "Short one."]
    assert lead(bodies, 7) == ["Gas prices for March are attached,", "Short one."]  # "," counts


def test_the_length_is_the_training_targets_mean_rounded():
    targets = ["Re: gas", "budget review", "q3 numbers for the new team"]  # 3 + 2 + 6 tokens
    assert mean_length(targets) == pytest.approx(11 / 3)
    outputs, length = lead_for(["One two three four five six."], targets)
    assert length == 4 and outputs == ["One two three four"]


def test_bad_lengths_are_one_sentence():
    with pytest.raises(DataError, match="at least one token, not 0"):
        lead(["x"], 0)
    with pytest.raises(DataError, match="at least one training target"):
        mean_length([])
