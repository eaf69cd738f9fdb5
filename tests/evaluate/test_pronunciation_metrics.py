"""G2P metrics (evaluate/metrics.py): word and phoneme error rates against the closest of several
reference pronunciations, with and without stress digits; numbers computed by hand."""

from __future__ import annotations

import pytest

from seq2seq.errors import DataError
from seq2seq.evaluate.metrics import (
    alternatives,
    group_by_source,
    metric_names,
    pronunciation_errors,
    score,
    score_task,
    without_stress,
)

# tomato: the output is the second reference exactly (right, 0 edits, closest length 6)
# read:   one substitution from either reference with stress (wrong; the tie takes the first, 3);
#         without stress it is "R IY D", the first reference (right)
# cat:    one insertion (wrong, 1 edit of 3)
# dog:    no output: three deletions (wrong, 3 of 3)
SOURCES = ["tomato", "tomato", "read", "read", "cat", "dog"]
LINES = ["T AH0 M EY1 T OW2", "T AH0 M AA1 T OW2", "R IY1 D", "R EH1 D", "K AE1 T", "D AO1 G"]
OUTPUT = {"tomato": "T AH0 M AA1 T OW2", "read": "R IY0 D", "cat": "K AE1 T S", "dog": ""}
HYPS = [OUTPUT[s] for s in SOURCES]
WORD_REFS = ["T AH0 M EY1 T OW2 | T AH0 M AA1 T OW2", "R IY1 D | R EH1 D", "K AE1 T", "D AO1 G"]
WORD_HYPS = [OUTPUT[w] for w in ("tomato", "read", "cat", "dog")]
NAMES = ["wer", "per", "wer-no-stress", "per-no-stress"]
EXPECTED = [
    75.0,
    100 * 5 / 15,
    50.0,
    100 * 4 / 15,
]  # wrong 3/4, edits 0+1+1+3 of 6+3+3+3; 2/4, 4/15


def test_error_rates_on_one_line_per_word_with_alternatives():
    assert pronunciation_errors(WORD_HYPS, WORD_REFS) == (3, 5, 15)
    assert pronunciation_errors(WORD_HYPS, WORD_REFS, stress=False) == (2, 4, 15)
    scores = score(NAMES, WORD_HYPS, WORD_REFS)
    assert [s.name for s in scores] == NAMES
    assert [s.score for s in scores] == pytest.approx(EXPECTED)
    assert "stress:removed" in scores[2].signature and "|jiwer:" in scores[0].signature
    assert scores[0].signature.startswith("wer|words:4|refs:closest-of-alternatives|stress:kept")


def test_repeated_source_lines_are_grouped_into_one_word_with_every_reference():
    hyps, refs = group_by_source(SOURCES, HYPS, LINES)
    assert hyps == WORD_HYPS and refs == WORD_REFS
    assert [s.score for s in score(NAMES, HYPS, LINES, SOURCES)] == pytest.approx(EXPECTED)
    # without the sources every line is a word of its own: tomato's first line is then wrong
    assert score(["wer"], HYPS, LINES)[0].score == pytest.approx(100 * 5 / 6)
    # BLEU and the other line metrics still see every line
    assert score(["length", "wer"], HYPS, LINES, SOURCES)[0].score == pytest.approx(
        22 / 6
    )  # 6+6+3+3+4+0


def test_the_closest_reference_decides_the_length_and_a_tie_goes_to_the_first():
    assert pronunciation_errors(["A"], ["A B C | A B"]) == (1, 1, 2)  # 1 from "A B", 2 from "A B C"
    assert pronunciation_errors(["A C"], ["A B | A B C"]) == (1, 1, 2)  # 1 from each: the first
    assert pronunciation_errors(["A C"], ["A B C | A B"]) == (1, 1, 3)


def test_stress_digits_and_bad_references():
    assert without_stress(["AH0", "B", "AW1", "T", "ER2", "7"]) == ["AH", "B", "AW", "T", "ER", "7"]
    assert alternatives("AH0 B | AH1  B", stress=False) == [["AH", "B"], ["AH", "B"]]
    with pytest.raises(DataError, match="empty pronunciation"):
        alternatives("AH0 B | ")


def test_the_pronunciation_task_is_judged_by_them(tmp_path):
    from seq2seq.evaluate.evaluate import evaluate, format_result

    assert metric_names("pronunciation") == NAMES
    assert [s.score for s in score_task("pronunciation", HYPS, LINES, SOURCES)] == pytest.approx(
        EXPECTED
    )
    paths = {}
    for name, lines in (("src", SOURCES), ("ref", LINES), ("hyp", HYPS)):
        paths[name] = tmp_path / name
        paths[name].write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    result = evaluate(paths["src"], paths["ref"], hyp=paths["hyp"], task="pronunciation")
    assert [m["score"] for m in result["metrics"]] == pytest.approx(EXPECTED)
    assert "wer-no-stress = 50.0000" in format_result(result)
