"""ROUGE-1/2/L F1 (evaluate/metrics.py, from rouge-score): figures by hand, the best of several
references per sentence, the summarisation task's defaults and `seq2seq evaluate --ref` repeated."""

from __future__ import annotations

import json

import pytest

from seq2seq.commands import main
from seq2seq.errors import DataError
from seq2seq.evaluate.metrics import (
    join_references,
    metric_names,
    reference_streams,
    rouge,
    score,
)

pytest.importorskip("rouge_score")


def test_rouge_by_hand_with_its_tokeniser_and_stemming():
    # hyp: meet, tuesday, room (stemmed: meet, tuesdai, room); ref: meet(ing), on, tuesday
    result = rouge(["Meeting: Tuesday, room 5!"], ["meetings on tuesday"])
    f1 = 2 * (2 / 4) * (2 / 3) / (2 / 4 + 2 / 3)  # 2 of 4 hyp tokens, 2 of 3 ref tokens
    assert result["rouge1"] == pytest.approx(100 * f1)
    assert result["rouge2"] == 0.0  # no bigram in common (the ref has "on" between)
    assert result["rougeL"] == pytest.approx(100 * f1)
    unstemmed = rouge(["Meeting: Tuesday, room 5!"], ["meetings on tuesday"], stemming=False)
    assert unstemmed["rouge1"] < result["rouge1"]  # "meeting" != "meetings" without Porter


def test_rouge_is_the_mean_over_sentences_and_an_empty_output_scores_zero():
    result = rouge(["budget review", ""], ["budget review", "anything"])
    assert result == {"rouge1": 50.0, "rouge2": 50.0, "rougeL": 50.0}


def test_several_references_score_the_best_per_sentence_and_variant():
    hyp = ["gas prices for march"]
    refs = ["march gas", "gas prices", "prices for march"]
    each = [rouge(hyp, [r]) for r in refs]
    best = rouge(hyp, join_references([[r] for r in refs]))
    for name in ("rouge1", "rouge2", "rougeL"):
        assert best[name] == pytest.approx(max(e[name] for e in each))
    assert best["rouge2"] == pytest.approx(each[2]["rouge2"])
    assert best["rouge2"] > sum(e["rouge2"] for e in each) / 3  # the best, not the mean


def test_reference_streams_join_and_split_back_and_misalignment_is_one_sentence():
    streams = [["a", "b"], ["c", "d"], ["e", "f"]]
    assert reference_streams(join_references(streams)) == streams
    with pytest.raises(DataError, match="reference list 2 has 1 lines but the first has 2"):
        join_references([["a", "b"], ["c"]])
    with pytest.raises(DataError, match="reference line 2 holds 1 references but line 1 holds 2"):
        reference_streams(["a\nb", "c"])


def test_multi_reference_bleu_counts_every_stream():
    hyp, one, two = ["gas prices for march"], ["march gas"], ["gas prices for march"]
    only_first = score(["bleu"], hyp, one)[0]
    both = score(["bleu"], hyp, join_references([one, two]))[0]
    assert both.score == pytest.approx(100.0)
    assert only_first.score < 50.0
    assert "nrefs:2" in both.signature


def test_summarisation_is_judged_by_rouge_with_stated_settings():
    assert metric_names("summarisation") == ["rouge1", "rouge2", "rougeL", "length"]
    results = score(["rouge1", "rougeL"], ["a b"], [join_references([["a b"], ["c"]])[0]])
    signature = results[0].signature
    assert results[0].score == 100.0
    for part in ("rouge1|f1|mean:sentences|refs:2|multi:max-per-sentence", "stem:porter",
                 "tok:rouge-score-default", "rouge-score:0.1.2"):  # fmt: skip
        assert part in signature


def _write(path, lines):
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def test_evaluate_takes_the_ref_flag_again_for_more_references(tmp_path, capsys):
    src = _write(tmp_path / "dev.src", ["body one", "body two"])
    hyp = _write(tmp_path / "hyp.txt", ["gas prices", "team lunch"])
    subject = _write(tmp_path / "dev.tgt", ["Re: prices", "lunch"])
    anns = [
        _write(tmp_path / f"dev.ann{i}", lines)
        for i, lines in enumerate([["gas prices", "lunch"], ["prices", "team lunch"], ["x", "y"]])
    ]
    base = ["evaluate", "--hyp", str(hyp), "--src", str(src), "--task", "summarisation", "--json"]
    assert main([*base, "--ref", str(subject)]) == 0
    single = json.loads(capsys.readouterr().out)
    refs = [arg for ann in anns for arg in ("--ref", str(ann))]
    assert main([*base, *refs]) == 0
    multi = json.loads(capsys.readouterr().out)
    assert multi["refs"] == [str(a) for a in anns] and multi["ref"] == str(anns[0])
    by_name = {m["name"]: m["score"] for m in multi["metrics"]}
    assert by_name["rouge1"] == by_name["rouge2"] == by_name["rougeL"] == 100.0
    assert {m["name"]: m["score"] for m in single["metrics"]}["rouge1"] < 100.0
    assert "nrefs:3" in multi["bleu_signature"]
    short = _write(tmp_path / "short.ann", ["only one line"])
    assert main([*base, *refs, "--ref", str(short)]) == 2
    err = capsys.readouterr().err
    assert f"{short} has 1 lines but {src} has 2" in err and err.count("\n") == 1
