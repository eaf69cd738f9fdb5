"""Acoustic encoders: audio frames in, the same `Encoded` as the text encoder out, time shortened.

A second of speech is 100 frames of log-mel features (10 ms hop) but a dozen characters, and an
attention decoder that scores every frame at every output step learns slowly over such long inputs
(Chan et al. 2016, §3.1: "the attention model has a hard time extracting the relevant information
from a large number of input time steps"). Both front-ends here shorten time by
``model.time_reduction`` (a power of 2) before the decoder sees the memory:

  pyramidal  Listen, Attend and Spell's listener (Chan et al. 2016, §3.1, eq. 5): a stack of
             (bidirectional) RNN layers whose top log2(reduction) layers each read the outputs of
             the layer below two frames at a time, concatenated, so each halves the time;
  conv       strided 2-D convolutions over (time, frequency), 3x3 kernels with stride 2, each
             halving both axes (as in the convolutional front-ends of ESPnet and Deep Speech 2),
             then the fused multi-layer RNN of ``model.layers`` over the shortened frames.

The encoder reads features already normalised by the training data's per-band mean and standard
deviation (the audio source's statistics, kept in the checkpoint beside the vocabularies), padded
with zeros. Every layer ignores or zeroes the frames past each row's length, so a recording
encodes the same alone or in a batch.

Past this module nothing knows the source was audio: outputs (B, S', H_enc), mask (B, S'), the
final state (layers, B, H_enc) per layer and the shortened lengths, as `model/encoder.py` gives.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from seq2seq.config import ModelConfig
from seq2seq.errors import DataError
from seq2seq.model.cells import Hidden, make_rnn, merge_directions, split_hidden
from seq2seq.model.encoder import Encoded


def halved(lengths: Tensor) -> Tensor:
    """Lengths after one halving of time: ceil(length / 2), the last odd frame padded."""
    return torch.div(lengths + 1, 2, rounding_mode="floor")


def reduced_lengths(lengths: Tensor, reduction: int) -> Tensor:
    """(B,) frame counts -> (B,) lengths after `reduction` (a power of 2) by halvings."""
    for _ in range(reduction.bit_length() - 1):
        lengths = halved(lengths)
    return lengths


def frame_mask(lengths: Tensor, width: int) -> Tensor:
    """(B,) lengths -> (B, width) bool, True on real frames."""
    return torch.arange(width, device=lengths.device) < lengths.unsqueeze(1)


def stack_pairs(frames: Tensor) -> Tensor:
    """(B, T, D) -> (B, ceil(T / 2), 2D): frames 2i and 2i + 1 side by side (Chan et al. eq. 5);
    an odd last frame is paired with zeros."""
    batch, steps, size = frames.shape
    if steps % 2:
        frames = torch.cat([frames, frames.new_zeros(batch, 1, size)], dim=1)
    return frames.reshape(batch, (steps + 1) // 2, 2 * size)


def run_packed(rnn: nn.Module, inputs: Tensor, lengths: Tensor) -> tuple[Tensor, Hidden]:
    """An RNN over padded inputs (B, T, D), lengths (B,) on the CPU -> outputs (B, T, H) with
    zeros on padding, and the final state of each row's last real frame."""
    steps = inputs.size(1)
    if int(lengths.min()) == steps:  # no padding: skip the pack / unpack copies
        return rnn(inputs)
    packed = pack_padded_sequence(inputs, lengths, batch_first=True, enforce_sorted=False)
    outputs, hidden = rnn(packed)
    outputs, _ = pad_packed_sequence(outputs, batch_first=True, total_length=steps)
    return outputs, hidden


class AcousticEncoder(nn.Module):
    """The part both front-ends share: input checks and the `Encoded` they return."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.features = cfg.features
        self.reduction = cfg.time_reduction
        self.bidirectional = cfg.bidirectional
        self.layers = cfg.layers
        self.output_size = cfg.hidden_size * (2 if cfg.bidirectional else 1)
        self.dropout = nn.Dropout(cfg.dropout)

    def forward(self, src: Tensor, src_lengths: Tensor) -> Encoded:
        """src (B, T, F) normalised features padded at the end, src_lengths (B,) frames ->
        Encoded with S' = ceil(T / reduction) positions."""
        lengths = self._check(src, src_lengths)
        mask = frame_mask(lengths, src.size(1)).to(src.device)  # (B, T)
        frames = self.dropout(src.masked_fill(~mask.unsqueeze(-1), 0.0))
        outputs, h, c, lengths = self.encode_frames(frames, lengths)
        if self.bidirectional:
            h = merge_directions(h)
            c = None if c is None else merge_directions(c)
        device_lengths = lengths.to(src.device)
        return Encoded(outputs, frame_mask(device_lengths, outputs.size(1)), h, c, device_lengths)

    def reset_convolutions(self) -> None:
        """Initialise convolutions for the ReLU after them (see `ConvEncoder`)."""

    def encode_frames(
        self, frames: Tensor, lengths: Tensor
    ) -> tuple[Tensor, Tensor, Tensor | None, Tensor]:
        """Normalised frames (B, T, F), lengths (B,) on the CPU -> outputs (B, S', H_enc), h and c
        (layers * directions, B, H), lengths (B,) after the reduction."""
        raise NotImplementedError

    def _check(self, src: Tensor, src_lengths: Tensor) -> Tensor:
        """The lengths on the CPU, after checking they fit `src` (B, T, F)."""
        if src.dim() != 3 or src.size(2) != self.features or src_lengths.shape != src.shape[:1]:
            raise ValueError(
                f"an acoustic encoder expects src (B, T, {self.features}) and src_lengths (B,), "
                f"got {tuple(src.shape)} and {tuple(src_lengths.shape)}"
            )
        if not src.is_floating_point():
            raise ValueError(f"an acoustic encoder reads float features, not {src.dtype}")
        lengths = src_lengths.to("cpu", torch.int64)
        if lengths.numel() and int(lengths.min()) < 1:
            row = int(torch.argmin(lengths))
            raise DataError(f"recording {row} of the batch has no frames; it cannot be encoded")
        if lengths.numel() and int(lengths.max()) > src.size(1):
            raise ValueError(
                f"a frame count ({int(lengths.max())}) exceeds the padded width {src.size(1)}"
            )
        return lengths


class PyramidalEncoder(AcousticEncoder):
    """Listen, Attend and Spell's pyramidal listener (Chan et al. 2016, §3.1).

    ``model.layers`` one-layer RNNs; the top log2(time_reduction) of them read pairs of the
    outputs below, concatenated, so time halves at each (LAS: 3 such layers over a first one, 8x).
    """

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__(cfg)
        halvings = cfg.time_reduction.bit_length() - 1
        self.pairs = [i >= cfg.layers - halvings for i in range(cfg.layers)]
        size = self.output_size
        self.rnns = nn.ModuleList(
            make_rnn(
                cfg.cell,
                (cfg.features if i == 0 else size) * (2 if pairs else 1),
                cfg.hidden_size,
                1,
                bidirectional=cfg.bidirectional,
            )
            for i, pairs in enumerate(self.pairs)
        )

    def encode_frames(
        self, frames: Tensor, lengths: Tensor
    ) -> tuple[Tensor, Tensor, Tensor | None, Tensor]:
        hs, cs = [], []
        for i, (rnn, pairs) in enumerate(zip(self.rnns, self.pairs, strict=True)):
            if i > 0:
                frames = self.dropout(frames)  # between layers, as the fused RNN does
            if pairs:
                frames, lengths = stack_pairs(frames), halved(lengths)
            frames, hidden = run_packed(rnn, frames, lengths)  # (B, T_i, H_enc)
            h, c = split_hidden(hidden)  # (directions, B, H)
            hs.append(h)
            cs.append(c)
        c_all = None if cs[0] is None else torch.cat([c for c in cs if c is not None])
        return frames, torch.cat(hs), c_all, lengths


class ConvEncoder(AcousticEncoder):
    """Strided 3x3 convolutions over (time, frequency), ReLU after each, then the RNN.

    Each convolution halves time and frequency (stride 2, padding 1: ceil(n / 2)); the RNN
    reads each shortened frame as its channels x remaining bands, flattened. The convolutions
    start from He et al.'s (2015) initialisation for ReLU layers even when ``model.init_range``
    sets every other weight: with ±0.08 (or PyTorch's default) each convolution shrinks its
    input, the RNN above reads features a tenth the size of the pyramid's, and the tiny speech
    test's model never left its first guess.
    """

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__(cfg)
        halvings = cfg.time_reduction.bit_length() - 1
        channels, bands = 1, cfg.features
        convs = []
        for _ in range(halvings):
            convs.append(nn.Conv2d(channels, cfg.conv_channels, 3, stride=2, padding=1))
            channels, bands = cfg.conv_channels, (bands + 1) // 2
        self.convs = nn.ModuleList(convs)
        self.rnn = make_rnn(
            cfg.cell, channels * bands, cfg.hidden_size, cfg.layers, cfg.dropout, cfg.bidirectional
        )

    def reset_convolutions(self) -> None:
        for conv in self.convs:  # He et al. (2015): keeps the variance through each ReLU
            assert isinstance(conv, nn.Conv2d) and conv.bias is not None
            nn.init.kaiming_normal_(conv.weight, nonlinearity="relu")
            nn.init.zeros_(conv.bias)

    def encode_frames(
        self, frames: Tensor, lengths: Tensor
    ) -> tuple[Tensor, Tensor, Tensor | None, Tensor]:
        x = frames.unsqueeze(1)  # (B, 1, T, F)
        for conv in self.convs:
            lengths = halved(lengths)
            x = torch.relu(conv(x))  # (B, C, ceil(T / 2), ceil(F / 2))
            keep = frame_mask(lengths.to(x.device), x.size(2))  # (B, T')
            x = x.masked_fill(~keep[:, None, :, None], 0.0)  # no padding leaks into real frames
        batch, channels, steps, bands = x.shape
        x = x.permute(0, 2, 1, 3).reshape(batch, steps, channels * bands)  # (B, T', C * F')
        outputs, hidden = run_packed(self.rnn, x, lengths)  # (B, T', H_enc)
        h, c = split_hidden(hidden)
        return outputs, h, c, lengths


def build_acoustic_encoder(cfg: ModelConfig) -> AcousticEncoder:
    """The front-end named by ``model.encoder``: pyramidal | conv."""
    if cfg.encoder == "pyramidal":
        return PyramidalEncoder(cfg)
    if cfg.encoder == "conv":
        return ConvEncoder(cfg)
    raise ValueError(f"model.encoder '{cfg.encoder}' does not read audio")
