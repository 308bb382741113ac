"""The GRU and the layer-normalised GRU.

GRU: Cho et al. 2014, "Learning Phrase Representations using RNN Encoder-Decoder for Statistical
Machine Translation" (arXiv 1406.1078), section 2.3, in ``torch.nn.GRU``'s form (the reset gate
multiplies the recurrent term of the candidate after U, as cuDNN does), gates in order r, z, n::

    r = sigmoid(a_r + u_r)   z = sigmoid(a_z + u_z)   n = tanh(a_n + r * u_n)
    h_t = (1 - z) * n + z * h_{t-1},     a = W x_t + b_ih,  u = U h_{t-1} + b_hh

``GRU`` runs it on the fused ``torch.nn.GRU`` kernel. ``LayerNormGRU`` applies Ba, Kiros & Hinton
2016 ("Layer Normalization", arXiv 1607.06450, section 3.1)'s recipe for their LSTM to the GRU: the
input and the recurrent terms are normalised separately, each over its whole 3H vector,
a = LN(W x_t; alpha_x, b_ih), u = LN(U h_{t-1}; alpha_h, b_hh) (the norm biases are the GRU's).

The per-step path ``gru_scan`` (for the layer-normalised GRU, and the GRU's trace and recurrent
dropout) computes W x for all T in one matmul, does one matmul and ~6 element-wise ops per step,
and has a hand-written backward pass (see ``mneme.cells.lstm_kernel``);
``mneme.cells.reference`` holds the readable equations and the tests hold them equal.

Legend: B batch, T time, D input features, H hidden units, L layers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.autograd.function import once_differentiable

from mneme.cells.lstm_kernel import _ln_backward
from mneme.cells.stacks import RecurrentStack, RNNState, ScanResult

__all__ = ["GRU", "GRUTrace", "LayerNormGRU", "gru_scan"]


@dataclass(frozen=True)
class GRUTrace:
    """The gates of every step, each ``(L * dirs, B, T, H)``: r, z and the candidate n."""

    reset_gate: Tensor
    update_gate: Tensor
    candidate: Tensor


class _GRUScan(torch.autograd.Function):
    """The GRU recurrence over T steps with a hand-written backward pass.

    Time-major buffers and per-step views made up front, as
    ``mneme.cells.lstm_kernel._LSTMScan``.
    """

    @staticmethod
    def forward(ctx: Any, xw: Tensor, h0: Tensor, weight_hh: Tensor, bias_hh: Tensor,
                norm_weight: Tensor | None, mask: Tensor | None, eps: float) -> Any:
        ctx.set_materialize_grads(False)
        b, steps, g_size = xw.shape
        h = g_size // 3
        ln = norm_weight is not None
        gates = xw.new_empty(steps, b, g_size)  # r, z, n
        recs = xw.new_empty(steps, b, g_size)  # u = U h + b_hh, or its layer norm
        y = xw.new_empty(b, steps, h)
        rec_t = recs.unbind(0)
        rec_rz, rec_n = recs[..., : 2 * h].unbind(0), recs[..., 2 * h :].unbind(0)
        rz_t, n_t = gates[..., : 2 * h].unbind(0), gates[..., 2 * h :].unbind(0)
        r_t, z_t = gates[..., :h].unbind(0), gates[..., h : 2 * h].unbind(0)
        xw_rz, xw_n, y_t = xw[..., : 2 * h].unbind(1), xw[..., 2 * h :].unbind(1), y.unbind(1)
        wt = weight_hh.t()
        stats: list[list[Tensor]] = [[], [], []]  # raw U h, mean, rstd
        h_prev = h0
        for t in range(steps):
            hm = h_prev if mask is None else h_prev * mask
            if ln:
                raw = torch.mm(hm, wt)
                normed, mean, rstd = torch.native_layer_norm(raw, [g_size], norm_weight,
                                                             bias_hh, eps)
                rec_t[t].copy_(normed)
                stats[0].append(raw)
                stats[1].append(mean)
                stats[2].append(rstd)
            else:
                torch.addmm(bias_hh, hm, wt, out=rec_t[t])
            torch.add(xw_rz[t], rec_rz[t], out=rz_t[t]).sigmoid_()
            torch.addcmul(xw_n[t], r_t[t], rec_n[t], out=n_t[t]).tanh_()
            torch.addcmul(n_t[t], z_t[t], h_prev - n_t[t], out=y_t[t])
            h_prev = y_t[t]
        ctx.eps = eps
        ctx.ln_stats = stats  # per-step intermediates (not inputs or outputs): kept as lists
        ctx.save_for_backward(h0, weight_hh, norm_weight, mask, gates, recs, y)
        ctx.mark_non_differentiable(gates)
        return y, y[:, -1].clone(), gates

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, dy: Tensor | None, dh_last: Tensor | None, _dg: Any) -> Any:
        h0, weight_hh, norm_weight, mask, gates, recs, y = ctx.saved_tensors
        steps, b, g_size = gates.shape
        h = g_size // 3
        ln = norm_weight is not None
        r, z, n = gates.split(h, 2)
        h_prev = torch.cat([h0.unsqueeze(0), y.transpose(0, 1)[:-1]])
        d_n = (1 - z) * (1 - n * n)  # d h_t / d a_n
        # d a = dh_t * coef for all T at once: (T, B, 3, H); then d u = d a * (1, 1, r)
        coef_t = torch.stack([d_n * recs[..., 2 * h :] * r * (1 - r),
                              (h_prev - n) * z * (1 - z), d_n], 2).unbind(0)
        r_coef_t = torch.cat([torch.ones_like(gates[..., : 2 * h]), r], 2).unbind(0)
        z_t = z.unbind(0)
        d_in = gates.new_empty(steps, b, g_size)
        d_rec = gates.new_empty(steps, b, g_size)
        d_in3_t, d_in_t = d_in.view(steps, b, 3, h).unbind(0), d_in.unbind(0)
        d_rec_t = d_rec.unbind(0)
        if dy is None:
            dy = y.new_zeros(())
        dy_t = dy.expand_as(y).unbind(1)
        if ln:
            raw, mean, rstd = ctx.ln_stats
            d_raw: list[Tensor] = []
        dh = dy_t[-1] if dh_last is None else dh_last + dy_t[-1]
        for t in range(steps - 1, -1, -1):
            torch.mul(coef_t[t], dh.unsqueeze(1), out=d_in3_t[t])
            du = torch.mul(d_in_t[t], r_coef_t[t], out=d_rec_t[t])
            if ln:
                du = _ln_backward(du, raw[t], g_size, mean[t], rstd[t], norm_weight)
                d_raw.append(du)
            dy_prev = dy_t[t - 1] if t > 0 else dy_t[0].new_zeros(())
            if mask is None:
                back = torch.addmm(dy_prev, du, weight_hh)
            else:
                back = torch.addcmul(dy_prev, torch.mm(du, weight_hh), mask)
            dh = torch.addcmul(back, dh, z_t[t])
        if mask is not None:
            h_prev = h_prev * mask
        d_u = torch.stack(d_raw[::-1]) if ln else d_rec
        d_weight = d_u.reshape(-1, g_size).t().mm(h_prev.reshape(-1, h))
        d_bias = d_rec.sum((0, 1))
        d_norm = None
        if ln and ctx.needs_input_grad[4]:
            r_hat = (torch.stack(raw) - torch.stack(mean)) * torch.stack(rstd)
            d_norm = (d_rec * r_hat).sum((0, 1))
        return d_in.transpose(0, 1), dh, d_weight, d_bias, d_norm, None, None


def gru_scan(xw: Tensor, h0: Tensor, weight_hh: Tensor, bias_hh: Tensor, *,
             norm_weight: Tensor | None = None, recurrent_mask: Tensor | None = None,
             eps: float = 1e-5) -> tuple[Tensor, Tensor, Tensor]:
    """The GRU recurrence of one layer over T steps, the fast per-step path.

    Args:
        xw: ``(B, T, 3H)`` the input term a of every step (W x_t + b_ih, or its layer norm).
        h0: ``(B, H)``.
        weight_hh: U ``(3H, H)``.
        bias_hh: ``(3H,)`` b_hh (added to U h, inside r * u_n), or the recurrent norm's bias.
        norm_weight: ``(3H,)`` alpha_h: u = LN(U h; alpha_h, bias_hh); None: u = U h + bias_hh.
        recurrent_mask: ``(B, H)`` multiplies h_{t-1} in U h_{t-1} at every step (variational
            dropout); None is no mask.
        eps: the layer norm's epsilon.

    Returns:
        ``(y (B, T, H), h_T (B, H), gates (B, T, 3H))``, the gates (r, z, n) carry no gradient.

    Raises:
        ValueError: ``xw`` not ``(B, T, 3H)``.
    """
    if xw.dim() != 3 or xw.shape[2] != 3 * h0.shape[1]:
        raise ValueError(f"xw must be (B, T, 3H), got {tuple(xw.shape)} with H = {h0.shape[1]}")
    y, h, gates = _GRUScan.apply(xw, h0, weight_hh, bias_hh, norm_weight, recurrent_mask, eps)
    return y, h, gates.transpose(0, 1)


def _trace_fields(gates: Tensor) -> dict[str, Tensor]:
    r, z, n = gates.chunk(3, -1)
    return {"reset_gate": r, "update_gate": z, "candidate": n}


class GRU(RecurrentStack):
    """A GRU stack on ``torch.nn.GRU`` (``self.gru``, its parameter names), a core.

    Args:
        input_size: D.
        hidden_size: H.
        num_layers: L.
        **stack: ``bidirectional``, ``merge``, ``dropout``, ``variational``,
            ``recurrent_dropout`` (see ``RecurrentStack``).
    """

    trace_type = GRUTrace

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1,
                 **stack: Any) -> None:
        super().__init__(input_size, hidden_size, num_layers, **stack)
        between = self.dropout if num_layers > 1 and not self.variational else 0.0
        self.gru = nn.GRU(input_size, hidden_size, num_layers, batch_first=True,
                          bidirectional=self.bidirectional, dropout=between)

    def _has_fused(self) -> bool:
        return True

    def _fused(self, x: Tensor, state: Any) -> tuple[Tensor, RNNState]:
        y, h = self.gru(x, state.hidden)
        return y, RNNState(h)

    def _scan_layer(self, layer: int, direction: int, x: Tensor, h0: Tensor, c0: Tensor | None,
                    recurrent_mask: Tensor | None, trace: bool) -> ScanResult:
        sfx = f"_l{layer}" + ("_reverse" if direction else "")
        m = self.gru
        xw = F.linear(x, getattr(m, "weight_ih" + sfx), getattr(m, "bias_ih" + sfx))
        y, h, gates = gru_scan(xw, h0, getattr(m, "weight_hh" + sfx), getattr(m, "bias_hh" + sfx),
                               recurrent_mask=recurrent_mask)
        return y, h, None, (_trace_fields(gates) if trace else None)


class LayerNormGRU(RecurrentStack):
    """A layer-normalised GRU stack (see the module doc), a core.

    Parameters of layer l (``_reverse`` appended for the reverse direction):
    ``weight_ih_l{l}`` W ``(3H, D_l)`` and ``weight_hh_l{l}`` U ``(3H, H)``, uniform in
    +-1/sqrt(H); ``input_norm_weight_l{l}``, ``recurrent_norm_weight_l{l}`` ``(3H,)`` at 1;
    ``bias_ih_l{l}``, ``bias_hh_l{l}`` ``(3H,)`` at 0 (the two norms' biases).

    Args:
        input_size: D.
        hidden_size: H.
        num_layers: L.
        eps: the layer norms' epsilon.
        **stack: see ``RecurrentStack``.
    """

    trace_type = GRUTrace

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, *,
                 eps: float = 1e-5, **stack: Any) -> None:
        super().__init__(input_size, hidden_size, num_layers, **stack)
        self.eps = eps
        g_size = 3 * hidden_size
        bound = 1.0 / math.sqrt(hidden_size)
        for layer in range(num_layers):
            for d in range(self.num_directions):
                sfx = f"_l{layer}" + ("_reverse" if d else "")
                shapes = {"weight_ih": (g_size, self.layer_input_size(layer)),
                          "weight_hh": (g_size, hidden_size)}
                for name, shape in shapes.items():
                    w = torch.empty(shape).uniform_(-bound, bound)
                    self.register_parameter(name + sfx, nn.Parameter(w))
                for name in ("input_norm_weight", "recurrent_norm_weight"):
                    self.register_parameter(name + sfx, nn.Parameter(torch.ones(g_size)))
                for name in ("bias_ih", "bias_hh"):
                    self.register_parameter(name + sfx, nn.Parameter(torch.zeros(g_size)))

    def _scan_layer(self, layer: int, direction: int, x: Tensor, h0: Tensor, c0: Tensor | None,
                    recurrent_mask: Tensor | None, trace: bool) -> ScanResult:
        sfx = f"_l{layer}" + ("_reverse" if direction else "")

        def p(name: str) -> Tensor:
            return getattr(self, name + sfx)

        g_size = 3 * self.hidden_size
        xw = F.layer_norm(F.linear(x, p("weight_ih")), (g_size,), p("input_norm_weight"),
                          p("bias_ih"), self.eps)
        y, h, gates = gru_scan(xw, h0, p("weight_hh"), p("bias_hh"),
                               norm_weight=p("recurrent_norm_weight"),
                               recurrent_mask=recurrent_mask, eps=self.eps)
        return y, h, None, (_trace_fields(gates) if trace else None)
