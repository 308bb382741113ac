"""``OnDevice``: the drawing code's CPU face of a model on another device."""

from __future__ import annotations

from collections import namedtuple
from dataclasses import dataclass

import torch
from torch import nn

from mneme.viz.ondevice import OnDevice, moved

Pair = namedtuple("Pair", "a b")


@dataclass(frozen=True)
class Trace:
    attention: torch.Tensor
    names: tuple[str, ...]


def test_moved_reaches_every_tensor_and_keeps_the_rest() -> None:
    value = {"x": [torch.ones(2), Pair(torch.zeros(1), 3)],
             "trace": Trace(torch.eye(2), ("a", "b")), "n": 1.5}
    out = moved(value, torch.device("meta"))
    assert out["x"][0].device.type == "meta" and out["x"][1].a.device.type == "meta"
    assert isinstance(out["x"][1], Pair) and out["x"][1].b == 3
    assert out["trace"].attention.device.type == "meta" and out["trace"].names == ("a", "b")
    assert out["n"] == 1.5 and value["x"][0].device.type == "cpu"  # the input is untouched


class Tiny(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.core = nn.Linear(2, 2)
        self.has_attention = True

    def forward(self, x: torch.Tensor) -> Trace:
        return Trace(self.core(x), ("out",))

    def decode(self, x: torch.Tensor, *, scale: torch.Tensor) -> torch.Tensor:
        return self.core(x) * scale


def test_on_device_calls_methods_and_passes_attributes_through() -> None:
    model = Tiny()
    face = OnDevice(model)
    x = torch.randn(3, 2)
    torch.testing.assert_close(face(x).attention, model.core(x))
    torch.testing.assert_close(face.decode(x, scale=torch.tensor(2.0)), model.core(x) * 2)
    assert face.core is model.core and face.has_attention is True
    assert face.eval() is model  # a method returning a module gives it back as it is
