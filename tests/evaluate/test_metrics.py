"""Metrics by task (evaluate/metrics.py): numbers recomputed by hand, signatures, the registry."""

from __future__ import annotations

import math

import pytest
import sacrebleu

from seq2seq.errors import DataError
from seq2seq.evaluate.metrics import (
    METRICS,
    METRICS_BY_TASK,
    distinct,
    metric_names,
    score,
    score_task,
)

ANSWERS = ["I am fine.", "I am here", "fine"]  # 13a tokens: I am fine . | I am here | fine


def test_distinct_n_counts_distinct_ngrams_over_all_answers_by_hand():
    # unigrams: 4 + 3 + 1 = 8, distinct {I, am, fine, ., here} = 5
    assert distinct(ANSWERS, 1) == pytest.approx(5 / 8)
    # bigrams: (I am)(am fine)(fine .) + (I am)(am here) = 5, distinct 4
    assert distinct(ANSWERS, 2) == pytest.approx(4 / 5)


def test_ngrams_do_not_cross_from_one_answer_to_the_next():
    assert distinct(["yes", "no"], 2) == 0.0  # no answer holds a bigram
    assert distinct(["yes yes", "yes yes"], 2) == pytest.approx(1 / 2)
    assert distinct([], 1) == 0.0


def test_a_generic_answer_everywhere_scores_low_diversity():
    generic = ["I see."] * 10
    varied = [f"answer number {i}" for i in range(10)]
    assert distinct(generic, 2) == pytest.approx(1 / 10)
    assert distinct(varied, 1) == pytest.approx(12 / 30)


def test_chatbot_scores_in_order_with_mean_length_by_hand():
    results = score_task("chatbot", ANSWERS, ["I am fine.", "I am there", "good"])
    assert [r.name for r in results] == ["bleu", "chrf", "distinct-1", "distinct-2", "length"]
    by_name = {r.name: r for r in results}
    assert by_name["length"].score == pytest.approx(8 / 3)
    assert by_name["distinct-2"].score == pytest.approx(4 / 5)
    assert by_name["distinct-2"].signature.startswith("distinct-2|n:2|per:corpus|tok:13a|version:")


def test_bleu_by_hand_and_its_sacrebleu_signature():
    # hypothesis "the cat sat on the mat", reference "the cat sat on a mat": clipped precisions
    # 5/6, 3/5, 2/4, 1/3, equal lengths (brevity penalty 1)
    expected = 100 * (5 / 6 * 3 / 5 * 2 / 4 * 1 / 3) ** 0.25
    [result] = score(["bleu"], ["the cat sat on the mat"], ["the cat sat on a mat"])
    assert result.score == pytest.approx(expected, abs=1e-9)
    assert math.isclose(expected, 53.7284965911771, rel_tol=1e-12)
    assert (
        result.signature
        == f"nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp|version:{sacrebleu.__version__}"
    )


def test_chrf_is_sacrebleus():
    hyps, refs = ["여행은 언제나 좋죠."], ["여행은 좋아요."]
    [result] = score(["chrf"], hyps, refs)
    assert result.score == pytest.approx(sacrebleu.corpus_chrf(hyps, [refs]).score)
    assert result.signature.startswith("nrefs:1|case:mixed|eff:yes|nc:6|nw:0|space:no")
    assert score(["chrf"], refs, refs)[0].score == pytest.approx(100.0)


def test_each_task_names_known_metrics():
    assert metric_names("translation") == ["bleu", "chrf"]
    for names in METRICS_BY_TASK.values():
        assert set(names) <= set(METRICS)


def test_an_unknown_task_metric_or_misaligned_lists_is_one_sentence():
    with pytest.raises(
        DataError, match=r"^no metrics for the task 'poetry'; tasks: translation, chatbot"
    ):
        metric_names("poetry")
    with pytest.raises(DataError, match=r"^unknown metric 'rouge'; metrics: bleu, chrf"):
        score(["rouge"], ["a"], ["a"])
    with pytest.raises(DataError, match="references has 1 lines but hypotheses has 2"):
        score(["length"], ["a", "b"], ["a"])
