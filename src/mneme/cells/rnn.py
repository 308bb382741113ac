"""Elman RNNs: the tanh network and the ReLU network with identity initialisation (IRNN).

h_t = act(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh), act = tanh (Elman 1990, "Finding Structure in
Time") or ReLU. The IRNN (Le, Jaitly & Hinton 2015, "A Simple Way to Initialize Recurrent
Networks of Rectified Linear Units", arXiv 1504.00941) uses ReLU units, W_hh = I
(``recurrent_init`` times it) and zero biases, so that at the start the hidden state is copied
forward unchanged and gradients flow back undiminished.

Both run on the fused ``torch.nn.RNN`` kernel (``self.rnn``, its parameter names); the per-step
path ``rnn_scan`` over the same weights serves ``trace=True`` and variational recurrent dropout
(see ``mneme.cells.stacks``).

Legend: B batch, T time, D input features, H hidden units, L layers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from mneme.cells.stacks import RecurrentStack, RNNState, ScanResult

__all__ = ["IRNN", "ElmanRNN", "RNNState", "RNNTrace", "rnn_scan"]

Nonlinearity = Literal["tanh", "relu"]


@dataclass(frozen=True)
class RNNTrace:
    """``pre_activation`` ``(L * dirs, B, T, H)``: W_ih x_t + W_hh h_{t-1} + b of every step
    (for a ReLU network, where it is > 0 the unit is active)."""

    pre_activation: Tensor


def rnn_scan(xw: Tensor, h0: Tensor, weight_hh: Tensor, *, nonlinearity: Nonlinearity = "tanh",
             recurrent_mask: Tensor | None = None) -> tuple[Tensor, Tensor, Tensor]:
    """The recurrence h_t = act(xw_t + W_hh (m * h_{t-1})), one matmul per step.

    Args:
        xw: ``(B, T, H)`` the input term W_ih x_t + biases, for every t (one matmul before).
        h0: ``(B, H)``.
        weight_hh: ``(H, H)``.
        nonlinearity: ``"tanh"`` or ``"relu"``.
        recurrent_mask: ``(B, H)`` m, the same at every step (variational dropout); None is 1.

    Returns:
        ``(y (B, T, H), h_T (B, H), pre-activations (B, T, H))``.
    """
    act = torch.tanh if nonlinearity == "tanh" else torch.relu
    wt = weight_hh.t()
    h = h0
    ys, pres = [], []
    for xw_t in xw.unbind(1):
        pre = torch.addmm(xw_t, h if recurrent_mask is None else h * recurrent_mask, wt)
        h = act(pre)
        ys.append(h)
        pres.append(pre)
    return torch.stack(ys, 1), h, torch.stack(pres, 1)


class ElmanRNN(RecurrentStack):
    """An Elman RNN stack (tanh or ReLU) on ``torch.nn.RNN``, a core.

    Args:
        input_size: D.
        hidden_size: H.
        num_layers: L.
        nonlinearity: ``"tanh"`` (Elman) or ``"relu"``.
        recurrent_init: if not None, every W_hh starts as this times the identity and every bias
            at zero (Le et al. 2015 use 1.0 with ReLU); None keeps PyTorch's uniform init.
        **stack: ``bidirectional``, ``merge``, ``dropout``, ``variational``,
            ``recurrent_dropout`` (see ``RecurrentStack``).
    """

    trace_type = RNNTrace

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, *,
                 nonlinearity: Nonlinearity = "tanh", recurrent_init: float | None = None,
                 **stack: Any) -> None:
        super().__init__(input_size, hidden_size, num_layers, **stack)
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
        self.nonlinearity: Nonlinearity = nonlinearity
        self.recurrent_init = recurrent_init
        between = self.dropout if num_layers > 1 and not self.variational else 0.0
        self.rnn = nn.RNN(input_size, hidden_size, num_layers, nonlinearity=nonlinearity,
                          batch_first=True, bidirectional=self.bidirectional, dropout=between)
        if recurrent_init is not None:
            with torch.no_grad():
                for name, p in self.rnn.named_parameters():
                    if name.startswith("weight_hh"):
                        p.copy_(recurrent_init * torch.eye(hidden_size))
                    elif name.startswith("bias"):
                        p.zero_()

    def _has_fused(self) -> bool:
        return True

    def _fused(self, x: Tensor, state: Any) -> tuple[Tensor, RNNState]:
        y, h = self.rnn(x, state.hidden)
        return y, RNNState(h)

    def _scan_layer(self, layer: int, direction: int, x: Tensor, h0: Tensor, c0: Tensor | None,
                    recurrent_mask: Tensor | None, trace: bool) -> ScanResult:
        sfx = f"_l{layer}" + ("_reverse" if direction else "")
        m = self.rnn
        bias = getattr(m, "bias_ih" + sfx) + getattr(m, "bias_hh" + sfx)
        xw = F.linear(x, getattr(m, "weight_ih" + sfx), bias)
        y, h, pre = rnn_scan(xw, h0, getattr(m, "weight_hh" + sfx),
                             nonlinearity=self.nonlinearity, recurrent_mask=recurrent_mask)
        return y, h, None, ({"pre_activation": pre} if trace else None)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, nonlinearity={self.nonlinearity!r}"


class IRNN(ElmanRNN):
    """The IRNN (Le et al. 2015): an ``ElmanRNN`` with ReLU units, W_hh = I and zero biases.

    Args:
        input_size: D.
        hidden_size: H.
        num_layers: L.
        nonlinearity: ``"relu"`` (the IRNN) or ``"tanh"``.
        recurrent_init: W_hh starts as this times the identity (Le et al.: 1.0); None keeps
            PyTorch's init.
        **stack: see ``RecurrentStack``.
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, *,
                 nonlinearity: Nonlinearity = "relu", recurrent_init: float | None = 1.0,
                 **stack: Any) -> None:
        super().__init__(input_size, hidden_size, num_layers, nonlinearity=nonlinearity,
                         recurrent_init=recurrent_init, **stack)
