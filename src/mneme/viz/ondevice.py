"""A model on an accelerator, seen by the drawing code as if it ran on the CPU.

``mneme plot --device cuda`` loads the model there; the figures' code takes its batches from the
task (on the CPU) and hands the results to matplotlib (which needs CPU tensors). ``OnDevice``
moves each call's tensor arguments to the model's device and its results back, so that code
stays device-free.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

__all__ = ["OnDevice", "moved"]


def moved(value: Any, device: torch.device) -> Any:
    """``value`` with every tensor in it moved to ``device``: through lists, tuples (named ones
    too), dicts and dataclasses (rebuilt with ``dataclasses.replace``); anything else as it is."""
    if isinstance(value, torch.Tensor):
        return value.to(device)
    if isinstance(value, dict):
        return {k: moved(v, device) for k, v in value.items()}
    if isinstance(value, tuple) and hasattr(value, "_fields"):
        return type(value)(*(moved(v, device) for v in value))
    if isinstance(value, list | tuple):
        return type(value)(moved(v, device) for v in value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.replace(value, **{f.name: moved(getattr(value, f.name), device)
                                             for f in dataclasses.fields(value) if f.init})
    return value


class OnDevice:
    """``model`` (on its device) behind a CPU face: calling it, or any of its methods
    (``decode``, ``translate``, ``step``), moves the tensor arguments to the model's device and
    the tensors of the result to the CPU. Other attributes (``core``, flags) are the model's."""

    def __init__(self, model: nn.Module) -> None:
        self._model = model
        self._device = next(model.parameters()).device

    def _through(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        def call(*args: Any, **kwargs: Any) -> Any:
            result = fn(*moved(args, self._device), **moved(kwargs, self._device))
            return moved(result, torch.device("cpu"))
        return call

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._through(self._model)(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._model, name)
        if callable(value) and not isinstance(value, nn.Module | type):
            return self._through(value)
        return value
