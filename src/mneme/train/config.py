"""``TrainConfig`` lives in ``mneme.config`` (the bottom layer, so recipes can name it); this
module keeps the old import path working."""

from mneme.config import TrainConfig

__all__ = ["TrainConfig"]
