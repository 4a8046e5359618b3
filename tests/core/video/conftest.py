"""Tiny clips and a tiny trained clip model, shared by the video tests (one torch thread:
``tests/core/conftest.py``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from core.data.prepared import PreparedDataset

FRAMES, RES = 6, 16
FAST = dict(preset="clip-tiny", batch_size=4, max_minutes=None, device="cpu", preview_every=0, val_every=0,
            checkpoint_every=0, log_every=1, warmup=2)  # fmt: skip


def moving_squares(n: int = 12, frames: int = FRAMES, res: int = RES, seed: int = 0) -> np.ndarray:
    """(n, frames, res, res, 1) uint8: a bright 4 px square moving 1-2 px per frame on black."""
    rng = np.random.default_rng(seed)
    out = np.zeros((n, frames, res, res, 1), np.uint8)
    for i in range(n):
        y, x = rng.integers(0, res - 4 - 2 * frames // 2, 2)
        dy, dx = rng.integers(1, 3, 2)
        for t in range(frames):
            yy, xx = min(y + dy * t, res - 4), min(x + dx * t, res - 4)
            out[i, t, yy : yy + 4, xx : xx + 4] = 255
    return out


@pytest.fixture(scope="session")
def clip_data() -> PreparedDataset:
    return PreparedDataset.from_array(moving_squares(), "clip", val_fraction=0.2, fps=6.0)


@pytest.fixture(scope="session")
def clip_model_dir(tmp_path_factory: pytest.TempPathFactory, clip_data: PreparedDataset) -> Path:
    """A clip-tiny flow model trained 4 steps: its model folder."""
    from core.training.config import TrainConfig
    from core.training.trainer import train

    torch.set_num_threads(1)
    run = tmp_path_factory.mktemp("cliprun") / "run"
    result = train(TrainConfig(**FAST, max_steps=4), clip_data, run)
    return result.model_dir


@pytest.fixture
def fast() -> dict:
    """TrainConfig fields for a few-step clip-tiny run on the CPU."""
    return dict(FAST)


@pytest.fixture
def squares():
    return moving_squares
