"""Fixtures for the training tests (one torch thread: ``tests/core/conftest.py``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from core.data.prepared import PreparedDataset


@pytest.fixture
def data_dir(tmp_path) -> Path:
    """24 random 16-px grayscale pictures as a prepared dataset."""
    rng = np.random.default_rng(0)
    arr = (rng.random((24, 16, 16, 1)) * 255).astype(np.uint8)
    PreparedDataset.from_array(arr).save(tmp_path / "data")
    return tmp_path / "data"


def toy_squares(n: int = 24, res: int = 16, channels: int = 1, seed: int = 0) -> PreparedDataset:
    """Bright squares on black at a few positions: a repeatable, learnable toy problem."""
    rng = np.random.default_rng(seed)
    arr = np.zeros((n, res, res, channels), np.uint8)
    for i in range(n):
        y, x = rng.integers(0, res // 2, 2)
        arr[i, y : y + res // 2, x : x + res // 2] = 255
    return PreparedDataset.from_array(arr)
