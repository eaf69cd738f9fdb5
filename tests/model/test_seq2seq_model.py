"""Seq2Seq: the model contract of docs/ARCHITECTURE.md for every context mode and cell.

The key invariant: `decode` over T steps at once equals T successive one-step calls, for every
mode, so training (T = length) and search (T = 1) run the same decoder.
"""

from __future__ import annotations

import pytest
import torch

from seq2seq.config import ModelConfig
from seq2seq.errors import ConfigError
from seq2seq.model.bridge import Bridge
from seq2seq.model.seq2seq import Seq2Seq

torch.set_num_threads(1)

SRC_V, TGT_V = 15, 17
# (context, attention, input_feeding): every way the decoder can receive the context
MODES = [
    ("init", "general", True),
    ("bridge", "general", True),
    ("concat", "general", True),
    ("peeky", "general", True),
    ("attention", "general", True),
    ("attention", "general", False),
    ("attention", "dot", True),
    ("attention", "bahdanau", True),
    ("attention", "bahdanau", False),
]
MODE_IDS = [f"{c}-{a}-{'feed' if f else 'nofeed'}" if c == "attention" else c for c, a, f in MODES]
CELLS = ["lstm", "gru", "rnn"]


def make_model(mode=MODES[0], cell: str = "lstm", **kw) -> Seq2Seq:
    context, attention, feeding = mode
    torch.manual_seed(0)
    fields = {"embedding_size": 6, "hidden_size": 8, "layers": 2, "init_range": 0.3, **kw}
    cfg = ModelConfig(
        cell=cell, context=context, attention=attention, input_feeding=feeding, **fields
    )
    return Seq2Seq(cfg, SRC_V, TGT_V).eval()


def batch(seed: int = 0):
    gen = torch.Generator().manual_seed(seed)
    src = torch.randint(4, SRC_V, (3, 6), generator=gen)
    lengths = torch.tensor([6, 2, 4])
    src[1, 2:] = 0
    src[2, 4:] = 0
    tgt_in = torch.randint(4, TGT_V, (3, 5), generator=gen)
    tgt_in[:, 0] = 2
    return src, lengths, tgt_in


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("mode", MODES, ids=MODE_IDS)
def test_shapes(mode, cell: str) -> None:
    model = make_model(mode, cell)
    src, lengths, tgt_in = batch()
    state = model.init_state(model.encode(src, lengths))
    assert state.h.shape == (2, 3, 8)
    assert (state.c is not None) == (cell == "lstm")
    features, new_state = model.decode(tgt_in, state)
    width = 16 if mode[0] == "peeky" else 8  # peeky: (h_t, context)
    assert features.shape == (3, 5, width)
    assert model.generator(features).shape == (3, 5, TGT_V)
    assert model(src, lengths, tgt_in).shape == (3, 5, TGT_V)
    log_probs, _ = model.step(tgt_in[:, 0], new_state)
    assert log_probs.shape == (3, TGT_V)
    if mode[0] == "attention":
        assert new_state.attn.shape == (3, 5, 6)
    else:
        assert new_state.attn is None


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("mode", MODES, ids=MODE_IDS)
def test_decode_at_once_equals_step_by_step(mode, cell: str) -> None:
    model = make_model(mode, cell)
    src, lengths, tgt_in = batch()
    with torch.no_grad():
        start = model.init_state(model.encode(src, lengths))
        whole, end = model.decode(tgt_in, start)
        state, steps, attns = start, [], []
        for t in range(tgt_in.size(1)):
            features, state = model.decode(tgt_in[:, t : t + 1], state)
            steps.append(features)
            attns.append(state.attn)
    torch.testing.assert_close(torch.cat(steps, 1), whole, atol=1e-6, rtol=1e-5)
    torch.testing.assert_close(state.h, end.h, atol=1e-6, rtol=1e-5)
    if end.c is not None:
        torch.testing.assert_close(state.c, end.c, atol=1e-6, rtol=1e-5)
    if end.feed is not None:  # Luong §3.3: the fed vector is the last attentional vector h~_t
        torch.testing.assert_close(state.feed, end.feed, atol=1e-6, rtol=1e-5)
        torch.testing.assert_close(end.feed, whole[:, -1])
    if end.attn is not None:
        torch.testing.assert_close(torch.cat(attns, 1), end.attn, atol=1e-6, rtol=1e-5)


@pytest.mark.parametrize("mode", MODES, ids=MODE_IDS)
def test_step_gives_normalised_log_probs_equal_to_forward(mode) -> None:
    model = make_model(mode, "gru")
    src, lengths, tgt_in = batch()
    with torch.no_grad():
        logits = model(src, lengths, tgt_in)
        state = model.init_state(model.encode(src, lengths))
        for t in range(tgt_in.size(1)):
            log_probs, state = model.step(tgt_in[:, t], state)
            torch.testing.assert_close(log_probs.exp().sum(-1), torch.ones(3))
            torch.testing.assert_close(log_probs, logits[:, t].log_softmax(-1), atol=1e-5, rtol=0)


@pytest.mark.parametrize("mode", MODES, ids=MODE_IDS)
def test_padding_does_not_change_a_sentence_logits(mode) -> None:
    model = make_model(mode, "lstm", bidirectional=True)
    src_short, tgt_short = torch.tensor([[5, 9, 4]]), torch.tensor([[2, 7, 8]])
    src_long, tgt_long = torch.tensor([[7, 8, 9, 10, 11, 12]]), torch.tensor([[2, 5, 6, 9, 10]])
    with torch.no_grad():
        alone = model(src_short, torch.tensor([3]), tgt_short)
        src = torch.cat([torch.nn.functional.pad(src_short, (0, 3)), src_long])
        tgt = torch.cat([torch.nn.functional.pad(tgt_short, (0, 2)), tgt_long])
        batched = model(src, torch.tensor([3, 6]), tgt)
    torch.testing.assert_close(batched[0, :3], alone[0], atol=1e-5, rtol=1e-5)


def naive_step(model: Seq2Seq, src, lengths, rows, prefix):
    """Built from scratch: encode sentences `rows`, decode prefix (len(rows), t), step its last."""
    state = model.init_state(model.encode(src[rows], lengths[rows]))
    _, state = model.decode(prefix, state)
    return model.step(prefix[:, -1], state)[0]


@pytest.mark.parametrize("mode", MODES, ids=MODE_IDS)
def test_select_picks_rows_even_repeated(mode) -> None:
    model = make_model(mode, "lstm")
    src, lengths, tgt_in = batch()
    prefix = tgt_in[:, :3]
    index = torch.tensor([2, 0, 0, 1])
    with torch.no_grad():
        _, state = model.decode(prefix, model.init_state(model.encode(src, lengths)))
        picked = state.select(index)
        got, _ = model.step(prefix[index, -1], picked)
        want = naive_step(model, src, lengths, index, prefix[index])
    assert picked.h.shape[1] == 4
    torch.testing.assert_close(picked.h, state.h[:, index])
    if state.attn is not None:
        torch.testing.assert_close(picked.attn, state.attn[index])
    torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("mode", [m for m in MODES if m[0] == "attention"], ids=str)
def test_beam_select_shares_encoder_memory(mode) -> None:
    """Beam search's pattern: expand each sentence to k rows, reorder within, drop a sentence."""
    model = make_model(mode, "lstm")
    src, lengths, tgt_in = batch()
    k = 3
    with torch.no_grad():
        state = model.init_state(model.encode(src, lengths))
        expand = torch.arange(3).repeat_interleave(k)
        state = state.select(expand)
        assert state.group == k and state.memory.size(0) == 3  # no copy per beam
        memory = state.memory
        beams = torch.randint(4, TGT_V, (9, 2), generator=torch.Generator().manual_seed(5))
        _, state = model.decode(beams, state)  # each beam its own history
        reorder = torch.tensor([2, 2, 0, 3, 5, 4, 8, 6, 6])  # stays within each sentence
        state = state.select(reorder)
        assert state.memory is memory and state.group == k
        rows, prefix = expand[reorder], beams[reorder]
        got, state = model.step(prefix[:, -1], state)
        want = naive_step(model, src, lengths, rows, prefix)
        torch.testing.assert_close(got, want, atol=1e-5, rtol=0)
        keep = torch.tensor([0, 1, 2, 6, 7, 8])  # sentence 1 finished: drop its beams
        state = state.select(keep)
        assert state.memory.size(0) == 2 and state.group == k
        odd = torch.tensor([5, 0, 3])  # any other pattern falls back to one memory row per row
        assert state.select(odd).group == 1
        torch.testing.assert_close(state.select(odd).memory, memory[rows[keep][odd]])


def test_init_range_is_respected_and_padding_rows_are_zero() -> None:
    model = make_model(MODES[4], "lstm", init_range=0.05)
    for name, param in model.named_parameters():
        assert param.abs().max() <= 0.05, name
    flat = torch.cat([p.flatten() for p in model.parameters()])
    assert flat.max() > 0.045 and flat.min() < -0.045  # uniform over the whole range
    assert abs(flat.mean()) < 0.005
    assert torch.all(model.encoder.embedding.weight[0] == 0)
    assert torch.all(model.decoder.embedding.weight[0] == 0)


def paper_count(emb: int, hidden: int, layers: int, src_v: int, tgt_v: int) -> int:
    """Paper §3.4, recomputed by hand: two LSTM stacks, two embeddings, one softmax layer."""
    lstm_layer = lambda inp: 4 * hidden * (inp + hidden) + 2 * 4 * hidden  # noqa: E731
    stack = lstm_layer(emb) + (layers - 1) * lstm_layer(hidden)
    return src_v * emb + tgt_v * emb + 2 * stack + tgt_v * hidden + tgt_v


def test_paper_model_has_384m_parameters() -> None:
    cfg = ModelConfig(embedding_size=1000, hidden_size=1000, layers=4)
    count = Seq2Seq.count_parameters(cfg, 160_000, 80_000)
    assert count == paper_count(1000, 1000, 4, 160_000, 80_000)
    assert abs(count - 384e6) / 384e6 < 0.01


@pytest.mark.parametrize("mode", MODES, ids=MODE_IDS)
def test_count_parameters_matches_a_built_model(mode) -> None:
    model = make_model(mode, "gru", bidirectional=True, tie_embeddings=False)
    assert Seq2Seq.count_parameters(model.cfg, SRC_V, TGT_V) == model.num_parameters()


def test_init_hands_the_encoder_state_to_the_decoder() -> None:
    model = make_model(MODES[0], "lstm", bidirectional=True)
    src, lengths, _ = batch()
    enc = model.encode(src, lengths)
    state = model.init_state(enc)
    assert model.bridge is None
    assert state.h.shape == (2, 3, 16)  # per layer: forward and backward concatenated
    torch.testing.assert_close(state.h, enc.h)
    torch.testing.assert_close(state.c, enc.c)


@pytest.mark.parametrize("context", ["concat", "peeky"])
def test_context_vector_is_the_encoders_top_final_state(context: str) -> None:
    model = make_model((context, "general", True), "gru")
    src, lengths, _ = batch()
    enc = model.encode(src, lengths)
    state = model.init_state(enc)
    torch.testing.assert_close(state.context, enc.h[-1])
    assert model.decoder.rnn.input_size == 6 + 8  # embedding + context


@pytest.mark.parametrize("context", ["bridge", "concat", "peeky", "attention"])
@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_bridge_maps_between_different_sizes_and_depths(context: str, cell: str) -> None:
    model = make_model(
        (context, "general", True),
        cell,
        bidirectional=True,
        decoder_hidden_size=12,
        decoder_layers=3,
    )
    src, lengths, tgt_in = batch()
    state = model.init_state(model.encode(src, lengths))
    assert model.bridge is not None
    assert state.h.shape == (3, 3, 12)
    if cell == "lstm":
        assert state.c.shape == (3, 3, 12)
        assert not torch.equal(state.h, torch.tanh(state.c))  # h and c have their own layers
    assert state.h.abs().max() < 1  # tanh
    assert model(src, lengths, tgt_in).shape == (3, 5, TGT_V)


def test_bridge_passes_large_cell_states_on_without_saturating() -> None:
    # A trained encoder's cells reach magnitudes of 2-9. Were c squashed by tanh like h, its map
    # would sit at +-1 for every sentence and the decoder would start from one fixed cell state.
    torch.manual_seed(0)
    bridge = Bridge(enc_layers=2, enc_size=256, dec_layers=2, dec_size=256, has_cell=True)
    with torch.no_grad():
        for param in bridge.parameters():
            param.uniform_(-0.08, 0.08)  # the paper's initialisation
    h = torch.tanh(torch.randn(2, 32, 256))
    c = 5 * torch.randn(2, 32, 256)
    new_h, new_c = bridge(h, c)
    assert new_h.abs().max() < 1  # h stays in an LSTM's range
    spread = new_c.std(dim=1).mean()  # across sentences, per unit; a tanh would keep it below 1
    assert spread > 2, f"the mapped cell state hardly depends on the source (s.d. {spread:.3f})"
    flat = c.transpose(0, 1).reshape(32, -1)  # (B, layers * H), as the bridge reads it
    expected = (flat @ bridge.c.weight.T + bridge.c.bias).view(32, 2, 256).transpose(0, 1)
    torch.testing.assert_close(new_c, expected)  # c is mapped linearly


def test_bridge_is_not_used_when_sizes_agree() -> None:
    for context in ["concat", "peeky", "attention"]:
        assert make_model((context, "general", True)).bridge is None
    assert make_model(("bridge", "general", True)).bridge is not None


def test_tied_embeddings_share_one_tensor() -> None:
    untied = make_model(MODES[4], "lstm", embedding_size=8)
    tied = make_model(MODES[4], "lstm", embedding_size=8, tie_embeddings=True)
    assert tied.generator.weight is tied.decoder.embedding.weight
    assert untied.num_parameters() - tied.num_parameters() == TGT_V * 8
    loss = tied(*batch()).sum()
    loss.backward()
    assert tied.decoder.embedding.weight.grad is tied.generator.weight.grad


def test_tied_embeddings_with_unequal_sizes_is_a_config_error() -> None:
    with pytest.raises(
        ConfigError, match=r"output size \(16\) to equal model.embedding_size \(8\)"
    ):
        make_model(MODES[3], "lstm", embedding_size=8, tie_embeddings=True)  # peeky: 8 + 8


def test_dropout_is_active_in_training_only() -> None:
    model = make_model(MODES[4], "lstm", dropout=0.5)
    src, lengths, tgt_in = batch()
    model.train()
    assert not torch.equal(model(src, lengths, tgt_in), model(src, lengths, tgt_in))
    model.eval()
    torch.testing.assert_close(model(src, lengths, tgt_in), model(src, lengths, tgt_in))


@pytest.mark.parametrize("mode", MODES, ids=MODE_IDS)
def test_bf16_step_returns_float32_log_probs_close_to_fp32(mode):
    """bf16 search: bfloat16 weights under autocast, but scores add up in float32."""
    from seq2seq.precision import autocast

    model = make_model(mode).eval()
    src, lengths = torch.randint(4, SRC_V, (3, 5)), torch.tensor([5, 4, 2])
    tokens = torch.randint(4, TGT_V, (3,))
    with torch.no_grad():
        reference, _ = model.step(tokens, model.init_state(model.encode(src, lengths)))
        half = model.to(torch.bfloat16)
        with autocast("bf16", torch.device("cpu")):
            log_probs, _ = half.step(tokens, half.init_state(half.encode(src, lengths)))
    assert log_probs.dtype == torch.float32
    assert torch.allclose(log_probs.exp().sum(-1), torch.ones(3), atol=1e-5)
    assert (log_probs - reference).abs().max() < 0.05
