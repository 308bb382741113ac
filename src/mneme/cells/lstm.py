"""The LSTM and its variants (Greff et al. 2017, "LSTM: A Search Space Odyssey", arXiv 1503.04069).

The standard LSTM (Hochreiter & Schmidhuber 1997, with the forget gate of Gers, Schmidhuber &
Cummins 2000), gates stacked in ``torch.nn``'s order i, f, g, o::

    a = W x_t + U h_{t-1} + b
    i = sigmoid(a_i),  f = sigmoid(a_f),  g = tanh(a_g),  o = sigmoid(a_o)
    c_t = f * c_{t-1} + i * g,   h_t = o * tanh(c_t)

``LSTM`` runs it on the fused ``torch.nn.LSTM`` kernel. ``VariantLSTM`` picks one of Greff et al.'s
variants with its ``variant`` field:

- ``"peephole"`` (Gers & Schmidhuber 2000): diagonal weights p from the cell to the gates,
  a_i += p_i * c_{t-1}, a_f += p_f * c_{t-1}, a_o += p_o * c_t.
- ``"coupled"`` (CIFG): f = 1 - i; no forget-gate parameters (gates i, g, o).
- ``"no-forget"`` (NFG): f = 1, the original 1997 LSTM (gates i, g, o).
- ``"no-output"`` (NOG): o = 1, h_t = tanh(c_t) (gates i, f, g).
- ``"layer-norm"`` (Ba, Kiros & Hinton 2016, "Layer Normalization", arXiv 1607.06450, section 3.1
  and the supplementary material): a = LN(W x_t; alpha_2, beta_2) + LN(U h_{t-1}; alpha_1) and
  h_t = o * tanh(LN(c_t; alpha_3, beta_3)), each LN over the whole vector (4H for the gates, H for
  the cell) of each sequence; beta_2 serves as the bias b (the paper's beta_1 and b add to it).
- ``"vanilla"``: the standard LSTM on the same per-step path (for benchmarks and recurrent
  dropout).

Legend: B batch, T time, D input features, H hidden units, G = (number of gates) * H, L layers.

Where it lives: the per-step path (``lstm_scan``, its hand-written backward pass) and the
variants' gate layouts (``LSTMVariant``, ``LSTM_VARIANTS``, ``GATE_LAYOUT``) in
``mneme.cells.lstm_kernel``; the trace and the two stacks here. Every public name is importable
from this module.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from mneme.cells.lstm_kernel import GATE_LAYOUT, LSTM_VARIANTS, LSTMVariant, lstm_scan
from mneme.cells.stacks import LSTMState, RecurrentStack, ScanResult

__all__ = [
    "GATE_LAYOUT",
    "LSTM",
    "LSTM_VARIANTS",
    "LSTMState",
    "LSTMTrace",
    "LSTMVariant",
    "VariantLSTM",
    "lstm_scan",
]


@dataclass(frozen=True)
class LSTMTrace:
    """The gates of every step, each ``(L * dirs, B, T, H)``.

    ``forget_gate`` is 1 - i for ``coupled`` and 1 for ``no-forget``; ``output_gate`` is 1 for
    ``no-output``; ``cell`` is c_t.
    """

    input_gate: Tensor
    forget_gate: Tensor
    cell_candidate: Tensor
    output_gate: Tensor
    cell: Tensor


def _trace_fields(variant: str, gates: Tensor, cells: Tensor) -> dict[str, Tensor]:
    h_size = cells.shape[-1]
    layout = GATE_LAYOUT[variant]
    part = {name: gates[..., k * h_size : (k + 1) * h_size] for k, name in enumerate(layout)}
    i = part["i"]
    if "f" in part:
        f = part["f"]
    else:
        f = 1 - i if variant == "coupled" else torch.ones_like(i)
    o = part.get("o", torch.ones_like(i))
    return {"input_gate": i, "forget_gate": f, "cell_candidate": part["g"], "output_gate": o,
            "cell": cells}


class LSTM(RecurrentStack):
    """An LSTM stack on ``torch.nn.LSTM`` (``self.lstm``, its parameter names), a core.

    Args:
        input_size: D.
        hidden_size: H.
        num_layers: L.
        forget_bias: added to every forget gate's bias (``bias_ih``) at init; 1.0 is the common
            choice (Gers et al. 2000; Jozefowicz et al. 2015).
        **stack: ``bidirectional``, ``merge``, ``dropout``, ``variational``,
            ``recurrent_dropout`` (see ``RecurrentStack``).
    """

    has_cell_state = True
    trace_type = LSTMTrace

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, *,
                 forget_bias: float = 1.0, **stack: Any) -> None:
        super().__init__(input_size, hidden_size, num_layers, **stack)
        between = self.dropout if num_layers > 1 and not self.variational else 0.0
        self.lstm = nn.LSTM(input_size, hidden_size, num_layers, batch_first=True,
                            bidirectional=self.bidirectional, dropout=between)
        with torch.no_grad():  # gate order i, f, g, o
            for name, p in self.lstm.named_parameters():
                if name.startswith("bias_ih"):
                    p[hidden_size : 2 * hidden_size] += forget_bias

    def _has_fused(self) -> bool:
        return True

    def _fused(self, x: Tensor, state: Any) -> tuple[Tensor, LSTMState]:
        y, (h, c) = self.lstm(x, (state.hidden, state.cell))
        return y, LSTMState(h, c)

    def _scan_layer(self, layer: int, direction: int, x: Tensor, h0: Tensor, c0: Tensor | None,
                    recurrent_mask: Tensor | None, trace: bool) -> ScanResult:
        assert c0 is not None
        sfx = f"_l{layer}" + ("_reverse" if direction else "")
        m = self.lstm
        xw = F.linear(x, getattr(m, "weight_ih" + sfx),
                      getattr(m, "bias_ih" + sfx) + getattr(m, "bias_hh" + sfx))
        y, h, c, gates, cells = lstm_scan(xw, h0, c0, getattr(m, "weight_hh" + sfx),
                                          recurrent_mask=recurrent_mask)
        return y, h, c, (_trace_fields("vanilla", gates, cells) if trace else None)


class VariantLSTM(RecurrentStack):
    """An LSTM-variant stack on the fast per-step path (Greff et al. 2017), a core.

    Parameters of layer l (``_reverse`` appended for the reverse direction), G = gates * H:
    ``weight_ih_l{l}`` W ``(G, D_l)``, ``weight_hh_l{l}`` U ``(G, H)``, ``bias_l{l}`` b ``(G,)``;
    ``peephole_l{l}`` ``(3, H)`` (p_i, p_f, p_o); for ``layer-norm``: ``input_norm_weight_l{l}``
    alpha_2 ``(G,)`` (``bias_l{l}`` is its beta_2), ``recurrent_norm_weight_l{l}`` alpha_1 ``(G,)``,
    ``cell_norm_weight_l{l}`` alpha_3 and ``cell_norm_bias_l{l}`` beta_3 ``(H,)``. Weights start
    uniform in +-1/sqrt(H) (as ``torch.nn.LSTM``), norm gains at 1, norm biases at 0.

    Args:
        input_size: D.
        hidden_size: H.
        num_layers: L.
        variant: one of ``LSTM_VARIANTS`` (see the module doc).
        forget_bias: added to the forget gate's bias at init (variants that have one).
        eps: the layer norms' epsilon.
        **stack: see ``RecurrentStack``.

    Raises:
        ValueError: an unknown variant or a bad stack argument.
    """

    has_cell_state = True
    trace_type = LSTMTrace

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, *,
                 variant: LSTMVariant = "vanilla", forget_bias: float = 1.0, eps: float = 1e-5,
                 **stack: Any) -> None:
        super().__init__(input_size, hidden_size, num_layers, **stack)
        if variant not in GATE_LAYOUT:
            raise ValueError(f"variant must be one of {LSTM_VARIANTS}, got {variant!r}")
        self.variant: LSTMVariant = variant
        self.eps = eps
        layout = GATE_LAYOUT[variant]
        g_size, h = len(layout) * hidden_size, hidden_size
        bound = 1.0 / math.sqrt(hidden_size)

        def uniform(*shape: int) -> nn.Parameter:
            return nn.Parameter(torch.empty(*shape).uniform_(-bound, bound))

        for layer in range(num_layers):
            for d in range(self.num_directions):
                sfx = f"_l{layer}" + ("_reverse" if d else "")
                self.register_parameter("weight_ih" + sfx,
                                        uniform(g_size, self.layer_input_size(layer)))
                self.register_parameter("weight_hh" + sfx, uniform(g_size, h))
                bias = torch.zeros(g_size) if variant == "layer-norm" else uniform(g_size).data
                if "f" in layout:
                    bias[h : 2 * h] += forget_bias
                self.register_parameter("bias" + sfx, nn.Parameter(bias))
                if variant == "peephole":
                    self.register_parameter("peephole" + sfx, uniform(3, h))
                if variant == "layer-norm":
                    self.register_parameter("input_norm_weight" + sfx,
                                            nn.Parameter(torch.ones(g_size)))
                    self.register_parameter("recurrent_norm_weight" + sfx,
                                            nn.Parameter(torch.ones(g_size)))
                    self.register_parameter("cell_norm_weight" + sfx, nn.Parameter(torch.ones(h)))
                    self.register_parameter("cell_norm_bias" + sfx, nn.Parameter(torch.zeros(h)))

    def _scan_layer(self, layer: int, direction: int, x: Tensor, h0: Tensor, c0: Tensor | None,
                    recurrent_mask: Tensor | None, trace: bool) -> ScanResult:
        assert c0 is not None
        sfx = f"_l{layer}" + ("_reverse" if direction else "")

        def p(name: str) -> Any:
            return getattr(self, name + sfx, None)

        ln = self.variant == "layer-norm"
        if ln:
            g_size = p("weight_ih").shape[0]
            xw = F.layer_norm(F.linear(x, p("weight_ih")), (g_size,), p("input_norm_weight"),
                              p("bias"), self.eps)
        else:
            xw = F.linear(x, p("weight_ih"), p("bias"))
        y, h, c, gates, cells = lstm_scan(
            xw, h0, c0, p("weight_hh"), variant=self.variant, peephole=p("peephole"),
            recurrent_norm_weight=p("recurrent_norm_weight"),
            cell_norm_weight=p("cell_norm_weight"), cell_norm_bias=p("cell_norm_bias"),
            recurrent_mask=recurrent_mask, eps=self.eps)
        return y, h, c, (_trace_fields(self.variant, gates, cells) if trace else None)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, variant={self.variant!r}"
