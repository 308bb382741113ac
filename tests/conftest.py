"""Shared test setup: one torch thread (tests are small; threads only add noise), headless plots."""

from __future__ import annotations

import os

import matplotlib
import pytest
import torch

matplotlib.use("Agg")
torch.set_num_threads(1)


@pytest.fixture
def data_root() -> str:
    """The shared data directory ($MNEME_DATA); tests that need real data skip without it."""
    root = os.environ.get("MNEME_DATA")
    if not root or not os.path.isdir(root):
        pytest.skip("real datasets not available: set MNEME_DATA (see README, Datasets)")
    return root
