"""`seq2seq evaluate`: BLEU and chrF equal the sacrebleu command line's, and the perplexity equals
exp(mean NLL) recomputed by hand, one sentence at a time, through the trained model."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import pytest
import torch

from seq2seq.cli import main
from seq2seq.data.vocab import EOS_ID


def _evaluate(capsys, *args: str) -> dict:
    assert main(["evaluate", *args, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def _sacrebleu_cli(ref, hyp, *options: str) -> float:
    out = subprocess.run(
        [sys.executable, "-m", "sacrebleu", str(ref), "-i", str(hyp), "-b", "-w", "4", *options],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return float(out.strip())


def test_bleu_and_chrf_equal_the_sacrebleu_command_line(plain_run, test_set, tmp_path, capsys):
    src, ref = test_set
    hyp = tmp_path / "hyp.fr"
    ckpt = str(plain_run / "best.safetensors")
    result = _evaluate(capsys, "--checkpoint", ckpt, "--src", str(src), "--ref", str(ref),
                       "--output", str(hyp), "--beam-size", "2")  # fmt: skip
    assert result["sentences"] == len(hyp.read_text("utf-8").splitlines())
    assert result["bleu"] > 0.0, "the tiny model should have learnt a few words"
    assert round(result["bleu"], 4) == pytest.approx(_sacrebleu_cli(ref, hyp), abs=1e-9)
    assert round(result["chrf"], 4) == pytest.approx(_sacrebleu_cli(ref, hyp, "-m", "chrf"))
    assert result["bleu_signature"].startswith("nrefs:1|case:mixed|eff:no|tok:13a")
    lower = _evaluate(
        capsys, "--hyp", str(hyp), "--src", str(src), "--ref", str(ref), "--lowercase"
    )
    assert round(lower["bleu"], 4) == pytest.approx(_sacrebleu_cli(ref, hyp, "-lc"))
    assert "case:lc" in lower["bleu_signature"] and lower["perplexity"] is None


def _perplexity_by_hand(ckpt, src_path, ref_path) -> float:
    from seq2seq.checkpoint import load_model

    model, config, src_vocab, tgt_vocab = load_model(ckpt)
    sources = src_path.read_text("utf-8").splitlines()
    references = ref_path.read_text("utf-8").splitlines()
    total, tokens = 0.0, 0
    with torch.no_grad():
        for source, reference in zip(sources, references):
            src = src_vocab.encode(source)
            if config.data.reverse_source:
                src = src[::-1]
            gold = tgt_vocab.encode(reference) + [EOS_ID]
            tgt_in = torch.tensor([[tgt_vocab.bos_id] + gold[:-1]])
            logits = model(torch.tensor([src]), torch.tensor([len(src)]), tgt_in)[0]
            log_probs = logits.log_softmax(-1)
            total -= float(sum(log_probs[t, y] for t, y in enumerate(gold)))
            tokens += len(gold)
    return math.exp(total / tokens)


def test_perplexity_is_exp_of_the_mean_nll_of_the_references(plain_run, test_set, capsys):
    src, ref = test_set
    ckpt = plain_run / "best.safetensors"
    result = _evaluate(capsys, "--checkpoint", str(ckpt), "--src", str(src), "--ref", str(ref),
                       "--beam-size", "1")  # fmt: skip
    ppl = result["perplexity"]
    n_ref_tokens = sum(len(line.split()) + 1 for line in ref.read_text("utf-8").splitlines())
    assert ppl["tokens"] == n_ref_tokens
    assert ppl["sentences"] == len(ref.read_text("utf-8").splitlines()) and ppl["skipped"] == 0
    assert ppl["perplexity"] == pytest.approx(_perplexity_by_hand(ckpt, src, ref), rel=1e-5)
    assert 1.0 < ppl["perplexity"] < 2000  # learnt something: well below the 2,004-word vocabulary

    # An ensemble of one model with itself averages equal probabilities: the same perplexity.
    twice = _evaluate(capsys, "--checkpoint", str(ckpt), str(ckpt), "--src", str(src),
                      "--ref", str(ref), "--beam-size", "1")  # fmt: skip
    assert twice["perplexity"]["perplexity"] == pytest.approx(ppl["perplexity"], rel=1e-5)


def test_the_human_summary_prints_scores_with_signatures(plain_run, test_set, capsys):
    src, ref = test_set
    ckpt = str(plain_run / "best.safetensors")
    assert main(["evaluate", "--checkpoint", ckpt, "--src", str(src), "--ref", str(ref)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("BLEU = ") and "BP =" in out[0]
    assert out[1].strip().startswith("nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp|version:")
    assert out[2].startswith("chrF2 = ") and out[3].strip().startswith("nrefs:1|case:mixed")
    assert out[4].startswith("perplexity = ") and "EOS included" in out[4]
    assert "beam 2" in out[5]  # the checkpoint's decode.beam_size


def test_misaligned_files_and_missing_inputs_end_in_one_sentence(test_set, tmp_path, capsys):
    src, ref = test_set
    short = tmp_path / "short.fr"
    short.write_text("une ligne\n", "utf-8")
    assert main(["evaluate", "--hyp", str(short), "--src", str(src), "--ref", str(ref)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and f"{short} has 1 lines but {ref} has" in err
    assert main(["evaluate", "--src", str(src), "--ref", str(ref)]) == 2
    assert "give --checkpoint" in capsys.readouterr().err
    missing = tmp_path / "nope.fr"
    assert main(["evaluate", "--hyp", str(missing), "--src", str(src), "--ref", str(ref)]) == 2
    assert f"file {missing} does not exist" in capsys.readouterr().err


def test_a_chatbot_is_scored_by_its_metrics_with_signatures(test_set, tmp_path, capsys):
    from seq2seq.evaluate.metrics import distinct

    src, ref = test_set
    answers = ["i see .", "i see .", "that is a good question", "i see ."]
    hyp = tmp_path / "answers.txt"
    hyp.write_text("".join(a + "\n" for a in answers), encoding="utf-8")
    short_src, short_ref = tmp_path / "q.txt", tmp_path / "a.txt"
    short_src.write_text("q\n" * 4, encoding="utf-8")
    short_ref.write_text("i see .\nyes\nthat is a question\nno .\n", encoding="utf-8")
    args = ["--src", str(short_src), "--ref", str(short_ref), "--hyp", str(hyp)]
    result = _evaluate(capsys, *args, "--task", "chatbot")
    assert result["task"] == "chatbot"
    metrics = {m["name"]: m for m in result["metrics"]}
    assert list(metrics) == ["bleu", "chrf", "distinct-1", "distinct-2", "length"]
    assert metrics["distinct-2"]["score"] == pytest.approx(distinct(answers, 2)) == 6 / 10
    assert metrics["length"]["score"] == pytest.approx((3 + 3 + 5 + 3) / 4)
    assert metrics["bleu"]["score"] == pytest.approx(result["bleu"])
    assert metrics["distinct-2"]["signature"].startswith("distinct-2|n:2|per:corpus|tok:13a")

    assert main(["evaluate", *args, "--task", "chatbot"]) == 0
    out = capsys.readouterr().out.splitlines()
    at = out.index("distinct-2 = 0.6000")
    assert out[at + 1].strip().startswith("distinct-2|n:2")
    assert out[-1] == "task: chatbot (metrics: bleu, chrf, distinct-1, distinct-2, length)"
    assert _evaluate(capsys, *args)["task"] == "translation"  # no checkpoint, no --task
    assert [m["name"] for m in _evaluate(capsys, *args, "--metrics", "length")["metrics"]] == [
        "length"
    ]
    assert main(["evaluate", *args, "--metrics", "rouge"]) == 2
    assert "--metrics: unknown metric 'rouge'; metrics: bleu, chrf" in capsys.readouterr().err


def test_the_checkpoints_task_chooses_the_metrics(plain_run, test_set, tmp_path, capsys):
    from safetensors import safe_open
    from safetensors.torch import load_file, save_file

    src, ref = test_set
    best = plain_run / "best.safetensors"
    assert (
        _evaluate(capsys, "--checkpoint", str(best), "--src", str(src), "--ref", str(ref))["task"]
        == "translation"
    )
    with safe_open(str(best), framework="pt") as handle:
        meta = handle.metadata()
    chatbot = tmp_path / "chatbot.safetensors"
    save_file(load_file(best), chatbot, metadata={**meta, "task": "chatbot"})
    args = ["--checkpoint", str(chatbot), "--src", str(src), "--ref", str(ref)]
    result = _evaluate(capsys, *args)
    assert result["task"] == "chatbot"
    assert [m["name"] for m in result["metrics"]][2:] == ["distinct-1", "distinct-2", "length"]
    assert main(["evaluate", *args]) == 0
    assert "answered " in capsys.readouterr().out  # worded by the task
