"""Seq2Seq: the encoder, the bridge, the decoder and the output layer wired together.

Sutskever, Vinyals & Le (2014): an encoder LSTM reads the (reversed, §3.3) source into a fixed
vector v, a second LSTM with its own parameters starts from v and models p(y_t | v, y_<t) with a
softmax over the target vocabulary (§2). The paper's model has 4 layers of 1000 cells, 1000-dim
embeddings, 160k / 80k vocabularies and 384M parameters (§3.4), all initialised uniformly in
[-0.08, 0.08] (§3.4); `Seq2Seq.count_parameters` checks that count without allocating it.

The interface every other stage uses (docs/ARCHITECTURE.md, "Model"):
  encode(src (B, S), src_lengths (B,)) -> Encoded
  init_state(encoded) -> DecoderState              (DecoderState.select(index) picks rows)
  decode(tgt_in (B, T), state) -> features (B, T, D), state
  generator(features) -> logits (..., V)
  step(tokens (B,), state, output=None) -> log_probs (B, V), state
  output_layer(ids (C,)) -> the output layer cut to C target ids, for `step(..., output)`
  forward(src, src_lengths, tgt_in) -> logits (B, T, V)
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from seq2seq.config import ModelConfig
from seq2seq.errors import ConfigError
from seq2seq.model.bridge import Bridge
from seq2seq.model.decoder import Decoder, DecoderState
from seq2seq.model.encoder import Encoded, Encoder


class Seq2Seq(nn.Module):
    """An encoder-decoder for one `ModelConfig`; see the module docstring for the interface."""

    def __init__(
        self, cfg: ModelConfig, src_vocab_size: int, tgt_vocab_size: int, pad_id: int = 0
    ) -> None:
        super().__init__()
        self.cfg = cfg
        self.pad_id = pad_id
        self.encoder = Encoder(cfg, src_vocab_size, pad_id)
        enc_size = self.encoder.output_size
        self.bridge = _build_bridge(cfg, enc_size)
        self.decoder = Decoder(cfg, tgt_vocab_size, enc_size, pad_id)
        self.generator = nn.Linear(self.decoder.output_size, tgt_vocab_size)
        if cfg.tie_embeddings:
            if self.decoder.output_size != cfg.embedding_size:
                raise ConfigError(
                    f"model.tie_embeddings needs the decoder's output size "
                    f"({self.decoder.output_size}) to equal model.embedding_size "
                    f"({cfg.embedding_size})"
                )
            self.generator.weight = self.decoder.embedding.weight
        if cfg.init_range is not None:
            self.init_uniform(cfg.init_range)

    def init_uniform(self, init_range: float) -> None:
        """Paper §3.4: every parameter uniform in [-0.08, 0.08]; padding embeddings stay zero."""
        with torch.no_grad():
            for param in self.parameters():
                param.uniform_(-init_range, init_range)
            self.encoder.embedding.weight[self.pad_id].zero_()
            self.decoder.embedding.weight[self.pad_id].zero_()

    # --- the interface (model/interface.py: SearchModel) ---------------------------------------

    @property
    def members(self) -> tuple[Seq2Seq]:
        """One model is an ensemble of one (decode/ensemble.py has several)."""
        return (self,)

    def encode(self, src: Tensor, src_lengths: Tensor) -> Encoded:
        """src (B, S) padded at the end, src_lengths (B,) -> Encoded (outputs, mask, h, c)."""
        return self.encoder(src, src_lengths)

    def init_state(self, encoded: Encoded) -> DecoderState:
        """The decoder's state before its first token: v itself (paper §2) or the bridge of v."""
        if self.bridge is not None:
            h, c = self.bridge(encoded.h, encoded.c)
        else:
            h, c = encoded.h, encoded.c
        return self.decoder.init_state(encoded, h, c)

    def decode(self, tgt_in: Tensor, state: DecoderState) -> tuple[Tensor, DecoderState]:
        """tgt_in (B, T) -> features (B, T, D) and the next state; the one decoder function."""
        return self.decoder(tgt_in, state)

    def forward(self, src: Tensor, src_lengths: Tensor, tgt_in: Tensor) -> Tensor:
        """Teacher-forced logits (B, T, V) for targets tgt_in = <bos> y."""
        features, _ = self.decode(tgt_in, self.init_state(self.encode(src, src_lengths)))
        return self.generator(features)

    def output_layer(self, ids: Tensor) -> tuple[Tensor, Tensor]:
        """The generator's rows for target ids (C,): weight (C, D), bias (C,); cut once per
        batch for a shortlist search (data/shortlist.py)."""
        return self.generator.weight.index_select(0, ids), self.generator.bias.index_select(0, ids)

    def step(
        self, tokens: Tensor, state: DecoderState, output: tuple[Tensor, Tensor] | None = None
    ) -> tuple[Tensor, DecoderState]:
        """One search step: tokens (B,) -> log_probs (B, V) of the next token, next state.

        With `output` from `output_layer(ids)` the distribution is over those C ids only:
        log_probs (B, C), column j for target id ids[j].
        """
        features, state = self.decoder(tokens.unsqueeze(1), state)
        features = features.squeeze(1)
        # (B, V) or (B, C); bfloat16 under bf16 search
        logits = self.generator(features) if output is None else F.linear(features, *output)
        return torch.log_softmax(logits.float(), dim=-1), state  # scores add up in float32

    # --- size -----------------------------------------------------------------------------------

    def num_parameters(self) -> int:
        """Trainable parameters, tied tensors counted once."""
        return sum(p.numel() for p in self.parameters())

    @classmethod
    def count_parameters(cls, cfg: ModelConfig, src_vocab_size: int, tgt_vocab_size: int) -> int:
        """The parameter count of a config, built on the meta device: no memory, milliseconds."""
        with torch.device("meta"):
            model = cls(cfg.model_copy(update={"init_range": None}), src_vocab_size, tgt_vocab_size)
        return model.num_parameters()


def _build_bridge(cfg: ModelConfig, enc_size: int) -> Bridge | None:
    """A bridge for context 'bridge', and for concat/peeky/attention when shapes differ."""
    same_shape = cfg.dec_hidden == enc_size and cfg.dec_layers == cfg.layers
    if cfg.context == "init" or (cfg.context != "bridge" and same_shape):
        return None
    return Bridge(cfg.layers, enc_size, cfg.dec_layers, cfg.dec_hidden, cfg.cell == "lstm")
