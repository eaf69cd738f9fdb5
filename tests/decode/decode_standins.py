"""Stand-in models and a toy task for the decoding tests.

`TableModel` has fixed, known next-token distributions keyed by the output prefix, so search
results can be checked against hand-computed values. `TinyRNNModel` is a small vectorised
recurrent model with random weights and attention, for invariants over many sentences. Both have
the model interface (encode / init_state / step / state.select).

The copy task copies 3-7 words of a 20-word source language; the target vocabulary lacks the last
five words, so a trained model writes ``<unk>`` exactly where the source has one of them.
`train_copy_model` learns it with the real Seq2Seq in a few seconds. `train_small_model` trains
the real trainer on the committed Tatoeba slice instead, for the tests that need real text.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F

from seq2seq.checkpoint import checkpoint_bytes, write_atomic
from seq2seq.config import Config, DecodeConfig
from seq2seq.data.batching import make_source_batch, make_target_batch
from seq2seq.data.vocab import WordVocab
from seq2seq.model.seq2seq import Seq2Seq

PAD, UNK, BOS, EOS = 0, 1, 2, 3


def settings(**overrides) -> DecodeConfig:
    """Search settings for a test: the defaults with `overrides`."""
    return DecodeConfig(**overrides)


@dataclass
class PrefixState:
    prefixes: list[tuple[int, ...]]
    src_lengths: list[int]
    attn: None = None  # a table has no attention

    def select(self, index: torch.Tensor) -> PrefixState:
        rows = index.tolist()
        return PrefixState([self.prefixes[i] for i in rows], [self.src_lengths[i] for i in rows])


class TableModel:
    """p(y_t | y_<t) read from a table {prefix tuple: {token: prob}}; unlisted prefixes end."""

    def __init__(self, table: dict[tuple[int, ...], dict[int, float]], vocab_size: int) -> None:
        self.table = table
        self.vocab_size = vocab_size
        self.calls = 0  # rows scored over all steps, to check that finished sentences leave

    def encode(self, src: torch.Tensor, src_lengths: torch.Tensor) -> list[int]:
        return src_lengths.tolist()

    def init_state(self, encoded: list[int]) -> PrefixState:
        return PrefixState([() for _ in encoded], list(encoded))

    def distribution(self, prefix: tuple[int, ...]) -> torch.Tensor:
        probs = torch.zeros(self.vocab_size, dtype=torch.float64)
        for token, p in self.table.get(prefix, {EOS: 1.0}).items():
            probs[token] = p
        return probs.log()

    def step(self, tokens: torch.Tensor, state: PrefixState) -> tuple[torch.Tensor, PrefixState]:
        self.calls += tokens.numel()
        prefixes = [
            p if t == BOS else p + (t,)
            for p, t in zip(state.prefixes, tokens.tolist(), strict=True)
        ]
        log_probs = torch.stack([self.distribution(p) for p in prefixes])
        return log_probs, PrefixState(prefixes, state.src_lengths)

    def sequence_log_prob(self, tokens: list[int]) -> float:
        """log p(tokens + EOS), recomputed independently of any search."""
        total, prefix = 0.0, ()
        for t in [*tokens, EOS]:
            total += math.log(self.table.get(prefix, {EOS: 1.0}).get(t, 0.0) or 1e-300)
            prefix = prefix + (t,)
        return total


# A trap for greedy search: 'a' is the likelier first word, but 'b <eos>' is the likelier sentence.
A, B = 4, 5
TRAP = {
    (): {A: 0.6, B: 0.4},
    (A,): {A: 0.40, B: 0.30, EOS: 0.30},
    (A, A): {EOS: 1.0},
    (B,): {EOS: 0.9, A: 0.1},
}


@dataclass
class RNNState:
    hidden: torch.Tensor  # (N, H)
    memory: torch.Tensor  # (N, S, H)
    mask: torch.Tensor  # (N, S) True on real source positions
    attn: torch.Tensor | None = None  # (N, 1, S) attention of the last step

    def select(self, index: torch.Tensor) -> RNNState:
        attn = None if self.attn is None else self.attn[index]
        return RNNState(self.hidden[index], self.memory[index], self.mask[index], attn)


class TinyRNNModel(torch.nn.Module):
    """A one-layer tanh RNN decoder with dot attention over source embeddings, random weights."""

    def __init__(
        self,
        src_vocab: int,
        tgt_vocab: int,
        hidden: int = 16,
        seed: int = 0,
        eos_bias: float = 0.0,
        dtype: torch.dtype = torch.float64,
    ) -> None:
        super().__init__()
        gen = torch.Generator().manual_seed(seed)

        def rand(*shape: int, scale: float = 1.0) -> torch.nn.Parameter:
            return torch.nn.Parameter(torch.randn(*shape, generator=gen, dtype=dtype) * scale)

        self.src_emb = rand(src_vocab, hidden)
        self.tgt_emb = rand(tgt_vocab, hidden)
        self.w_hh = rand(hidden, hidden, scale=hidden**-0.5)
        self.w_ctx = rand(hidden, hidden, scale=hidden**-0.5)
        self.out = rand(hidden, tgt_vocab, scale=2.0 * hidden**-0.5)
        bias = torch.zeros(tgt_vocab, dtype=dtype)
        bias[EOS] = eos_bias
        self.bias = torch.nn.Parameter(bias)
        self.dtype_ = dtype

    def encode(self, src: torch.Tensor, src_lengths: torch.Tensor) -> RNNState:
        positions = torch.arange(src.size(1)).unsqueeze(0)
        mask = positions < src_lengths.unsqueeze(1)
        memory = self.src_emb[src] * mask.unsqueeze(-1)
        hidden = torch.tanh(memory.sum(1) / src_lengths.unsqueeze(1).to(self.dtype_))
        return RNNState(hidden, memory, mask)

    def init_state(self, encoded: RNNState) -> RNNState:
        return encoded

    def step(self, tokens: torch.Tensor, state: RNNState) -> tuple[torch.Tensor, RNNState]:
        hidden = torch.tanh(state.hidden @ self.w_hh + self.tgt_emb[tokens])
        scores = torch.einsum("nsh,nh->ns", state.memory, hidden).masked_fill(~state.mask, -1e9)
        attention = torch.softmax(scores, dim=-1)
        context = torch.einsum("ns,nsh->nh", attention, state.memory)
        features = torch.tanh(hidden + context @ self.w_ctx)
        log_probs = torch.log_softmax(features @ self.out + self.bias, dim=-1)
        return log_probs, RNNState(hidden, state.memory, state.mask, attention.unsqueeze(1))

    def forward(
        self, src: torch.Tensor, src_lengths: torch.Tensor, tgt_in: torch.Tensor
    ) -> torch.Tensor:
        """Teacher forcing through `step`: (B, T) -> log-probabilities (B, T, V) as logits."""
        state = self.init_state(self.encode(src, src_lengths))
        outputs = []
        for t in range(tgt_in.size(1)):
            log_probs, state = self.step(tgt_in[:, t], state)
            outputs.append(log_probs)
        return torch.stack(outputs, dim=1)


def random_batch(n: int, vocab: int, max_len: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-padded random source ids (n, max_len) in [4, vocab) and their lengths (n,)."""
    gen = torch.Generator().manual_seed(seed)
    lengths = torch.randint(1, max_len + 1, (n,), generator=gen)
    src = torch.randint(4, vocab, (n, max_len), generator=gen)
    src = src.masked_fill(torch.arange(max_len).unsqueeze(0) >= lengths.unsqueeze(1), PAD)
    return src, lengths


# ---------------------------------------------------------------------------------------------
# The copy task

WORDS = [f"w{i}" for i in range(20)]
TARGET_WORDS = WORDS[:15]  # w15 .. w19 are <unk> on the target side


def copy_sentences(n: int, seed: int, min_len: int = 3, max_len: int = 7) -> list[str]:
    rng = random.Random(seed)
    return [" ".join(rng.choices(WORDS, k=rng.randint(min_len, max_len))) for _ in range(n)]


def copy_config(**model: object) -> Config:
    model_cfg = dict(
        cell="lstm",
        embedding_size=32,
        hidden_size=64,
        layers=1,
        context="attention",
        input_feeding=False,
    )
    model_cfg.update(model)
    return Config.model_validate(
        {
            "data": {"reverse_source": True},
            "model": model_cfg,
            "decode": {"beam_size": 3, "batch_size": 16},
        }
    )


def train_copy_model(
    config: Config, steps: int, seed: int = 0
) -> tuple[Seq2Seq, WordVocab, WordVocab]:
    torch.manual_seed(seed)
    src_vocab, tgt_vocab = WordVocab(WORDS), WordVocab(TARGET_WORDS)
    model = Seq2Seq(config.model, len(src_vocab), len(tgt_vocab))
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    for step in range(steps):
        lines = copy_sentences(64, seed=1000 * seed + step)
        src, lengths = make_source_batch([src_vocab.encode(s) for s in lines], 0, True)
        tgt_in, tgt_out = make_target_batch([tgt_vocab.encode(s) for s in lines])
        logits = model(src, lengths, tgt_in)
        loss = F.cross_entropy(logits.flatten(0, 1), tgt_out.flatten(), ignore_index=0)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return model.eval(), src_vocab, tgt_vocab


def save(path: Path, model: Seq2Seq, config: Config, src_vocab, tgt_vocab) -> Path:
    write_atomic(path, checkpoint_bytes(model, config, src_vocab, tgt_vocab))
    return path


def train_small_model(data_dir: Path, out_dir: Path, steps: int, batch_size: int, **model) -> Path:
    """Train a small model on the prepared slice for `steps` Adam steps (one thread, no dev
    BLEU, no TensorBoard) and return its best checkpoint: the decoding tests' trained model."""
    from seq2seq.config import Config
    from seq2seq.experiment import build_trainer

    config = Config.model_validate(
        {
            "data": {"dir": str(data_dir), "batch_size": batch_size},
            "model": {"layers": 1, **model},
            "train": {
                "out_dir": str(out_dir),
                "optimizer": "adam",
                "lr": 0.01,
                "schedule": "constant",
                "normalize": "tokens",
                "max_steps": steps,
                "valid_every": steps,
                "valid_bleu": False,
                "tensorboard": False,
                "threads": 1,
            },
        }
    )
    build_trainer(config).fit()
    return out_dir / "best.safetensors"
