"""The loop's surroundings: the optimiser, the progress bar, Ctrl-C, the safetensors export.

Kept apart from ``mneme.train.loop`` so that the loop reads as a loop.
"""

from __future__ import annotations

import math
import signal
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import nn

from mneme.config import TrainConfig

__all__ = ["GRAVES_RMSPROP", "export_safetensors", "install_sigint", "learning_rate",
           "make_optimizer", "plain", "progress", "restore_sigint"]


GRAVES_RMSPROP = {"alpha": 0.95, "eps": 1e-2}
"""``rmsprop-graves``'s decay and eps (Graves 2013, eq. 41: k = 1e-4 inside the square root;
PyTorch adds eps outside it, so sqrt(1e-4) bounds the denominator from below the same way)."""


def make_optimizer(model: nn.Module, cfg: TrainConfig) -> torch.optim.Optimizer:
    params = [p for p in model.parameters() if p.requires_grad]
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(
            params, lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay
        )
    if cfg.optimizer == "adam":
        return torch.optim.Adam(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    if cfg.optimizer == "rmsprop-graves":
        return torch.optim.RMSprop(
            params, lr=cfg.lr, alpha=GRAVES_RMSPROP["alpha"], eps=GRAVES_RMSPROP["eps"],
            centered=True, momentum=cfg.momentum, weight_decay=cfg.weight_decay)
    return torch.optim.RMSprop(
        params, lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay
    )


def export_safetensors(model: nn.Module, path: Path) -> None:
    """The best weights as ``model.safetensors`` for use outside mneme (``safetensors`` extra;
    without it, one line on stderr says so)."""
    try:
        from safetensors.torch import save
    except ImportError:  # the optional extra is not installed
        from mneme.train.logging import missing_extra

        missing_extra("safetensors", f"{path.name} is not written")
        return
    from mneme.train.checkpoint import atomic_write_bytes

    tensors = {k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()}
    atomic_write_bytes(path, save(tensors))  # the same mode as the run's other files


def plain(config: Any) -> dict[str, Any]:
    from dataclasses import asdict

    return asdict(config)


def progress(enabled: bool, total: int, initial: int, name: str) -> Any:
    if not enabled:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, initial=initial, desc=name, unit="step", dynamic_ncols=True)


def install_sigint(request_stop: Callable[[], None]) -> Any:
    """First Ctrl-C: finish the step, checkpoint, exit cleanly. Second: the usual interrupt."""
    if threading.current_thread() is not threading.main_thread():
        return None

    def handler(signum: int, frame: Any) -> None:
        request_stop()
        signal.signal(signal.SIGINT, signal.default_int_handler)

    return signal.signal(signal.SIGINT, handler)


def restore_sigint(previous: Any) -> None:
    if previous is not None:
        signal.signal(signal.SIGINT, previous)


def learning_rate(cfg: TrainConfig, schedule: dict[str, float], epoch: int) -> float:
    """The rate of ``epoch``: ``cfg.lr_schedule`` restarted from ``schedule["base_lr"]`` at
    ``schedule["phase_start"]`` (held there while ``schedule["hold"]``, MemN2N's linear start).

    ``step``: times ``lr_decay`` every ``lr_decay_every`` epochs, from ``lr_decay_start`` when set
    (Zaremba et al. 2014); ``cosine``: half a cosine to the end of the budget; else constant.
    """
    base = float(schedule["base_lr"])
    since = max(0, epoch - int(schedule["phase_start"]))
    if schedule.get("hold"):
        return base
    if cfg.lr_schedule == "step":
        if cfg.lr_decay_start is not None:
            if since < cfg.lr_decay_start:
                return base
            decays = (since - cfg.lr_decay_start) // cfg.lr_decay_every + 1
            return base * cfg.lr_decay**decays
        return base * cfg.lr_decay ** (since // cfg.lr_decay_every)
    if cfg.lr_schedule == "cosine":
        span = max(1, cfg.epochs - int(schedule["phase_start"]))
        return base * 0.5 * (1.0 + math.cos(math.pi * min(since, span) / span))
    return base
