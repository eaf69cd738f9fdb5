"""The paper's schedule and clipping, checked against hand-computed values (§3.4)."""

import math

import pytest
import torch

from seq2seq.config import TrainConfig
from seq2seq.train.optim import Schedule, build_optimizer, clip_gradients


def test_halving_schedule_matches_the_paper():
    # 100 batches per epoch: lr 0.7 for 5 epochs, then halved every half epoch (50 steps).
    schedule = Schedule(TrainConfig(), steps_per_epoch=100)
    assert schedule.lr(0) == pytest.approx(0.7)
    assert schedule.lr(499) == pytest.approx(0.7)
    assert schedule.lr(500) == pytest.approx(0.35)
    assert schedule.lr(549) == pytest.approx(0.35)
    assert schedule.lr(550) == pytest.approx(0.175)
    assert schedule.lr(749) == pytest.approx(0.7 / 2**5)  # the last step of 7.5 epochs


def test_warmup_then_constant():
    cfg = TrainConfig(optimizer="adam", lr=1e-3, schedule="constant", warmup_steps=10)
    schedule = Schedule(cfg, steps_per_epoch=5)
    assert schedule.lr(0) == pytest.approx(1e-4)
    assert schedule.lr(9) == pytest.approx(1e-3)
    assert schedule.lr(1000) == pytest.approx(1e-3)


def test_plateau_decays_after_patience_and_round_trips():
    cfg = TrainConfig(
        optimizer="adam", lr=1e-3, schedule="plateau", plateau_patience=1, plateau_factor=0.5
    )
    schedule = Schedule(cfg, steps_per_epoch=5)
    schedule.validated(True)
    schedule.validated(False)
    assert schedule.lr(0) == pytest.approx(1e-3)  # one bad validation is within patience
    schedule.validated(False)
    assert schedule.lr(0) == pytest.approx(5e-4)
    restored = Schedule(cfg, steps_per_epoch=5)
    restored.load_state_dict(schedule.state_dict())
    assert restored.lr(0) == schedule.lr(0)


def test_sgd_has_no_momentum():
    opt = build_optimizer([torch.nn.Parameter(torch.zeros(2))], TrainConfig())
    assert isinstance(opt, torch.optim.SGD)
    assert opt.param_groups[0]["momentum"] == 0.0
    assert opt.param_groups[0]["lr"] == 0.7


def test_clipping_rescales_to_five_only_when_larger():
    p = torch.nn.Parameter(torch.zeros(4))
    p.grad = torch.tensor([30.0, 40.0, 0.0, 0.0])  # norm 50
    norm = clip_gradients([p], TrainConfig())
    assert torch.is_tensor(norm) and float(norm) == pytest.approx(50.0)  # no wait on the device
    assert float(p.grad.norm()) == pytest.approx(5.0, rel=1e-5)
    p.grad = torch.tensor([3.0, 0.0, 0.0, 0.0])
    clip_gradients([p], TrainConfig())
    assert torch.equal(p.grad, torch.tensor([3.0, 0.0, 0.0, 0.0]))
    p.grad = torch.tensor([30.0, 40.0, 0.0, 0.0])
    assert float(clip_gradients([p], TrainConfig(clip_mode="none"))) == pytest.approx(50.0)
    assert math.isclose(float(p.grad.norm()), 50.0, rel_tol=1e-6)
