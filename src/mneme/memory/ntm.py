"""The Neural Turing Machine (Graves, Wayne & Danihelka 2014, arXiv 1410.5401, section 3).

A controller (an LSTM or a feed-forward network) reads its input and last step's reads, and emits
through ONE linear layer the parameters of every head. Each head addresses the memory with
``mneme.memory.addressing`` (content, interpolation, circular shift, sharpening; section 3.3);
read heads read a weighted sum of rows (section 3.1), write heads erase then add (section 3.2)::

    r = sum_i w(i) M(i)                                     read              (eq. 2)
    M~(i) = M(i) prod_h [1 - w_h(i) e_h]                    erase, all heads  (eq. 3)
    M'(i) = M~(i) + sum_h w_h(i) a_h                        add, all heads    (eq. 4)

The paper states only the ranges of the head parameters (beta >= 0, g in (0, 1), s a
distribution, gamma >= 1, erase elements in (0, 1); sections 3.2-3.3); the functions used here
are the customary ones, also those of Collier & Beel's implementation (2018, "Implementing Neural
Turing Machines"): key_strength = softplus, interpolation_gate = sigmoid, shift_weighting =
softmax over the shifts -k..k, sharpening = 1 + softplus, erase_vector = sigmoid, add_vector =
tanh. The key is used as emitted (they squash it with tanh; the cosine similarity is
scale-free either way).

Order within a step: the controller runs, all heads address the memory left by the previous
step, the read heads read it, then the write heads write. The step's output is
``[controller output, reads]``; the task-facing model adds a linear head.

Stochastic hard read addressing (``addressing="hard"``, after Zaremba & Sutskever 2015,
"Reinforcement Learning Neural Turing Machines", who train discrete memory actions with
REINFORCE): every read head samples ONE slot from its weighting (argmax in eval mode) and reads
that row exactly; ``NTMState.log_prob`` accumulates the log-probability of the sampled slots, so
``mneme.tasks.reinforce.reinforce_loss`` trains the read addressing. The head then sits at the
sampled slot (its one-hot is next step's w_{t-1}). Writes stay soft.

Collier & Beel 2018 (ICANN, arXiv 1807.08518) report that memory initialised to a small constant
(1e-6) converges on average twice as fast as the next best initialisation scheme, and clip the
controller's outputs to [-20, 20]: both are the defaults here.

Speed: all heads are addressed in one batched pass (no Python loop over heads or batch) by
``mneme.memory.addressing_fused.address_from_params``, one autograd node whose backward is
written out (the readable chain is ``mneme.memory.addressing.address``; a test holds them
equal), the input part of the controller's first layer is projected for all T at once, and the
controller's last output together with the reads is one tensor that serves as both the step's
output and the next step's recurrent input. ``NTM.compile_steps`` (``--train.compile``) trains
through ``torch.compile``, a few steps per compiled graph (``mneme.memory.ntm_compiled``):
1.3-1.8x the eager steps on copy (batch 64 to 1), after ~25 s of compiling.
``benchmarks/ntm_speed.py`` measures ops per step and sequences/s; ``benchmarks/ntm_port.py``
measures against the common PyTorch port.

Legend: B batch, T time, D input features, H controller units, L controller layers, N memory
slots, W word size (the paper's M), R read heads, Rw write heads, S = 2 shift_range + 1.

Where it lives: the reads and writes (``read_memory``, ``write_memory``, ``read_write``) and
``NTMTrace`` in ``mneme.memory.ntm_heads``; the configuration and the state in
``mneme.memory.ntm_config``; the compiled path in ``mneme.memory.ntm_compiled``; the core here.
Every public name is importable from this module.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from mneme.errors import UserError
from mneme.memory.addressing import clip_gradient
from mneme.memory.addressing_fused import address_from_params, constrain_params
from mneme.memory.ntm_compiled import CompiledSteps
from mneme.memory.ntm_config import MEMORY_CONSTANT, RANDOM_INIT_STD, NTMConfig, NTMState
from mneme.memory.ntm_heads import NTMTrace, _stack_trace, read_memory, read_write, write_memory
from mneme.registry import register_core

__all__ = [
    "NTM",
    "NTMConfig",
    "NTMState",
    "NTMTrace",
    "build_ntm_core",
    "read_memory",
    "read_write",
    "write_memory",
]

class NTM(nn.Module):
    """The Neural Turing Machine core (DESIGN.md's core contract).

    Attributes:
        input_proj: ``Linear(D, G)``, the input part of the first controller layer (G = 4H for
            the LSTM, gates ordered i, f, o, g; H for feed-forward), applied to all T at once.
        recurrent_weight: ``(G, H + R W)`` (LSTM, over ``[h, reads]``) or ``(G, R W)``
            (feed-forward, over the reads).
        upper: ``Linear(2H, 4H)`` (LSTM, over ``[h below, h]``) or ``Linear(H, H)`` per layer
            above the first.
        head: ``Linear(H, P)``, every head's parameters at once: per head (read heads first)
            ``[key (W), beta, gamma, g, s (S)]``, then the write heads' erase and add vectors.
        initial_memory: ``(N, W)``, present when learned.
        initial_reads: ``(R, W)``, present when learned.
        initial_weighting_logits: ``(R + Rw, N)``, present when learned.

    Args:
        input_size: D.
        config: the hyper-parameters.

    Raises:
        UserError: a bad config field or D < 1.
    """

    def __init__(self, input_size: int, config: NTMConfig | None = None) -> None:
        super().__init__()
        config = config if config is not None else NTMConfig()
        config.validate()
        if input_size < 1:
            raise UserError(f"input_size must be >= 1 (got {input_size})")
        self.config = config
        self.input_size = input_size
        n, w, r, rw = config.memory_size, config.word_size, config.read_heads, config.write_heads
        h, layers = config.controller_size, config.controller_layers
        self.heads = r + rw
        self.shift_slots = 2 * config.shift_range + 1
        self.head_width = w + 3 + self.shift_slots
        self.lstm = config.controller == "lstm"
        gates = 4 * h if self.lstm else h
        self.output_size = h + r * w
        """H + R W: the width of every step's output ``[controller output, reads]``."""
        self.stochastic = config.addressing == "hard"
        """True when reads sample a slot: the log-probability then feeds REINFORCE."""
        self.input_proj = nn.Linear(input_size, gates)
        self.recurrent_weight = nn.Parameter(torch.empty(gates, (h if self.lstm else 0) + r * w))
        self.upper = nn.ModuleList(
            nn.Linear(2 * h, gates) if self.lstm else nn.Linear(h, h) for _ in range(layers - 1)
        )
        self.head = nn.Linear(h, self.heads * self.head_width + 2 * rw * w)
        self.initial_memory = (
            nn.Parameter(torch.empty(n, w)) if config.memory_init == "learned" else None
        )
        self.initial_reads = nn.Parameter(torch.zeros(r, w)) if config.learned_initial_reads \
            else None
        self.initial_weighting_logits = (
            nn.Parameter(torch.zeros(self.heads, n)) if config.learned_initial_weightings
            else None
        )
        self._compiled: CompiledSteps | None = None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """PyTorch's LSTM initialisation U(-1/sqrt(H), 1/sqrt(H)) for the controller; the
        learned initial weightings start near a one-hot at slot 0 (so heads start apart from
        uniform, which content addressing of an all-equal memory could not break)."""
        bound = 1.0 / math.sqrt(self.config.controller_size)
        controller = [self.input_proj.weight, self.input_proj.bias, self.recurrent_weight]
        for layer in self.upper:
            controller += [layer.weight, layer.bias]
        for p in controller:
            nn.init.uniform_(p, -bound, bound)
        if self.initial_memory is not None:
            nn.init.trunc_normal_(self.initial_memory, std=RANDOM_INIT_STD,
                                  a=-2 * RANDOM_INIT_STD, b=2 * RANDOM_INIT_STD)
        if self.initial_weighting_logits is not None:
            with torch.no_grad():
                self.initial_weighting_logits.zero_()
                self.initial_weighting_logits[:, 0] = math.log(self.config.memory_size)

    def initial_state(
        self,
        batch_size: int,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> NTMState:
        """The state before step 1: initial memory, weightings, reads, zero controller state."""
        cfg = self.config
        p = self.head.weight
        device, dtype = device or p.device, dtype or p.dtype
        b, n, w = batch_size, cfg.memory_size, cfg.word_size
        if self.initial_memory is not None:
            memory = self.initial_memory.to(dtype).expand(b, n, w)
        elif cfg.memory_init == "random":
            generator = None if self.training else torch.Generator().manual_seed(0)
            memory = torch.empty(b, n, w, dtype=dtype)
            nn.init.trunc_normal_(memory, std=RANDOM_INIT_STD, a=-2 * RANDOM_INIT_STD,
                                  b=2 * RANDOM_INIT_STD, generator=generator)
            memory = memory.to(device)
        else:
            memory = torch.full((b, n, w), MEMORY_CONSTANT, device=device, dtype=dtype)
        if self.initial_weighting_logits is not None:
            weightings = torch.softmax(self.initial_weighting_logits.to(dtype), -1)
            weightings = weightings.expand(b, self.heads, n)
        else:
            weightings = torch.zeros(b, self.heads, n, device=device, dtype=dtype)
            weightings[:, :, 0] = 1.0
        r = cfg.read_heads
        if self.initial_reads is not None:
            reads = self.initial_reads.to(dtype).expand(b, r, w)
        else:
            reads = torch.zeros(b, r, w, device=device, dtype=dtype)
        layers = cfg.controller_layers if self.lstm else 0
        zeros = torch.zeros(layers, b, cfg.controller_size, device=device, dtype=dtype)
        return NTMState(memory, weightings[:, :r], weightings[:, r:], reads, zeros, zeros,
                        torch.zeros(b, device=device, dtype=dtype))

    def forward(
        self, x: Tensor, state: NTMState | None = None, *, trace: bool = False
    ) -> tuple[Tensor, NTMState] | tuple[Tensor, NTMState, NTMTrace]:
        """Run over a sequence.

        Args:
            x: ``(B, T, D)``.
            state: from ``initial_state`` or a previous call; None starts fresh.
            trace: also return an ``NTMTrace``.

        Returns:
            ``(y (B, T, H + R W), state)``, plus the trace when asked; ``y[:, t]`` is
            ``[controller output, reads]`` of step t.
        """
        cfg = self.config
        b, steps, _ = x.shape
        if state is None:
            state = self.initial_state(b, x.device, x.dtype)
        r = cfg.read_heads
        x_proj = self.input_proj(x)  # input part of layer 1, all T at once
        memory, reads, log_prob = state.memory, state.reads, state.log_prob
        weightings = torch.cat([state.read_weightings, state.write_weightings], 1)
        hs, cs = tuple(state.hidden.unbind(0)), tuple(state.cell.unbind(0))
        reads_flat = reads.reshape(b, r * cfg.word_size)
        # the first layer's recurrent input: [h, reads] (LSTM) or the reads (feed-forward)
        z = torch.cat([hs[0], reads_flat], 1) if self.lstm else reads_flat
        record: list[tuple[Tensor, ...]] | None = [] if trace else None
        if self._compiled is not None and steps and record is None and not self.stochastic \
                and torch.is_grad_enabled():
            y, z, hs, cs, memory, weightings = self._compiled(x_proj, z, hs, cs, memory, weightings)
        else:
            outputs: list[Tensor] = []
            for x_t in x_proj.unbind(1):
                y_t, z, hs, cs, memory, weightings, log_prob = self._step(
                    x_t, z, hs, cs, memory, weightings, log_prob, record)
                outputs.append(y_t)
            y = torch.stack(outputs, 1) if outputs else x.new_zeros(b, 0, self.output_size)
        if steps:  # the last R W columns of z are the last step's reads
            reads = z[:, -r * cfg.word_size:].reshape(b, r, cfg.word_size)
        hidden = torch.stack(hs) if hs else state.hidden
        cell = torch.stack(cs) if cs else state.cell
        new_state = NTMState(memory, weightings[:, :r], weightings[:, r:], reads, hidden, cell,
                             log_prob)
        if record is None:
            return y, new_state
        return y, new_state, _stack_trace(record, self.stochastic)

    def compile_steps(self, chunk: int = 3) -> None:
        """Train through ``torch.compile``: from now on a forward pass with gradients runs the
        steps ``chunk`` at a time, each chunk one compiled graph (``CompiledSteps``); passes
        without gradients, traced or with hard reads run the eager steps.

        Raises:
            UserError: ``chunk`` < 1.
        """
        if chunk < 1:
            raise UserError(f"chunk must be >= 1 (got {chunk})")
        self._compiled = CompiledSteps(self._step, chunk)

    def _step(
        self, x_part: Tensor, z: Tensor, hs: tuple[Tensor, ...], cs: tuple[Tensor, ...],
        memory: Tensor, weightings: Tensor, log_prob: Tensor,
        record: list[tuple[Tensor, ...]] | None = None,
    ) -> tuple[Tensor, Tensor, tuple[Tensor, ...], tuple[Tensor, ...], Tensor, Tensor, Tensor]:
        """One time step from the input part of layer 1's pre-activations ``x_part`` (B, G)
        and the recurrent input ``z``; appends the heads' parameters to ``record`` when given.

        Returns ``(y_t, z, hs, cs, memory, weightings, log_prob)`` of the step.
        """
        cfg = self.config
        b, w_size, r, rw = z.shape[0], cfg.word_size, cfg.read_heads, cfg.write_heads
        pre = torch.addmm(x_part, z, self.recurrent_weight.t())
        hs_new: list[Tensor] = []
        cs_new: list[Tensor] = []
        if self.lstm:
            out = self._lstm_layer(pre, cs[0], cs_new, hs_new)
            for layer, upper in enumerate(self.upper, start=1):
                gates = upper(torch.cat([out, hs[layer]], 1))
                out = self._lstm_layer(gates, cs[layer], cs_new, hs_new)
        else:
            out = torch.tanh(pre)
            for upper in self.upper:
                out = torch.tanh(upper(out))
        params = self.head(out)
        if cfg.clip_controller is not None:  # hardtanh: a clamp whose backward is one op
            params = F.hardtanh(params, -cfg.clip_controller, cfg.clip_controller)
        addressing, writing = params.split([self.heads * self.head_width, 2 * rw * w_size], 1)
        addressing = addressing.view(b, self.heads, -1)
        erase, add = writing.view(b, rw, 2 * w_size).split(w_size, 2)
        erase, add = torch.sigmoid(erase), torch.tanh(add)
        weightings = address_from_params(
            memory, clip_gradient(weightings, cfg.clip_weighting_grad), addressing, w_size)
        read_w, write_w = weightings.split([r, rw], 1)
        policy = read_w
        if self.stochastic:
            read_w, chosen = self._sample(read_w)
            log_prob = log_prob + chosen.clamp_min(1e-30).log().sum((1, 2))
            weightings = torch.cat([read_w, write_w], 1)
        reads, memory = read_write(memory, read_w, write_w, erase, add)
        reads_flat = reads.view(b, r * w_size)
        y_t = torch.cat([out, reads_flat], 1)
        if not self.lstm:
            z = reads_flat
        else:
            z = y_t if len(hs_new) == 1 else torch.cat([hs_new[0], reads_flat], 1)
        if record is not None:  # the constrained head parameters, as the addressing uses them
            record.append((read_w, write_w, policy, *constrain_params(addressing, w_size),
                           erase, add))
        return y_t, z, tuple(hs_new), tuple(cs_new), memory, weightings, log_prob

    def _lstm_layer(self, gates: Tensor, c_prev: Tensor, cs: list[Tensor],
                    hs: list[Tensor]) -> Tensor:
        """One LSTM layer from its pre-activations ``(B, 4H)`` (i, f, o, g); appends c, h."""
        size = self.config.controller_size
        ifo, g = gates.split([3 * size, size], 1)  # split, not slices: one cat in backward
        i, f, o = torch.sigmoid(ifo).chunk(3, 1)
        c = torch.addcmul(f * c_prev, i, torch.tanh(g))
        h = o * torch.tanh(c)
        cs.append(c)
        hs.append(h)
        return h

    def _sample(self, read_w: Tensor) -> tuple[Tensor, Tensor]:
        """One slot per read head: drawn from its weighting (argmax in eval mode).

        Returns the one-hot weightings ``(B, R, N)`` and the chosen slots' weights ``(B, R, 1)``.
        """
        if self.training:
            flat = read_w.detach().reshape(-1, read_w.shape[-1])
            slot = torch.multinomial(flat, 1).view(*read_w.shape[:2], 1)
        else:
            slot = read_w.detach().argmax(-1, keepdim=True)
        one_hot = torch.zeros_like(read_w).scatter_(-1, slot, 1.0)
        return one_hot, read_w.gather(-1, slot)


    def step(self, x_t: Tensor, state: NTMState) -> tuple[Tensor, NTMState]:
        """One time step: ``x_t`` ``(B, D)`` -> ``(y_t (B, H + R W), state)``."""
        y, new_state = self.forward(x_t.unsqueeze(1), state)  # type: ignore[misc]
        return y[:, 0], new_state


@register_core("ntm", config=NTMConfig, family="external", size="controller_size", compiles=True,
               summary="Neural Turing Machine, soft or stochastic hard reads",
               source="Graves, Wayne & Danihelka 2014, arXiv 1410.5401, section 3; Zaremba & "
                      "Sutskever 2015")
def build_ntm_core(config: NTMConfig, input_size: int) -> NTM:
    """An ``NTM`` core reading D = ``input_size`` features; a composed model adds the linear
    output layer (and, in hard mode, the REINFORCE baseline: ``NTM.stochastic``)."""
    config.validate()
    return NTM(input_size, config)
