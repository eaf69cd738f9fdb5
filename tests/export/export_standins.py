"""The round-trip tests' models: untrained, one per cell, context mode and attention, their output
weights drawn wide (+-0.5) so that their distributions are peaked enough for an output to be
decided by the model, not by rounding.

The decoder's recurrence is drawn narrower (+-0.1, `calm_recurrence`). Drawn as wide, a tanh RNN
that reads its own attentional vector back (input feeding) is a chaotic map: float32 rounding
doubles every step, PyTorch's float32 and float64 log-probs part by 10 nats within 20 steps, and
PyTorch's own float32 output changes with the batch size (issue 26). `fp32_fp64_gap` measures it.
"""

from __future__ import annotations

import copy
from pathlib import Path

import torch
from decode_standins import TARGET_WORDS, WORDS, copy_config, copy_sentences, save

from seq2seq.data.batching import make_source_batch
from seq2seq.data.vocab import WordVocab
from seq2seq.model.seq2seq import Seq2Seq

ARCHITECTURES = {
    "lstm-init": dict(cell="lstm", context="init", layers=2),
    "gru-bi-bridge": dict(cell="gru", context="bridge", bidirectional=True),
    "rnn-concat": dict(cell="rnn", context="concat", layers=2),
    "lstm-bi-peeky": dict(cell="lstm", context="peeky", bidirectional=True, layers=2),
    "lstm-general-feed": dict(cell="lstm", attention="general", input_feeding=True, layers=2),
    "gru-dot": dict(cell="gru", attention="dot", input_feeding=False),
    "rnn-bi-bahdanau-feed": dict(
        cell="rnn", attention="bahdanau", bidirectional=True, input_feeding=True
    ),
    "lstm-bahdanau-bridge": dict(
        cell="lstm", attention="bahdanau", decoder_hidden_size=48, layers=2
    ),
}

# The round trip's sentences: 1 to 9 words, so outputs of up to 2 * 9 + 10 = 28 tokens.
LINES = copy_sentences(24, seed=7, min_len=1, max_len=9)
MAX_STEPS = 28


def build(name: str, seed: int) -> tuple[Seq2Seq, object]:
    """The untrained model `name` of ARCHITECTURES and its config."""
    spec = dict(ARCHITECTURES[name])
    spec.setdefault("context", "attention")
    torch.manual_seed(seed)
    config = copy_config(init_range=0.5, **spec)
    model = Seq2Seq(config.model, len(WORDS) + 4, len(TARGET_WORDS) + 4)
    return calm_recurrence(model).eval(), config


def checkpoint(folder: Path, name: str, seed: int) -> Path:
    """`build(name, seed)` saved as a checkpoint in `folder`."""
    model, config = build(name, seed)
    src_vocab, tgt_vocab = WordVocab(WORDS), WordVocab(TARGET_WORDS)
    assert (len(src_vocab), len(tgt_vocab)) == (len(WORDS) + 4, len(TARGET_WORDS) + 4)
    return save(folder / f"{name}.safetensors", model, config, src_vocab, tgt_vocab)


def calm_recurrence(model: Seq2Seq, width: float = 0.1) -> Seq2Seq:
    """Redraw the decoder's recurrent weights (W_hh of every layer, and the columns of W_ih that
    read the fed attentional vector) from +-`width`, so that a decoder step is a contraction."""
    rnn, feed = model.decoder.rnn, model.decoder.hidden_size
    with torch.no_grad():
        for layer in range(rnn.num_layers):
            getattr(rnn, f"weight_hh_l{layer}").uniform_(-width, width)
        if model.decoder.input_feeding:
            rnn.weight_ih_l0[:, -feed:].uniform_(-width, width)  # input = [embedding; feed]
    return model


def source_batch(lines: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
    """src (B, S) reversed and padded as the Translator makes it, lengths (B,)."""
    return make_source_batch([WordVocab(WORDS).encode(line) for line in lines], 0, True)


def teacher_tokens(rows: int, steps: int = MAX_STEPS, seed: int = 0) -> torch.Tensor:
    """(steps, rows) target ids to feed: <bos>, then words drawn at random."""
    generator = torch.Generator().manual_seed(seed)
    tokens = torch.randint(4, len(TARGET_WORDS) + 4, (steps, rows), generator=generator)
    tokens[0] = 2
    return tokens


def fp32_fp64_gap(model: Seq2Seq) -> list[float]:
    """Per step, the largest |log p| difference between `model` in float32 and in float64, fed
    the same tokens on LINES: how far float32 rounding grows in this model."""
    double = copy.deepcopy(model).double()
    src, lengths = source_batch(LINES)
    tokens = teacher_tokens(len(LINES))
    gaps = []
    with torch.no_grad():
        single_state = model.init_state(model.encode(src, lengths))
        double_state = double.init_state(double.encode(src, lengths))
        for step_tokens in tokens:
            single, single_state = model.step(step_tokens, single_state)
            exact, double_state = double.step(step_tokens, double_state)
            gaps.append(float((single.double() - exact).abs().max()))
    return gaps
