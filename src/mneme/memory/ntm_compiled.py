"""The NTM's steps under ``torch.compile``: a chunk of steps is one compiled graph.

At batch 1 a time step of the NTM is ~180 small tensor ops, and on the CPU each costs ~2.4 us of
dispatch and autograd bookkeeping, several times its arithmetic (``benchmarks/ntm_speed.py
--profile``). ``torch.compile`` (TorchInductor) fuses a step's element-wise ops, and the backward
that AOTAutograd derives for it, into a few generated C++ loops. Compiling one step at a time
leaves the per-call overhead of a compiled graph (guards, the autograd node that runs its
backward); compiling ``chunk`` steps at once pays it once a chunk. The whole sequence is not
compiled as one graph: every new length would compile again, while here the chunks of a
sequence of any length T take one shape: whole chunks run compiled, the last T mod ``chunk``
steps eagerly. Each configuration, batch size and dtype compiles two graphs (the first chunk of
a sequence starts from a state that carries no gradient, the others from one that does), cached
by Dynamo and shared by cores of equal configuration. Past Dynamo's recompile limit (many
configurations in one process) the core warns once and runs eagerly.

The compiled graph runs ``NTM._step``, the code of the eager path, so that the two cannot drift
apart; a test holds their outputs and gradients equal.

Legend: B batch, T time, G the controller's first-layer gate width.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor

__all__ = ["CompiledSteps"]

RECOMPILE_WARNING = (
    "NTM.compile_steps: torch.compile's recompile limit (torch._dynamo.config.recompile_limit) is "
    "reached, as after many NTM configurations in one process; this core runs eagerly from now on")

Chunk = tuple[Tensor, Tensor, tuple[Tensor, ...], tuple[Tensor, ...], Tensor, Tensor]
"""``(y (B, T, .), z, hs, cs, memory, weightings)``: a chunk's outputs and its last step's
carry (``NTM._step``'s names)."""


class CompiledSteps:
    """Run ``step`` (``NTM._step``) over a sequence in compiled chunks of ``chunk`` steps.

    Args:
        step: ``(x_part, z, hs, cs, memory, weightings, log_prob) -> (y_t, z, hs, cs, memory,
            weightings, log_prob)``.
        chunk: steps per compiled graph; larger chunks pay the per-call overhead less often and
            take longer to compile (measured in ``docs/results.md``).
    """

    def __init__(self, step: Callable[..., Any], chunk: int) -> None:
        from torch._dynamo.exc import FailOnRecompileLimitHit  # here: importing Dynamo takes ~1 s

        self.step = step
        self.chunk = chunk
        self._limit_hit = FailOnRecompileLimitHit
        # Inductor's pattern matcher off: its scaled-softmax rewrite (joint-graph pass_pattern_1,
        # found with torch._inductor.compiler_bisector) gives wrong gradients through steps.
        self._graph: Callable[..., Chunk] | None = torch.compile(
            self._run_chunk, fullgraph=True, dynamic=False, options={"pattern_matcher": False})

    def _run_chunk(self, x_proj: Tensor, z: Tensor, hs: tuple[Tensor, ...],
                   cs: tuple[Tensor, ...], memory: Tensor, weightings: Tensor) -> Chunk:
        """The steps of ``x_proj`` ``(T', B, G)``, time-major."""
        outputs = []
        no_log_prob = z.new_zeros(())  # soft reads only: there is no log-probability
        for x_t in x_proj.unbind(0):
            y_t, z, hs, cs, memory, weightings, _ = self.step(
                x_t, z, hs, cs, memory, weightings, no_log_prob)
            outputs.append(y_t)
        return (torch.stack(outputs, 1), z, hs, cs, memory, weightings)

    def __call__(self, x_proj: Tensor, z: Tensor, hs: tuple[Tensor, ...],
                 cs: tuple[Tensor, ...], memory: Tensor, weightings: Tensor) -> Chunk:
        """Every step of ``x_proj`` ``(B, T, G)``, T >= 1: ``(y (B, T, .), z, hs, cs, memory,
        weightings)`` after the last step. Whole chunks run compiled, the last T mod ``chunk``
        steps eagerly (so one graph serves every T)."""
        # time-major with standard strides: every chunk then has the same strides whatever T is
        # (Dynamo guards on strides; at B = 1 ``contiguous()`` would keep the stride T G)
        x_proj = x_proj.transpose(0, 1).clone(memory_format=torch.contiguous_format)
        steps = x_proj.shape[0]
        whole = steps - steps % self.chunk
        outputs = []
        for start in range(0, whole, self.chunk):
            part = x_proj[start:start + self.chunk]
            if self._graph is not None:
                try:
                    y, z, hs, cs, memory, weightings = self._graph(
                        part, z, hs, cs, memory, weightings)
                    outputs.append(y)
                    continue
                except self._limit_hit:  # raised before the chunk ran: nothing is lost
                    warnings.warn(RECOMPILE_WARNING, RuntimeWarning, stacklevel=2)
                    self._graph = None
            y, z, hs, cs, memory, weightings = self._run_chunk(part, z, hs, cs, memory, weightings)
            outputs.append(y)
        if whole < steps:
            y, z, hs, cs, memory, weightings = self._run_chunk(
                x_proj[whole:], z, hs, cs, memory, weightings)
            outputs.append(y)
        y = outputs[0] if len(outputs) == 1 else torch.cat(outputs, 1)
        return (y, z, hs, cs, memory, weightings)
