"""The LSTM's fast per-step path: one layer's recurrence over T steps, backward pass by hand.

``lstm_scan`` runs every variant of ``mneme.cells.lstm`` (``LSTM_VARIANTS``; each one's gates, in
their order, in ``GATE_LAYOUT``): ``VariantLSTM`` always, ``LSTM`` when it traces or draws
variational masks. ``mneme.cells.gru`` shares its layer-norm backward (``_ln_backward``).

The per-step path (``lstm_scan``) is built for speed on CPU, where a step is a few small ops and
each op costs dispatch time: the input term W x_t + b is one matmul for all T before the loop,
each step is one matmul plus a handful of fused element-wise ops written into preallocated
buffers, and the backward pass is written by hand (``torch.autograd.Function``): the gate
derivatives are computed for all T at once, the loop is ~6 ops per step, and U's gradient is one
matmul over all T. ``mneme.cells.reference.lstm_reference`` holds the readable equations; the
tests hold the two equal, gradients included. Measured against the alternatives
(``benchmarks/rnn_speed.py --alternatives``, peephole LSTM, B = T = 20, H = 200, one thread):
the plain loop under ``torch.jit.script`` trains slower than this path (autograd still runs op by
op, and TorchScript is deprecated); under ``torch.compile`` it trains ~15% faster per step, after
~3 minutes of compiling per input shape, so the hand-written path is kept.

Legend: B batch, T time, H hidden units, G = (number of gates) * H.
"""

from __future__ import annotations

from typing import Any, Literal, get_args

import torch
from torch import Tensor
from torch.autograd.function import once_differentiable

__all__ = ["GATE_LAYOUT", "LSTM_VARIANTS", "LSTMVariant", "lstm_scan"]

LSTMVariant = Literal["vanilla", "peephole", "coupled", "no-forget", "no-output", "layer-norm"]
LSTM_VARIANTS: tuple[str, ...] = get_args(LSTMVariant)
GATE_LAYOUT: dict[str, str] = {
    "vanilla": "ifgo", "peephole": "ifgo", "layer-norm": "ifgo",
    "coupled": "igo", "no-forget": "igo", "no-output": "ifg",
}
"""The gates of each variant, in the order of their rows in W and U (H rows each)."""


_NATIVE_LN_BACKWARD = torch.ops.aten.native_layer_norm_backward.default


def _ln_backward(grad: Tensor, x: Tensor, size: int, mean: Tensor, rstd: Tensor,
                 weight: Tensor | None) -> Tensor:
    """The input gradient of ``torch.native_layer_norm`` (one fused op); ``mean`` and ``rstd``
    must be contiguous (the kernel reads them as flat arrays, ignoring strides)."""
    return _NATIVE_LN_BACKWARD(grad, x, [size], mean, rstd, weight, None, [True, False, False])[0]


class _LSTMScan(torch.autograd.Function):
    """The LSTM recurrence over T steps with a hand-written backward pass (see the module doc).

    Buffers are time-major (T, B, .), so that every step's slice is contiguous, and every
    per-step view is made up front by one ``unbind``: a Python-level slice costs as much as a
    small op.
    """

    @staticmethod
    def forward(ctx: Any, xw: Tensor, h0: Tensor, c0: Tensor, weight_hh: Tensor,
                peephole: Tensor | None, recurrent_norm_weight: Tensor | None,
                cell_norm_weight: Tensor | None, cell_norm_bias: Tensor | None,
                mask: Tensor | None, variant: str, eps: float) -> Any:
        ctx.set_materialize_grads(False)
        b, steps, g_size = xw.shape
        h = h0.shape[1]
        layout = GATE_LAYOUT[variant]
        has_o, ln, peep = "o" in layout, variant == "layer-norm", variant == "peephole"
        k_g = layout.index("g")
        pre = xw.new_empty(steps, b, g_size)  # the gates' pre-activations
        gates = xw.new_empty(steps, b, g_size)
        cells_0 = xw.new_empty(steps + 1, b, h)  # c_0 .. c_T: c_{t-1} is a view, no copy
        cells_0[0] = c0
        cells = cells_0[1:]
        y = xw.new_empty(b, steps, h)
        tanh_c = xw.new_empty(steps, b, h) if has_o else y.transpose(0, 1)  # NOG: h = tanh(c)

        def per_step(v: Tensor, k: int | None = None) -> tuple[Tensor, ...]:
            return (v if k is None else v[..., k * h : (k + 1) * h]).unbind(0)

        pre_t, act_t = per_step(pre), per_step(gates)
        pre_g, act_g = per_step(pre, k_g), per_step(gates, k_g)
        i_t, cell_t, tanh_t = per_step(gates, 0), per_step(cells), per_step(tanh_c)
        y_t = y.unbind(1)
        f_t = per_step(gates, 1) if "f" in layout else ()
        o_t = per_step(gates, len(layout) - 1) if has_o else ()
        if peep:  # (2, B, H) views of a_i, a_f, so that p (2, 1, H) broadcasts over B
            pre_if = pre[..., : 2 * h].view(steps, b, 2, h).permute(0, 2, 1, 3).unbind(0)
            pre_o = per_step(pre, 3)
            p_if, p_o = peephole[:2].unsqueeze(1), peephole[2]
        xw_t = xw.unbind(1)
        wt = weight_hh.t()
        # layer norm: U h, LN(U h) before its gain, mean, rstd; the cell's mean, rstd
        stats: list[list[Tensor]] = [[], [], [], [], [], []]
        h_prev, c_prev = h0, c0
        for t in range(steps):
            hm = h_prev if mask is None else h_prev * mask
            if ln:
                raw = torch.mm(hm, wt)
                normed, mean, rstd = torch.native_layer_norm(raw, [g_size], None, None, eps)
                torch.addcmul(xw_t[t], normed, recurrent_norm_weight, out=pre_t[t])
                stats[0].append(raw)
                stats[1].append(normed)
                stats[2].append(mean)
                stats[3].append(rstd)
            else:
                torch.addmm(xw_t[t], hm, wt, out=pre_t[t])
            if peep:
                pre_if[t].addcmul_(p_if, c_prev)
            torch.sigmoid(pre_t[t], out=act_t[t])
            torch.tanh(pre_g[t], out=act_g[t])
            c = cell_t[t]
            if variant == "coupled":  # c = (1 - i) c + i g
                torch.addcmul(c_prev, i_t[t], act_g[t] - c_prev, out=c)
            elif variant == "no-forget":
                torch.addcmul(c_prev, i_t[t], act_g[t], out=c)
            else:
                torch.addcmul(f_t[t] * c_prev, i_t[t], act_g[t], out=c)
            if peep:
                torch.sigmoid(pre_o[t].addcmul_(p_o, c), out=o_t[t])
            if ln:
                normed_c, mean_c, rstd_c = torch.native_layer_norm(
                    c, [h], cell_norm_weight, cell_norm_bias, eps)
                torch.tanh(normed_c, out=tanh_t[t])
                stats[4].append(mean_c)
                stats[5].append(rstd_c)
            else:
                torch.tanh(c, out=tanh_t[t])
            if has_o:
                torch.mul(o_t[t], tanh_t[t], out=y_t[t])
            h_prev, c_prev = y_t[t], c
        ctx.variant, ctx.eps = variant, eps
        ctx.ln_stats = stats  # per-step intermediates (not inputs or outputs): kept as lists
        ctx.save_for_backward(h0, weight_hh, peephole, recurrent_norm_weight,
                              cell_norm_weight, mask, gates, cells_0, tanh_c if has_o else None,
                              y)
        ctx.mark_non_differentiable(gates, cells_0)
        return y, y[:, -1].clone(), cells[-1].clone(), gates, cells_0

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, dy: Tensor | None, dh_last: Tensor | None, dc_last: Tensor | None,
                 _dg: Any, _dc: Any) -> Any:
        h0, weight_hh, peephole, rn_weight, cn_weight, mask, gates, cells_0, tanh_c, y = \
            ctx.saved_tensors
        variant = ctx.variant
        layout = GATE_LAYOUT[variant]
        steps, b, g_size = gates.shape
        h = h0.shape[1]
        has_f, has_o = "f" in layout, "o" in layout
        ln, peep = variant == "layer-norm", variant == "peephole"
        k_g = layout.index("g")
        i, cand = gates[..., :h], gates[..., k_g * h : (k_g + 1) * h]
        cells, c_prev = cells_0[1:], cells_0[:-1]
        # d a_{i,f,g} = dc_t * coef, the coefficients of all T at once: (T, n, B, H), so that
        # dc (B, H) broadcasts
        n_c = 3 if has_f else 2
        coef = gates.new_empty(steps, n_c, b, h)
        torch.mul((cand - c_prev if variant == "coupled" else cand) * i, 1 - i, out=coef[:, 0])
        if has_f:
            f = gates[..., h : 2 * h]
            torch.mul(c_prev * f, 1 - f, out=coef[:, 1])
        torch.mul(i, 1 - cand * cand, out=coef[:, n_c - 1])
        coef_t = coef.unbind(0)
        carry = f if has_f else (1 - i if variant == "coupled" else None)  # dc_{t-1} = dc_t carry
        carry_t = () if carry is None else carry.unbind(0)
        if not has_o:
            tanh_c = y.transpose(0, 1)
        if has_o:
            o = gates[..., g_size - h :]
            dh_to_c = (o * (1 - tanh_c * tanh_c)).unbind(0)
            dh_to_o = (tanh_c * o * (1 - o)).unbind(0)
        else:
            dh_to_c = (1 - tanh_c * tanh_c).unbind(0)
        dpre = gates.new_empty(steps, b, g_size)
        dpre_t = dpre.unbind(0)
        dpre_c = dpre[..., : n_c * h].view(steps, b, n_c, h).permute(0, 2, 1, 3).unbind(0)
        dpre_o = dpre[..., g_size - h :].unbind(0)
        if peep:
            dpre_i, dpre_f = dpre[..., :h].unbind(0), dpre[..., h : 2 * h].unbind(0)
        if dy is None:
            dy = y.new_zeros(())
        dy_t = dy.expand_as(y).unbind(1)
        if ln:
            raw, normed, mean, rstd, mean_c, rstd_c = ctx.ln_stats
            cell_t = cells.unbind(0)
            d_normed_c: list[Tensor] = []
            d_raw: list[Tensor] = []
        dh = dy_t[-1] if dh_last is None else dh_last + dy_t[-1]
        dc = torch.zeros_like(h0) if dc_last is None else dc_last
        for t in range(steps - 1, -1, -1):
            if ln:
                dn = dh * dh_to_c[t]
                d_normed_c.append(dn)
                dc = dc + _ln_backward(dn, cell_t[t], h, mean_c[t], rstd_c[t], cn_weight)
            else:
                dc = torch.addcmul(dc, dh, dh_to_c[t])
            if has_o:
                torch.mul(dh, dh_to_o[t], out=dpre_o[t])
                if peep:
                    dc = torch.addcmul(dc, dpre_o[t], peephole[2])
            torch.mul(coef_t[t], dc, out=dpre_c[t])
            if carry_t:
                dc = dc * carry_t[t]
            if peep:
                dc = torch.addcmul(torch.addcmul(dc, dpre_i[t], peephole[0]), dpre_f[t],
                                   peephole[1])
            if ln:
                dr = _ln_backward(dpre_t[t], raw[t], g_size, mean[t], rstd[t], rn_weight)
                d_raw.append(dr)
            else:
                dr = dpre_t[t]
            dy_prev = dy_t[t - 1] if t > 0 else dy_t[0].new_zeros(())
            if mask is None:
                dh = torch.addmm(dy_prev, dr, weight_hh)
            else:
                dh = torch.addcmul(dy_prev, torch.mm(dr, weight_hh), mask)
        h_prev = torch.cat([h0.unsqueeze(0), y.transpose(0, 1)[:-1]])
        if mask is not None:
            h_prev = h_prev * mask
        d_rec = torch.stack(d_raw[::-1]) if ln else dpre
        d_weight = d_rec.reshape(-1, g_size).t().mm(h_prev.reshape(-1, h))
        d_peep = d_rn = d_cn = d_cb = None
        if peep and ctx.needs_input_grad[4]:
            d_if = (dpre[..., : 2 * h].view(steps, b, 2, h) * c_prev.unsqueeze(2)).sum((0, 1))
            d_o = (dpre[..., 3 * h :] * cells).sum((0, 1))
            d_peep = torch.cat([d_if, d_o.unsqueeze(0)])
        if ln:
            needs = ctx.needs_input_grad
            d_rn = (dpre * torch.stack(normed)).sum((0, 1)) if needs[5] else None
            dnc = torch.stack(d_normed_c[::-1])
            d_cn = None
            if needs[6]:
                c_hat = (cells - torch.stack(mean_c)) * torch.stack(rstd_c)
                d_cn = (dnc * c_hat).sum((0, 1))
            d_cb = dnc.sum((0, 1)) if needs[7] else None
        return (dpre.transpose(0, 1), dh, dc, d_weight, d_peep, d_rn, d_cn, d_cb, None, None,
                None)


def lstm_scan(
    xw: Tensor,
    h0: Tensor,
    c0: Tensor,
    weight_hh: Tensor,
    *,
    variant: LSTMVariant = "vanilla",
    peephole: Tensor | None = None,
    recurrent_norm_weight: Tensor | None = None,
    cell_norm_weight: Tensor | None = None,
    cell_norm_bias: Tensor | None = None,
    recurrent_mask: Tensor | None = None,
    eps: float = 1e-5,
) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor]:
    """The LSTM recurrence of one layer over T steps, the fast per-step path.

    Args:
        xw: ``(B, T, G)`` the input term of every step: W x_t + b, or for ``layer-norm``
            LN(W x_t; alpha_2, beta_2); gates in ``GATE_LAYOUT[variant]`` order.
        h0: ``(B, H)``.
        c0: ``(B, H)``.
        weight_hh: U ``(G, H)``.
        variant: one of ``LSTM_VARIANTS``.
        peephole: ``(3, H)`` rows p_i, p_f, p_o (``peephole`` only).
        recurrent_norm_weight: alpha_1 ``(G,)``; cell_norm_weight, cell_norm_bias: alpha_3,
            beta_3 ``(H,)`` (``layer-norm`` only).
        recurrent_mask: ``(B, H)`` multiplies h_{t-1} in U h_{t-1} at every step
            (variational recurrent dropout); None is no mask.
        eps: the layer norms' epsilon.

    Returns:
        ``(y (B, T, H), h_T (B, H), c_T (B, H), gates (B, T, G), cells (B, T, H))``; the
        activated gates and the cells are for tracing and carry no gradient.

    Raises:
        ValueError: an unknown variant, or shapes or parameters that do not fit it.
    """
    if variant not in GATE_LAYOUT:
        raise ValueError(f"variant must be one of {LSTM_VARIANTS}, got {variant!r}")
    h_size = h0.shape[1]
    if xw.dim() != 3 or xw.shape[2] != len(GATE_LAYOUT[variant]) * h_size:
        raise ValueError(f"xw must be (B, T, {len(GATE_LAYOUT[variant])} * H) for {variant}, "
                         f"got {tuple(xw.shape)} with H = {h_size}")
    if (peephole is not None) != (variant == "peephole"):
        raise ValueError("peephole weights are needed by, and only by, the peephole variant")
    if (recurrent_norm_weight is not None) != (variant == "layer-norm"):
        raise ValueError("norm weights are needed by, and only by, the layer-norm variant")
    y, h, c, gates, cells_0 = _LSTMScan.apply(xw, h0, c0, weight_hh, peephole,
                                              recurrent_norm_weight, cell_norm_weight,
                                              cell_norm_bias, recurrent_mask, variant, eps)
    return y, h, c, gates.transpose(0, 1), cells_0[1:].transpose(0, 1)
