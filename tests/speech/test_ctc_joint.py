"""Joint CTC/attention search (decode/ctc_joint.py): a finished hypothesis scores exactly
(1 - λ) log p_att + λ log p_ctc, the CTC term is training's CTC loss, greedy and beam search both
take it, an ensemble too, and every refusal is one sentence."""

from __future__ import annotations

import math

import pytest
import torch
from pydantic import ValidationError
from speech_synth import write_wav
from test_transcribe import _speech_checkpoint

from seq2seq.config import DecodeConfig
from seq2seq.data.audio_batching import make_feature_batch
from seq2seq.data.vocab import BOS_ID, EOS_ID, PAD_ID
from seq2seq.decode.ctc_joint import CTCJoint, ctc_log_likelihoods
from seq2seq.decode.ensemble import Ensemble
from seq2seq.decode.search import Hypothesis, search
from seq2seq.decode.transcriber import Transcriber
from seq2seq.errors import ConfigError
from seq2seq.scoring import target_log_probs
from seq2seq.train.ctc import ctc_loss


def _batch(seed: int = 1):
    torch.manual_seed(seed)
    return make_feature_batch([torch.randn(48, 80), torch.randn(32, 80), torch.randn(20, 80)])


def _model(tmp_path, seed: int = 0):
    torch.manual_seed(seed)
    model = Transcriber.load(_speech_checkpoint(tmp_path / f"s{seed}.safetensors")).translator.model
    for p in model.parameters():  # another model than the checkpoint's seed-0 weights
        p.data.add_(0.05 * seed * torch.randn_like(p))
    return model.eval()


def _attention_totals(model, src, lengths, hyps) -> list[list[float]]:
    """Teacher-forced log p_att(y <eos> | x) of every hypothesis."""
    out = []
    for row, row_hyps in enumerate(hyps):
        totals = []
        for h in row_hyps:
            tgt_in = torch.tensor([[BOS_ID, *h.tokens]])
            tgt_out = torch.tensor([[*h.tokens, EOS_ID]])
            one = target_log_probs(
                model, src[row : row + 1], lengths[row : row + 1], tgt_in, tgt_out
            )
            totals.append(one.item())
        out.append(totals)
    return out


@pytest.mark.parametrize("weight", [0.3, 1.0])
@pytest.mark.parametrize("beam", [1, 4])
def test_a_finished_hypothesis_scores_the_weighted_sum_of_both_log_likelihoods(
    tmp_path, weight, beam
):
    model = _model(tmp_path)
    src, lengths = _batch()
    settings = DecodeConfig(beam_size=beam, n_best=beam, length_penalty=0.0, max_len_ratio=0.2)
    with torch.no_grad():
        hyps = search(CTCJoint(model, weight), src, lengths, settings)
        att = _attention_totals(model, src, lengths, hyps)
    ctc = ctc_log_likelihoods(model, src, lengths, hyps)
    for row_hyps, row_att, row_ctc in zip(hyps, att, ctc, strict=True):
        assert len(row_hyps) == beam
        for h, a, c in zip(row_hyps, row_att, row_ctc, strict=True):
            assert math.isfinite(c)  # the CTC term keeps the search to alignable transcripts
            assert h.log_prob == pytest.approx((1 - weight) * a + weight * c, abs=2e-3)


def test_the_ctc_term_is_minus_the_training_ctc_loss_and_impossible_alignments_are_minus_inf(
    tmp_path,
):
    model = _model(tmp_path)
    src, lengths = _batch()
    hyps = [[Hypothesis([4, 5, 6], 0.0, 0.0), Hypothesis([], 0.0, 0.0)],
            [Hypothesis([7] * 3, 0.0, 0.0), Hypothesis([4] * 20, 0.0, 0.0)], []]  # fmt: skip
    got = ctc_log_likelihoods(model, src, lengths, hyps)
    with torch.no_grad():
        encoded = model.encode(src, lengths)
        log_probs = model.ctc_log_probs(encoded)
    for row, k in ((0, 0), (0, 1), (1, 0)):
        tgt_out = torch.tensor([[*hyps[row][k].tokens, EOS_ID]])
        expected = -ctc_loss(
            log_probs[row : row + 1], encoded.lengths[row : row + 1], tgt_out, PAD_ID
        )
        assert got[row][k] == pytest.approx(expected.item(), rel=1e-5)
    assert got[1][1] == -math.inf and got[2] == []  # 20 tokens cannot align to 8 positions


def test_the_joint_search_s_frames_score_its_n_best_without_encoding_again(tmp_path, monkeypatch):
    model = _model(tmp_path)
    src, lengths = _batch()
    joint = CTCJoint(model, 0.5)
    hyps = search(joint, src, lengths, DecodeConfig(beam_size=3, n_best=2, ctc_weight=0.5))
    assert joint.frames is not None and joint.frames[0].shape[0] == 3
    again = ctc_log_likelihoods(model, src, lengths, hyps)  # encodes the batch itself
    assert ctc_log_likelihoods(model, src, lengths, hyps, joint.frames) == again
    transcriber = Transcriber.load(_speech_checkpoint(tmp_path / "s.safetensors"))
    calls, encode = [], transcriber.translator.model.encode
    monkeypatch.setattr(transcriber.translator.model, "encode",
                        lambda *a: calls.append(1) or encode(*a))  # fmt: skip
    wavs = [write_wav(tmp_path / "a.wav", "abcd", seed=1), write_wav(tmp_path / "b.wav", "ec")]
    transcriber.transcribe_hypotheses(wavs, transcriber.settings(beam_size=3, ctc_weight=0.5))
    assert len(calls) == 1  # one batch, encoded once for the search and the CTC scores


def test_an_ensemble_mixes_its_members_ctc_posteriors(tmp_path):
    one, two = _model(tmp_path, 0), _model(tmp_path, 1)
    src, lengths = _batch()
    settings = DecodeConfig(beam_size=3, n_best=3, length_penalty=0.0, max_len_ratio=0.2)
    with torch.no_grad():
        hyps = search(CTCJoint(Ensemble([one, two]), 1.0), src, lengths, settings)
        posteriors = [m.ctc_log_probs(m.encode(src, lengths)) for m in (one, two)]
        mixed = torch.logsumexp(torch.stack(posteriors), 0) - math.log(2)
        frames = one.encode(src, lengths).lengths
    for row, row_hyps in enumerate(hyps):
        for h in row_hyps:
            tgt_out = torch.tensor([[*h.tokens, EOS_ID]])
            ctc = -ctc_loss(mixed[row : row + 1], frames[row : row + 1], tgt_out, PAD_ID).item()
            assert h.log_prob == pytest.approx(ctc, abs=2e-3)


def test_the_transcriber_reports_both_terms_of_each_hypothesis(tmp_path):
    transcriber = Transcriber.load(_speech_checkpoint(tmp_path / "s.safetensors"))
    wavs = [write_wav(tmp_path / "a.wav", "abcd", seed=1), write_wav(tmp_path / "b.wav", "ec")]
    plain = transcriber.transcribe_hypotheses(wavs, transcriber.settings(beam_size=3, n_best=2))
    assert all(set(h.features) == {"logprob"} for hyps in plain for h in hyps)
    settings = transcriber.settings(beam_size=3, n_best=2, ctc_weight=0.5)
    for hyps in transcriber.transcribe_hypotheses(wavs, settings):
        assert len(hyps) == 2 and hyps[0].score >= hyps[1].score
        for h in hyps:
            assert set(h.features) == {"joint", "ctc"} and h.features["joint"] == h.log_prob
            assert math.isfinite(h.features["ctc"])


def test_joint_search_is_refused_where_it_cannot_apply_in_one_sentence(tmp_path):
    with pytest.raises(ValidationError, match="not into sampling"):
        DecodeConfig(beam_size=1, sampling=True, ctc_weight=0.3)
    with pytest.raises(ValidationError):
        DecodeConfig(ctc_weight=1.5)
    transcriber = Transcriber.load(_speech_checkpoint(tmp_path / "s.safetensors"))
    transcriber.translator.model.ctc = None  # a model trained without train.ctc_weight
    wav = write_wav(tmp_path / "a.wav", "ab")
    with pytest.raises(ConfigError, match=r"needs a speech model trained with a CTC head"):
        transcriber.transcribe([wav], beam_size=2, ctc_weight=0.5)
