"""Joint CTC/attention rescoring (decode/ctc_rescore.py): the joint score, the CTC term against
training's CTC loss, the transcriber's n-best under it, and every refusal in one sentence."""

from __future__ import annotations

import math

import pytest
import torch
from pydantic import ValidationError
from speech_synth import write_wav
from test_transcribe import _speech_checkpoint

from seq2seq.config import DecodeConfig
from seq2seq.data.audio_batching import make_feature_batch
from seq2seq.data.vocab import EOS_ID, PAD_ID
from seq2seq.decode.ctc_rescore import ctc_log_likelihoods, rescore
from seq2seq.decode.search import Hypothesis, normalise
from seq2seq.decode.transcriber import Transcriber
from seq2seq.errors import ConfigError
from seq2seq.train.ctc import ctc_loss


def _hyp(tokens: list[int], log_prob: float) -> Hypothesis:
    return Hypothesis(tokens, log_prob, log_prob / (len(tokens) + 1))


def test_the_joint_score_decides_the_order_and_an_unalignable_hypothesis_goes_last():
    confident, aligned, too_long = _hyp([4, 5], -1.0), _hyp([4, 6], -2.0), _hyp([4] * 9, -0.5)
    ctc = [[-10.0, -3.0, -math.inf]]
    off = rescore([[confident, aligned, too_long]], ctc, 0.0, 0.0, 3)[0]
    assert [h.tokens for h, _ in off] == [[4] * 9, [4, 5], [4, 6]]  # the attention's own order
    joint = rescore([[confident, aligned, too_long]], ctc, 0.3, 1.0, 2)[0]
    assert [h.tokens for h, _ in joint] == [[4, 6], [4, 5]]  # -2.3/3 beats -3.7/3; -inf is cut
    best, its_ctc = joint[0]
    assert its_ctc == -3.0 and best.log_prob == -2.0  # the attention log-prob is kept
    assert best.score == pytest.approx(normalise(0.7 * -2.0 + 0.3 * -3.0, 3, 1.0))


def test_the_ctc_term_is_minus_the_training_ctc_loss_and_impossible_alignments_are_minus_inf(
    tmp_path,
):
    transcriber = Transcriber.load(_speech_checkpoint(tmp_path / "s.safetensors"))
    model = transcriber.translator.model
    model.eval()
    torch.manual_seed(1)
    frames = [torch.randn(48, 80), torch.randn(32, 80)]  # 12 and 8 positions after 4x reduction
    src, lengths = make_feature_batch(frames)
    hyps = [[_hyp([4, 5, 6], -1.0), _hyp([], -2.0)], [_hyp([7] * 3, -1.0), _hyp([4] * 20, -1.0)]]
    got = ctc_log_likelihoods(model, src, lengths, hyps)
    with torch.no_grad():
        encoded = model.encode(src, lengths)
        log_probs = model.ctc_log_probs(encoded)
    for row, row_hyps in enumerate(hyps):
        for k, hyp in enumerate(row_hyps[: 2 if row == 0 else 1]):
            tgt_out = torch.tensor([[*hyp.tokens, EOS_ID]])
            expected = -ctc_loss(log_probs[row : row + 1], encoded.lengths[row : row + 1],
                                 tgt_out, PAD_ID)  # fmt: skip
            assert got[row][k] == pytest.approx(expected.item(), rel=1e-5)
    assert got[1][1] == -math.inf  # 20 tokens cannot align to 8 positions


def test_the_transcriber_reranks_its_whole_beam_by_the_joint_score(tmp_path):
    transcriber = Transcriber.load(_speech_checkpoint(tmp_path / "s.safetensors"))
    wavs = [write_wav(tmp_path / "a.wav", "abcd", seed=1), write_wav(tmp_path / "b.wav", "ec")]
    settings = transcriber.settings(beam_size=4, n_best=3, length_penalty=0.0, ctc_weight=1.0)
    results = transcriber.transcribe_hypotheses(wavs, settings)
    for hyps in results:
        assert len(hyps) == 3
        ctc = [h.features["ctc"] for h in hyps]
        assert ctc == sorted(ctc, reverse=True)  # weight 1: the CTC term alone ranks
        assert [h.score for h in hyps] == pytest.approx(ctc)
    half = transcriber.settings(beam_size=4, n_best=1, length_penalty=1.0, ctc_weight=0.5)
    best = transcriber.transcribe_hypotheses(wavs, half)
    for hyps in best:
        (h,) = hyps
        joint = normalise(0.5 * h.log_prob + 0.5 * h.features["ctc"], len(h.tokens) + 1, 1.0)
        assert h.score == pytest.approx(joint)


def test_ctc_rescoring_is_refused_where_it_cannot_apply_in_one_sentence(tmp_path):
    with pytest.raises(ValidationError, match="needs decode.beam_size above 1"):
        DecodeConfig(beam_size=1, ctc_weight=0.3)
    with pytest.raises(ValidationError, match="not samples"):
        DecodeConfig(beam_size=1, sampling=True, ctc_weight=0.3)
    with pytest.raises(ValidationError):
        DecodeConfig(ctc_weight=1.5)
    ckpt = _speech_checkpoint(tmp_path / "s.safetensors")
    transcriber = Transcriber.load(ckpt)
    transcriber.translator.model.ctc = None  # a model trained without train.ctc_weight
    wav = write_wav(tmp_path / "a.wav", "ab")
    with pytest.raises(ConfigError, match=r"needs a speech model trained with a CTC head"):
        transcriber.transcribe([wav], beam_size=2, ctc_weight=0.5)
