"""Synthetic image sets with known relations, small enough for a 2-core CPU."""

from __future__ import annotations

import numpy as np
import pytest


def blobs(
    n: int, size: int = 16, channels: int = 1, seed: int = 0, radius: tuple[float, float] = (2.0, 4.0)
) -> np.ndarray:
    """n uint8 images of one bright disc each, at random places and radii (a 'dataset' with structure)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:size, :size]
    out = np.zeros((n, size, size, channels), np.uint8)
    for i in range(n):
        cy, cx = rng.uniform(size * 0.25, size * 0.75, 2)
        r = rng.uniform(*radius)
        disc = np.clip(r + 0.5 - np.hypot(yy - cy, xx - cx), 0, 1)
        out[i] = (disc * rng.uniform(160, 255))[..., None].astype(np.uint8)
    return out


@pytest.fixture
def make_blobs():
    return blobs


def tiny_unet(resolution: int = 16, channels: int = 1):
    from diffusers import UNet2DModel

    return UNet2DModel(
        sample_size=resolution,
        in_channels=channels,
        out_channels=channels,
        block_out_channels=(8, 16),
        layers_per_block=1,
        down_block_types=("DownBlock2D", "DownBlock2D"),
        up_block_types=("UpBlock2D", "UpBlock2D"),
        norm_num_groups=4,
    )


@pytest.fixture
def tiny_model_dir(tmp_path):
    """An untrained tiny eps model folder (16 px, grey), saved through the shared model-folder contract."""
    import torch

    from core.models.folder import save_model_folder

    torch.manual_seed(0)
    path = tmp_path / "run" / "model"
    save_model_folder(tiny_unet(), "eps", {"preset": "test", "resolution": 16, "channels": 1}, path)
    return path


@pytest.fixture
def blob_dataset():
    from core.data.prepared import PreparedDataset

    return PreparedDataset.from_array(blobs(30, size=16, seed=0))  # 27 training, 3 held out
