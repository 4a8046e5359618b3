"""Cheap preview samples during training: a few fixed seeds, a few steps, from the EMA weights.

Previews sample with the sampler the model will be sampled with by default
(:data:`core.sampling.samplers.DEFAULT_SAMPLER`: DDIM for DDPM objectives, Song et al. 2021; UniPC
for flow, which at 8 steps is far closer to the finished picture than flow Euler), so a preview
shows what Generate will give. The starting noise of each preview comes
from its own seed on the CPU, so the same seeds show the same pictures as training goes on, on
any device.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from core.diffusion.schedules import make_scheduler
from core.media.grid import make_grid
from core.sampling.trajectory import tensor_to_uint8


def preview_scheduler(objective: str, schedule: str | None) -> object:
    from diffusers import DDIMScheduler

    from core.sampling.samplers import build_scheduler, default_sampler

    base = make_scheduler(objective, schedule)
    if objective == "flow":
        return build_scheduler(default_sampler(objective), dict(base.config), objective)
    return DDIMScheduler.from_config(base.config, timestep_spacing="trailing")


@torch.no_grad()
def preview_samples(
    network: nn.Module,
    objective: str,
    schedule: str | None,
    seeds: Sequence[int],
    steps: int,
    sample_shape: tuple[int, ...],
    *,
    device: torch.device | str = "cpu",
    dtype: torch.dtype = torch.float32,
) -> np.ndarray:
    """uint8 samples, (N, H, W, C) for images or (N, T, H, W, C) for clips; ``sample_shape`` excludes N."""
    from core.sampling.loop import run_loop

    scheduler = preview_scheduler(objective, schedule)
    scheduler.set_timesteps(steps, device=device)
    noise = [torch.randn(sample_shape, generator=torch.Generator().manual_seed(int(s))) for s in seeds]
    x = torch.stack(noise).to(device=device, dtype=dtype)
    return tensor_to_uint8(run_loop(network, scheduler, x))


def grid(images: np.ndarray, columns: int = 8) -> np.ndarray:
    """The preview's layout: (N, H, W, C) uint8 images (or the first frame of clips) tiled ``columns``
    to a row with no gaps, one (rows*H, cols*W, C) picture."""
    return make_grid(images[:, 0] if images.ndim == 5 else images, columns, pad=0)
