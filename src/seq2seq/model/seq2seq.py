"""Seq2Seq: the encoder, the bridge, the decoder and the output layer wired together.

Sutskever, Vinyals & Le (2014): an encoder LSTM reads the (reversed, §3.3) source into a fixed
vector v, a second LSTM with its own parameters starts from v and models p(y_t | v, y_<t) with a
softmax over the target vocabulary (§2). The paper's model has 4 layers of 1000 cells, 1000-dim
embeddings, 160k / 80k vocabularies and 384M parameters (§3.4), all initialised uniformly in
[-0.08, 0.08] (§3.4); `Seq2Seq.count_parameters` checks that count without allocating it.

The interface every other stage uses (docs/ARCHITECTURE.md, "Model"):
  encode(src (B, S), src_lengths (B,)) -> Encoded
  init_state(encoded, src_map=None) -> DecoderState (DecoderState.select(index) picks rows)
  decode(tgt_in (B, T), state) -> features (B, T, D), state
  generator(features) -> logits (..., V)
  step(tokens (B,), state, output=None) -> log_probs (B, V), state
  output_layer(ids (C,)) -> the output layer cut to C target ids, for `step(..., output)`
  forward(src, src_lengths, tgt_in) -> logits (B, T, V)

With ``model.copy`` (model/copy.py) `init_state` takes the source's copy map src_map (N, S),
`step` returns log-probabilities over the extended vocabulary (N, V + X), and
`copy_log_probs` gives the teacher-forced log-probabilities of gold extended ids.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from seq2seq.config import ModelConfig
from seq2seq.errors import ConfigError
from seq2seq.model import copy as pointer
from seq2seq.model.acoustic import AcousticEncoder, build_acoustic_encoder
from seq2seq.model.bridge import Bridge
from seq2seq.model.decoder import Decoder, DecoderState
from seq2seq.model.encoder import Encoded, Encoder


class Seq2Seq(nn.Module):
    """An encoder-decoder for one `ModelConfig`; see the module docstring for the interface."""

    def __init__(
        self,
        cfg: ModelConfig,
        src_vocab_size: int,
        tgt_vocab_size: int,
        pad_id: int = 0,
        ctc: bool = False,
    ) -> None:
        super().__init__()
        self.cfg = cfg
        self.pad_id = pad_id
        # Audio frames (model/acoustic.py) or tokens: past `encode` nothing tells them apart.
        self.encoder: Encoder | AcousticEncoder = (
            build_acoustic_encoder(cfg) if cfg.acoustic else Encoder(cfg, src_vocab_size, pad_id)
        )
        enc_size = self.encoder.output_size
        self.bridge = _build_bridge(cfg, enc_size)
        self.decoder = Decoder(cfg, tgt_vocab_size, enc_size, pad_id)
        self.generator = nn.Linear(self.decoder.output_size, tgt_vocab_size)
        # Joint CTC/attention (Watanabe et al. 2017): per-frame target ids, the blank is PAD.
        self.ctc = nn.Linear(enc_size, tgt_vocab_size) if ctc else None
        self.vocab_size = tgt_vocab_size
        self.copy = (
            pointer.CopySwitch(enc_size, self.decoder.output_size, cfg.embedding_size)
            if cfg.copy
            else None
        )
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
            if isinstance(self.encoder, Encoder):
                self.encoder.embedding.weight[self.pad_id].zero_()
            else:  # convolutions keep their fan-in scaled start (model/acoustic.py)
                self.encoder.reset_convolutions()
            self.decoder.embedding.weight[self.pad_id].zero_()

    # --- the interface (model/interface.py: SearchModel) ---------------------------------------

    @property
    def members(self) -> tuple[Seq2Seq]:
        """One model is an ensemble of one (decode/ensemble.py has several)."""
        return (self,)

    def encode(self, src: Tensor, src_lengths: Tensor) -> Encoded:
        """src (B, S) token ids, or (B, T, F) audio features for an acoustic encoder, padded at
        the end; src_lengths (B,) -> Encoded (outputs, mask, h, c)."""
        return self.encoder(src, src_lengths)

    def init_state(self, encoded: Encoded, src_map: Tensor | None = None) -> DecoderState:
        """The decoder's state before its first token: v itself (paper §2) or the bridge of v.

        src_map (B, S): the extended target id of each source token, which a copy model needs
        (model/copy.py) and any other model ignores."""
        if self.bridge is not None:
            h, c = self.bridge(encoded.h, encoded.c)
        else:
            h, c = encoded.h, encoded.c
        state = self.decoder.init_state(encoded, h, c)
        if self.copy is not None:
            if src_map is None or src_map.shape != encoded.mask.shape:
                raise ValueError(
                    "a model with model.copy needs the source's copy map src_map, shaped like src"
                )
            state.src_map = src_map
            state.copy_size = pointer.extended_size(src_map, self.vocab_size)
        return state

    def decode(self, tgt_in: Tensor, state: DecoderState) -> tuple[Tensor, DecoderState]:
        """tgt_in (B, T) -> features (B, T, D) and the next state; the one decoder function.
        A copy model reads the extended ids of copied words as <unk>."""
        if self.copy is not None:
            tgt_in = pointer.vocab_ids(tgt_in, self.vocab_size)
        return self.decoder(tgt_in, state)

    def forward(self, src: Tensor, src_lengths: Tensor, tgt_in: Tensor) -> Tensor:
        """Teacher-forced logits (B, T, V) for targets tgt_in = <bos> y."""
        features, _ = self.decode(tgt_in, self.init_state(self.encode(src, src_lengths)))
        return self.generator(features)

    def ctc_log_probs(self, encoded: Encoded) -> Tensor:
        """The CTC head's per-position log-probabilities (B, S', V) of an encoding (blank = PAD);
        only a model built with ``ctc=True`` (``train.ctc_weight > 0``) has the head."""
        if self.ctc is None:
            raise ValueError("this model has no CTC head; train it with train.ctc_weight > 0")
        return torch.log_softmax(self.ctc(encoded.outputs).float(), dim=-1)

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
        if self.copy is not None:
            return self._copy_step(tokens, state, output)
        features, state = self.decoder(tokens.unsqueeze(1), state)
        features = features.squeeze(1)
        # (B, V) or (B, C); bfloat16 under bf16 search
        logits = self.generator(features) if output is None else F.linear(features, *output)
        return torch.log_softmax(logits.float(), dim=-1), state  # scores add up in float32

    def _copy_step(
        self, tokens: Tensor, state: DecoderState, output: tuple[Tensor, Tensor] | None
    ) -> tuple[Tensor, DecoderState]:
        """`step` of a copy model: tokens (B,) extended ids -> log_probs (B, V + X), next state."""
        if output is not None:
            raise ValueError("a model with model.copy cannot search over an output shortlist")
        tokens = pointer.vocab_ids(tokens, self.vocab_size).unsqueeze(1)  # (B, 1)
        features, state = self.decoder(tokens, state)  # (B, 1, D)
        assert self.copy is not None and state.attn is not None and state.memory is not None
        assert state.src_map is not None, "init_state was given no src_map"
        context = pointer.attention_context(state.attn, state.memory)[:, 0]  # (B, H_enc)
        features, attn = features[:, 0], state.attn[:, 0]  # (B, D), (B, S)
        p_gen = self.copy(context, features, self.decoder.embedding(tokens[:, 0]))  # (B, 1)
        src_map = pointer.row_map(state.src_map, state.group)  # (B, S)
        log_probs = pointer.extended_log_probs(
            self.generator(features), p_gen, attn, src_map, state.copy_size
        )
        return log_probs, state

    def copy_log_probs(
        self, tgt_in: Tensor, tgt_out: Tensor, state: DecoderState, real: Tensor | None = None
    ) -> tuple[Tensor, Tensor]:
        """Teacher-forced log p(gold) of a copy model from the state before tgt_in (B, T).

        tgt_out (B, T) holds extended ids; `real` (B, T) picks the M positions to score (all
        when None): the output layer runs on those only. Returns the vocabulary logits (M, V)
        and log p of the gold ids (M,)."""
        assert self.copy is not None, "copy_log_probs is for a model with model.copy"
        tgt_in = pointer.vocab_ids(tgt_in, self.vocab_size)
        features, after = self.decoder(tgt_in, state)  # (B, T, D)
        assert after.attn is not None and after.memory is not None and after.src_map is not None
        if real is None:
            real = torch.ones_like(tgt_out, dtype=torch.bool)
        rows = real.nonzero()[:, 0]  # the sentence of each scored position
        context = pointer.attention_context(after.attn, after.memory)[real]  # (M, H_enc)
        features = features[real]  # (M, D)
        p_gen = self.copy(context, features, self.decoder.embedding(tgt_in[real]))  # (M, 1)
        logits = self.generator(features)  # (M, V)
        src_map = pointer.row_map(after.src_map, after.group)[rows]  # (M, S)
        gold = pointer.gold_log_probs(logits, p_gen, after.attn[real], src_map, tgt_out[real])
        return logits, gold

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
