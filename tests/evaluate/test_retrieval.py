"""The retrieval baseline (evaluate/retrieval.py) on the committed Korean slice: a training
question finds itself, a near-duplicate finds the question it copies, errors are one sentence."""

from __future__ import annotations

from pathlib import Path

import pytest

from seq2seq.data.split import read_csv_pairs, split_pairs
from seq2seq.errors import DataError

pytest.importorskip("sklearn")

from seq2seq.evaluate.retrieval import RetrievalBaseline  # noqa: E402

SLICE = Path(__file__).resolve().parents[1] / "data" / "chatbot-ko" / "ChatbotData.slice.csv.gz"


@pytest.fixture(scope="module")
def split():
    return split_pairs(list(read_csv_pairs(SLICE, "Q", "A")), dev=100, test=100, seed=1)


@pytest.fixture(scope="module", params=["char_wb", "word"])
def baseline(request, split):
    questions, answers = zip(*split.pairs["train"])
    return RetrievalBaseline(questions, answers, analyzer=request.param)


def test_every_training_question_retrieves_itself_or_its_twin(baseline):
    found = baseline.nearest(baseline.questions)
    vectors = baseline.vectorizer.transform(baseline.questions)
    # a twin: another question with the same features (cosine 1 as well, e.g. the same words
    # with other punctuation for the word analyser); the first one in training order wins
    cosines = vectors.multiply(baseline.matrix[found]).sum(axis=1)  # (questions, 1)
    assert cosines.min() == pytest.approx(1.0)
    itself = sum(baseline.questions[i] == q for q, i in zip(baseline.questions, found))
    assert itself >= 0.99 * len(baseline.questions)


@pytest.mark.parametrize(
    "edit",
    [
        lambda q: q + "?",  # punctuation added
        lambda q: "정말 " + q,  # a word added in front ("really ...")
        lambda q: q + " ㅠㅠ",  # a crying emoticon after
    ],
)
def test_a_near_duplicate_retrieves_the_question_it_copies(baseline, edit):
    long_questions = [q for q in baseline.questions if len(q.split()) >= 3][:50]
    found = baseline.nearest([edit(q) for q in long_questions])
    hits = sum(baseline.questions[i] == q for q, i in zip(long_questions, found))
    assert hits >= 45, f"{hits} of 50 near-duplicates found their question"


def test_held_out_questions_get_a_training_answer(baseline, split):
    dev_questions = [q for q, _ in split.pairs["dev"]]
    answers = baseline.answer(dev_questions)
    assert len(answers) == len(dev_questions)
    assert set(answers) <= set(baseline.answers)


def test_a_question_sharing_no_word_gets_the_first_training_answer(split):
    questions, answers = zip(*split.pairs["train"])
    words = RetrievalBaseline(questions, answers, analyzer="word")
    assert words.nearest(["☃☃☃"]) == [0]  # every cosine 0: the first question wins the tie
    chars = RetrievalBaseline(questions, answers, analyzer="char_wb")
    [i] = chars.nearest(["☃☃☃"])  # only the padding space is shared, and it decides
    query = chars.vectorizer.transform(["☃☃☃"])
    assert query.nnz == 1 and query.multiply(chars.matrix[i]).sum() > 0


def test_misaligned_or_empty_training_data_and_bad_settings_are_one_sentence():
    with pytest.raises(
        DataError, match="^2 training questions but 1 answers; they must be aligned$"
    ):
        RetrievalBaseline(["a", "b"], ["x"])
    with pytest.raises(DataError, match="needs at least one training question"):
        RetrievalBaseline([], [])
    with pytest.raises(DataError, match="analyzer must be one of char_wb, word, not 'char'"):
        RetrievalBaseline(["a"], ["x"], analyzer="char")  # type: ignore[arg-type]
    with pytest.raises(DataError, match="n-gram range must be 1 <= low <= high, not 3-1"):
        RetrievalBaseline(["a"], ["x"], ngram_range=(3, 1))
