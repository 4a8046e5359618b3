"""Network presets, chosen by name: ``build(preset, channels, resolution) -> nn.Module``.

Every network is called as ``network(x, t).sample`` (x: (B, C, H, W), or (B, T, C, H, W) for the
clip presets; t: (B,) timesteps, ints
0..999 for DDPM objectives or floats 1000*sigma for flow). UNets are diffusers' ``UNet2DModel``
(Ho et al. 2020's architecture as packaged by diffusers); ``dit-s`` is a small DiT
(Peebles & Xie 2023, see :mod:`core.models.dit`).

Measured here with ``benchmarks/bench_train.py --presets --preset-seconds 8 --threads 1`` (grayscale,
32 px; training images/s = forward + backward + AdamW, float32, batch 32 below 2 GFLOPs/image and 8
above, torch 2.13 CPU, one torch thread) on that day's 2-core CPU (2026-11-28) with the machine otherwise
idle (load average 0.1 at the start). The FLOPs and parameter counts are exact (``describe(preset)``;
FlopCounterMode counts a multiply-add as 2).

=============  ===========  ==================  =================  ==============================
preset         params       GFLOPs/img (fwd)    train img/s (CPU)  intended for
=============  ===========  ==================  =================  ==============================
unet-tiny      72,113       0.063               65.3               tests and smoke runs
unet-cpu       2,734,945    0.753               21.3               full-resolution UNet, 32 px
pixel-cpu      2,736,676    0.189               76.2               unet-cpu's widths, 2x2-unshuffled
pixel-small    1,541,980    0.107               88.0               the CPU default (issue 8)
unet-laptop    18,534,017   3.257               4.1                laptop GPU / fast CPU, 32-64 px
unet-gpu       75,365,121   13.696              1.1                one big GPU, 32-256 px
dit-tiny       178,884      0.051               109.3              tests and smoke runs
dit-s          32,465,284   10.896              1.3                patch transformer (GPU)
=============  ===========  ==================  =================  ==============================

``pixel-cpu`` (:mod:`core.models.pixel_unet`) is unet-cpu's widths on 2x2-unshuffled pixels: the
same parameters at a quarter of the FLOPs and 3.6x the training images/s.
``benchmarks/bench_quality.py`` holds the quality-per-minute measurements that made it the default
before ``pixel-small``.

``pixel-small``, the default, is pixel-cpu at widths (24, 48, 96) with norm groups of 8: 0.56x its
FLOPs and parameters. In a 10-minute budget the extra steps matter more than the width. Paired
10-minute runs on this CPU, two at a time on one core each (UniPC 8, autoguidance 0.75, 500
samples, FD of the digit classifier's features; issue 8's notes): pixel-cpu made about 1,200 steps
for FD 6.43 / 9.74 (training seeds 0 / 1); pixel-small about 1,800 for FD 4.46 / 5.68 / 3.21 (seeds
0 / 1 / 2). Narrower still, (16, 32, 64) made about 2,950 steps for 4.84 / 3.30: as good on digits,
and pixel-small keeps more capacity for pictures harder than digits. Wider or deeper was worse
(attention at 8x8 as well: FD 11.05; a fourth level at 2x2: 23.5). On two CPU threads the widths
matter less: (16, 32, 64) trained only 1.1-1.3x pixel-small's steps/s, and with AdamW batch 64 no
more images/s than batch 32 (``benchmarks/bench_train.py``-style timings of the trainer, noisy by
+-15%). With Muon, whose cost per step does not depend on the batch, batch 64 made 1.15-1.28x
the images of batch 32 in paired 15-minute runs on one thread each (``TrainConfig.batch_size``).

pixel-small trains with Muon (:mod:`core.training.optim`, ``default_optimizer``) and averages its
weights over longer (``default_ema_power`` 0.85): in fixed-step runs on this CPU (``bench_quality.py
posthoc``, ``benchmarks/results/quality_posthoc_*.json``) AdamW's 2,426 steps (10 minutes on two
threads) ended at held-out loss 0.2316 and FD 2.85 (2.82 / 3.07 at EMA exponent 0.75 / 0.85);
Muon's 1,940 steps (its steps/s are about 0.8x AdamW's) at 0.2196 and FD 2.97 / 2.54 / 2.38 / 2.35
at EMA exponent 2/3 / 0.75 / 0.85 / 0.9 (UniPC 8, autoguidance 0.75, 500 samples, one training
seed). At twice the rate Muon's loss was lower still (0.2117) but its FD worse (3.5 to 6.0); at half
it was 0.2298, FD 2.8 to 3.0. The headline is ``benchmarks/results/quality_per_minute.json``: 10
minutes on two threads at batch 64, then 500 samples with each of three sampling seeds, sampled as
the app samples by default (UniPC 20 steps, ``core.sampling.samplers.DEFAULT_STEPS``; autoguidance
1.5 between noise levels 0.15 and 0.9). On a 2-core Xeon (AVX-512; commit cb3387b, 2026-11-29):
3,328 Muon steps (212,992 images), FD 3.53 / 3.35 / 2.91, mean 3.27, 2.31x the FD of 500 real
digits (1.41, the mean of 50 draws: FD shrinks with the set size, ``benchmarks/digits.py``), and
88.6 / 87.0 / 84.8% of samples confidently recognised, mean 86.8% (real digits: 93.5%); the same
model at the training previews' 8 steps: FD 3.14, 84.3%. The earlier headlines ran on a 2-core AVX2
EPYC that made 1,544 steps in the same 10 minutes and sampled at 8 steps (FD 1.75, 80.9% over three
sampling seeds, commit 0d86d8e). That budget on the Xeon (``max_steps`` 1,544, two training seeds x
three sampling seeds, ``quality_pool_epyc_budget.json``) gives 84.2% at 20 steps and 81.2% at 8: on
a CPU half as fast, 10 minutes falls just short of 85%. Sampling seed 0 is the most legible draw on
most models (over eight, ``quality_pool_defaults_sampling.json``: 83.5% confident against 80.3 /
80.0% for seeds 1 / 2), and the earlier single-draw headlines used it alone: 1,528 steps, FD 1.32 /
85% at commit f1e0ac1, against a single draw of 1,000 real digits (0.457). Training seeds spread as
widely: in paired 15-minute runs on one thread each (``quality_batch.json``, sampling seed 0, the
EPYC) seeds 0 / 1 / 2 gave FD 1.64 / 2.54 / 3.52 and 85 / 85 / 82% confident at batch 64, 1.91 /
2.80 / 2.72 and 78 / 83 / 81% at batch 32. At batch 32 the headline had been 2,167 steps, FD 1.95 /
77% (at commit e230c64, one draw). With AdamW and full-range guidance 0.75 it had been FD 4.06 / 74%
(2,426 steps; at commit a6821bb).

On a GPU (an H200, bf16, batch 256 at 32 px and 128 at 64 px; ``benchmarks/bench_gpu.py --speed``,
``benchmarks/results/gpu_speed.json``): unet-gpu trains 2,337 img/s at 32 px (9.7% of the bf16 peak)
and 824 at 64 px (13.7%), dit-s 3,325 (11.0%), unet-laptop 3,134 (3.1%); diffusers' CIFAR-10 UNet
3,184 (11.7%). Through Noisebloom's trainer unet-gpu makes 1,802 img/s (7.5%).

Clip presets (``data_kind="clip"``) are :class:`core.models.video.NoisebloomVideoNet`, a factorised
space-time UNet taking (B, T, C, H, W); parameters do not depend on T, FLOPs grow linearly with it
(``describe(preset, channels, resolution, frames)``, grayscale, 32 px, forward, per clip).
clip-cpu trained 692 steps of 8 clips in 14 min (6.6 clips/s) in ``benchmarks/bench_video.py``
(16 frames, 32 px, one torch thread, this 2-core CPU on 2026-11-28 beside one other benchmark).
Above 32 px the clip presets fold 4x4 pixels instead of 2x2 (:func:`clip_patch_size`): clip-cpu
costs 1.71 GFLOPs per 16-frame clip at 64 px, about what it costs at 32 px.

=============  ===========  ===================  ==================  ==============================
preset         params       GFLOPs/clip, 16 f    GFLOPs/clip, 8 f    intended for
=============  ===========  ===================  ==================  ==============================
clip-tiny      159,380      0.418                0.209               tests and smoke runs
clip-cpu       629,540      1.652                0.826               2-core CPU: 8-16 frames, 32 px
=============  ===========  ===================  ==================  ==============================
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
