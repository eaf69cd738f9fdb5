"""The encoder: shapes, packing (padding never reaches the state), direction merging, errors."""

from __future__ import annotations

import pytest
import torch

from seq2seq.config import ModelConfig
from seq2seq.errors import DataError
from seq2seq.model.cells import merge_directions
from seq2seq.model.encoder import Encoder

torch.set_num_threads(1)


def make_encoder(**kw) -> Encoder:
    torch.manual_seed(0)
    cfg = ModelConfig(**{"embedding_size": 6, "hidden_size": 8, "layers": 2, **kw})
    return Encoder(cfg, vocab_size=15).eval()


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_shapes_and_mask(cell: str, bidirectional: bool) -> None:
    enc = make_encoder(cell=cell, bidirectional=bidirectional)
    src = torch.randint(4, 15, (3, 7))
    lengths = torch.tensor([7, 2, 5])
    out = enc(src, lengths)
    width = 16 if bidirectional else 8
    assert out.outputs.shape == (3, 7, width)
    assert out.h.shape == (2, 3, width)
    assert (out.c is not None) == (cell == "lstm")
    if out.c is not None:
        assert out.c.shape == (2, 3, width)
    assert out.mask.tolist()[1] == [True, True, False, False, False, False, False]
    assert out.mask.sum(1).tolist() == [7, 2, 5]
    # padding positions of the outputs are exactly zero
    assert torch.all(out.outputs[~out.mask] == 0)


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_padding_does_not_change_a_sentence_encoding(cell: str, bidirectional: bool) -> None:
    enc = make_encoder(cell=cell, bidirectional=bidirectional)
    short = torch.tensor([[5, 9, 4]])
    long = torch.tensor([[7, 8, 9, 10, 11, 12]])
    alone = enc(short, torch.tensor([3]))
    padded = torch.cat([torch.cat([short, torch.zeros(1, 3, dtype=torch.long)], 1), long])
    batched = enc(padded, torch.tensor([3, 6]))
    torch.testing.assert_close(batched.outputs[0, :3], alone.outputs[0], atol=1e-6, rtol=0)
    torch.testing.assert_close(batched.h[:, 0], alone.h[:, 0], atol=1e-6, rtol=0)
    if alone.c is not None:
        torch.testing.assert_close(batched.c[:, 0], alone.c[:, 0], atol=1e-6, rtol=0)


def test_final_state_is_the_state_after_the_last_real_token() -> None:
    enc = make_encoder(cell="lstm", layers=1)
    src = torch.tensor([[5, 6, 7, 0, 0]])
    out = enc(src, torch.tensor([3]))
    # for a 1-layer unidirectional encoder the final h is the output at the last real position
    torch.testing.assert_close(out.h[0, 0], out.outputs[0, 2])


def test_bidirectional_state_concatenates_forward_and_backward_per_layer() -> None:
    enc = make_encoder(cell="gru", bidirectional=True, layers=1)
    src = torch.tensor([[5, 6, 7, 8]])
    out = enc(src, torch.tensor([4]))
    # forward half: output at the last step; backward half: output at the first step
    torch.testing.assert_close(out.h[0, 0, :8], out.outputs[0, -1, :8])
    torch.testing.assert_close(out.h[0, 0, 8:], out.outputs[0, 0, 8:])
    state = torch.arange(2 * 2 * 3 * 4, dtype=torch.float).view(4, 3, 4)  # (layers*2, B, H)
    merged = merge_directions(state)
    assert merged.shape == (2, 3, 8)
    torch.testing.assert_close(merged[1, 2], torch.cat([state[2, 2], state[3, 2]]))


def test_empty_source_sentence_is_a_data_error() -> None:
    enc = make_encoder()
    with pytest.raises(DataError, match="source sentence 1 of the batch is empty"):
        enc(torch.tensor([[5, 6], [0, 0]]), torch.tensor([2, 0]))
