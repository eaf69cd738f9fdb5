"""The exported graphs step by step against PyTorch, for the case issue 26 found apart: a
bidirectional tanh-RNN encoder, Bahdanau attention and input feeding, on one batch of sources
from 1 to 9 words. The encoder's state (padding included), one decoder step from the same state,
28 steps each on its own state, and rows leaving the batch all agree to float32 rounding."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from export_standins import LINES, MAX_STEPS, checkpoint, source_batch, teacher_tokens
from seq2seq_runtime.model import Member, MemberState, OnnxModel

from seq2seq.checkpoint import load_model
from seq2seq.export.onnx import export_onnx

NAME = "rnn-bi-bahdanau-feed"


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """(PyTorch model, the runtime's member, src, lengths) for LINES, longest first."""
    torch.set_num_threads(1)
    folder = tmp_path_factory.mktemp("step")
    path = checkpoint(folder, NAME, seed=len(NAME))
    manifest = export_onnx([path], folder / "onnx")
    member = OnnxModel(folder / "onnx", manifest["members"], threads=1).members[0]
    lines = sorted(LINES, key=lambda line: -len(line.split()))
    src, lengths = source_batch(lines)
    assert lengths.max() == 9 and lengths.min() == 1  # very different lengths in one batch
    return load_model(path)[0], member, src, lengths


def _state_of(member: Member, src: torch.Tensor, lengths: torch.Tensor) -> MemberState:
    return member.encode(src.numpy(), lengths.numpy())


def _graph_step(member: Member, tokens: torch.Tensor, state: MemberState):
    return member.step(tokens.numpy(), state, None)


def _close(ours: torch.Tensor, theirs: np.ndarray, tolerance: float, what: str) -> None:
    gap = float(np.abs(ours.detach().numpy() - theirs).max())
    assert gap < tolerance, f"{what} apart by {gap:.2g}"


@pytest.mark.slow
def test_encoder_state_equals_pytorch_padding_included(exported):
    model, member, src, lengths = exported
    with torch.no_grad():
        state = model.init_state(model.encode(src, lengths))
    graph = _state_of(member, src, lengths)
    assert np.array_equal(graph.memory["mask"], state.mask.numpy())
    pads = ~state.mask.numpy()
    assert pads.any() and not graph.memory["memory"][pads].any()  # zeros past each length
    for name, theirs in {**graph.rows, **graph.memory}.items():
        _close(getattr(state, name).float(), theirs.astype(np.float32), 1e-5, f"encoder {name}")


@pytest.mark.slow
def test_one_step_from_the_same_state_equals_pytorch(exported):
    model, member, src, lengths = exported
    with torch.no_grad():
        state = model.init_state(model.encode(src, lengths))
        log_probs, after = model.step(torch.full((src.size(0),), 2), state)
    rows = {"h": state.h.numpy(), "feed": state.feed.numpy()}
    memory = {n: getattr(state, n).numpy() for n in ("memory", "keys", "mask")}
    given = MemberState(rows, memory, np.arange(src.size(0)))
    values, _ = _graph_step(member, torch.full((src.size(0),), 2), given)
    _close(log_probs, values["log_probs"], 1e-5, "log_probs")
    _close(after.h, values["h_out"], 1e-5, "h")
    _close(after.feed, values["feed_out"], 1e-5, "the fed attentional vector")
    _close(after.attn[:, -1], values["attn"], 1e-6, "attention")


@pytest.mark.slow
def test_each_side_on_its_own_state_stays_together_for_the_longest_output(exported):
    model, member, src, lengths = exported
    with torch.no_grad():
        state = model.init_state(model.encode(src, lengths))
    graph = _state_of(member, src, lengths)
    gaps = []
    for tokens in teacher_tokens(src.size(0)):
        with torch.no_grad():
            log_probs, state = model.step(tokens, state)
        values, graph = _graph_step(member, tokens, graph)
        gaps.append(float(np.abs(log_probs.numpy() - values["log_probs"]).max()))
    assert len(gaps) == MAX_STEPS and max(gaps) < 1e-4, f"apart by {max(gaps):.2g}"


@pytest.mark.slow
def test_rows_leaving_the_batch_do_not_change_the_others(exported):
    """The runtime drops finished sentences; the rest step as they would have in the whole batch."""
    model, member, src, lengths = exported
    tokens = teacher_tokens(src.size(0), steps=2)
    graph = _state_of(member, src, lengths)
    values, graph = _graph_step(member, tokens[0], graph)
    keep = np.arange(0, src.size(0), 3)  # long, middle and one-word sources
    whole, _ = _graph_step(member, tokens[1], graph)
    part, _ = _graph_step(member, tokens[1][keep], graph.select(keep))
    assert np.abs(whole["log_probs"][keep] - part["log_probs"]).max() < 1e-5
    with torch.no_grad():
        state = model.init_state(model.encode(src, lengths))
        _, state = model.step(tokens[0], state)
        ours, _ = model.step(tokens[1][keep], state.select(torch.from_numpy(keep)))
    _close(ours, part["log_probs"], 1e-4, "log_probs after rows left")  # each on its own state
