"""Saving figures: every figure mneme draws is written as a PNG and an SVG beside it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = ["save_figure"]


def save_figure(fig: Any, path: str | Path, *, dpi: int = 110) -> Path:
    """Write ``fig`` as the PNG ``path`` and ``path`` with ``.svg``, cropped to what is drawn
    (no clipped titles or labels), then close it. The SVG keeps its text as text (editable in
    a paper's figure, searchable).

    Returns:
        ``path`` as a ``Path``.
    """
    import matplotlib.pyplot as plt

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=dpi, bbox_inches="tight")
    with plt.rc_context({"svg.fonttype": "none"}):
        fig.savefig(path.with_suffix(".svg"), bbox_inches="tight")
    plt.close(fig)
    return path
