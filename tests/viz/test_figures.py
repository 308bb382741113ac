"""Figures a researcher would put in a paper: the task's own unit, integer epochs, cropped
memory panels, PNG and SVG."""

from __future__ import annotations

import re
from pathlib import Path

import torch

from mneme.viz.ntm import Panel, _cropped
from mneme.viz.run import plot_curves


def records(key: str, values: list[float]) -> list[dict[str, float]]:
    return [{"epoch": i + 1, "train_loss": 10.0 / (i + 1), f"valid_{key}": v}
            for i, v in enumerate(values)]


def test_curves_show_the_tasks_metric_and_unit_and_write_svg(tmp_path: Path) -> None:
    path = plot_curves(records("bits", [6.0, 4.0, 1.0, 0.2]), tmp_path / "curves.png", "ntm",
                       metric="bits", unit="bits per sequence", percent=False, solved_below=1.0)
    assert path.stat().st_size > 0
    svg = path.with_suffix(".svg").read_text()
    assert "validation bits (bits per sequence)" in svg
    assert "solved at or below 1" in svg
    assert "validation error" not in svg
    texts = re.findall(r">([^<]+)</text>", svg)
    assert texts.count("epoch") == 2
    assert {"1", "2", "3", "4"} <= set(texts)  # integer epoch ticks, no 1.5 or 2.5
    assert "1.5" not in texts and "2.5" not in texts and "0.5" not in texts


def test_percent_metrics_are_drawn_as_percentages(tmp_path: Path) -> None:
    path = plot_curves(records("error", [0.5, 0.2]), tmp_path / "c.png", "t", metric="error",
                       unit="%", percent=True, solved_below=0.05)
    svg = path.with_suffix(".svg").read_text()
    assert "validation error (%)" in svg and "solved at or below 5" in svg


def test_weighting_panels_are_cropped_to_the_used_rows() -> None:
    image = torch.zeros(128, 10)
    image[3, :5] = 1.0
    image[5, 5:] = 0.6
    image[100, 0] = 0.001  # below 5% of the peak: not "used"
    rows, first = _cropped(Panel("w", image, "location", crop_rows=True))
    assert first == 2 and rows.shape == (5, 10)  # rows 2..6: the used 3..5 and one either side
    torch.testing.assert_close(rows, image[2:7])
    whole, start = _cropped(Panel("w", image, "location"))
    assert start == 0 and whole.shape == (128, 10)
