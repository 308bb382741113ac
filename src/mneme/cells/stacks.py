"""Deep and bidirectional recurrent stacks: the base of every cell core.

Every cell of ``mneme.cells`` is a ``RecurrentStack``: L layers, each one or two directions, of
one recurrent cell, with the core contract of DESIGN.md (``initial_state``, ``forward(x, state)
-> (y, state)``, ``step``). Parameters are never shared across layers or directions.

- Deep: layer l > 0 reads the outputs of layer l - 1 (both directions concatenated, as in
  ``torch.nn``); ``dropout`` acts on these connections between layers (Zaremba, Sutskever &
  Vinyals 2014, "Recurrent Neural Network Regularization", arXiv 1409.2329: dropout on the
  non-recurrent connections only).
- Variational (Gal & Ghahramani 2016, arXiv 1512.05287): ``variational=True`` draws one mask per
  sequence for the connections between layers and one for the recurrent connection of every
  layer and direction (applied to h_{t-1} at every step), with ``recurrent_dropout`` (default:
  ``dropout``). The language model drops its own inputs and outputs
  (``mneme.cells.dropout.VariationalDropout``).
- Bidirectional (Schuster & Paliwal 1997): the reverse direction reads the sequence backwards;
  the top layer's two directions are merged by ``"concat"`` (2H features) or ``"sum"`` (H).
  Sequences are taken as full length (no padding).

Two paths, held equal by the tests: the standard cells (``rnn``, ``irnn``, ``lstm``, ``gru``)
run on ``torch.nn``'s fused multi-layer kernel whenever no recurrent mask is needed; with
``trace=True``, or in training with variational dropout, every layer runs a per-step scan over the
same weights (one input projection for all T, one matmul per step). The variants always scan.

State: ``RNNState(hidden)`` or ``LSTMState(hidden, cell)``, each ``(L * dirs, B, H)``, layer l's
direction d at index ``l * dirs + d`` (the ``torch.nn`` layout; the batch is dimension 1).
``detach_state`` cuts it from the graph for truncated BPTT.

Legend: B batch, T time, D input features, H hidden units, L layers, dirs 1 or 2.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from mneme.cells.dropout import variational_mask
from mneme.types import detach_state, register_state

__all__ = [
    "LSTMState",
    "Merge",
    "RNNState",
    "RecurrentStack",
    "detach_state",
]

Merge = Literal["concat", "sum"]


@register_state
@dataclass(frozen=True)
class RNNState:
    """The state of an RNN or GRU stack: h ``(L * dirs, B, H)``."""

    hidden: Tensor


@register_state
@dataclass(frozen=True)
class LSTMState:
    """The state of an LSTM stack: h and c, each ``(L * dirs, B, H)``."""

    hidden: Tensor
    cell: Tensor


State = RNNState | LSTMState
ScanResult = tuple[Tensor, Tensor, Tensor | None, dict[str, Tensor] | None]
"""``(y (B, T, H), h_T (B, H), c_T (B, H) or None, trace fields each (B, T, H) or None)``."""


class RecurrentStack(nn.Module):
    """L layers x dirs of one recurrent cell; the base class of every cell core.

    Subclasses create their parameters and implement ``_scan_layer`` (the per-step path of one
    layer and direction); those with a ``torch.nn`` fused kernel also implement ``_fused``.

    Args:
        input_size: D.
        hidden_size: H.
        num_layers: L >= 1.
        bidirectional: add a reverse direction to every layer.
        merge: how the top layer's two directions combine: ``"concat"`` ``(B, T, 2H)`` or
            ``"sum"`` ``(B, T, H)``; lower layers always pass both on concatenated.
        dropout: drop probability on the connections between layers.
        variational: one mask per sequence (Gal & Ghahramani 2016) between layers and on the
            recurrent connections, instead of per-element dropout between layers (Zaremba et al.).
        recurrent_dropout: drop probability of h_{t-1} in the recurrent connection (needs
            ``variational``); None means ``dropout`` when variational, else 0.

    Raises:
        ValueError: a size < 1, a probability outside [0, 1), an unknown merge, or recurrent
            dropout without ``variational``.
    """

    has_cell_state: ClassVar[bool] = False
    trace_type: ClassVar[Callable[..., Any] | None] = None

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        *,
        bidirectional: bool = False,
        merge: Merge = "concat",
        dropout: float = 0.0,
        variational: bool = False,
        recurrent_dropout: float | None = None,
    ) -> None:
        super().__init__()
        for name, value in (("input_size", input_size), ("hidden_size", hidden_size),
                            ("num_layers", num_layers)):
            if value < 1:
                raise ValueError(f"{name} must be >= 1, got {value}")
        if merge not in ("concat", "sum"):
            raise ValueError(f"merge must be 'concat' or 'sum', got {merge!r}")
        if recurrent_dropout is None:
            recurrent_dropout = dropout if variational else 0.0
        for name, p in (("dropout", dropout), ("recurrent_dropout", recurrent_dropout)):
            if not 0.0 <= p < 1.0:
                raise ValueError(f"{name} must be in [0, 1), got {p}")
        if recurrent_dropout > 0 and not variational:
            raise ValueError("recurrent_dropout needs variational=True (a new mask at every step "
                             "would disrupt the memory; Gal & Ghahramani 2016)")
        self.input_size, self.hidden_size, self.num_layers = input_size, hidden_size, num_layers
        self.bidirectional = bidirectional
        self.num_directions = 2 if bidirectional else 1
        self.merge: Merge = merge
        self.dropout, self.variational = dropout, variational
        self.recurrent_dropout = recurrent_dropout

    # -- sizes and state ---------------------------------------------------------------------

    def layer_input_size(self, layer: int) -> int:
        """The input features of ``layer``: D for the first, H * dirs above."""
        return self.input_size if layer == 0 else self.hidden_size * self.num_directions

    @property
    def output_size(self) -> int:
        """Features of ``y``: 2H for a bidirectional concat, else H."""
        return self.hidden_size * (2 if self.bidirectional and self.merge == "concat" else 1)

    def _reference_parameter(self) -> Tensor:
        return next(self.parameters())

    def initial_state(self, batch_size: int, device: torch.device | str | None = None,
                      dtype: torch.dtype | None = None) -> State:
        """Zeros, ``(L * dirs, B, H)`` per tensor."""
        p = self._reference_parameter()
        h = torch.zeros(self.num_layers * self.num_directions, batch_size, self.hidden_size,
                        device=device or p.device, dtype=dtype or p.dtype)
        return LSTMState(h, torch.zeros_like(h)) if self.has_cell_state else RNNState(h)

    def _check(self, x: Tensor, state: State) -> None:
        if x.dim() != 3 or x.shape[2] != self.input_size:
            raise ValueError(f"expected x of shape (B, T, {self.input_size}), "
                             f"got {tuple(x.shape)}")
        if x.shape[1] < 1:
            raise ValueError("expected at least one time step (T >= 1)")
        want = (self.num_layers * self.num_directions, x.shape[0], self.hidden_size)
        if tuple(state.hidden.shape) != want:
            raise ValueError(f"expected a state of shape {want} (L * dirs, B, H), "
                             f"got {tuple(state.hidden.shape)}")

    # -- running -----------------------------------------------------------------------------

    def _needs_masks(self) -> bool:
        """Variational masks are drawn (training with a variational probability > 0)."""
        return self.training and self.variational and (
            self.recurrent_dropout > 0 or (self.dropout > 0 and self.num_layers > 1))

    def _has_fused(self) -> bool:
        return False

    def forward(
        self, x: Tensor, state: State | None = None, *, trace: bool = False
    ) -> tuple[Tensor, State] | tuple[Tensor, State, Any]:
        """Run the stack over a sequence.

        Args:
            x: ``(B, T, D)``.
            state: from ``initial_state`` or a previous call (carried, for truncated BPTT);
                None starts from zeros.
            trace: also return the gates: the subclass's trace dataclass, every field
                ``(L * dirs, B, T, H)`` (this runs the per-step path).

        Returns:
            ``(y (B, T, output_size), state)``, plus the trace when asked.

        Raises:
            ValueError: ``x`` or ``state`` of the wrong shape.
        """
        if state is None:
            state = self.initial_state(x.shape[0], x.device, x.dtype)
        self._check(x, state)
        traced: Any = None
        if self._has_fused() and not trace and not self._needs_masks():
            y, state = self._fused(x, state)
        else:
            y, state, traced = self._per_step(x, state, trace)
        if self.bidirectional and self.merge == "sum":
            y = y[..., : self.hidden_size] + y[..., self.hidden_size :]
        return (y, state, traced) if trace else (y, state)

    def step(self, x_t: Tensor, state: State) -> tuple[Tensor, State]:
        """One step for decoding (unidirectional only): ``x_t`` ``(B, D)`` -> ``(y_t, state)``.

        Meant for eval mode: in training with variational dropout each call draws new masks.

        Raises:
            ValueError: the stack is bidirectional (the reverse direction needs the future).
        """
        if self.bidirectional:
            raise ValueError("a bidirectional stack has no step(): the reverse direction reads "
                             "the whole sequence")
        y, new_state = self.forward(x_t.unsqueeze(1), state)  # type: ignore[misc]
        return y[:, 0], new_state

    def _fused(self, x: Tensor, state: State) -> tuple[Tensor, State]:
        raise NotImplementedError

    def _scan_layer(self, layer: int, direction: int, x: Tensor, h0: Tensor, c0: Tensor | None,
                    recurrent_mask: Tensor | None, trace: bool) -> ScanResult:
        """One layer and direction over ``x`` ``(B, T, D_l)``, time running forwards."""
        raise NotImplementedError

    def _per_step(self, x: Tensor, state: State, trace: bool) -> tuple[Tensor, State, Any]:
        masks = self._needs_masks()
        b, dirs = x.shape[0], self.num_directions
        c_in = state.cell if isinstance(state, LSTMState) else None
        hs: list[Tensor] = []
        cs: list[Tensor] = []
        parts: list[dict[str, Tensor]] = []
        inp = x
        for layer in range(self.num_layers):
            if layer > 0 and self.dropout > 0 and self.training:
                if self.variational:
                    inp = inp * variational_mask((b, 1, inp.shape[2]), self.dropout, inp)
                else:
                    inp = F.dropout(inp, self.dropout, training=True)
            outs = []
            for d in range(dirs):
                k = layer * dirs + d
                mask = (variational_mask((b, self.hidden_size), self.recurrent_dropout, inp)
                        if masks and self.recurrent_dropout > 0 else None)
                xd = inp.flip(1) if d else inp
                y, h, c, tr = self._scan_layer(layer, d, xd, state.hidden[k],
                                               None if c_in is None else c_in[k], mask, trace)
                if d:
                    y = y.flip(1)
                    tr = None if tr is None else {n: v.flip(1) for n, v in tr.items()}
                outs.append(y)
                hs.append(h)
                if c is not None:
                    cs.append(c)
                if tr is not None:
                    parts.append(tr)
            inp = torch.cat(outs, 2) if dirs == 2 else outs[0]
        hidden = torch.stack(hs)
        new_state: State = LSTMState(hidden, torch.stack(cs)) if cs else RNNState(hidden)
        traced = None
        if trace and self.trace_type is not None:
            traced = self.trace_type(**{n: torch.stack([p[n] for p in parts])
                                        for n in parts[0]})
        return inp, new_state, traced

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}, num_layers={self.num_layers}"
        if self.bidirectional:
            s += f", bidirectional=True, merge={self.merge!r}"
        if self.dropout or self.recurrent_dropout:
            s += (f", dropout={self.dropout}, variational={self.variational}, "
                  f"recurrent_dropout={self.recurrent_dropout}")
        return s
