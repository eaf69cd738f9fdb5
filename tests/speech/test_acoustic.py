"""The acoustic encoders (model/acoustic.py): time shortened, the text encoder's `Encoded` out,
the same encoding alone or in a padded batch; the configuration that chooses them; the CTC head."""

from __future__ import annotations

import pytest
import torch

from seq2seq.config import ModelConfig, config_from_dict
from seq2seq.errors import ConfigError, DataError
from seq2seq.model.acoustic import reduced_lengths, stack_pairs
from seq2seq.model.seq2seq import Seq2Seq
from seq2seq.train.ctc import ctc_loss
from seq2seq.train.loss import SequenceLoss

FEATURES = 12


def acoustic_model(encoder: str, reduction: int = 4, **extra) -> Seq2Seq:
    torch.manual_seed(0)
    options = dict(
        encoder=encoder,
        features=FEATURES,
        hidden_size=16,
        embedding_size=8,
        layers=3,
        bidirectional=True,
        context="attention",
        attention="location",
        time_reduction=reduction,
        conv_channels=4,
    )
    options.update(extra)
    return Seq2Seq(ModelConfig(**options), 0, 9, ctc=True).eval()


def frames(lengths: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
    """Random normalised features (B, T, F), zero past each length, and the lengths (B,)."""
    torch.manual_seed(1)
    src = torch.randn(len(lengths), max(lengths), FEATURES)
    for row, n in enumerate(lengths):
        src[row, n:] = 0.0
    return src, torch.tensor(lengths)


@pytest.mark.parametrize("encoder", ["pyramidal", "conv"])
@pytest.mark.parametrize("reduction", [1, 2, 4, 8])
def test_time_is_shortened_by_the_reduction_and_the_encoding_looks_like_text(encoder, reduction):
    model = acoustic_model(encoder, reduction)
    src, lengths = frames([37, 20, 9])
    encoded = model.encode(src, lengths)
    expected = [-(-n // reduction) for n in (37, 20, 9)]  # ceil
    assert encoded.outputs.shape == (3, expected[0], 32)
    assert encoded.lengths.tolist() == expected
    assert encoded.mask.sum(1).tolist() == expected
    assert encoded.h.shape == (3, 3, 32) and encoded.c is not None and encoded.c.shape == (3, 3, 32)
    assert encoded.outputs[2, expected[2] :].abs().sum() == 0  # padding stays zero


@pytest.mark.parametrize("encoder", ["pyramidal", "conv"])
def test_a_recording_encodes_the_same_alone_as_in_a_padded_batch(encoder):
    model = acoustic_model(encoder, 4)
    src, lengths = frames([41, 23, 6])
    batch = model.encode(src, lengths)
    for row, n in enumerate(lengths.tolist()):
        alone = model.encode(src[row : row + 1, :n], lengths[row : row + 1])
        width = alone.outputs.size(1)
        torch.testing.assert_close(batch.outputs[row, :width], alone.outputs[0])
        torch.testing.assert_close(batch.h[:, row], alone.h[:, 0])


def test_pairs_of_frames_are_stacked_side_by_side_with_a_zero_frame_for_an_odd_last():
    x = torch.arange(10.0).view(1, 5, 2)
    stacked = stack_pairs(x)
    assert stacked.tolist() == [[[0, 1, 2, 3], [4, 5, 6, 7], [8, 9, 0, 0]]]
    assert reduced_lengths(torch.tensor([5, 8, 1]), 4).tolist() == [2, 2, 1]


def test_the_acoustic_encoder_refuses_tokens_and_empty_recordings_in_one_sentence():
    model = acoustic_model("pyramidal")
    with pytest.raises(ValueError, match=r"expects src \(B, T, 12\)"):
        model.encode(torch.ones(2, 5, dtype=torch.long), torch.tensor([5, 5]))
    with pytest.raises(DataError, match="recording 1 of the batch has no frames"):
        model.encode(torch.zeros(2, 5, FEATURES), torch.tensor([5, 0]))


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"model": {"time_reduction": 6}}, "model.time_reduction=6 is not a power of 2"),
        (
            {"model": {"encoder": "pyramidal", "layers": 2, "time_reduction": 8}},
            "takes 3 pyramid layers but model.layers is 2",
        ),
        ({"model": {"encoder": "conv"}}, "set data.reverse_source=false"),
        ({"train": {"ctc_weight": 0.3}}, "model.encoder is 'rnn'; use pyramidal or conv"),
        (
            {"model": {"encoder": "conv", "copy": True, "context": "attention"}},
            "model.copy copies source tokens",
        ),
    ],
)
def test_speech_settings_that_cannot_work_are_refused_in_one_sentence(raw, message):
    with pytest.raises(ConfigError, match=message):
        config_from_dict(raw)


def test_an_acoustic_config_with_ctc_is_accepted():
    config = config_from_dict(
        {
            "data": {"reverse_source": False},
            "model": {"encoder": "pyramidal", "layers": 3, "time_reduction": 8},
            "train": {"ctc_weight": 0.3},
        }
    )
    assert config.model.acoustic and config.train.ctc_weight == 0.3


def test_the_ctc_loss_scores_the_transcript_without_eos_and_padding():
    torch.manual_seed(2)
    log_probs = torch.randn(2, 6, 5).log_softmax(-1)
    lengths = torch.tensor([6, 4])
    tgt_out = torch.tensor([[4, 2, 3, 0], [2, 3, 0, 0]])  # 3 is EOS, 0 padding (the blank)
    ours = ctc_loss(log_probs, lengths, tgt_out, pad_id=0)
    # the transcripts are [4, 2] and [2]; 2 is BOS elsewhere but an ordinary id to CTC
    expected = torch.nn.functional.ctc_loss(
        log_probs.transpose(0, 1), torch.tensor([4, 2, 2]), lengths, torch.tensor([2, 1]),
        blank=0, reduction="sum",
    )  # fmt: skip
    torch.testing.assert_close(ours, expected)
    impossible = ctc_loss(log_probs[:, :1], torch.tensor([1, 1]), tgt_out, pad_id=0)
    assert torch.isfinite(impossible)  # a transcript longer than its frames counts zero


def test_the_joint_loss_mixes_attention_and_ctc_by_the_weight_and_reports_the_decoder_nll():
    model = acoustic_model("pyramidal").train()
    src, lengths = frames([30, 18])
    tgt_in = torch.tensor([[2, 4, 5, 6], [2, 7, 8, 0]])
    tgt_out = torch.tensor([[4, 5, 6, 3], [7, 8, 3, 0]])
    torch.manual_seed(3)
    plain, nll = SequenceLoss(model, 0)(src, lengths, tgt_in, tgt_out)
    torch.manual_seed(3)
    joint, joint_nll = SequenceLoss(model, 0, ctc_weight=0.25)(src, lengths, tgt_in, tgt_out)
    encoded = model.encode(src, lengths)
    ctc = ctc_loss(model.ctc_log_probs(encoded), encoded.lengths, tgt_out, 0)
    torch.testing.assert_close(joint, 0.75 * plain + 0.25 * ctc)
    torch.testing.assert_close(joint_nll, nll)  # perplexity stays the decoder's
