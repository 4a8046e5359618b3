"""Tiny models on a shared 2-core machine: one torch thread is several times faster than two
when other jobs load the cores (OpenMP threads wait on each other)."""

from __future__ import annotations

import pytest
import torch


@pytest.fixture(autouse=True)
def _one_torch_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
