"""The standard recurrent cells as cores: Elman/ReLU RNN (IRNN) and LSTM on ``torch.nn``.

Each wraps the fused ``torch.nn.RNN`` / ``torch.nn.LSTM`` kernel in the core contract of DESIGN.md
(``initial_state``, ``forward(x, state) -> (y, state)``, ``step``), with an explicit state.

- IRNN: Le, Jaitly & Hinton 2015, "A Simple Way to Initialize Recurrent Networks of Rectified
  Linear Units" (arXiv 1504.00941): ReLU units, recurrent matrix initialised to the identity
  (``recurrent_init`` times it), biases zero.
- LSTM: Hochreiter & Schmidhuber 1997 with the forget gate (Gers et al. 2000).

Legend: B batch, T time, D input features, H hidden units, L layers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
from torch import Tensor, nn

__all__ = ["IRNN", "LSTM", "LSTMState", "RNNState"]


@dataclass(frozen=True)
class RNNState:
    """h ``(L, B, H)``."""

    hidden: Tensor


@dataclass(frozen=True)
class LSTMState:
    """h and c, each ``(L, B, H)``."""

    hidden: Tensor
    cell: Tensor


class IRNN(nn.Module):
    """An Elman RNN core (tanh, or ReLU with identity init: the IRNN), on ``torch.nn.RNN``.

    Args:
        input_size: D.
        hidden_size: H.
        num_layers: L.
        nonlinearity: ``"relu"`` (IRNN) or ``"tanh"`` (Elman).
        recurrent_init: the recurrent matrices start as this times the identity (relu only;
            Le et al. use 1.0); None keeps PyTorch's uniform init.
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        *,
        nonlinearity: Literal["relu", "tanh"] = "relu",
        recurrent_init: float | None = 1.0,
    ) -> None:
        super().__init__()
        self.hidden_size, self.num_layers = hidden_size, num_layers
        self.rnn = nn.RNN(input_size, hidden_size, num_layers, nonlinearity=nonlinearity,
                          batch_first=True)
        if nonlinearity == "relu" and recurrent_init is not None:
            with torch.no_grad():
                for layer in range(num_layers):
                    getattr(self.rnn, f"weight_hh_l{layer}").copy_(
                        recurrent_init * torch.eye(hidden_size))
                    getattr(self.rnn, f"bias_hh_l{layer}").zero_()
                    getattr(self.rnn, f"bias_ih_l{layer}").zero_()

    def initial_state(self, batch_size: int, device: torch.device | str | None = None,
                      dtype: torch.dtype | None = None) -> RNNState:
        """Zeros."""
        p = self.rnn.weight_hh_l0
        return RNNState(torch.zeros(self.num_layers, batch_size, self.hidden_size,
                                    device=device or p.device, dtype=dtype or p.dtype))

    def forward(self, x: Tensor, state: RNNState | None = None, *,
                trace: bool = False) -> tuple[Tensor, RNNState]:
        """``x`` ``(B, T, D)`` -> ``(y (B, T, H), state)``; ``trace`` has nothing to add."""
        h0 = None if state is None else state.hidden
        y, h = self.rnn(x, h0)
        return y, RNNState(h)

    def step(self, x_t: Tensor, state: RNNState) -> tuple[Tensor, RNNState]:
        """``x_t`` ``(B, D)`` -> ``(y_t (B, H), state)``."""
        y, new_state = self.forward(x_t.unsqueeze(1), state)
        return y[:, 0], new_state


class LSTM(nn.Module):
    """An LSTM core on ``torch.nn.LSTM``.

    Args:
        input_size: D.
        hidden_size: H.
        num_layers: L.
        forget_bias: added to the forget gate's bias at init (1.0 is the common choice).
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, *,
                 forget_bias: float = 1.0) -> None:
        super().__init__()
        self.hidden_size, self.num_layers = hidden_size, num_layers
        self.lstm = nn.LSTM(input_size, hidden_size, num_layers, batch_first=True)
        with torch.no_grad():  # gate order i, f, g, o
            for layer in range(num_layers):
                bias = getattr(self.lstm, f"bias_ih_l{layer}")
                bias[hidden_size : 2 * hidden_size] += forget_bias

    def initial_state(self, batch_size: int, device: torch.device | str | None = None,
                      dtype: torch.dtype | None = None) -> LSTMState:
        """Zeros."""
        p = self.lstm.weight_hh_l0
        z = torch.zeros(self.num_layers, batch_size, self.hidden_size,
                        device=device or p.device, dtype=dtype or p.dtype)
        return LSTMState(z, z.clone())

    def forward(self, x: Tensor, state: LSTMState | None = None, *,
                trace: bool = False) -> tuple[Tensor, LSTMState]:
        """``x`` ``(B, T, D)`` -> ``(y (B, T, H), state)``; ``trace`` has nothing to add."""
        hc = None if state is None else (state.hidden, state.cell)
        y, (h, c) = self.lstm(x, hc)
        return y, LSTMState(h, c)

    def step(self, x_t: Tensor, state: LSTMState) -> tuple[Tensor, LSTMState]:
        """``x_t`` ``(B, D)`` -> ``(y_t (B, H), state)``."""
        y, new_state = self.forward(x_t.unsqueeze(1), state)
        return y[:, 0], new_state
