"""Which device a run or a command computes on: ``auto``, ``cpu``, ``cuda``, ``cuda:N`` or ``mps``;
and whether it computes through ``torch.compile`` (``compile_steps``).

``TrainConfig.device`` checks the spelling (``mneme.config.is_device_name``); ``resolve_device``
checks that this machine and PyTorch build have the device, before anything is written, and picks
one for ``auto`` (CUDA if available, else MPS, else the CPU). Under ``torchrun`` each rank takes
``cuda:LOCAL_RANK``.
"""

from __future__ import annotations

import torch
from torch import nn

from mneme.errors import ConfigError

__all__ = ["compile_steps", "resolve_device"]


def _mps_available() -> bool:
    mps = getattr(torch.backends, "mps", None)
    return bool(mps is not None and mps.is_available())


def resolve_device(name: str, *, local_rank: int | None = None,
                   label: str = "TrainConfig.device") -> torch.device:
    """The ``torch.device`` that ``name`` stands for on this machine.

    Args:
        name: ``auto``, ``cpu``, ``cuda``, ``cuda:N`` or ``mps``.
        local_rank: under ``torchrun``, this process's ``LOCAL_RANK``: CUDA becomes
            ``cuda:LOCAL_RANK`` (the device is made current, ``torch.cuda.set_device``).
        label: how errors name the setting (``--device`` for commands).

    Raises:
        ConfigError: an unknown name, or a device this machine or PyTorch build does not have
            (one line naming ``label``).
    """
    from mneme.config import DEVICE_CHOICES, is_device_name

    if not isinstance(name, str) or not is_device_name(name):
        raise ConfigError(f"{label} must be {DEVICE_CHOICES} (got {name!r})")
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "mps" if _mps_available() else "cpu"
    device = torch.device(name)
    if device.type == "mps" and not _mps_available():
        raise ConfigError(f"{label} is 'mps', but MPS is not available here (an Apple GPU and a "
                          "PyTorch build with MPS are needed); use cpu or auto")
    if device.type != "cuda":
        return device
    if not torch.cuda.is_available():
        built = "this machine has no CUDA device" if torch.version.cuda else \
            "this PyTorch build has no CUDA support"
        raise ConfigError(f"{label} is {name!r}, but {built}; use cpu or auto")
    count = torch.cuda.device_count()
    if local_rank is not None:
        if device.index is not None:
            raise ConfigError(f"{label} is {name!r}, but under torchrun each rank uses "
                              "cuda:LOCAL_RANK; give cuda or auto")
        device = torch.device("cuda", local_rank)
    index = 0 if device.index is None else device.index
    if index >= count:
        raise ConfigError(f"{label} is {str(device)!r}, but this machine has {count} CUDA "
                          f"device{'s' if count != 1 else ''} (cuda:0 to cuda:{count - 1})")
    if local_rank is not None:
        torch.cuda.set_device(device)
    return device


def compile_steps(model: nn.Module, label: str = "TrainConfig.compile") -> int:
    """Switch every core of ``model`` that has a compiled path (a ``compile_steps`` method, as
    ``mneme.memory.ntm.NTM``) to it; returns how many were switched.

    Raises:
        ConfigError: no core of ``model`` has a compiled path.
    """
    cores = [m for m in model.modules() if callable(getattr(m, "compile_steps", None))]
    if not cores:
        kinds = sorted({type(m).__name__ for m in model.children()}) or [type(model).__name__]
        raise ConfigError(f"{label}: no core of this model ({', '.join(kinds)}) has a compiled "
                          "path; only the ntm core has one")
    for core in cores:
        core.compile_steps()
    return len(cores)
