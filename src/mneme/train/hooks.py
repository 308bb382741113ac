"""Training hooks: curricula and schedule changes that run after every epoch."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, Protocol

if TYPE_CHECKING:
    from mneme.train.loop import Trainer


class Hook(Protocol):
    """A curriculum or schedule hook, called after every epoch (e.g. MemN2N's linear start)."""

    def on_epoch_end(self, trainer: Trainer, valid: dict[str, float] | None) -> None: ...

    def state_dict(self) -> dict[str, Any]: ...

    def load_state_dict(self, state: dict[str, Any]) -> None: ...


@dataclass
class LinearStart:
    """Linear start (Sukhbaatar et al. 2015, section 4.2): first train without attention softmax.

    The model starts linear (``model.set_linear(True)``) at learning rate ``lr``. The softmax layers
    are re-inserted after ``epochs`` epochs (``mode="fixed"``, what the authors' Matlab code does:
    20 epochs single-task, 30 joint) or as soon as the validation loss stops decreasing
    (``mode="plateau"``, the paper's wording, with ``epochs`` as the upper bound). Then the learning
    rate schedule starts again from ``lr``; during the linear phase the rate is held at ``lr``.
    """

    epochs: int = 20
    lr: float = 0.005
    mode: Literal["fixed", "plateau"] = "fixed"
    active: bool = True
    best_loss: float = math.inf
    switched_at: int = -1

    def start(self, trainer: Trainer) -> None:
        """Put the model in linear mode and set the LR for the linear phase (fresh runs only)."""
        trainer.model.set_linear(True)  # type: ignore[operator]
        # No decay during the linear phase (the Matlab code's ls_lrate_decay_step > ls_nepochs).
        trainer.restart_schedule(self.lr, at_epoch=0, hold=True)

    def on_epoch_end(self, trainer: Trainer, valid: dict[str, float] | None) -> None:
        if not self.active:
            return
        stalled = False
        if self.mode == "plateau" and valid is not None:
            stalled = valid["loss"] >= self.best_loss
            self.best_loss = min(self.best_loss, valid["loss"])
        if stalled or trainer.epoch >= self.epochs:
            self.active = False
            self.switched_at = trainer.epoch
            trainer.model.set_linear(False)  # type: ignore[operator]
            trainer.restart_schedule(self.lr, at_epoch=trainer.epoch)

    def state_dict(self) -> dict[str, Any]:
        return {
            "active": self.active,
            "best_loss": self.best_loss,
            "switched_at": self.switched_at,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.active = bool(state["active"])
        self.best_loss = float(state["best_loss"])
        self.switched_at = int(state["switched_at"])
