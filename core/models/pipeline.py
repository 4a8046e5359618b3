"""The diffusers pipeline of Noisebloom's own networks, shipped as ``pipeline.py`` in every model
folder whose denoiser is one of them, so that plain diffusers samples the folder:
``DiffusionPipeline.from_pretrained(MODEL_DIR, trust_remote_code=True)`` (see
:mod:`core.models.shipped`). It imports only torch and diffusers, and Noisebloom never imports the
copy in a folder (it samples with :mod:`core.sampling`).

The loop is ``DDPMPipeline``'s: noise from the generator(s), then for every timestep of the saved
scheduler ``network(x, t).sample`` and ``scheduler.step``; the same per-image generators give the
same samples as Noisebloom's own sampler of that scheduler. The denoiser is ``unet`` (the pixel
UNet) or ``transformer`` (the DiT, the clip network); clip models draw (B, T, C, H, W) with
``num_frames`` frames, from ``model_index.json``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from diffusers import DiffusionPipeline
from diffusers.utils import BaseOutput
from diffusers.utils.torch_utils import randn_tensor


@dataclass
class NoisebloomPipelineOutput(BaseOutput):
    """``images`` for image models, ``frames`` (one list of frames per clip) for clip models."""

    images: Any = None
    frames: Any = None


class NoisebloomPipeline(DiffusionPipeline):
    """Unconditional sampling with the model's own scheduler; ``pipe(batch_size, num_inference_steps)``."""

    _optional_components = ["unet", "transformer"]

    def __init__(self, scheduler, unet=None, transformer=None, num_frames: int = 0) -> None:
        super().__init__()
        self.register_modules(unet=unet, transformer=transformer, scheduler=scheduler)
        self.register_to_config(num_frames=num_frames)

    @property
    def denoiser(self) -> torch.nn.Module:
        return self.unet if self.unet is not None else self.transformer

    @torch.no_grad()
    def __call__(
        self,
        batch_size: int = 1,
        generator: torch.Generator | list[torch.Generator] | None = None,
        num_inference_steps: int = 50,
        output_type: str = "pil",
        return_dict: bool = True,
    ) -> NoisebloomPipelineOutput | tuple:
        """``batch_size`` samples in ``num_inference_steps`` steps; ``output_type`` "pil", "np"
        (floats in [0, 1], channels last) or "pt" (floats in [0, 1], channels first)."""
        net = self.denoiser
        size = net.config.sample_size
        h, w = (size, size) if isinstance(size, int) else tuple(size)
        frames = int(self.config.num_frames or 0)
        shape = (batch_size, *((frames,) if frames else ()), net.config.in_channels, h, w)
        x = randn_tensor(shape, generator=generator, device=torch.device("cpu"), dtype=torch.float32)
        x = x.to(self._execution_device, net.dtype) * getattr(self.scheduler, "init_noise_sigma", 1.0)

        self.scheduler.set_timesteps(num_inference_steps, device=self._execution_device)
        for t in self.progress_bar(self.scheduler.timesteps):
            x_in = (
                self.scheduler.scale_model_input(x, t) if hasattr(self.scheduler, "scale_model_input") else x
            )
            out = net(x_in, t.expand(batch_size)).sample
            x = self.scheduler.step(out, t, x, generator=generator).prev_sample

        x = (x.float() / 2 + 0.5).clamp(0, 1).cpu()
        if output_type != "pt":
            x = x.movedim(-3, -1).numpy()
            if output_type == "pil":
                x = [self.numpy_to_pil(clip) for clip in x] if frames else self.numpy_to_pil(x)
        self.maybe_free_model_hooks()
        result = NoisebloomPipelineOutput(frames=x) if frames else NoisebloomPipelineOutput(images=x)
        return result if return_dict else (x,)
