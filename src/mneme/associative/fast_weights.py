"""The layer-normalised fast-weight RNN.

Ba, Hinton, Mnih, Leibo & Ionescu 2016, "Using Fast Weights to Attend to the Recent Past" (arXiv
1610.06258), section 3. Beside the slow weights W (recurrent) and C (input), every sequence owns a
fast weight matrix that decays and stores the outer products of its recent hidden states::

    A(t) = decay * A(t-1) + fast_lr * h(t) h(t)^T                       (eq. 1)
    h_0(t+1) = ReLU(W h(t) + C x(t))                                     (preliminary state)
    h_{s+1}(t+1) = ReLU(LN[W h(t) + C x(t) + A(t) h_s(t+1)]),  s < S     (eq. 2)

``decay`` is the paper's lambda (0.95), ``fast_lr`` its eta (0.5), S ``inner_steps`` (1). The slow
term ``W h(t) + C x(t)`` is computed once per step. Layer normalisation is over the H hidden units
of each sequence (``nn.LayerNorm(H)``), never over the batch.

A(t) h is computed in one of two equal ways (the paper's eq. 4 shows they are the same)::

    matrix:     A(t) h, with A materialised per sequence                memory O(B H^2) a step
    attention:  fast_lr * sum_{tau<=t} decay^(t-tau) h(tau) (h(tau)^T h)    memory O(B t H) a step

For the backward pass autograd keeps what every step used: all T matrices, O(B T H^2), in the
matrix form; all T prefixes of the past, O(B T^2 H), in the attention form. The attention form is
therefore the lighter one exactly when T < H, which ``retrieval="auto"`` picks (measured in
``benchmarks/fast_weights_speed.py``: 96 MiB against 5 GiB at B = 100, T = 11, H = 1000).

Legend: B batch, T time, D input features, H hidden units, S inner-loop steps.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import torch
from torch import Tensor, nn

from mneme.registry import register_core
from mneme.types import register_state
from mneme.validation import Validated, at_least, in_range, one_of

__all__ = [
    "FastWeightRNN",
    "FastWeightState",
    "FastWeightTrace",
    "fast_weight_attention",
    "fast_weight_matrix",
]

Retrieval = Literal["auto", "matrix", "attention"]


@register_state
@dataclass(frozen=True)
class FastWeightState:
    """The state carried between calls.

    Attributes:
        hidden: h(t) ``(B, H)``.
        fast_weights: A(t-1) ``(B, H, H)`` in the matrix form, else None.
        past: ``(B, t, H)`` the hidden states h(1..t-1) seen so far, in the attention form,
            else None (h(t) joins the memory at the next step, as in eq. 1).
    """

    hidden: Tensor
    fast_weights: Tensor | None = None
    past: Tensor | None = None


@dataclass(frozen=True)
class FastWeightTrace:
    """What the fast weights attended to.

    Attributes:
        attention: ``(B, T, T)``; ``[b, t, tau]`` for tau < t is the weight
            ``fast_lr * decay^(t-1-tau) * (y[b, tau] . q[b, t])`` of the output y of step tau in the
            retrieval of step t, with q the inner-loop state of the last inner step; 0 for tau >= t.
            The initial state's term (0 from a fresh state) is left out.
        hidden: ``(B, T, H)`` the outputs y.
    """

    attention: Tensor
    hidden: Tensor


def fast_weight_matrix(past: Tensor, decay: float, fast_lr: float) -> Tensor:
    """A = fast_lr * sum_tau decay^(t-1-tau) h(tau) h(tau)^T from past states ``(B, t, H)``.

    Returns ``(B, H, H)``; the newest state (index t-1) has weight ``fast_lr``.
    """
    t = past.shape[1]
    w = fast_lr * decay ** torch.arange(t - 1, -1, -1, dtype=past.dtype, device=past.device)
    return torch.einsum("bti,btj,t->bij", past, past, w)


def fast_weight_attention(past: Tensor, query: Tensor, decay: float, fast_lr: float) -> Tensor:
    """A(t) q without A: fast_lr * sum_tau decay^(t-1-tau) h(tau) (h(tau)^T q) (eq. 4).

    Args:
        past: ``(B, t, H)`` past hidden states, oldest first.
        query: ``(B, H)``.

    Returns:
        ``(B, H)``, equal to ``fast_weight_matrix(past, ...) @ query``.
    """
    t = past.shape[1]
    w = fast_lr * decay ** torch.arange(t - 1, -1, -1, dtype=past.dtype, device=past.device)
    scores = torch.bmm(past, query.unsqueeze(2)).squeeze(2) * w  # (B, t)
    return torch.bmm(scores.unsqueeze(1), past).squeeze(1)


class FastWeightRNN(nn.Module):
    """A ReLU RNN with layer-normalised fast weights (Ba et al. 2016, eqs. 1-2), a core.

    Args:
        input_size: D.
        hidden_size: H.
        decay: lambda in [0, 1], how fast old associations fade.
        fast_lr: eta >= 0, the fast weights' learning rate.
        inner_steps: S >= 1 inner-loop iterations per time step.
        layer_norm: normalise the inner loop's pre-activation (the paper's key ingredient).
        retrieval: ``"matrix"``, ``"attention"`` or ``"auto"`` (attention when T < H).
        recurrent_init: W starts as this times the identity ("near identity", as IRNNs).

    Raises:
        ValueError: a field out of range.
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        *,
        decay: float = 0.95,
        fast_lr: float = 0.5,
        inner_steps: int = 1,
        layer_norm: bool = True,
        retrieval: Retrieval = "auto",
        recurrent_init: float = 0.05,
    ) -> None:
        super().__init__()
        if not 0.0 <= decay <= 1.0:
            raise ValueError(f"decay must be in [0, 1], got {decay}")
        if fast_lr < 0:
            raise ValueError(f"fast_lr must be >= 0, got {fast_lr}")
        if inner_steps < 1:
            raise ValueError(f"inner_steps must be >= 1, got {inner_steps}")
        if retrieval not in ("auto", "matrix", "attention"):
            raise ValueError(f"retrieval must be auto, matrix or attention, got {retrieval!r}")
        self.input_size, self.hidden_size = input_size, hidden_size
        self.output_size = hidden_size
        self.decay, self.fast_lr, self.inner_steps = decay, fast_lr, inner_steps
        self.retrieval: Retrieval = retrieval
        self.input_weight = nn.Linear(input_size, hidden_size)  # C and the bias
        self.recurrent_weight = nn.Parameter(recurrent_init * torch.eye(hidden_size))  # W
        self.norm = nn.LayerNorm(hidden_size) if layer_norm else nn.Identity()

    def initial_state(
        self,
        batch_size: int,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
        *,
        form: Literal["matrix", "attention"] = "attention",
    ) -> FastWeightState:
        """h(0) = 0 and an empty fast memory, in the given retrieval form."""
        p = self.recurrent_weight
        device, dtype = device or p.device, dtype or p.dtype
        h = torch.zeros(batch_size, self.hidden_size, device=device, dtype=dtype)
        if form == "matrix":
            a = torch.zeros(batch_size, self.hidden_size, self.hidden_size, device=device,
                            dtype=dtype)
            return FastWeightState(h, fast_weights=a)
        return FastWeightState(h, past=h.new_zeros(batch_size, 0, self.hidden_size))

    def _form(self, steps: int) -> Literal["matrix", "attention"]:
        if self.retrieval != "auto":
            return self.retrieval
        return "attention" if steps < self.hidden_size else "matrix"

    def forward(
        self, x: Tensor, state: FastWeightState | None = None, *, trace: bool = False
    ) -> tuple[Tensor, FastWeightState] | tuple[Tensor, FastWeightState, FastWeightTrace]:
        """Run over a sequence.

        Args:
            x: ``(B, T, D)``.
            state: from ``initial_state`` or a previous call; its form (matrix or attention)
                decides the retrieval; None starts fresh in ``retrieval``'s form.
            trace: also return a ``FastWeightTrace``.

        Returns:
            ``(y (B, T, H), state)``, plus the trace when asked.
        """
        b, steps, _ = x.shape
        if state is None:
            state = self.initial_state(b, x.device, x.dtype, form=self._form(steps))
        slow_in = self.input_weight(x)  # C x(t) + bias for every t at once
        h = state.hidden
        a, past = state.fast_weights, state.past
        ys: list[Tensor] = []
        queries: list[Tensor] = []
        for t in range(steps):
            slow = torch.addmm(slow_in[:, t], h, self.recurrent_weight.t())  # W h(t) + C x(t)
            if a is not None:
                # A(t) = decay A(t-1) + fast_lr h(t) h(t)^T, one fused op
                a = torch.baddbmm(a, h.unsqueeze(2), h.unsqueeze(1), beta=self.decay,
                                  alpha=self.fast_lr)
            else:
                assert past is not None
                past = torch.cat([past, h.unsqueeze(1)], dim=1)
            hs = torch.relu(slow)
            for _ in range(self.inner_steps):
                queries.append(hs)
                if a is not None:
                    fast = torch.bmm(a, hs.unsqueeze(2)).squeeze(2)
                else:
                    fast = fast_weight_attention(past, hs, self.decay, self.fast_lr)
                hs = torch.relu(self.norm(slow + fast))
            h = hs
            ys.append(h)
        y = torch.stack(ys, dim=1)
        new_state = FastWeightState(h, fast_weights=a, past=past)
        if not trace:
            return y, new_state
        q = torch.stack(queries[self.inner_steps - 1 :: self.inner_steps], dim=1)  # (B, T, H)
        return y, new_state, self._trace(y.detach(), q.detach())

    def _trace(self, y: Tensor, q: Tensor) -> FastWeightTrace:
        steps = y.shape[1]
        t = torch.arange(steps, device=y.device)
        lag = (t[:, None] - 1 - t[None, :]).to(y.dtype)  # t-1-tau
        causal = t[None, :] < t[:, None]
        w = torch.where(causal, self.fast_lr * self.decay ** lag.clamp(min=0), 0.0)
        scores = torch.bmm(q, y.transpose(1, 2)) * w  # [b, t, tau] = q_t . y_tau
        return FastWeightTrace(scores, y)

    def step(self, x_t: Tensor, state: FastWeightState) -> tuple[Tensor, FastWeightState]:
        """One time step: ``x_t`` ``(B, D)`` -> ``(y_t (B, H), state)``."""
        y, new_state = self.forward(x_t.unsqueeze(1), state)  # type: ignore[misc]
        return y[:, 0], new_state


@dataclass(frozen=True)
class FastWeightsConfig(Validated):
    """The fast-weight RNN as a core (Ba et al. 2016, section 3).

    Attributes:
        hidden_size: H (the paper's Table 1: R = 20, 50, 100).
        decay: lambda, the fast weights' decay per step (the paper: 0.95).
        fast_lr: eta, the fast weights' learning rate (the paper: 0.5).
        inner_steps: S, inner-loop iterations per step (the paper: 1).
        layer_norm: layer-normalise the inner loop.
        retrieval: how A(t) h is computed: matrix, attention or auto (equal results).
        recurrent_init: W starts as this times the identity.
    """

    hidden_size: int = field(default=100, metadata=at_least(1))
    decay: float = field(default=0.95, metadata=in_range(0.0, 1.0))
    fast_lr: float = field(default=0.5, metadata=at_least(0.0))
    inner_steps: int = field(default=1, metadata=at_least(1))
    layer_norm: bool = True
    retrieval: Retrieval = field(default="auto", metadata=one_of())
    recurrent_init: float = 0.05


@register_core("fast-weights", config=FastWeightsConfig, family="fast-weights",
               summary="layer-normalised fast-weight RNN",
               source="Ba, Hinton, Mnih, Leibo & Ionescu 2016, arXiv 1610.06258, section 3")
def build_fast_weights_core(config: FastWeightsConfig, input_size: int) -> FastWeightRNN:
    """A ``FastWeightRNN`` reading D = ``input_size`` features."""
    config.validate()
    return FastWeightRNN(input_size, config.hidden_size, decay=config.decay,
                         fast_lr=config.fast_lr, inner_steps=config.inner_steps,
                         layer_norm=config.layer_norm, retrieval=config.retrieval,
                         recurrent_init=config.recurrent_init)
