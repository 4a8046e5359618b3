"""Network presets, chosen by name: ``build(preset, channels, resolution) -> nn.Module``.

Every network is called as ``network(x, t).sample`` (x: (B, C, H, W), or (B, T, C, H, W) for the
clip presets; t: (B,) timesteps, ints 0..999 for DDPM objectives or floats 1000*sigma for flow).
UNets are diffusers' ``UNet2DModel``; ``pixel-*`` are :mod:`core.models.pixel_unet` (a UNet on
2x2-unshuffled pixels: a quarter of the FLOPs); ``dit-*`` a small DiT (:mod:`core.models.dit`);
clip presets :class:`core.models.video.NoisebloomVideoNet`, a factorised space-time UNet.

The presets' names, kinds and defaults are in :mod:`core.catalogue.training`; this module adds the
builder of each. Parameters and FLOPs: ``describe(preset)``; speeds:
``benchmarks/results/train_presets.json`` and ``gpu_speed.json``; why pixel-small (with Muon and EMA
exponent 0.85) is the CPU default: ``docs/decisions.md`` and ``benchmarks/results/quality_per_minute.json``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import Any

from torch import nn

from core.catalogue.training import AUGMENT_NETWORKS
from core.catalogue.training import PRESETS as CATALOGUE
from core.errors import ConfigError


@dataclass(frozen=True)
class Preset:
    """A catalogue preset (:class:`core.catalogue.training.PresetInfo`'s fields) with the builder of
    its network."""

    name: str
    network: str
    description: str
    make: Callable[..., nn.Module]  # (channels, resolution[, augment_dim]) -> network
    default_lr: float = 1e-3
    data_kind: str = "image"
    default_optimizer: str = "adamw"
    default_ema_power: float = 2 / 3

    @property
    def takes_augment_labels(self) -> bool:
        """Whether its networks can be built with ``augment_dim`` (told which augmentation was applied)."""
        return self.network in AUGMENT_NETWORKS


def _unet(
    block_out_channels: tuple[int, ...],
    attention_levels: tuple[bool, ...],
    layers_per_block: int,
    norm_num_groups: int = 32,
    attention_head_dim: int = 8,
) -> Callable[[int, int], nn.Module]:
    def make(channels: int, resolution: int) -> nn.Module:
        from diffusers import UNet2DModel

        down = tuple("AttnDownBlock2D" if a else "DownBlock2D" for a in attention_levels)
        up = tuple("AttnUpBlock2D" if a else "UpBlock2D" for a in reversed(attention_levels))
        return UNet2DModel(
            sample_size=resolution,
            in_channels=channels,
            out_channels=channels,
            block_out_channels=block_out_channels,
            down_block_types=down,
            up_block_types=up,
            layers_per_block=layers_per_block,
            norm_num_groups=norm_num_groups,
            attention_head_dim=attention_head_dim,
        )

    return make


def _pixel_unet(
    block_out_channels: tuple[int, ...],
    attention_levels: tuple[bool, ...],
    layers_per_block: int = 1,
    patch_size: int = 2,
    norm_num_groups: int = 32,
    attention_head_dim: int = 32,
    prediction: str = "velocity",
) -> Callable[..., nn.Module]:
    def make(channels: int, resolution: int, augment_dim: int = 0) -> nn.Module:
        from core.models.pixel_unet import NoisebloomPixelUNet

        return NoisebloomPixelUNet(
            prediction=prediction,
            augment_dim=augment_dim,
            sample_size=resolution,
            in_channels=channels,
            patch_size=patch_size,
            block_out_channels=block_out_channels,
            down_block_types=tuple("AttnDownBlock2D" if a else "DownBlock2D" for a in attention_levels),
            up_block_types=tuple("AttnUpBlock2D" if a else "UpBlock2D" for a in reversed(attention_levels)),
            layers_per_block=layers_per_block,
            norm_num_groups=norm_num_groups,
            attention_head_dim=attention_head_dim,
        )

    return make


def _dit(hidden_size: int, depth: int, num_heads: int, patch_size: int) -> Callable[..., nn.Module]:
    def make(channels: int, resolution: int, augment_dim: int = 0) -> nn.Module:
        from core.models.dit import NoisebloomDiT

        return NoisebloomDiT(
            augment_dim=augment_dim,
            sample_size=resolution,
            in_channels=channels,
            patch_size=patch_size,
            hidden_size=hidden_size,
            depth=depth,
            num_heads=num_heads,
        )

    return make


def clip_patch_size(resolution: int) -> int:
    """Clip networks fold pixels into channels so that they work at 16 px or less per side at 32-64 px
    (2x2 up to 32 px, 4x4 above): a 64 px clip costs what a 32 px one does."""
    return 2 if resolution <= 32 else 4


def _video(
    block_out_channels: tuple[int, ...], norm_num_groups: int, attention_head_dim: int
) -> Callable[[int, int], nn.Module]:
    def make(channels: int, resolution: int) -> nn.Module:
        from core.models.video import NoisebloomVideoNet

        return NoisebloomVideoNet(
            sample_size=resolution,
            in_channels=channels,
            patch_size=clip_patch_size(resolution),
            block_out_channels=block_out_channels,
            norm_num_groups=norm_num_groups,
            attention_head_dim=attention_head_dim,
        )

    return make


BUILDERS: dict[str, Callable[..., nn.Module]] = {
    "unet-tiny": _unet((16, 16), (False, True), 1, norm_num_groups=8),
    "unet-cpu": _unet((32, 64, 128), (False, False, True), 1),
    "pixel-cpu": _pixel_unet((32, 64, 128), (False, False, True)),
    "pixel-small": _pixel_unet((24, 48, 96), (False, False, True), norm_num_groups=8),
    "unet-laptop": _unet((64, 128, 128, 256), (False, False, True, True), 2),
    "unet-gpu": _unet((128, 256, 256, 512), (False, True, True, True), 2, attention_head_dim=64),
    "dit-tiny": _dit(64, 2, 2, 2),
    "dit-s": _dit(384, 12, 6, 2),
    "clip-tiny": _video((16, 32), 8, 16),
    "clip-cpu": _video((32, 64), 8, 32),
}
PRESETS: dict[str, Preset] = {
    name: Preset(**{f.name: getattr(info, f.name) for f in fields(info)}, make=BUILDERS[name])
    for name, info in CATALOGUE.items()
}


def get_preset(name: str) -> Preset:
    try:
        return PRESETS[name]
    except KeyError:
        raise ConfigError(
            f"train.preset: unknown preset {name!r}", fix=f"use one of {', '.join(PRESETS)}"
        ) from None


def build(preset: str, channels: int, resolution: int, augment_dim: int = 0) -> nn.Module:
    """A freshly initialised network of ``preset`` for ``channels`` x ``resolution`` x ``resolution`` data;
    ``augment_dim`` > 0 (for presets that ``takes_augment_labels``) adds the input of augment labels."""
    p = get_preset(preset)
    if not augment_dim:
        return p.make(channels, resolution)
    if not p.takes_augment_labels:
        raise ConfigError(
            f"train.augment: {preset} cannot be told which augmentation was applied",
            fix="use a pixel-* or dit-* preset, or augment 0",
        )
    return p.make(channels, resolution, augment_dim)


def count_params(network: nn.Module) -> int:
    return sum(p.numel() for p in network.parameters())


def flops_per_image(network: nn.Module, channels: int, resolution: int) -> int:
    """Forward FLOPs for one image, counted by torch.utils.flop_counter.FlopCounterMode."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    x = torch.zeros(1, channels, resolution, resolution)
    t = torch.tensor([500])
    counter = FlopCounterMode(display=False)
    with torch.no_grad(), counter:
        network(x, t)
    return int(counter.get_total_flops())


def flops_per_clip(network: nn.Module, channels: int, resolution: int, frames: int) -> int:
    """Forward FLOPs for one clip of ``frames`` frames, counted by FlopCounterMode."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    x = torch.zeros(1, frames, channels, resolution, resolution)
    counter = FlopCounterMode(display=False)
    with torch.no_grad(), counter:
        network(x, torch.tensor([500]))
    return int(counter.get_total_flops())


def describe(preset: str, channels: int = 1, resolution: int = 32, frames: int = 16) -> dict[str, Any]:
    net = build(preset, channels, resolution)
    out = {
        "preset": preset,
        "network": get_preset(preset).network,
        "params": count_params(net),
        "channels": channels,
        "resolution": resolution,
    }
    if get_preset(preset).data_kind == "clip":
        out["frames"] = frames
        out["flops_per_clip"] = flops_per_clip(net, channels, resolution, frames)
    else:
        out["flops_per_image"] = flops_per_image(net, channels, resolution)
    return out
