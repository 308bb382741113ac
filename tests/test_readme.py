"""The README's library examples run as written (each ```python block, in order)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from mneme.cli import main

README = Path(__file__).resolve().parents[1] / "README.md"


def python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.S)


def test_the_readme_has_the_four_library_examples() -> None:
    text = "\n".join(python_blocks())
    for needle in ("NTM(", "MemN2N(", "Hopfield(", "load_run("):
        assert needle in text


@pytest.mark.parametrize("index", range(len(python_blocks())))
def test_readme_example_runs(index: int, tmp_path: Path, monkeypatch) -> None:
    block = python_blocks()[index]
    monkeypatch.chdir(tmp_path)
    if "load_run(" in block:  # the run the example names, trained for a few steps
        assert main(["train", "--task", "copy", "--task.max-length", "3", "--model", "ntm",
                     "--train.epochs", "1", "--train.epoch-steps", "3", "--train.no-progress",
                     "--train.no-tensorboard", "--out", "runs/copy-ntm"]) == 0
    exec(compile(block, f"README.md block {index}", "exec"), {})
