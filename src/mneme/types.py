"""The bottom layer: what every other layer passes around.

- ``Batch`` and ``ModelOutput``: what a task gives a model and what a model gives back.
- ``TaskInfo``: what a task declares about itself (its kind, inputs, outputs, metric, unit,
  generalisation sets), read by model composition, the training loop and the reports.
- ``Core``: the contract every sequence memory implements (DESIGN.md, "Contracts").
- State helpers: a core's state is a tensor, a tuple / NamedTuple, or a frozen dataclass
  registered with ``@register_state``; ``map_state`` walks any of them, so one helper detaches
  (truncated BPTT), moves (devices) and packs (checkpoints, loaded with ``weights_only=True``)
  every state.

Nothing here imports another part of mneme except ``mneme.errors``.

Legend: B batch, T time, D input features, H core output features, V vocabulary.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, TypeVar, runtime_checkable

import torch
from torch import Tensor

__all__ = [
    "Batch",
    "Core",
    "ModelOutput",
    "TaskInfo",
    "detach_state",
    "map_state",
    "pack_state",
    "register_state",
    "state_to",
    "unpack_state",
]


@dataclass(frozen=True)
class Batch:
    """One batch of examples.

    Attributes:
        inputs: a tensor ``(B, T, D)`` or ``(B, ...)``, or a mapping of named tensors (bAbI:
            ``story`` ``(B, N, J)`` word ids, ``query`` ``(B, J)`` word ids).
        targets: what the model must produce, ``(B,)`` class ids or ``(B, T, D)``.
        mask: which targets count, broadcastable to ``targets``; None means all.
        meta: plain Python extras (example ids, task ids) that metrics may read.
    """

    inputs: Tensor | Mapping[str, Tensor]
    targets: Tensor
    mask: Tensor | None = None
    meta: Mapping[str, Any] = field(default_factory=dict)

    @property
    def size(self) -> int:
        """The batch size B."""
        return int(self.targets.shape[0])

    def to(self, device: torch.device | str) -> Batch:
        """A copy with every tensor moved to ``device``."""
        if isinstance(self.inputs, Tensor):
            inputs: Any = self.inputs.to(device)
        else:
            inputs = {k: v.to(device) for k, v in self.inputs.items()}
        mask = None if self.mask is None else self.mask.to(device)
        return Batch(inputs, self.targets.to(device), mask, self.meta)


@dataclass(frozen=True)
class ModelOutput:
    """What a task-facing model returns.

    Attributes:
        logits: unnormalised scores, ``(B, V)`` for classification or ``(B, T, V)`` per step.
        trace: the model's ``Trace`` when asked with ``trace=True`` (weightings, attention).
        aux_loss: an extra loss term the model adds to the task's (margins), or None.
        state: the recurrent state after the batch, for tasks that carry it across batches
            (language models under truncated BPTT).
        log_prob: ``(B,)`` summed log-probability of the model's sampled discrete decisions
            (stochastic hard addressing or hard attention), for REINFORCE; None when soft.
        baseline: ``(B,)`` the learned baseline's prediction of each example's cost (REINFORCE).
    """

    logits: Tensor
    trace: Any = None
    aux_loss: Tensor | None = None
    state: Any = None
    log_prob: Tensor | None = None
    baseline: Tensor | None = None


TaskKind = Literal["generated", "dataset", "stream"]
InputKind = Literal["tokens", "features", "structured"]
OutputKind = Literal["classes", "bits", "real", "structured"]
Readout = Literal["every_step", "last_step", "none"]


@dataclass(frozen=True)
class TaskInfo:
    """What a task declares about itself; the loop, model composition and reports read it.

    Attributes:
        kind: ``generated`` (``sample(batch_size, generator)`` draws fresh examples), ``dataset``
            (a fixed training set walked in epochs: ``num_train``, ``train_batch``) or ``stream``
            (consecutive chunks of one stream, the recurrent state carried across batches:
            ``num_train_batches``, ``train_batch_at``).
        inputs: ``tokens`` (ids ``(B, T)`` of a ``input_size``-symbol vocabulary), ``features``
            (``(B, T, input_size)``) or ``structured`` (a mapping only task-facing models read;
            ``to_sequence`` may still give a token view).
        input_size: V symbols or D features.
        outputs: ``classes`` (logits over ``output_size`` classes), ``bits`` (``output_size``
            sigmoid channels), ``real`` (``output_size`` real values) or ``structured``.
        output_size: classes, channels or values.
        readout: where a composed model predicts: ``every_step`` (logits ``(B, T, out)``),
            ``last_step`` (``(B, out)``, read at each sequence's last real step) or ``none``.
        metric: the headline metric key reports print (``bits``, ``error``, ``mse``,
            ``perplexity``).
        unit: the metric's unit in words (``bits per sequence``, ``%``, ``MSE``).
        selection_metric: what picks the best checkpoint and the best repeat (lower is better).
        solved_below: the task counts as solved when ``metric`` is at or below this (None: no
            such threshold).
        percent: reports show ``metric`` as a percentage (it is stored as a fraction).
        generalisation: metric suffixes of the generalisation sets (``len50``, ``rep20``,
            ``items12``): ``{metric}_{group}`` in the test metrics.
        family: the task family recipes are keyed by (``algorithmic``, ``babi``, ``lm``).
        source: the paper (and section) the task and its unit come from.
        output_bias: ``real`` outputs: the target mean, a composed head's initial bias.
        to_sequence: for ``structured`` inputs, ``inputs -> (tokens (B, T), lengths (B,))``: the
            token view a composed model reads (bAbI: story then question as one sequence).
    """

    kind: TaskKind
    inputs: InputKind
    input_size: int
    outputs: OutputKind
    output_size: int
    readout: Readout
    metric: str
    unit: str
    selection_metric: str
    solved_below: float | None = None
    percent: bool = False
    generalisation: tuple[str, ...] = ()
    family: str | None = None
    source: str = ""
    output_bias: float = 0.0
    to_sequence: Callable[[Any], tuple[Tensor, Tensor | None]] | None = None

    @property
    def composable(self) -> bool:
        """True when a generic ``SequenceModel`` (core + adapter + head) can be built for it."""
        if self.readout == "none" or self.outputs == "structured":
            return False
        return self.inputs != "structured" or self.to_sequence is not None


S = TypeVar("S")


@runtime_checkable
class Core(Protocol):
    """A sequence memory (DESIGN.md, "Contracts"): an ``nn.Module`` with no state on ``self``.

    ``output_size`` is H. ``forward(x (B, T, D), state=None, *, trace=False)`` returns
    ``(y (B, T, H), state)``, and with ``trace=True`` ``(y, state, trace)`` where ``trace`` is the
    core's trace dataclass (weightings, attention, gates) or None. ``step(x_t (B, D), state)``
    returns ``(y_t (B, H), state)`` and equals one step of ``forward``.
    """

    output_size: int

    def initial_state(
        self, batch_size: int, device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> Any: ...

    def forward(self, x: Tensor, state: Any = None, *, trace: bool = False) -> Any: ...

    def step(self, x_t: Tensor, state: Any) -> tuple[Tensor, Any]: ...


# -- states ---------------------------------------------------------------------------------
_STATES: dict[str, type] = {}


def register_state(cls: type[S]) -> type[S]:
    """Register a frozen dataclass as a state kind, so ``pack_state`` can save it by name.

    Raises:
        TypeError: ``cls`` is not a dataclass, or another class has its name.
    """
    if not dataclasses.is_dataclass(cls):
        raise TypeError(f"register_state: {cls.__name__} is not a dataclass")
    known = _STATES.get(cls.__name__)
    if known is not None and known.__qualname__ != cls.__qualname__:
        raise TypeError(f"register_state: two state classes named {cls.__name__}")
    _STATES[cls.__name__] = cls
    return cls


def map_state(fn: Callable[[Tensor], Tensor], state: Any) -> Any:
    """``state`` with ``fn`` applied to every tensor: a tensor, None, a (Named)tuple or list, a
    dict, or a dataclass, nested. Other leaves (ints, floats) are kept.

    Raises:
        TypeError: a leaf of another type (a state must be plain tensors and numbers).
    """
    if state is None or isinstance(state, bool | int | float | str):
        return state
    if isinstance(state, Tensor):
        return fn(state)
    if dataclasses.is_dataclass(state) and not isinstance(state, type):
        return dataclasses.replace(state, **{f.name: map_state(fn, getattr(state, f.name))
                                             for f in dataclasses.fields(state) if f.init})
    if isinstance(state, tuple) and hasattr(state, "_fields"):
        return type(state)(*(map_state(fn, s) for s in state))
    if isinstance(state, tuple | list):
        return type(state)(map_state(fn, s) for s in state)
    if isinstance(state, dict):
        return {k: map_state(fn, v) for k, v in state.items()}
    raise TypeError(f"a state holds tensors, numbers, tuples and dataclasses, not "
                    f"{type(state).__name__}")


def detach_state(state: Any) -> Any:
    """``state`` cut from the autograd graph: the truncation of truncated BPTT."""
    return map_state(Tensor.detach, state)


def state_to(state: Any, device: torch.device | str) -> Any:
    """``state`` with every tensor on ``device``."""
    return map_state(lambda t: t.to(device), state)


def pack_state(state: Any) -> Any:
    """``state`` as tensors, lists and dicts only, which ``torch.load(weights_only=True)`` reads.

    Dataclasses must be registered (``register_state``); NamedTuples become plain tuples.

    Raises:
        TypeError: an unregistered dataclass.
    """
    if state is None or isinstance(state, Tensor | bool | int | float | str):
        return state
    if dataclasses.is_dataclass(state) and not isinstance(state, type):
        name = type(state).__name__
        if _STATES.get(name) is not type(state):
            raise TypeError(f"pack_state: {name} is not registered (use @register_state)")
        return {"__state__": name, **{f.name: pack_state(getattr(state, f.name))
                                      for f in dataclasses.fields(state) if f.init}}
    if isinstance(state, tuple | list):
        return {"__tuple__": [pack_state(s) for s in state]}
    raise TypeError(f"pack_state: cannot pack {type(state).__name__}")


def unpack_state(packed: Any) -> Any:
    """The inverse of ``pack_state``.

    Raises:
        ValueError: an unknown state class name.
    """
    if isinstance(packed, dict) and "__tuple__" in packed:
        return tuple(unpack_state(s) for s in packed["__tuple__"])
    if isinstance(packed, dict) and "__state__" in packed:
        name = packed["__state__"]
        if name not in _STATES:
            raise ValueError(f"unpack_state: unknown state class {name!r}")
        values = {k: unpack_state(v) for k, v in packed.items() if k != "__state__"}
        return _STATES[name](**values)
    return packed
