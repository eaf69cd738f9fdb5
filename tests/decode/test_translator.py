"""Translator: checkpoint -> text, order kept, bad lines handled, <unk> replacement, ensembles."""

from __future__ import annotations

import re

import pytest
import torch
from decode_standins import TARGET_WORDS, copy_sentences

from seq2seq import Translator
from seq2seq.decode.ensemble import Ensemble
from seq2seq.errors import CheckpointError, ConfigError

torch.set_num_threads(1)


def as_target(line: str) -> str:
    """The copy task's reference: source words missing from the target vocabulary become <unk>."""
    return " ".join(w if w in TARGET_WORDS else "<unk>" for w in line.split())


def test_trained_model_copies_and_replace_unk_restores_the_attended_words(copy_checkpoint):
    translator = Translator.load(copy_checkpoint)
    assert translator.reverse_source  # the index mapping below must undo the reversal
    lines = copy_sentences(60, seed=7)
    assert sum("<unk>" in as_target(s) for s in lines) > 20
    plain = translator.translate(lines, beam_size=1)
    assert sum(p == as_target(s) for p, s in zip(plain, lines, strict=True)) >= 57
    replaced = translator.translate(lines, beam_size=3, replace_unk=True)
    assert sum(r == s for r, s in zip(replaced, lines, strict=True)) >= 57


def test_order_is_restored_and_bad_lines_give_empty_outputs(copy_checkpoint, caplog):
    translator = Translator.load(copy_checkpoint, max_src_len=8)
    good = copy_sentences(9, seed=8, min_len=1, max_len=8)
    overlong = " ".join(["w1"] * 9)
    lines = good[:3] + [""] + good[3:6] + [overlong, "   "] + good[6:]
    outputs = translator.translate(lines, beam_size=2, batch_size=2)
    assert len(outputs) == len(lines)
    alone = [translator.translate([s], beam_size=2)[0] for s in good]
    assert [o for o, s in zip(outputs, lines, strict=True) if s.strip() and s != overlong] == alone
    assert outputs[3] == outputs[7] == outputs[8] == ""
    err = caplog.text  # the library warns through logging; the command prints it on stderr
    assert "input line 4 is empty" in err and "input line 9 is empty" in err
    assert "input line 8 has 9 tokens, more than the maximum source length 8" in err


def test_n_best_lists_are_ranked_and_distinct(copy_checkpoint):
    translator = Translator.load(copy_checkpoint)
    lines = copy_sentences(5, seed=9)
    results = translator.translate_hypotheses(lines, translator.settings(beam_size=4, n_best=4))
    for hyps in results:
        assert len(hyps) == 4
        assert [h.score for h in hyps] == sorted((h.score for h in hyps), reverse=True)
        assert len({h.text for h in hyps}) == 4
    assert translator.translate(lines, beam_size=4, n_best=2)[0] == [h.text for h in results[0][:2]]


def test_ensemble_of_one_checkpoint_twice_matches_the_single_model(copy_checkpoint):
    single = Translator.load(copy_checkpoint)
    double = Translator.load([copy_checkpoint, copy_checkpoint])
    assert isinstance(double.model, Ensemble)
    lines = copy_sentences(20, seed=10)
    assert double.translate(lines, beam_size=3) == single.translate(lines, beam_size=3)
    [[hyp]] = double.translate_hypotheses(lines[:1], double.settings(beam_size=2), features=True)
    assert hyp.features["model0"] == pytest.approx(hyp.features["model1"], abs=1e-5)
    assert hyp.features["model0"] == pytest.approx(hyp.log_prob, abs=1e-4)


def test_ensembles_of_different_architectures_decode(random_checkpoints):
    translator = Translator.load([random_checkpoints["gru"], random_checkpoints["lstm"]])
    outputs = translator.translate(copy_sentences(4, seed=11), beam_size=2)
    assert len(outputs) == 4 and all(isinstance(o, str) for o in outputs)


def test_ensemble_scores_average_the_members_token_probabilities(random_checkpoints):
    """`score` combines gold-token probabilities only; it must equal the full-vocabulary mean."""
    from seq2seq.decode.ensemble import mean_of_probs

    translator = Translator.load([random_checkpoints["gru"], random_checkpoints["lstm"]])
    sources = copy_sentences(6, seed=12)
    targets = translator.translate(sources, beam_size=1)
    scores = translator.score(sources, targets)
    members = [Translator.load(random_checkpoints[n]) for n in ("gru", "lstm")]
    singles = [m.score(sources, targets) for m in members]
    for i, (source, target) in enumerate(zip(sources, targets, strict=True)):
        src = torch.tensor([list(reversed(translator.src_vocab.encode(source)))])
        ids = translator.tgt_vocab.encode(target)
        tgt_in = torch.tensor([[translator.tgt_vocab.bos_id, *ids]])
        gold = torch.tensor([[*ids, translator.tgt_vocab.eos_id]])
        with torch.no_grad():
            each = [
                m.model(src, torch.tensor([src.size(1)]), tgt_in).log_softmax(-1) for m in members
            ]
        expected = mean_of_probs(each).gather(2, gold.unsqueeze(2)).sum()
        assert scores[i] == pytest.approx(float(expected), abs=1e-4)
        assert min(s[i] for s in singles) - 1e-4 <= scores[i] <= max(s[i] for s in singles) + 1e-4


def test_ensemble_with_another_target_vocabulary_is_refused(random_checkpoints):
    a, b = random_checkpoints["gru"], random_checkpoints["wide-target"]
    with pytest.raises(CheckpointError) as err:
        Translator.load([a, b])
    message = str(err.value)
    assert str(a) in message and str(b) in message and "different target vocabularies" in message
    assert "(19 vs 24 entries)" in message


@pytest.mark.parametrize(
    ("other", "problem"),
    [
        ("other-source", "different source vocabularies (24 vs 22 entries)"),
        ("forward", "disagree on data.reverse_source"),
    ],
)
def test_ensemble_members_must_read_the_same_source(random_checkpoints, other, problem):
    with pytest.raises(CheckpointError, match=re.escape(problem)) as err:
        Translator.load([random_checkpoints["gru"], random_checkpoints[other]])
    assert str(random_checkpoints[other]) in str(err.value)


def test_bad_settings_are_one_sentence(copy_checkpoint, random_checkpoints):
    translator = Translator.load(copy_checkpoint)
    with pytest.raises(ConfigError, match="n_best=4 cannot exceed beam_size=2"):
        translator.translate(["w1"], beam_size=2, n_best=4)
    with pytest.raises(ConfigError, match="beam_size"):
        translator.translate(["w1"], beam_size=0)
    no_attention = Translator.load(random_checkpoints["gru"])
    with pytest.raises(ConfigError, match="--replace-unk needs a model with attention"):
        no_attention.translate(["w1"], replace_unk=True)


def test_bf16_search_translates_as_well_as_fp32(copy_checkpoint):
    translator = Translator.load(copy_checkpoint)
    lines = copy_sentences(60, seed=11)
    fp32 = translator.translate(lines, beam_size=3)
    bf16 = translator.translate(lines, beam_size=3, precision="bf16")
    assert sum(b == as_target(s) for b, s in zip(bf16, lines, strict=True)) >= 57
    assert sum(b == f for b, f in zip(bf16, fp32, strict=True)) >= 57


def test_auto_precision_is_bf16_exactly_where_the_hardware_is_fast():
    from seq2seq.precision import autocast, has_fast_bf16, resolve

    cpu = torch.device("cpu")
    assert resolve("auto", cpu) == ("bf16" if has_fast_bf16(cpu) else "fp32")
    assert resolve("fp32", cpu) == "fp32" and resolve("bf16", cpu) == "bf16"
    with autocast("bf16", cpu):
        assert (torch.ones(2, 3) @ torch.ones(3, 2)).dtype == torch.bfloat16
    with autocast("fp32", cpu):
        assert (torch.ones(2, 3) @ torch.ones(3, 2)).dtype == torch.float32


def test_a_decode_option_reaches_the_search_from_the_api_and_the_command_line(
    copy_checkpoint, tmp_path
):
    """min_len lives in DecodeConfig and the search only; the flag and the keyword follow."""
    from seq2seq.commands import main

    translator = Translator.load(copy_checkpoint)
    lines = ["w1", "w2 w3"]
    short = translator.translate(lines, beam_size=2)
    longer = translator.translate(lines, beam_size=2, min_len=6)
    assert min(len(t.split()) for t in short) < 6
    assert all(len(t.split()) >= 6 for t in longer)
    src = tmp_path / "in.txt"
    src.write_text("\n".join(lines) + "\n", "utf-8")
    out = tmp_path / "out.txt"
    args = ["translate", "--checkpoint", str(copy_checkpoint), "--input", str(src)]
    assert main([*args, "--output", str(out), "--beam-size", "2", "--min-len", "6"]) == 0
    assert out.read_text("utf-8").splitlines() == longer
