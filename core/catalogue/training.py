"""The training catalogue: the presets' names and facts, the objectives, devices, defaults and bounds.

:mod:`core.models.presets` adds a builder to each preset here; :class:`core.training.config.TrainConfig`
takes its defaults and bounds from here; the window offers what this lists. Why each default is what
it is: ``docs/decisions.md`` and the figures in ``benchmarks/results/`` (``quality_per_minute.json``
for the digits, ``colour_*.json`` for colour pictures).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PresetInfo:
    """A network preset as the window and the trainer know it (the builder is in core.models.presets)."""

    name: str
    network: str  # the model folder's denoiser kind: "unet", "pixel-unet", "dit" or "video"
    description: str
    default_lr: float = 1e-3
    data_kind: str = "image"  # "image" networks take (B, C, H, W); "clip" networks (B, T, C, H, W)
    default_optimizer: str = "adamw"  # "adamw" or "muon" (core.training.optim)
    default_ema_power: float = 2 / 3  # the EMA's warmup exponent (TrainConfig.ema_power)


AUGMENT_NETWORKS = ("pixel-unet", "dit")  # the kinds with an ``augment_dim`` (core.training.augment)

# Parameters, FLOPs and speeds: ``describe(preset)`` and benchmarks/results/train_presets.json.
PRESETS: dict[str, PresetInfo] = {
    p.name: p
    for p in (
        PresetInfo("unet-tiny", "unet", "a few thousand parameters, for tests and smoke runs"),
        PresetInfo("unet-cpu", "unet", "small UNet for a 2-core CPU: useful samples at 32 px in minutes"),
        PresetInfo(
            "pixel-cpu",
            "pixel-unet",
            "a UNet on 2x2-unshuffled pixels: unet-cpu's widths at 3.5x its images/s",
            default_lr=2e-3,
        ),
        PresetInfo(
            "pixel-small",
            "pixel-unet",
            "the default on a CPU: pixel-cpu at three quarters of its widths, 1.5x the steps per minute",
            default_lr=2e-3,
            default_optimizer="muon",
            default_ema_power=0.85,
        ),
        PresetInfo(
            "unet-laptop", "unet", "mid-size UNet for a laptop GPU or a fast CPU, 32-64 px", default_lr=3e-4
        ),
        PresetInfo("unet-gpu", "unet", "large UNet for one big GPU, 32-256 px", default_lr=2e-4),
        PresetInfo(
            "dit-tiny", "dit", "a tiny DiT (2 blocks of width 64), for tests and smoke runs", default_lr=3e-4
        ),
        PresetInfo(
            "dit-s",
            "dit",
            "DiT-S/2: 12 blocks of width 384, 2x2 patches (Peebles & Xie 2023)",
            default_lr=3e-4,
        ),
        PresetInfo(
            "clip-tiny",
            "video",
            "a tiny factorised space-time UNet for clips, for tests and smoke runs",
            data_kind="clip",
        ),
        PresetInfo(
            "clip-cpu",
            "video",
            "space-time UNet for clips on a 2-core CPU: 8-16 frames at 32 px",
            data_kind="clip",
        ),
    )
}
# The presets the window offers, in its order (dit-tiny exists for tests only).
OFFERED = (
    "unet-tiny",
    "pixel-small",
    "pixel-cpu",
    "unet-cpu",
    "unet-laptop",
    "unet-gpu",
    "dit-s",
    "clip-tiny",
    "clip-cpu",
)

OBJECTIVES = ("eps", "v", "x0", "flow")
SCHEDULES = ("linear", "cosine")  # the DDPM objectives' noise schedules (flow has none)
DEVICES = ("auto", "cpu", "cuda", "mps")

# TrainConfig's defaults for what the window sets.
DEFAULT_PRESET = "pixel-small"
DEFAULT_CLIP_PRESET = "clip-cpu"
DEFAULT_OBJECTIVE = "flow"
DEFAULT_SCHEDULE = "cosine"
DEFAULT_BATCH_SIZE = 64  # benchmarks/results/quality_batch.json
DEFAULT_CLIP_BATCH_SIZE = 8  # clips of 8-16 frames, as benchmarks/bench_video.py trains
DEFAULT_MINUTES = 10.0

# What a number of optimizer steps buys, in the forecast's words (core.training.forecast) and the
# Health verdict's "trained too little" (core.metrics.verdict); docs/decisions.md, "The forecast's
# step thresholds".
TOO_FEW_STEPS = 300
RECOGNISABLE_STEPS = 1_000
CLEAN_STEPS = 2_500

# Upper bounds of a run, checked before anything is allocated (far beyond any real run on one machine).
MAX_BATCH_SIZE = 4096
MAX_GRAD_ACCUM = 1024
MAX_TRAIN_STEPS = 100_000_000
MAX_EPOCHS = 1_000_000
MAX_MINUTES = 7 * 24 * 60  # a week


def presets_for(kind: str) -> tuple[str, ...]:
    """The offered presets whose networks train on data of ``kind`` ("image" or "clip")."""
    return tuple(name for name in OFFERED if PRESETS[name].data_kind == kind)
