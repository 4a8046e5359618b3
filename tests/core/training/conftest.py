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
