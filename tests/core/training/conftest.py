"""Tiny models on a shared 2-core machine: one torch thread is several times faster than two
when other jobs load the cores (OpenMP threads wait on each other)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from core.data.prepared import PreparedDataset


@pytest.fixture(autouse=True)
def _one_torch_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def data_dir(tmp_path) -> Path:
    """24 random 16-px grayscale pictures as a prepared dataset."""
    rng = np.random.default_rng(0)
    arr = (rng.random((24, 16, 16, 1)) * 255).astype(np.uint8)
    PreparedDataset.from_array(arr).save(tmp_path / "data")
    return tmp_path / "data"
