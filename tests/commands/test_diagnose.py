"""``mneme.commands.diagnose``: gradient norms by lag, checked against hand-computed Jacobians."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import pytest
import torch
from torch import Tensor, nn

from mneme.cli import main
from mneme.commands.diagnose import (
    fit_rate,
    gradient_norms_by_lag,
    recurrent_weight,
    sigma_max,
)


@dataclass(frozen=True)
class _State:
    hidden: Tensor


class _Pair(NamedTuple):
    hidden: Tensor
    extra: Tensor


class LinearRNN(nn.Module):
    """h_t = W h_{t-1} + V x_t with W = a * Q, Q orthogonal: ||dL/dh_{T-1-k}|| = a^k exactly."""

    def __init__(self, a: float, d: int = 3, h: int = 6, *, named_tuple: bool = False) -> None:
        super().__init__()
        torch.manual_seed(0)
        q, _ = torch.linalg.qr(torch.randn(h, h, dtype=torch.float64))
        self.weight_hh = nn.Parameter(a * q)
        self.v = nn.Parameter(torch.randn(h, d, dtype=torch.float64))
        self.h, self.named_tuple = h, named_tuple

    def initial_state(self, batch_size, device=None, dtype=None):
        z = torch.zeros(batch_size, self.h, device=device, dtype=dtype)
        return _Pair(z, torch.zeros_like(z)) if self.named_tuple else _State(z)

    def step(self, x_t, state):
        h = state.hidden @ self.weight_hh.T + x_t @ self.v.T
        return h, (_Pair(h, state.extra) if self.named_tuple else _State(h))


@pytest.mark.parametrize(("a", "named_tuple"), [(0.9, False), (1.0, False), (1.1, True)])
def test_linear_orthogonal_rnn_norm_at_lag_k_is_a_to_the_k(a, named_tuple):
    t = 30
    result = gradient_norms_by_lag(LinearRNN(a, named_tuple=named_tuple), seq_len=t,
                                   batch_size=5, input_size=3, seed=2)
    norms = result["norms"]
    assert result["lags"] == list(range(t + 1)) and len(norms) == t + 1
    for k, value in enumerate(norms):
        assert value == pytest.approx(a**k, rel=1e-10)
    assert result["rate"] == pytest.approx(a, rel=1e-10)


def _tanh_reference(rnn: nn.RNN, x: Tensor, u: Tensor) -> list[float]:
    """By hand: dL/dh_{t-1} = W^T ((1 - h_t^2) * dL/dh_t), from dL/dh_{T-1} = u."""
    w_hh, w_ih = rnn.weight_hh_l0.double(), rnn.weight_ih_l0.double()
    bias = rnn.bias_ih_l0.double() + rnn.bias_hh_l0.double()
    b, t, _ = x.shape
    hs = [torch.zeros(b, w_hh.shape[0], dtype=torch.float64)]
    with torch.no_grad():
        for i in range(t):
            hs.append(torch.tanh(hs[-1] @ w_hh.T + x[:, i] @ w_ih.T + bias))
        g, norms = u.clone(), [float(u.square().sum() / b) ** 0.5]
        for i in range(t, 0, -1):  # h_i = hs[i]; gradient to hs[i - 1]
            g = ((1 - hs[i] ** 2) * g) @ w_hh
            norms.append(float(g.square().sum() / b) ** 0.5)
    return norms


def test_tanh_rnn_matches_hand_computed_backprop_and_obeys_the_bound():
    from mneme.cells import ElmanRNN

    torch.manual_seed(1)
    core = ElmanRNN(2, 8)
    x = torch.randn(4, 15, 2, dtype=torch.float64)
    result = gradient_norms_by_lag(core, seed=5, inputs=x)
    generator = torch.Generator().manual_seed(6)  # the projection u uses seed + 1
    u = torch.randn(4, 8, generator=generator, dtype=torch.float64)
    u = u / u.norm(dim=1, keepdim=True)
    assert result["norms"] == pytest.approx(_tanh_reference(core.rnn, x, u), rel=1e-9)
    bound = sigma_max(recurrent_weight(core))  # gamma = 1 for tanh
    for k, value in enumerate(result["norms"]):
        assert value <= bound**k * (1 + 1e-9)


def test_tanh_rnn_with_small_weights_vanishes():
    from mneme.cells import ElmanRNN

    torch.manual_seed(0)
    core = ElmanRNN(2, 20)
    with torch.no_grad():
        core.rnn.weight_hh_l0.mul_(0.2)
    result = gradient_norms_by_lag(core, seq_len=60, batch_size=8)
    s = sigma_max(core.rnn.weight_hh_l0)
    assert s < 0.5
    assert result["norms"][50] < s**50 < 1e-15
    assert result["rate"] < s


def test_lstm_with_forget_bias_decays_slower_than_tanh_rnn_at_init():
    from mneme.cells import LSTM, ElmanRNN

    torch.manual_seed(0)
    lstm = LSTM(2, 50, forget_bias=1.0)
    torch.manual_seed(0)
    rnn = ElmanRNN(2, 50)
    a = gradient_norms_by_lag(lstm, seq_len=60, batch_size=16, seed=3)
    b = gradient_norms_by_lag(rnn, seq_len=60, batch_size=16, seed=3)
    assert a["rate"] > b["rate"]
    assert a["norms"][30] > 1e3 * b["norms"][30]


def test_irnn_keeps_the_gradient_of_active_units():
    from mneme.cells import IRNN

    torch.manual_seed(0)
    core = IRNN(2, 30)  # ReLU, W_hh = I, zero biases
    assert sigma_max(core.rnn.weight_hh_l0) == pytest.approx(1.0)
    result = gradient_norms_by_lag(core, seq_len=50, batch_size=8)
    # dL/dh_{t-1} = W^T (relu'(a_t) * dL/dh_t) = the gradient masked to the active units
    assert all(x >= y - 1e-12 for x, y in zip(result["norms"], result["norms"][1:]))
    assert result["norms"][50] > 0.05


def test_every_cell_of_the_library_can_be_diagnosed():
    from mneme.cells import CELLS
    from mneme.commands.diagnose import init_core

    for cell in CELLS:
        core = init_core(cell, 6, seed=0)
        norms = gradient_norms_by_lag(core, seq_len=8, batch_size=3)["norms"]
        assert len(norms) == 9 and norms[0] == pytest.approx(1.0), cell
        assert all(math.isfinite(v) and v >= 0 for v in norms) and norms[1] > 0, cell
        weight = recurrent_weight(core)
        assert weight is not None and weight.shape[1] == 6, cell


def test_sigma_max_of_a_diagonal_matrix_is_its_largest_absolute_entry():
    assert sigma_max(torch.diag(torch.tensor([3.0, -5.0, 2.0]))) == pytest.approx(5.0)
    assert sigma_max(torch.tensor([[0.0, 2.0], [0.0, 0.0]])) == pytest.approx(2.0)
    with pytest.raises(ValueError):
        sigma_max(torch.ones(3))


def test_recurrent_weight_is_found_by_name():
    rnn = nn.Module()
    rnn.rnn = nn.RNN(2, 4)
    assert recurrent_weight(rnn) is rnn.rnn.weight_hh_l0
    assert recurrent_weight(nn.Linear(2, 2)) is None


def test_fit_rate_recovers_a_geometric_rate_and_skips_zeros():
    assert fit_rate([1.0] + [3 * 0.7**k for k in range(1, 20)]) == pytest.approx(0.7)
    assert fit_rate([1.0, 0.5, 0.25, 0.0, 0.0]) == pytest.approx(0.5)
    assert math.isnan(fit_rate([1.0, 0.0, 0.0]))


# -- the command ------------------------------------------------------------------------------
def _fake_trained_run(run: Path) -> torch.Tensor:
    """A run directory as ``train_run`` leaves it (config.json, checkpoints/best.pt) holding a GRU
    regressor whose recurrent matrix is scaled up (no optimiser: keeps the test fast)."""
    from mneme.config import TrainConfig
    from mneme.models.build import model_entry
    from mneme.tasks.adding import AddingConfig, AddingTask
    from mneme.train.checkpoint import atomic_write_text, save_checkpoint
    from mneme.train.run import RunConfig, build_model

    model_cfg = model_entry("gru", "adding").config_class()(hidden_size=6)
    config = RunConfig("adding", AddingConfig(seq_len=6), "gru", model_cfg, TrainConfig())
    torch.manual_seed(3)
    model = build_model(config, AddingTask(config.task))
    with torch.no_grad():
        model.core.gru.weight_hh_l0.mul_(2.0)
    run.mkdir(parents=True)
    atomic_write_text(run / "config.json", json.dumps(config.to_json()))
    save_checkpoint(run / "checkpoints" / "best.pt", {"model": model.state_dict()})
    return model.core.gru.weight_hh_l0.detach()


def test_cli_writes_png_and_json_for_cells_and_a_trained_run(tmp_path: Path, capsys):
    run = tmp_path / "run"
    trained_weight = _fake_trained_run(run)
    png, js = tmp_path / "out" / "grad.png", tmp_path / "grad.json"
    argv = ["diagnose", "gradients", "--models", "rnn", "irnn", "lstm", "--hidden-size", "8",
            "--seq-len", "12", "--batch-size", "4", "--runs", str(run), "--out", str(png),
            "--json", str(js)]  # fmt: skip
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "sigma_max" in printed and "lstm (init)" in printed and "gru (trained: run)" in printed
    assert png.stat().st_size > 5_000
    data = json.loads(js.read_text())
    curves = {c["label"]: c for c in data["curves"]}
    assert set(curves) == {"rnn (init)", "irnn (init)", "lstm (init)", "gru (trained: run)"}
    for curve in curves.values():
        assert len(curve["norms"]) == 13 and curve["norms"][0] == pytest.approx(1.0)
    assert curves["irnn (init)"]["sigma_max"] == pytest.approx(1.0)
    assert curves["rnn (init)"]["bound"] == pytest.approx(curves["rnn (init)"]["sigma_max"])
    assert curves["lstm (init)"]["bound"] is None
    assert curves["gru (trained: run)"]["sigma_max"] == pytest.approx(sigma_max(trained_weight))


@pytest.mark.parametrize(
    ("argv", "named"),
    [
        (["gradients", "--models", "rnn", "transformer"], "transformer"),
        (["gradients", "--seq-len", "0"], "--seq-len"),
        (["gradients", "--models", "--runs"], "nothing to measure"),
        (["gradients", "--models", "rnn", "--runs", "/nonexistent/run"], "/nonexistent/run"),
        (["gradients", "--out", "x.pdf"], "--out"),
        ([], "subcommand"),
        (["curvature"], "subcommand"),
    ],
)
def test_cli_user_mistakes_exit_2_with_one_line(argv, named, capsys, tmp_path: Path):
    assert main(["diagnose", *argv]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert err.startswith("mneme: error: ") and named in err
    if "transformer" in named:
        assert "lstm" in err and "gru" in err  # lists the known cells
