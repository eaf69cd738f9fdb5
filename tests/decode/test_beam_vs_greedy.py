"""On a model trained on real data, beam search never finds a worse output than greedy search.

(On untrained models this can fail: the greedy path may be pruned from the beam; see
test_search.py. A trained model's distributions are peaked enough that it does not happen on
this test set, and the test checks that beam search often does strictly better.)
"""

from __future__ import annotations

from pathlib import Path

import pytest

from seq2seq import Translator
from seq2seq.config import Config


@pytest.fixture(scope="module")
def trained(data_dir, tmp_path_factory) -> Path:
    from seq2seq.train.trainer import Trainer

    out = tmp_path_factory.mktemp("beam") / "run"
    config = Config.model_validate(
        {
            "data": {"dir": str(data_dir), "batch_size": 32},
            "model": {"embedding_size": 48, "hidden_size": 64, "layers": 1},
            "train": {
                "out_dir": str(out),
                "optimizer": "adam",
                "lr": 0.01,
                "schedule": "constant",
                "normalize": "tokens",
                "max_steps": 200,
                "valid_every": 200,
                "valid_bleu": False,
                "tensorboard": False,
                "threads": 1,
            },
        }
    )
    Trainer(config).fit()
    return out / "best.safetensors"


@pytest.mark.parametrize("beam_size", [2, 5, 12])
def test_beam_is_never_worse_than_greedy_under_the_model(trained, test_set, beam_size):
    translator = Translator.load(trained)
    lines = test_set[0].read_text(encoding="utf-8").splitlines()
    greedy = translator.translate_hypotheses(
        lines, translator.settings(beam_size=1, length_penalty=0.0)
    )
    beam = translator.translate_hypotheses(
        lines, translator.settings(beam_size=beam_size, length_penalty=0.0)
    )
    better = 0
    for g, b in zip(greedy, beam, strict=True):
        assert b[0].log_prob >= g[0].log_prob - 1e-4, (g[0].text, b[0].text)
        better += b[0].log_prob > g[0].log_prob + 1e-4
    assert better >= len(lines) // 10  # the search does find better outputs, not only equal ones
