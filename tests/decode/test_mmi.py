"""MMI-bidi re-ranking (decode/mmi.py, `seq2seq rescore --backward`): λ = 0 is the forward
order, a backward model that prefers one candidate moves it up, tuning picks the best λ."""

from __future__ import annotations

import math

import pytest
import torch
from decode_standins import copy_sentences

from seq2seq import Translator
from seq2seq.cli import main
from seq2seq.decode.mmi import (
    Candidate,
    add_backward,
    best_texts,
    mmi_candidates,
    rerank,
    search_candidates,
    tune_weight,
)
from seq2seq.errors import ConfigError
from seq2seq.evaluate.metrics import bleu

torch.set_num_threads(1)


def _exact(hyps: list[str], refs: list[str]) -> float:
    return sum(h == r for h, r in zip(hyps, refs, strict=True)) / len(refs)


def test_weight_zero_keeps_the_forward_order_and_a_weight_flips_it():
    cands = [[Candidate("i don't know", -0.5, -40.0), Candidate("the red bus", -0.9, -8.0)]]
    assert best_texts(rerank(cands, 0.0)) == ["i don't know"]
    ranked = rerank(cands, 0.1)  # -0.5 - 4.0 < -0.9 - 0.8
    assert best_texts(ranked) == ["the red bus"]
    assert ranked[0][0].score == pytest.approx(-0.9 + 0.1 * -8.0)
    # an empty answer is last once λ > 0; a length bonus counts words
    empty = [[Candidate("", -0.1, -math.inf), Candidate("yes", -0.4, -5.0)]]
    assert best_texts(rerank(empty, 0.0)) == [""]  # no NaN from 0 * -inf
    assert best_texts(rerank(empty, 0.5)) == ["yes"]
    assert best_texts(rerank(empty, 0.0, length_bonus=1.0)) == ["yes"]
    with pytest.raises(ConfigError, match="λ must be a finite number >= 0"):
        rerank(cands, -1.0)


def test_tuning_picks_the_weight_with_the_best_metric():
    # sentence 1 needs λ > 0.5 to reach its reference; sentence 2 loses its reference past λ = 1
    dev = [
        [Candidate("generic", -1.0, -10.0), Candidate("right one", -2.0, -8.0)],
        [Candidate("right two", -1.0, -10.0), Candidate("wrong", -3.0, -8.0)],
    ]
    refs = ["right one", "right two"]
    weight, values = tune_weight(dev, refs, _exact)
    assert weight == 0.6  # the smallest λ of the grid at the maximum (0.6 ... 0.9: both right)
    assert values[0.0] == 0.5 and values[0.6] == 1.0 and values[1.5] == 0.5
    # the same case in sentences BLEU can count (4-grams), judged by sacreBLEU
    long = {"generic": "i do not know that", "wrong": "a b c d e f"}
    long |= {"right one": "the red bus is late today", "right two": "we met at the old bridge"}
    dev = [[Candidate(long[c.text], c.forward, c.backward) for c in cands] for cands in dev]
    refs = [long[r] for r in refs]
    bleu_weight, by_weight = tune_weight(
        dev, refs, lambda h, r: bleu(h, r).score, grid=(0.0, 0.7, 1.4)
    )
    assert by_weight[0.7] == pytest.approx(100.0) and by_weight[0.0] < 100.0
    assert bleu_weight == 0.7


class PreferringBackward:
    """A backward 'model' that strongly prefers one answer: log p(S | T) = 0 for it, -50 else."""

    def __init__(self, preferred: str) -> None:
        self.preferred = preferred

    def score(self, sources, targets, batch_size=64):
        return [0.0 if s == self.preferred else -50.0 for s in sources]


def test_a_backward_model_moves_its_favourite_to_the_top(copy_checkpoint):
    forward = Translator.load(copy_checkpoint)
    settings = forward.settings(beam_size=4, n_best=4)
    [line] = copy_sentences(1, seed=5)
    order = [t.text for t in forward.translate_hypotheses([line], settings)[0]]
    assert len(set(order)) == 4
    unmoved = mmi_candidates(forward, PreferringBackward(order[2]), [line], settings)
    assert [c.text for c in rerank(unmoved, 0.0)[0]] == order  # λ = 0: the forward n-best
    assert best_texts(rerank(unmoved, 1.0)) == [order[2]]
    # the real backward model: the copy model reads the answer and scores the question
    candidates = search_candidates(forward, [line], settings)
    add_backward(forward, [line], candidates)
    assert all(math.isfinite(c.backward) for c in candidates[0])


def test_rescore_mmi_command_with_an_external_list_and_tuning(copy_checkpoint, tmp_path, capsys):
    src, nbest, out = tmp_path / "test.q", tmp_path / "test.nbest", tmp_path / "out"
    src.write_text("w1 w2 w3\nw4 w5\n", encoding="utf-8")
    nbest.write_text(  # the forward favourite of each line is generic; the copy is second
        "0 ||| w9 ||| f= 1 ||| -0.2\n0 ||| w1 w2 w3 ||| f= 1 ||| -0.9\n"
        "1 ||| w9 ||| f= 1 ||| -0.2\n1 ||| w4 w5 ||| f= 1 ||| -0.7\n",
        encoding="utf-8",
    )
    base = ["rescore", "--backward", str(copy_checkpoint), "--src", str(src), "--nbest", str(nbest)]
    assert main([*base, "--backward-weight", "0", "--output", str(out)]) == 0
    assert out.read_text(encoding="utf-8").splitlines() == ["w9", "w9"]
    full = tmp_path / "full.nbest"
    argv = [*base, "--backward-weight", "1", "--output", str(out), "--nbest-output", str(full)]
    assert main(argv) == 0
    assert out.read_text(encoding="utf-8").splitlines() == ["w1 w2 w3", "w4 w5"]
    first = full.read_text(encoding="utf-8").splitlines()[0].split(" ||| ")
    assert first[1] == "w1 w2 w3" and first[2].startswith("forward= -0.9 backward= -")
    # tuning on a dev set needs the forward model, which writes the dev n-best itself
    dev_q, dev_a = tmp_path / "dev.q", tmp_path / "dev.a"
    lines = copy_sentences(6, seed=8)
    dev_q.write_text("\n".join(lines) + "\n", encoding="utf-8")
    dev_a.write_text("\n".join(lines) + "\n", encoding="utf-8")
    tune = [
        "--checkpoint",
        str(copy_checkpoint),
        "--tune-src",
        str(dev_q),
        "--tune-ref",
        str(dev_a),
    ]
    assert main([*base, *tune, "--n-best", "3", "--grid", "0,1", "--output", str(out)]) == 0
    err = capsys.readouterr().err
    assert "dev BLEU by λ" in err and "chosen λ=" in err


@pytest.mark.parametrize(
    "flags, problem",
    [
        (["--tune-src", "{src}"], "--tune-src and --tune-ref go together"),
        (["--tune-src", "{src}", "--tune-ref", "{src}"], "needs the forward --checkpoint"),
        (["--grid", "0,x"], "--grid must be numbers"),
        (["--grid", "-1"], "--grid must be finite numbers >= 0"),
    ],
)
def test_rescore_mmi_flags_are_checked_in_one_sentence(
    copy_checkpoint, tmp_path, capsys, flags, problem
):
    src = tmp_path / "src.txt"
    src.write_text("w1\n", encoding="utf-8")
    nbest = tmp_path / "x.nbest"
    nbest.write_text("0 ||| w1 ||| f= 1 ||| -1\n", encoding="utf-8")
    argv = ["rescore", "--backward", str(copy_checkpoint), "--src", str(src), "--nbest", str(nbest)]
    argv += [f.format(src=src) for f in flags] + ["--output", str(tmp_path / "o")]
    assert main(argv) == 2
    assert problem in capsys.readouterr().err


def test_rescore_without_a_list_or_a_backward_model_says_so(copy_checkpoint, tmp_path, capsys):
    src = tmp_path / "src.txt"
    src.write_text("w1\n", encoding="utf-8")
    argv = ["rescore", "--checkpoint", str(copy_checkpoint), "--src", str(src)]
    assert main([*argv, "--output", str(tmp_path / "o")]) == 2
    assert "rescore needs --nbest" in capsys.readouterr().err
