"""Gradient norms by lag: how strongly the loss at the last step reaches back to each state.

``gradient_norms_by_lag`` measures it rather than bounding it. The loss is a random projection of
the last output, ``L = sum_b <u_b, y_{T-1, b}>`` with ``u_b`` unit vectors drawn from the seed, so
``||dL/dy_{T-1}|| = 1`` for every example; the norm at lag ``k >= 1`` is ``||dL/dstate_{T-1-k}||``,
the gradient with respect to the whole recurrent state entering step ``T - k`` (h for RNN, IRNN,
GRU; h and c together for LSTMs; every layer of a stack), root-mean-square over the batch. Lag T
is the initial state. Every core of mneme fits: the state is stepped with ``core.step`` and a
zero "probe" tensor is added to each state so that one backward pass yields all the gradients.
The measurement runs in float64, so decays down to ~1e-300 are resolved.

``mneme.commands.diagnose`` (``mneme diagnose gradients``) measures cells and runs with these and
reports the curves; its docstring gives the bound the measurement is compared with.
"""

from __future__ import annotations

import copy
import dataclasses
import math
import re
from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import Tensor, nn

from mneme.errors import UserError

__all__ = [
    "default_inputs",
    "fit_rate",
    "gradient_norms_by_lag",
    "recurrent_weight",
    "sigma_max",
]


def sigma_max(weight: Tensor) -> float:
    """The largest singular value (spectral norm) of a matrix ``(M, N)``, in float64."""
    if weight.dim() != 2:
        raise ValueError(f"sigma_max needs a matrix, got shape {tuple(weight.shape)}")
    return float(torch.linalg.matrix_norm(weight.detach().double(), ord=2))


_RECURRENT_NAME = re.compile(r"(^|\.)(weight_hh(_l0)?|w_hh|recurrent(_weight)?|hidden_to_hidden)"
                             r"(\.weight)?$", re.IGNORECASE)


def recurrent_weight(core: nn.Module) -> Tensor | None:
    """The first layer's recurrent matrix (``(G*H, H)``, G gates stacked) of a core, or None.

    Found by name: ``weight_hh_l0`` (``torch.nn`` cells), ``weight_hh``, ``recurrent`` ...; the
    first match in registration order is the first layer's.
    """
    for name, param in core.named_parameters():
        if param.dim() == 2 and _RECURRENT_NAME.search(name):
            return param
    return None


def _probe(state: Any, probes: list[Tensor]) -> Any:
    """``state`` with a zero tensor (requiring grad) added to each of its tensors."""
    if isinstance(state, Tensor):
        zero = torch.zeros_like(state, requires_grad=True)
        probes.append(zero)
        return state + zero
    if dataclasses.is_dataclass(state) and not isinstance(state, type):
        changes = {f.name: _probe(getattr(state, f.name), probes)
                   for f in dataclasses.fields(state) if f.init}
        return dataclasses.replace(state, **changes)
    if isinstance(state, tuple) and hasattr(state, "_fields"):
        return type(state)(*(_probe(s, probes) for s in state))
    if isinstance(state, tuple | list):
        return type(state)(_probe(s, probes) for s in state)
    return state  # None or plain values: nothing to differentiate


def _stepper(core: nn.Module) -> Callable[[Tensor, Any], tuple[Tensor, Any]]:
    step = getattr(core, "step", None)
    if callable(step):
        return step  # type: ignore[no-any-return]

    def one_step(x_t: Tensor, state: Any) -> tuple[Tensor, Any]:
        out = core(x_t.unsqueeze(1), state)
        return out[0][:, 0], out[1]

    return one_step


def default_inputs(batch_size: int, seq_len: int, input_size: int, seed: int) -> Tensor:
    """Adding-problem inputs ``(B, T, 2)`` when ``input_size == 2``, else standard normal."""
    generator = torch.Generator().manual_seed(seed)
    if input_size == 2:
        from mneme.tasks.adding import adding_batch

        return adding_batch(batch_size, seq_len, generator).inputs  # type: ignore[return-value]
    return torch.randn(batch_size, seq_len, input_size, generator=generator)


def gradient_norms_by_lag(
    core: nn.Module,
    seq_len: int = 200,
    batch_size: int = 32,
    seed: int = 0,
    input_size: int = 2,
    *,
    inputs: Tensor | None = None,
) -> dict[str, Any]:
    """RMS over the batch of ``||dL/dstate_{T-1-k}||`` for lags ``k = 0..T`` (see the module
    docstring for L and the state).

    Args:
        core: a core (DESIGN.md: ``initial_state``, ``step`` or ``forward``); it is copied to
            float64 and put in eval mode, the original is left untouched.
        seq_len, batch_size, input_size: T, B, D of the inputs drawn when ``inputs`` is None
            (``default_inputs``).
        seed: seeds the inputs and the loss projection ``u``.
        inputs: ``(B, T, D)`` to use instead.

    Returns:
        ``{"lags": [0..T], "norms": [...], "rate": fitted per-step factor, "loss": str}``.

    Raises:
        UserError: a core without ``initial_state``.
    """
    if inputs is None:
        inputs = default_inputs(batch_size, seq_len, input_size, seed)
    if not hasattr(core, "initial_state"):
        raise UserError(f"{type(core).__name__} has no initial_state(): not a recurrent core")
    core = copy.deepcopy(core).double().eval()
    x = inputs.detach().double()
    b, t = x.shape[0], x.shape[1]
    step = _stepper(core)
    state = core.initial_state(b, device=x.device, dtype=torch.float64)
    probes: list[list[Tensor]] = []
    y = x.new_zeros(0)
    for i in range(t):
        probes.append([])
        state = _probe(state, probes[-1])  # the state entering step i: lag t - i
        y, state = step(x[:, i], state)
    generator = torch.Generator().manual_seed(seed + 1)
    u = torch.randn(y.shape, generator=generator, dtype=torch.float64)
    u = u / u.flatten(1).norm(dim=1).clamp_min(1e-300).view(-1, *([1] * (u.dim() - 1)))
    loss = (u * y).sum()
    flat = [p for group in probes for p in group]
    grads = torch.autograd.grad(loss, flat, allow_unused=True)
    sq = iter([0.0 if g is None else float(g.double().square().sum()) for g in grads])
    per_step = [sum(next(sq) for _ in group) for group in probes]  # index i: lag t - i
    norms = [float(u.square().sum() / b) ** 0.5] + [math.sqrt(per_step[t - k] / b)
                                                    for k in range(1, t + 1)]
    return {"lags": list(range(t + 1)), "norms": norms, "rate": fit_rate(norms),
            "loss": "sum_b <u_b, y_(T-1),b>, u_b random unit vectors"}


def fit_rate(norms: Sequence[float]) -> float:
    """The per-step factor ``r`` of a least-squares fit ``log norm_k = a + k log r`` over lags
    1..T with finite, positive norms (NaN when fewer than two)."""
    points = [(k, math.log(v)) for k, v in enumerate(norms) if k >= 1 and v > 0
              and math.isfinite(v)]
    if len(points) < 2:
        return math.nan
    mk = sum(k for k, _ in points) / len(points)
    mv = sum(v for _, v in points) / len(points)
    var = sum((k - mk) ** 2 for k, _ in points)
    slope = sum((k - mk) * (v - mv) for k, v in points) / var
    return math.exp(slope)
