"""The head-to-head harness (benchmarks/peers) without the peers installed: the configs say the
same model in each toolkit's terms, logs parse, throughput and the goal verdicts compute right."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.peers import peer_configs as pc  # noqa: E402
from benchmarks.peers import table  # noqa: E402
from benchmarks.peers.install import JOEY_BWD, JOEY_BWD_PATCHED, patch_joey_encoder  # noqa: E402
from benchmarks.peers.peer_data import encode_lines, peer_vocab  # noqa: E402
from benchmarks.peers.systems import (  # noqa: E402
    JOEY_PPL,
    JOEY_STEP,
    ONMT_PPL,
    ONMT_STEP,
    TrainLog,
    parse_lines,
    throughput,
)

from seq2seq.config import config_from_dict  # noqa: E402

P = Path("/data")


@pytest.mark.parametrize("model", pc.MODELS)
def test_ours_config_is_valid_and_matches_the_shared_shape(model):
    cfg = config_from_dict(pc.ours_config(model, P, P / "run", 12, 500))
    m, t = cfg.model, cfg.train
    assert (m.layers, m.embedding_size, m.hidden_size, m.dropout) == (2, 256, 256, 0.2)
    assert (t.optimizer, t.lr, t.schedule, t.threads, cfg.data.batch_size) == (
        "adam",
        1e-3,
        "constant",
        2,
        64,
    )
    assert (m.context == "attention") == (model == "attention")
    assert m.input_feeding == (model == "attention")
    assert (t.precision, cfg.decode.precision, cfg.decode.shortlist) == ("fp32", "fp32", False)
    fast = config_from_dict(pc.ours_config(model, P, P / "run", 12, 500, "auto", True))
    assert (fast.train.precision, fast.decode.precision, fast.decode.shortlist) == (
        "auto",
        "auto",
        True,
    )


def test_onmt_configs_differ_only_in_attention():
    plain = pc.onmt_config("plain", P, P / "v", P / "run", 500)
    attn = pc.onmt_config("attention", P, P / "v", P / "run", 500)
    diff = {k for k in plain if plain[k] != attn[k]}
    assert diff == {"global_attention", "input_feed"}
    assert (plain["global_attention"], plain["input_feed"], plain["bridge"]) == ("none", 0, False)
    assert (attn["global_attention"], attn["input_feed"]) == ("general", 1)
    assert plain["bucket_size"] == 16384 and plain["batch_type"] == "sents"
    yaml.safe_load(yaml.safe_dump(plain))  # YAML round trip


def test_joey_config_rules_from_peers_md():
    cfg = pc.joey_config("attention", P, P / "v", P / "run", 500, beam=5)
    tr, dec, enc = cfg["training"], cfg["model"]["decoder"], cfg["model"]["encoder"]
    assert tr["logging_freq"] < tr["validation_freq"]
    assert (tr["scheduling"], tr["decrease_factor"]) == ("exponential", 1.0)
    assert enc["bidirectional"] is False and dec["attention"] == "luong"
    assert cfg["testing"]["beam_size"] == 5 and cfg["testing"]["batch_size"] == 64
    assert not pc.supports("joey", "plain")
    with pytest.raises(ValueError):
        pc.joey_config("plain", P, P / "v", P / "run", 500)


def test_joey_patch_is_applied_once(tmp_path):
    enc = tmp_path / "lib" / "python3.11" / "site-packages" / "joeynmt" / "encoders.py"
    enc.parent.mkdir(parents=True)
    enc.write_text(f"x = 1\n        {JOEY_BWD}\n")
    assert patch_joey_encoder(tmp_path) and patch_joey_encoder(tmp_path)
    text = enc.read_text()
    assert text.count(JOEY_BWD_PATCHED) == 1 and f"{JOEY_BWD}\n" not in text


def test_log_parsing_of_both_peers():
    onmt = [
        (10.0, "[2026 INFO] Step 50/10000000; acc: 5.1; ppl: 900.2; xent: 6.8; 900/1000 tok/s;"),
        (20.0, "[2026 INFO] Validation perplexity: 123.5"),
        (30.0, "[2026 INFO] Step 100/10000000; acc: 9.0; ppl: 300.0; xent: 5.7;"),
    ]
    log = parse_lines(onmt, ONMT_STEP, ONMT_PPL)
    assert log.reports == [(10.0, 50), (30.0, 100)] and log.dev_ppl == 123.5
    joey = [
        (5.0, "Epoch   1, Step:       50, Batch Loss:  5.1, Tokens per Sec:  1200, Lr: 0.001"),
        (9.0, "Evaluation result (greedy) loss: 4.2, ppl:  66.70, acc: 0.2, generation: 3s"),
    ]
    log = parse_lines(joey, JOEY_STEP, JOEY_PPL)
    assert log.reports == [(5.0, 50)] and log.dev_ppl == 66.7


def test_throughput_formula():
    log = TrainLog([(10.0, 50), (20.0, 60), (30.0, 150)], None)
    # 100 steps x 64 sentences x 15 tokens in 20 s
    assert throughput(log, 15.0) == pytest.approx(100 * 64 * 15 / 20)
    assert throughput(TrainLog([(1.0, 1)], None), 15.0) is None


def _row(system, model, tok, beam, bleu):
    return {
        "system": system,
        "model": model,
        "train_tok_s": tok,
        "beam5_sent_s": beam,
        "bleu_beam5": bleu,
        "greedy_sent_s": None,
        "bleu_greedy": None,
    }


def test_ratios_and_goals_from_fake_measurements():
    rows = [
        _row("seq2seq", "attention", 6000.0, 300.0, 20.0),
        _row("onmt", "attention", 3000.0, 90.0, 17.0),
        _row("joey", "attention", 1000.0, 50.0, 19.0),
        _row("seq2seq", "plain", 4000.0, 100.0, 12.0),
        _row("onmt", "plain", 3000.0, 90.0, 11.0),
        {"system": "joey", "model": "plain", "unsupported": "no"},
    ]
    comps = {(c["model"], c["peer"]): c for c in table.comparisons(rows)}
    assert set(comps) == {("attention", "onmt"), ("attention", "joey"), ("plain", "onmt")}
    assert comps[("attention", "onmt")]["train_tok_s_ratio"] == pytest.approx(2.0)
    assert comps[("attention", "joey")]["bleu_beam5_diff"] == pytest.approx(1.0)
    verdicts = {(g["model"], g["metric"]): g["met"] for g in table.goals(rows)}
    assert verdicts[("attention", "train_tok_s")] is True  # 6000 >= 1.5 x 3000
    assert verdicts[("attention", "beam5_sent_s")] is True  # 300 >= 3 x 90
    assert verdicts[("attention", "bleu_beam5")] is False  # 20 < 19 + 2
    assert verdicts[("plain", "train_tok_s")] is False  # 4000 < 4500
    text = table.markdown(
        {
            "date": "d",
            "machine": "m",
            "minutes": 1,
            "rows": rows,
            "comparisons": table.comparisons(rows),
            "goals": table.goals(rows),
            "notes": ["n"],
        }
    )
    assert "2.00x" in text and "missed" in text and "no" in text


def test_peer_vocab_and_encoding_with_a_real_sentencepiece_model(tmp_path):
    spm = pytest.importorskip("sentencepiece")
    lines = ["a small dog runs on the grass", "two men play football in a park"] * 50
    prefix = tmp_path / "sp"
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(lines),
        model_prefix=str(prefix),
        vocab_size=40,
        model_type="bpe",
        pad_id=0,
        unk_id=1,
        bos_id=2,
        eos_id=3,
        pad_piece="<pad>",
        bos_piece="<bos>",
        eos_piece="<eos>",
    )
    proc = spm.SentencePieceProcessor(model_file=f"{prefix}.model")
    vocab = peer_vocab(proc)
    assert len(vocab) == 36 and not {"<pad>", "<unk>", "<bos>", "<eos>"} & set(vocab)
    forward, backward = encode_lines(proc, lines[:1]), encode_lines(proc, lines[:1], reverse=True)
    assert forward[0].split() == backward[0].split()[::-1]
    assert proc.decode_pieces(forward[0].split()) == lines[0]
