"""Tiny models for the sampling tests: a 16 px, 1-channel UNet2DModel (random weights) per objective."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch

from core.models.folder import LoadedModel


def tiny_unet(seed: int = 0) -> Any:
    from diffusers import UNet2DModel

    torch.manual_seed(seed)
    return UNet2DModel(
        sample_size=16,
        in_channels=1,
        out_channels=1,
        block_out_channels=(8, 16),
        layers_per_block=1,
        down_block_types=("DownBlock2D", "DownBlock2D"),
        up_block_types=("UpBlock2D", "UpBlock2D"),
        norm_num_groups=4,
    ).eval()


def scheduler_for(objective: str) -> Any:
    from diffusers import DDPMScheduler, FlowMatchEulerDiscreteScheduler

    if objective == "flow":
        return FlowMatchEulerDiscreteScheduler(num_train_timesteps=1000)
    prediction = {"eps": "epsilon", "v": "v_prediction", "x0": "sample"}[objective]
    return DDPMScheduler(num_train_timesteps=1000, prediction_type=prediction)


def make_tiny_model(objective: str = "eps") -> LoadedModel:
    scheduler = scheduler_for(objective)
    info = {"resolution": 16, "channels": 1, "kind": "image", "objective": objective}
    return LoadedModel(tiny_unet(), dict(scheduler.config), objective, info, Path("tiny-" + objective))


@pytest.fixture(scope="session")
def models() -> dict[str, LoadedModel]:
    torch.set_num_threads(1)  # the test machine is shared; tiny models gain nothing from threads
    return {o: make_tiny_model(o) for o in ("eps", "v", "flow")}


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory) -> Path:
    """A plain diffusers pipeline folder (no noisebloom.json), as DDPMPipeline saves it."""
    from diffusers import DDPMPipeline

    path = tmp_path_factory.mktemp("models") / "tiny-ddpm"
    DDPMPipeline(unet=tiny_unet(1), scheduler=scheduler_for("eps")).save_pretrained(
        path, safe_serialization=True
    )
    return path


class CountingNetwork(torch.nn.Module):
    """Wraps a network and counts its evaluations."""

    def __init__(self, inner: torch.nn.Module):
        super().__init__()
        self.inner = inner
        self.calls = 0
        self.config = inner.config

    def forward(self, x, t):
        self.calls += 1
        return self.inner(x, t)


@pytest.fixture
def counting():
    return CountingNetwork
