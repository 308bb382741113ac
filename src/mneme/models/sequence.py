"""Any core on any sequence task: ``SequenceModel`` = input adapter + core + head.

The matrix's composition (DESIGN.md, "The idea: a matrix"): a model is built for a (core, task)
pair from what the task declares (``TaskInfo``) and nothing written for the pair.

- **Input adapter**: ``tokens`` -> ``nn.Embedding(V, E)``; ``features`` -> the features as they
  are (the NTM paper's networks read the bits directly), given as a tensor or as ``{"features":
  (B, T, D), "input_length": (B,)}`` (the Chomsky tasks: the input's length before the empty
  output steps, passed to a core whose ``initial_state`` takes ``input_length``, the Tape RNN's
  jump); ``structured`` inputs with a token view
  (bAbI: story then question as one word sequence, Weston et al. 2015's LSTM baseline) ->
  ``info.to_sequence`` then the embedding.
- **Core**: any registered core (``mneme.registry.CORES``), reading ``(B, T, D)``.
- **Head**: ``every_step`` -> a linear layer on every step's output (logits ``(B, T, out)``: the
  NTM paper's sigmoid outputs, a language model's softmax); ``last_step`` -> the output of each
  sequence's last real step (``(B, out)``: a class or a real value), optionally through a ReLU
  layer of ``head_size`` units first (Ba et al. 2016, section 4.1: 100).
- A core that samples discrete decisions (``core.stochastic``: the NTM's hard reads) also gets a
  learned REINFORCE baseline, ``Linear(H, 1)`` on the time-mean of the detached outputs.

The model's config is the core's config plus ``embedding_dim`` and ``head_size``
(``composed_config``), so ``--model.hidden-size`` and ``--model.embedding-dim`` sit side by side.

Legend: B batch, T time, D input features, E embedding size, H core output size, V vocabulary.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
from collections.abc import Mapping
from typing import Any

import torch
from torch import Tensor, nn

from mneme.errors import UserError
from mneme.registry import Entry
from mneme.types import ModelOutput, TaskInfo
from mneme.validation import Validated, at_least, validate_config

__all__ = ["DEFAULT_EMBEDDING_DIM", "SequenceModel", "compose", "composed_config", "core_config"]

DEFAULT_EMBEDDING_DIM = 64
"""E when ``embedding_dim`` is None and the task reads tokens."""


class SequenceModel(nn.Module):
    """input adapter -> core -> head, for a task declaring ``info``.

    Args:
        core: a ``mneme.types.Core`` reading ``D_in`` features (E for token tasks).
        info: the task's declaration (inputs, outputs, readout).
        embedding_dim: E for token inputs (ignored for features).
        head_size: units of a ReLU layer before the output layer, or None for a linear head.
        output_bias: ``real`` outputs: the output layer's initial bias (the target mean of a
            regression); other outputs keep PyTorch's default initialisation.
        embedding: the token embedding, when the caller made it (``compose`` makes it before
            the core, the order of the 0.1 models, so a seed gives the same weights).

    ``forward(inputs, state=None, *, trace=False) -> ModelOutput``: logits ``(B, T, out)``
    (``every_step``) or ``(B, out)`` (``last_step``); ``state`` is the core's state after the
    batch (stream tasks carry it); ``trace`` the core's trace when asked.

    Raises:
        UserError: a task that declares no sequence view (``info.composable`` is False).
    """

    def __init__(self, core: nn.Module, info: TaskInfo, *, embedding_dim: int | None = None,
                 head_size: int | None = None, output_bias: float = 0.0,
                 embedding: nn.Module | None = None) -> None:
        super().__init__()
        if not info.composable:
            raise UserError("this task declares no sequence view (TaskInfo.composable is "
                            "False): use a task-facing model")
        self.info = info
        if embedding is None and info.inputs != "features":
            embedding = _embedding(info, embedding_dim)
        # registered before the core: the parameter order of 0.1's models, which the global
        # gradient norm (clipping) sums in, so a seed reproduces their runs bit for bit
        self.embedding = embedding
        self.core = core
        hidden = int(core.output_size)  # type: ignore[arg-type]
        out = info.output_size
        if head_size:
            self.head: nn.Module = nn.Sequential(nn.Linear(hidden, head_size), nn.ReLU(),
                                                 nn.Linear(head_size, out))
        else:
            self.head = nn.Linear(hidden, out)
        if info.outputs == "real":
            last = self.head[-1] if isinstance(self.head, nn.Sequential) else self.head
            nn.init.constant_(last.bias, output_bias)  # type: ignore[arg-type]
        initial_state = getattr(core, "initial_state", None)
        self.takes_input_length = callable(initial_state) and "input_length" in inspect.signature(
            initial_state).parameters
        self.stochastic = bool(getattr(core, "stochastic", False))
        self.baseline = nn.Linear(hidden, 1) if self.stochastic else None

    def forward(self, inputs: Any, state: Any = None, *, trace: bool = False) -> ModelOutput:
        lengths: Tensor | None = None
        if self.info.inputs == "structured":
            assert self.info.to_sequence is not None
            inputs, lengths = self.info.to_sequence(inputs)
        input_length = None
        if isinstance(inputs, Mapping):  # features with the input's length (module docstring)
            inputs, input_length = inputs["features"], inputs.get("input_length")
        x = self.embedding(inputs) if self.embedding is not None else inputs  # (B, T, D_in)
        if state is None and input_length is not None and self.takes_input_length:
            state = self.core.initial_state(x.shape[0], x.device, x.dtype,  # type: ignore[operator]
                                            input_length=input_length)
        out: Any = self.core(x, state, trace=True) if trace else self.core(x, state)
        y, new_state = out[0], out[1]  # (B, T, H)
        core_trace = out[2] if trace and len(out) > 2 else None
        if self.info.readout == "last_step":
            if lengths is None:
                y_read = y[:, -1]
            else:  # each sequence's last real step; the padding after it is never read
                last = (lengths.clamp(min=1) - 1).to(y.device)
                y_read = y[torch.arange(y.shape[0], device=y.device), last]
            logits = self.head(y_read)  # (B, out)
        else:
            logits = self.head(y)  # (B, T, out)
        log_prob = getattr(new_state, "log_prob", None) if self.stochastic else None
        baseline = None
        if self.baseline is not None:
            baseline = self.baseline(y.detach().mean(1)).squeeze(-1)
        return ModelOutput(logits, trace=core_trace, state=new_state, log_prob=log_prob,
                           baseline=baseline)


@functools.cache
def composed_config(core: Entry) -> type:
    """The model config of ``core`` composed with a task: the core's config dataclass plus
    ``embedding_dim`` (E, None: ``DEFAULT_EMBEDDING_DIM``) and ``head_size`` (None: linear).

    A ``Validated`` core config's ``validate()`` is inherited: the core's declared fields, these
    two (>= 1 or None), then the core's ``check()``. A plugin's plain config dataclass gets a
    ``validate()`` that checks the declared fields, then runs the core's own ``validate()`` if it
    has one."""
    base = core.config
    extra = [
        ("embedding_dim", int | None, dataclasses.field(default=None, metadata=at_least(1))),
        ("head_size", int | None, dataclasses.field(default=None, metadata=at_least(1))),
    ]
    namespace: dict[str, Any] = {}
    if not issubclass(base, Validated):
        own = getattr(base, "validate", None)

        def validate(self: Any) -> None:
            validate_config(self)
            if callable(own):
                own(self)

        namespace["validate"] = validate
    cls = dataclasses.make_dataclass(f"{base.__name__.removesuffix('Config')}ModelConfig",
                                     extra, bases=(base,), namespace=namespace, frozen=True)
    cls.__doc__ = (f"{base.__name__} composed with a task: the core's fields, plus embedding_dim "
                   "(E for token inputs; None: 64) and head_size (a ReLU layer before the "
                   "output; None: linear).")
    cls.__module__ = __name__
    globals()[cls.__name__] = cls  # so pickle (worker processes) finds it by name
    return cls


def __getattr__(name: str) -> type:
    """A composed config class by name (unpickling in a fresh process builds it on demand)."""
    if name.endswith("ModelConfig"):
        from mneme import registry

        registry.load()
        for core in registry.CORES.values():
            if f"{core.config.__name__.removesuffix('Config')}ModelConfig" == name:
                return composed_config(core)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def core_config(core: Entry, model_config: Any) -> Any:
    """The core's own config from a composed model config (drops the composition fields)."""
    names = {f.name for f in dataclasses.fields(core.config)}
    return core.config(**{k: v for k, v in dataclasses.asdict(model_config).items()
                          if k in names})


def compose(core: Entry, model_config: Any, info: TaskInfo) -> SequenceModel:
    """The ``SequenceModel`` of the registered ``core`` for a task declaring ``info``.

    Raises:
        UserError: a bad config field, or a task without a sequence view.
    """
    validate = getattr(model_config, "validate", None)  # a core's own config may have none
    if callable(validate):
        validate()
    else:
        validate_config(model_config)
    if not info.composable:
        raise UserError("this task declares no sequence view: use a task-facing model")
    embedding_dim = getattr(model_config, "embedding_dim", None)
    embedding = _embedding(info, embedding_dim) if info.inputs != "features" else None
    d_in = info.input_size if embedding is None else embedding.embedding_dim
    built = core.build(core_config(core, model_config), d_in)
    return SequenceModel(built, info, embedding_dim=embedding_dim,
                         head_size=getattr(model_config, "head_size", None),
                         output_bias=info.output_bias, embedding=embedding)


def _embedding(info: TaskInfo, embedding_dim: int | None) -> nn.Embedding:
    return nn.Embedding(info.input_size, embedding_dim or DEFAULT_EMBEDDING_DIM)
