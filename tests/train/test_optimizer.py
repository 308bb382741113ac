"""``make_optimizer``: the RMSProp variants against hand-computed first steps."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from mneme.config import TrainConfig
from mneme.train.session import GRAVES_RMSPROP, make_optimizer


def _first_step(optimizer: str, grad: float, lr: float = 1e-3, momentum: float = 0.9) -> float:
    """The change of a scalar parameter after one step on the gradient ``grad``."""
    model = nn.Linear(1, 1, bias=False)
    with torch.no_grad():
        model.weight.zero_()  # from 0, so float32 keeps the step's digits
    opt = make_optimizer(model, TrainConfig(optimizer=optimizer, lr=lr, momentum=momentum))
    model.weight.grad = torch.full_like(model.weight, grad)
    opt.step()
    return model.weight.item()


def test_graves_rmsprop_is_centred_with_the_papers_decay() -> None:
    opt = make_optimizer(nn.Linear(2, 2), TrainConfig(optimizer="rmsprop-graves", lr=1e-4,
                                                     momentum=0.9))
    group = opt.param_groups[0]
    assert isinstance(opt, torch.optim.RMSprop)
    assert group["centered"] and group["alpha"] == 0.95 and group["eps"] == 1e-2
    assert group["momentum"] == 0.9 and group["lr"] == 1e-4
    assert GRAVES_RMSPROP == {"alpha": 0.95, "eps": 1e-2}


@pytest.mark.parametrize("grad", [1e-4, 1.0, -3.0])
def test_first_steps_match_the_hand_computed_update(grad: float) -> None:
    lr = 1e-3
    # PyTorch's defaults: v = 0.01 g^2, step = lr g / (sqrt(v) + 1e-8)
    plain = lr * grad / (math.sqrt(0.01 * grad**2) + 1e-8)
    # Graves 2013, eqs. 38-41, centred: n = 0.05 g^2, m = 0.05 g,
    # step = lr g / (sqrt(n - m^2) + eps)
    graves = lr * grad / (math.sqrt(0.05 * grad**2 - (0.05 * grad) ** 2) + 1e-2)
    assert _first_step("rmsprop", grad, lr) == pytest.approx(-plain, rel=1e-5)
    assert _first_step("rmsprop-graves", grad, lr) == pytest.approx(-graves, rel=1e-5)


def test_graves_eps_keeps_a_tiny_gradient_from_a_full_step() -> None:
    # the reason for the variant: PyTorch's eps lets a gradient of 1e-4 move a weight as far
    # as a gradient of 1 does (10 lr); under the square root's floor it moves ~1% of lr
    lr = 1e-3
    assert abs(_first_step("rmsprop", 1e-4, lr)) == pytest.approx(10 * lr, rel=1e-3)
    assert abs(_first_step("rmsprop-graves", 1e-4, lr)) < 0.011 * lr
    assert abs(_first_step("rmsprop-graves", 1.0, lr)) > 4 * lr
