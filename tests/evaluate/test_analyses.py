"""`seq2seq analyze`: every number in the CSVs is recomputed here independently (bucketing by
hand, sacreBLEU on each bucket's lines, ranks from a fresh count, numpy's SVD, a greedy decode by
hand for the attention map), and every PNG is a real image."""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import sacrebleu
import torch

from seq2seq.cli import main
from seq2seq.decode.translator import Translator

EDGES = (8, 11, 14, 18)


def _csv(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    with open(path, encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))
    return rows[0], [dict(zip(rows[0], row)) for row in rows[1:]]


def _check_png(path: Path) -> None:
    import matplotlib.image

    image = matplotlib.image.imread(path)
    assert image.shape[0] > 200 and image.shape[1] > 300
    assert float(image[..., :3].std()) > 0.01, f"{path} looks blank"


def _lines(path: Path) -> list[str]:
    return path.read_text("utf-8").splitlines()


def _bleu(hyps, refs, rows) -> float:
    return sacrebleu.corpus_bleu([hyps[i] for i in rows], [[refs[i] for i in rows]]).score


@pytest.fixture(scope="module")
def tiny_hyps(plain_run, test_set) -> list[str]:
    """The plain model's translations with its own decode settings, made here, not by analyze."""
    return Translator.load(plain_run / "best.safetensors").translate(_lines(test_set[0]))


def test_bleu_by_length_matches_sacrebleu_on_each_bucket(
    plain_run, test_set, degraded_hyp, tiny_hyps, tmp_path
):
    src, ref = test_set
    out = tmp_path / "an"
    ckpt = plain_run / "best.safetensors"
    assert main(["analyze", "length", "--src", str(src), "--ref", str(ref),
                 "--system", f"degraded={degraded_hyp}", "--checkpoint", f"tiny={ckpt}",
                 "--buckets", ",".join(map(str, EDGES)), "--out", str(out)]) == 0  # fmt: skip
    header, rows = _csv(out / "bleu_by_length.csv")
    assert header == ["bucket", "min_words", "max_words", "sentences", "degraded", "tiny"]
    sources, refs = _lines(src), _lines(ref)
    systems = {"degraded": _lines(degraded_hyp), "tiny": tiny_hyps}
    bounds = [(1, 8), (9, 11), (12, 14), (15, 18), (19, 10**9)]
    expected = []
    for low, high in bounds:
        members = [i for i, s in enumerate(sources) if low <= len(s.split()) <= high]
        if members:
            expected.append((low, members))
    assert [int(r["min_words"]) for r in rows] == [low for low, _ in expected]
    assert rows[-1]["bucket"] == "19+" and rows[-1]["max_words"] == ""
    assert sum(int(r["sentences"]) for r in rows) == len(sources)
    for row, (_, members) in zip(rows, expected):
        assert int(row["sentences"]) == len(members)
        for name, hyps in systems.items():
            assert float(row[name]) == pytest.approx(_bleu(hyps, refs, members), abs=1e-5)
    # The stand-in keeps short sentences whole and halves long ones: BLEU must fall with length.
    degraded = [float(r["degraded"]) for r in rows]
    assert degraded[0] > 80 and degraded[-1] < degraded[0] - 20
    _check_png(out / "bleu_by_length.png")


def _mean_rank_groups(sources, ranks, unseen, groups, tokenize=str.split):
    means = {}
    for i, line in enumerate(sources):
        words = tokenize(line)
        means[i] = np.mean([ranks.get(w, unseen) for w in words])
    order = sorted(means, key=lambda i: (means[i], i))
    size, extra = divmod(len(order), groups)
    cuts, start = [], 0
    for g in range(groups):
        end = start + size + (1 if g < extra else 0)
        cuts.append(order[start:end])
        start = end
    return means, cuts


def test_bleu_by_rarity_ranks_from_the_training_file(data_dir, test_set, degraded_hyp, tmp_path):
    src, ref = test_set
    train_src = data_dir.parent / "train.en"
    out = tmp_path / "an"
    assert main(["analyze", "rarity", "--src", str(src), "--ref", str(ref),
                 "--system", f"degraded={degraded_hyp}", "--train-src", str(train_src),
                 "--groups", "4", "--out", str(out)]) == 0  # fmt: skip
    _, rows = _csv(out / "bleu_by_rarity.csv")
    counts = Counter(w for line in _lines(train_src) for w in line.split())
    by_frequency = sorted(counts, key=lambda w: (-counts[w], w))
    ranks = {w: k + 1 for k, w in enumerate(by_frequency)}
    sources, refs, hyps = _lines(src), _lines(ref), _lines(degraded_hyp)
    means, groups = _mean_rank_groups(sources, ranks, len(ranks) + 1, 4)
    assert [int(r["sentences"]) for r in rows] == [len(g) for g in groups] == [38, 38, 37, 37]
    for row, members in zip(rows, groups):
        values = [means[i] for i in members]
        assert float(row["min_mean_rank"]) == pytest.approx(min(values), rel=1e-6)
        assert float(row["max_mean_rank"]) == pytest.approx(max(values), rel=1e-6)
        assert float(row["mean_rank"]) == pytest.approx(np.mean(values), rel=1e-6)
        assert float(row["degraded"]) == pytest.approx(_bleu(hyps, refs, members), abs=1e-5)
    assert float(rows[0]["max_mean_rank"]) <= float(rows[1]["min_mean_rank"])
    _check_png(out / "bleu_by_rarity.png")


def test_bleu_by_rarity_ranks_from_the_checkpoint_vocabulary(
    plain_run, test_set, tiny_hyps, tmp_path
):
    src, ref = test_set
    ckpt = plain_run / "best.safetensors"
    out = tmp_path / "an"
    assert main(["analyze", "rarity", "--src", str(src), "--ref", str(ref),
                 "--checkpoint", f"tiny={ckpt}", "--groups", "3", "--out", str(out)]) == 0  # fmt: skip
    _, rows = _csv(out / "bleu_by_rarity.csv")
    vocab = Translator.load(ckpt).src_vocab
    words = vocab.tokens[4:]  # ids 4.. are the training words by falling frequency
    ranks = {w: k + 1 for k, w in enumerate(words)}
    lower = lambda s: s.lower().split()  # noqa: E731  (the vocabulary was built lower-cased)
    means, groups = _mean_rank_groups(_lines(src), ranks, len(words) + 1, 3, lower)
    for row, members in zip(rows, groups):
        assert float(row["mean_rank"]) == pytest.approx(np.mean([means[i] for i in members]))
        assert float(row["tiny"]) == pytest.approx(_bleu(tiny_hyps, _lines(ref), members), abs=1e-5)


def _vectors_by_hand(ckpt: Path, phrases: list[str]) -> np.ndarray:
    from seq2seq.checkpoint import load_model

    model, config, src_vocab, _ = load_model(ckpt)
    rows = []
    with torch.no_grad():
        for phrase in phrases:
            ids = src_vocab.encode(phrase)
            ids = ids[::-1] if config.data.reverse_source else ids
            encoded = model.encode(torch.tensor([ids]), torch.tensor([len(ids)]))
            rows.append(encoded.h[-1, 0].double().numpy())
    return np.stack(rows)


def test_pca_coordinates_match_numpy_svd_up_to_sign(plain_run, tmp_path):
    from seq2seq.evaluate.probes import default_phrases_path, read_phrases

    ckpt = plain_run / "best.safetensors"
    out = tmp_path / "an"
    assert main(["analyze", "pca", "--checkpoint", str(ckpt), "--out", str(out)]) == 0
    _, rows = _csv(out / "pca.csv")
    phrases = read_phrases(default_phrases_path())
    assert [(r["group"], r["phrase"]) for r in rows] == [(p.group, p.text) for p in phrases]
    assert len({p.group for p in phrases}) >= 6 and "She was given a card by me in the garden" in [
        p.text for p in phrases
    ]
    vectors = _vectors_by_hand(ckpt, [p.text for p in phrases])
    centred = vectors - vectors.mean(axis=0)
    u, s, _ = np.linalg.svd(centred)
    expected = u[:, :2] * s[:2]
    got = np.array([[float(r["pc1"]), float(r["pc2"])] for r in rows])
    for k in range(2):
        sign = np.sign(got[:, k] @ expected[:, k])
        np.testing.assert_allclose(got[:, k], sign * expected[:, k], atol=1e-5)
    _check_png(out / "pca.png")


def test_sentence_vectors_join_both_directions_of_a_bidirectional_encoder(tmp_path):
    from seq2seq.checkpoint import checkpoint_bytes, write_atomic
    from seq2seq.config import Config
    from seq2seq.data.vocab import WordVocab
    from seq2seq.evaluate.probes import sentence_vectors
    from seq2seq.model.seq2seq import Seq2Seq

    torch.manual_seed(0)
    config = Config.model_validate(
        {"model": {"embedding_size": 8, "hidden_size": 6, "layers": 2, "bidirectional": True}}
    )
    vocab = WordVocab(["a", "b", "c", "d"])
    model = Seq2Seq(config.model, len(vocab), len(vocab))
    write_atomic(tmp_path / "bi.safetensors", checkpoint_bytes(model, config, vocab, vocab))
    translator = Translator.load(tmp_path / "bi.safetensors")
    vectors = sentence_vectors(translator, ["a b c", "d a"])
    assert vectors.shape == (2, 12)
    with torch.no_grad():  # reversed "a b c" is c b a; the top layer's outputs hold both states
        ids = torch.tensor([vocab.encode("c b a")])
        outputs = translator.model.encode(ids, torch.tensor([3])).outputs[0]  # (S, 2H)
    forward_final, backward_final = outputs[-1, :6], outputs[0, 6:]
    np.testing.assert_allclose(vectors[0], torch.cat([forward_final, backward_final]), atol=1e-6)


def test_attention_heatmap_has_the_source_in_reading_order(attention_run, tmp_path):
    from seq2seq.checkpoint import load_model

    ckpt = attention_run / "best.safetensors"
    sentence = "A man in a blue shirt is riding a bike ."
    out = tmp_path / "an"
    assert main(["analyze", "attention", "--checkpoint", str(ckpt), "--sentence", sentence,
                 "--beam-size", "1", "--out", str(out)]) == 0  # fmt: skip
    with open(out / "attention.csv", encoding="utf-8", newline="") as handle:
        header, *rows = list(csv.reader(handle))
    assert header[1:] == sentence.lower().split()  # the vocabulary lower-cases; reading order
    weights = np.array([[float(v) for v in row[1:]] for row in rows])
    np.testing.assert_allclose(weights.sum(axis=1), 1.0, atol=1e-5)
    # A greedy decode by hand: the model reads the reversed source, so column j of its
    # attention is word S-1-j of the sentence.
    model, config, src_vocab, tgt_vocab = load_model(ckpt)
    assert config.data.reverse_source
    ids = src_vocab.encode(sentence)[::-1]
    max_len = int(config.decode.max_len_ratio * len(ids) + config.decode.max_len_offset)
    tokens, by_hand = [], []
    with torch.no_grad():
        state = model.init_state(model.encode(torch.tensor([ids]), torch.tensor([len(ids)])))
        token = tgt_vocab.bos_id
        while token != tgt_vocab.eos_id:
            log_probs, state = model.step(torch.tensor([token]), state)
            log_probs[0, [tgt_vocab.pad_id, tgt_vocab.bos_id]] = float("-inf")
            token = int(log_probs.argmax()) if len(tokens) < max_len else tgt_vocab.eos_id
            by_hand.append(state.attn[0, -1].flip(0).numpy())
            tokens.append(tgt_vocab.id_to_token(token))
    assert [row[0] for row in rows] == tokens and tokens[-1] == "<eos>"
    np.testing.assert_allclose(weights, np.stack(by_hand), atol=1e-5)
    _check_png(out / "attention.png")


def test_attention_of_a_model_without_attention_is_one_clear_error(plain_run, tmp_path, capsys):
    ckpt = plain_run / "best.safetensors"
    code = main(["analyze", "attention", "--checkpoint", str(ckpt), "--sentence", "a dog .",
                 "--out", str(tmp_path)])  # fmt: skip
    err = capsys.readouterr().err.strip()
    assert code == 2 and "\n" not in err
    assert "model.context='init' and no attention" in err


def test_beam_sweep_bleu_and_speed(plain_run, test_set, tmp_path):
    src, ref = test_set
    ckpt = plain_run / "best.safetensors"
    out = tmp_path / "an"
    assert main(["analyze", "beams", "--checkpoint", str(ckpt), "--src", str(src),
                 "--ref", str(ref), "--beam-sizes", "1,3", "--limit", "40",
                 "--out", str(out)]) == 0  # fmt: skip
    _, rows = _csv(out / "beams.csv")
    assert [int(r["beam_size"]) for r in rows] == [1, 3]
    translator = Translator.load(ckpt)
    sources, refs = _lines(src)[:40], _lines(ref)[:40]
    for row in rows:
        hyps = translator.translate(sources, beam_size=int(row["beam_size"]))
        assert float(row["bleu"]) == pytest.approx(_bleu(hyps, refs, range(40)), abs=1e-5)
        speed = float(row["sentences_per_second"])
        assert speed == pytest.approx(40 / float(row["seconds"]), rel=1e-4) and speed > 0
    _check_png(out / "beams.png")


def test_bad_inputs_end_in_one_sentence(test_set, degraded_hyp, tmp_path, capsys):
    src, ref = test_set
    phrases = tmp_path / "phrases.txt"
    phrases.write_text("g\tone phrase\nno tab here\n", "utf-8")
    code = main(["analyze", "pca", "--checkpoint", "x.safetensors", "--phrases", str(phrases)])
    assert code == 2 and f"{phrases}:2: expected 'group<TAB>phrase'" in capsys.readouterr().err
    code = main(["analyze", "rarity", "--src", str(src), "--ref", str(ref),
                 "--system", f"d={degraded_hyp}", "--out", str(tmp_path)])  # fmt: skip
    assert code == 2 and "give --train-src" in capsys.readouterr().err
    code = main(["analyze", "length", "--src", str(src), "--ref", str(ref),
                 "--system", f"d={degraded_hyp}", "--buckets", "9,5", "--out", str(tmp_path)])  # fmt: skip
    assert code == 2 and "increasing positive word counts, got 9,5" in capsys.readouterr().err
    short = tmp_path / "short.fr"
    short.write_text("une ligne\n", "utf-8")
    code = main(["analyze", "length", "--src", str(src), "--ref", str(ref),
                 "--system", f"short={short}", "--out", str(tmp_path)])  # fmt: skip
    assert code == 2 and "system 'short' has 1 translations" in capsys.readouterr().err
