"""Readable reference implementations of every cell, for the tests (and the speed benchmark).

Each runs one layer step by step with the cell's equations written out, in plain autograd: slow,
but easy to check against the papers. The fast paths (``torch.nn``'s fused kernels and the
hand-written scans of ``mneme.cells.lstm_kernel`` / ``mneme.cells.gru``) are held equal to these by
``tests/cells``, outputs, final states and gradients. ``stack_reference`` runs a whole stack
(layers, directions, merge) from a stack's own parameters.

Legend: B batch, T time, D input features, H hidden units.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from mneme.cells.gru import GRU, LayerNormGRU
from mneme.cells.lstm import LSTM, VariantLSTM
from mneme.cells.rnn import ElmanRNN
from mneme.cells.stacks import LSTMState, RecurrentStack, RNNState

__all__ = ["gru_reference", "layer_norm", "lstm_reference", "rnn_reference", "stack_reference"]


def layer_norm(v: Tensor, weight: Tensor | None, bias: Tensor | None, eps: float = 1e-5) -> Tensor:
    """(v - mean) / sqrt(var + eps) * weight + bias over the last dimension (Ba et al. 2016)."""
    mean = v.mean(-1, keepdim=True)
    var = ((v - mean) ** 2).mean(-1, keepdim=True)
    out = (v - mean) / torch.sqrt(var + eps)
    if weight is not None:
        out = out * weight
    if bias is not None:
        out = out + bias
    return out


def _linear(v: Tensor, weight: Tensor, bias: Tensor | None) -> Tensor:
    out = v @ weight.t()
    return out if bias is None else out + bias


def rnn_reference(x: Tensor, h0: Tensor, weight_ih: Tensor, weight_hh: Tensor,
                  bias_ih: Tensor | None, bias_hh: Tensor | None, *,
                  nonlinearity: str = "tanh",
                  recurrent_mask: Tensor | None = None) -> tuple[Tensor, Tensor]:
    """h_t = act(W_ih x_t + b_ih + W_hh (m * h_{t-1}) + b_hh); returns ``(y (B, T, H), h_T)``."""
    act = torch.tanh if nonlinearity == "tanh" else torch.relu
    h, ys = h0, []
    for t in range(x.shape[1]):
        hm = h if recurrent_mask is None else h * recurrent_mask
        h = act(_linear(x[:, t], weight_ih, bias_ih) + _linear(hm, weight_hh, bias_hh))
        ys.append(h)
    return torch.stack(ys, 1), h


def lstm_reference(
    x: Tensor,
    h0: Tensor,
    c0: Tensor,
    weight_ih: Tensor,
    weight_hh: Tensor,
    bias_ih: Tensor | None = None,
    bias_hh: Tensor | None = None,
    *,
    variant: str = "vanilla",
    peephole: Tensor | None = None,
    input_norm_weight: Tensor | None = None,
    recurrent_norm_weight: Tensor | None = None,
    cell_norm_weight: Tensor | None = None,
    cell_norm_bias: Tensor | None = None,
    recurrent_mask: Tensor | None = None,
    eps: float = 1e-5,
) -> tuple[Tensor, Tensor, Tensor]:
    """One LSTM layer of any variant (``mneme.cells.lstm``), step by step.

    The gate rows of ``weight_ih`` / ``weight_hh`` follow ``GATE_LAYOUT[variant]``; for
    ``layer-norm`` ``bias_ih`` is the input norm's bias. Returns ``(y (B, T, H), h_T, c_T)``.
    """
    from mneme.cells.lstm_kernel import GATE_LAYOUT

    layout = GATE_LAYOUT[variant]
    ln = variant == "layer-norm"
    h, c, ys = h0, c0, []
    for t in range(x.shape[1]):
        hm = h if recurrent_mask is None else h * recurrent_mask
        if ln:
            a = (layer_norm(x[:, t] @ weight_ih.t(), input_norm_weight, bias_ih, eps)
                 + layer_norm(hm @ weight_hh.t(), recurrent_norm_weight, bias_hh, eps))
        else:
            a = _linear(x[:, t], weight_ih, bias_ih) + _linear(hm, weight_hh, bias_hh)
        part = dict(zip(layout, a.chunk(len(layout), 1), strict=True))
        a_i = part["i"]
        a_f = part.get("f")
        if variant == "peephole":
            assert peephole is not None and a_f is not None
            a_i = a_i + peephole[0] * c
            a_f = a_f + peephole[1] * c
        i = torch.sigmoid(a_i)
        g = torch.tanh(part["g"])
        if variant == "coupled":
            f = 1 - i
        elif variant == "no-forget":
            f = torch.ones_like(i)
        else:
            assert a_f is not None
            f = torch.sigmoid(a_f)
        c = f * c + i * g
        if variant == "no-output":
            o = torch.ones_like(i)
        elif variant == "peephole":
            assert peephole is not None
            o = torch.sigmoid(part["o"] + peephole[2] * c)
        else:
            o = torch.sigmoid(part["o"])
        h = o * torch.tanh(layer_norm(c, cell_norm_weight, cell_norm_bias, eps) if ln else c)
        ys.append(h)
    return torch.stack(ys, 1), h, c


def gru_reference(
    x: Tensor,
    h0: Tensor,
    weight_ih: Tensor,
    weight_hh: Tensor,
    bias_ih: Tensor | None,
    bias_hh: Tensor | None,
    *,
    input_norm_weight: Tensor | None = None,
    recurrent_norm_weight: Tensor | None = None,
    layer_norm_inputs: bool = False,
    recurrent_mask: Tensor | None = None,
    eps: float = 1e-5,
) -> tuple[Tensor, Tensor]:
    """One GRU layer (``torch.nn.GRU``'s form; layer-normalised with ``layer_norm_inputs``),
    step by step. Returns ``(y (B, T, H), h_T)``."""
    h, ys = h0, []
    for t in range(x.shape[1]):
        hm = h if recurrent_mask is None else h * recurrent_mask
        if layer_norm_inputs:
            a = layer_norm(x[:, t] @ weight_ih.t(), input_norm_weight, bias_ih, eps)
            u = layer_norm(hm @ weight_hh.t(), recurrent_norm_weight, bias_hh, eps)
        else:
            a = _linear(x[:, t], weight_ih, bias_ih)
            u = _linear(hm, weight_hh, bias_hh)
        a_r, a_z, a_n = a.chunk(3, 1)
        u_r, u_z, u_n = u.chunk(3, 1)
        r = torch.sigmoid(a_r + u_r)
        z = torch.sigmoid(a_z + u_z)
        n = torch.tanh(a_n + r * u_n)
        h = (1 - z) * n + z * h
        ys.append(h)
    return torch.stack(ys, 1), h


def _layer_reference(stack: RecurrentStack, layer: int, direction: int, x: Tensor, h0: Tensor,
                     c0: Tensor | None) -> tuple[Tensor, Tensor, Tensor | None]:
    sfx = f"_l{layer}" + ("_reverse" if direction else "")
    if isinstance(stack, ElmanRNN | LSTM | GRU):
        m = {ElmanRNN: "rnn", LSTM: "lstm", GRU: "gru"}
        module = next(getattr(stack, v) for k, v in m.items() if isinstance(stack, k))
        w = [getattr(module, n + sfx) for n in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")]
        if isinstance(stack, ElmanRNN):
            y, h = rnn_reference(x, h0, *w, nonlinearity=stack.nonlinearity)
            return y, h, None
        if isinstance(stack, LSTM):
            assert c0 is not None
            return lstm_reference(x, h0, c0, *w)
        y, h = gru_reference(x, h0, *w)
        return y, h, None

    def p(name: str) -> Any:
        return getattr(stack, name + sfx, None)

    if isinstance(stack, VariantLSTM):
        assert c0 is not None
        return lstm_reference(
            x, h0, c0, p("weight_ih"), p("weight_hh"), p("bias"), None, variant=stack.variant,
            peephole=p("peephole"), input_norm_weight=p("input_norm_weight"),
            recurrent_norm_weight=p("recurrent_norm_weight"),
            cell_norm_weight=p("cell_norm_weight"), cell_norm_bias=p("cell_norm_bias"),
            eps=stack.eps)
    if isinstance(stack, LayerNormGRU):
        y, h = gru_reference(x, h0, p("weight_ih"), p("weight_hh"), p("bias_ih"), p("bias_hh"),
                             input_norm_weight=p("input_norm_weight"),
                             recurrent_norm_weight=p("recurrent_norm_weight"),
                             layer_norm_inputs=True, eps=stack.eps)
        return y, h, None
    raise TypeError(f"no reference for {type(stack).__name__}")


def stack_reference(stack: RecurrentStack, x: Tensor,
                    state: RNNState | LSTMState | None = None) -> tuple[Tensor, Any]:
    """``stack(x, state)`` without dropout, layer by layer, from the readable equations.

    Returns ``(y (B, T, output_size), state)`` as the stack's ``forward`` in eval mode.
    """
    if state is None:
        state = stack.initial_state(x.shape[0], x.device, x.dtype)
    dirs = stack.num_directions
    cells = state.cell if isinstance(state, LSTMState) else None
    hs: list[Tensor] = []
    cs: list[Tensor] = []
    inp = x
    for layer in range(stack.num_layers):
        outs = []
        for d in range(dirs):
            k = layer * dirs + d
            y, h, c = _layer_reference(stack, layer, d, inp.flip(1) if d else inp,
                                       state.hidden[k], None if cells is None else cells[k])
            outs.append(y.flip(1) if d else y)
            hs.append(h)
            if c is not None:
                cs.append(c)
        inp = torch.cat(outs, 2)
    if stack.bidirectional and stack.merge == "sum":
        inp = inp[..., : stack.hidden_size] + inp[..., stack.hidden_size :]
    hidden = torch.stack(hs)
    return inp, (LSTMState(hidden, torch.stack(cs)) if cs else RNNState(hidden))
