"""A UNet that works below full resolution: pixel-unshuffle, diffusers' ``UNet2DModel``, pixel-shuffle.

On a CPU the cost of a convolutional UNet is dominated by its full-resolution layers. Folding each
``patch_size`` x ``patch_size`` block of pixels into channels first (space-to-depth, Shi et al.
2016's pixel shuffle run backwards; the same patchify DiT and Stable Diffusion 3 do) lets the UNet
start at half the side with four times the channels: a quarter of the positions, so the widths can
grow where they are cheap. The output is shuffled back to full resolution, so the network is called
and trained exactly like ``UNet2DModel`` (``network(x, t).sample``, same shape in and out).

``prediction="sample"`` (flow models only): the UNet predicts the clean picture and the network
returns the velocity it implies, so training and every sampler still see a velocity; with large
patches a clean picture is easier to predict than noise (Li & He 2025, "Back to Basics").

``augment_dim`` > 0: ``forward`` takes ``augment_labels`` (B, augment_dim), which a zero-initialised
linear map adds to the time embedding (EDM's non-leaking augmentation, :mod:`core.training.augment`);
None, what every sampler passes, means "not augmented". A fresh network computes the same with or
without it, and folders saved before it existed load with 0.

Measured in ``benchmarks/bench_quality.py`` (issue 8): on a 2-core CPU it learns digits several
times faster per minute than a full-resolution UNet of the same parameter count.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from diffusers import UNet2DModel
from diffusers.configuration_utils import ConfigMixin, register_to_config
from diffusers.models.modeling_outputs import BaseOutput
from diffusers.models.modeling_utils import ModelMixin

from .augment_labels import embed_labels, label_map

PREDICTIONS = ("velocity", "sample")
MIN_NOISE_LEVEL = 0.05  # the velocity from a predicted clean picture divides by the noise level


def velocity_from_sample(x_t: torch.Tensor, timestep: torch.Tensor | float, x0: torch.Tensor) -> torch.Tensor:
    """The flow velocity (noise - x0) implied by a predicted clean picture at noise level s = timestep / 1000:
    x_t = (1 - s) x0 + s noise gives noise - x0 = (x_t - x0) / s (s kept above MIN_NOISE_LEVEL)."""
    s = torch.as_tensor(timestep, device=x_t.device, dtype=x_t.dtype) / 1000
    s = s.reshape(-1, *([1] * (x_t.ndim - 1))).clamp_min(MIN_NOISE_LEVEL)
    return (x_t - x0) / s


class PixelUNetOutput(BaseOutput):
    sample: torch.Tensor


class NoisebloomPixelUNet(ModelMixin, ConfigMixin):
    """``UNet2DModel`` on ``patch_size``-unshuffled input; (B, C, H, W) in and out."""

    @register_to_config
    def __init__(
        self,
        sample_size: int = 32,
        in_channels: int = 3,
        patch_size: int = 2,
        block_out_channels: tuple[int, ...] = (64, 128, 128),
        down_block_types: tuple[str, ...] = ("DownBlock2D", "AttnDownBlock2D", "AttnDownBlock2D"),
        up_block_types: tuple[str, ...] = ("AttnUpBlock2D", "AttnUpBlock2D", "UpBlock2D"),
        layers_per_block: int = 1,
        norm_num_groups: int = 32,
        attention_head_dim: int = 32,
        prediction: str = "velocity",
        augment_dim: int = 0,
    ) -> None:
        super().__init__()
        if prediction not in PREDICTIONS:
            raise ValueError(f"prediction {prediction!r} is not one of {', '.join(PREDICTIONS)}")
        if sample_size % patch_size:
            raise ValueError(f"sample_size {sample_size} is not a multiple of patch_size {patch_size}")
        inner = in_channels * patch_size * patch_size
        self.unet = UNet2DModel(
            sample_size=sample_size // patch_size,
            in_channels=inner,
            out_channels=inner,
            block_out_channels=tuple(block_out_channels),
            down_block_types=tuple(down_block_types),
            up_block_types=tuple(up_block_types),
            layers_per_block=layers_per_block,
            norm_num_groups=norm_num_groups,
            attention_head_dim=attention_head_dim,
            class_embed_type="identity" if augment_dim else None,  # adds augment_embed's output to temb
        )
        # built last: the UNet's initial weights stay as without it
        self.augment_embed = label_map(augment_dim, 4 * block_out_channels[0])

    def forward(
        self,
        sample: torch.Tensor,
        timestep: torch.Tensor | float,
        return_dict: bool = True,
        *,
        augment_labels: torch.Tensor | None = None,
    ):
        p = self.config.patch_size
        x = F.pixel_unshuffle(sample, p) if p > 1 else sample
        extra = embed_labels(self.augment_embed, augment_labels, len(sample))
        out = self.unet(x, timestep, class_labels=extra).sample
        out = F.pixel_shuffle(out, p) if p > 1 else out
        if self.config.prediction == "sample":
            out = velocity_from_sample(sample, timestep, out)
        return PixelUNetOutput(sample=out) if return_dict else (out,)
