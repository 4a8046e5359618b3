"""``SampleConfig``: what to sample and how (sampler, steps, seeds, batch, trajectory recording)."""

from __future__ import annotations

from dataclasses import dataclass

from core.catalogue.samplers import (
    DEFAULT_GUIDANCE,
    DEFAULT_STEPS,
    MAX_GUIDANCE,
    MAX_SEED,
    MAX_STEPS,
    SAMPLERS,
)
from core.catalogue.training import DEVICES  # training's and sampling's devices alike
from core.config import Config
from core.errors import ConfigError

MAX_SAMPLES = 10_000  # images one sampling job draws (each is written to disk)
MAX_SAMPLE_BATCH = 1024


@dataclass(frozen=True)
class SampleConfig(Config):
    """Sampling parameters. ``sampler=None`` picks the model's default (ddim, or unipc for flow).

    Images ``first_index .. first_index + num - 1`` of ``seed`` are drawn; image k is the same in any
    batch size. ``trajectory`` records every step's x_t and x0 (a stride beyond
    ``trajectory_max_frames`` steps). ``guidance`` steers by the model's guide network
    (autoguidance); ``resolve_guidance`` says what a given model gets.
    """

    kind = "sample"

    sampler: str | None = None
    steps: int = DEFAULT_STEPS
    num: int = 4
    seed: int = 0
    first_index: int = 0
    batch_size: int = 16
    eta: float = 0.0
    karras: bool = False
    device: str = "auto"
    trajectory: bool = False
    trajectory_max_frames: int = 250
    guidance: float | None = None
    """Autoguidance weight (:mod:`core.sampling.guidance`); None: the default where the model has a
    guide network, 0 where it has none; 0 samples the network alone."""

    def validate(self) -> None:
        if self.sampler is not None and self.sampler not in SAMPLERS:
            raise ConfigError(
                f"sample.sampler: unknown sampler {self.sampler!r}", fix=f"use one of {', '.join(SAMPLERS)}"
            )
        if not 1 <= self.steps <= MAX_STEPS:
            raise ConfigError(f"sample.steps: {self.steps} is out of range", fix=f"use 1 to {MAX_STEPS}")
        if not 1 <= self.num <= MAX_SAMPLES:
            raise ConfigError(f"sample.num: {self.num} images asked", fix=f"ask for 1 to {MAX_SAMPLES}")
        if not 0 <= self.seed <= MAX_SEED:
            raise ConfigError(f"sample.seed: {self.seed} is out of range", fix=f"use 0 to {MAX_SEED}")
        if not 0 <= self.first_index <= MAX_SEED:
            raise ConfigError(
                f"sample.first_index: {self.first_index} is out of range", fix=f"use 0 to {MAX_SEED}"
            )
        if not 1 <= self.batch_size <= MAX_SAMPLE_BATCH:
            raise ConfigError(
                f"sample.batch_size: {self.batch_size} is out of range", fix=f"use 1 to {MAX_SAMPLE_BATCH}"
            )
        if not 0.0 <= self.eta <= 1.0:
            raise ConfigError(
                f"sample.eta: {self.eta} is out of range", fix="use 0 (deterministic DDIM) to 1 (DDPM-like)"
            )
        if self.device.split(":")[0] not in DEVICES:
            raise ConfigError(
                f"sample.device: unknown device {self.device!r}", fix=f"use one of {', '.join(DEVICES)}"
            )
        if self.guidance is not None and not 0.0 <= self.guidance <= MAX_GUIDANCE:
            raise ConfigError(
                f"sample.guidance: {self.guidance} is out of range",
                fix=f"use 0 (no guidance) to {MAX_GUIDANCE:g}; {DEFAULT_GUIDANCE} is the default",
            )
        if not 2 <= self.trajectory_max_frames <= MAX_STEPS + 1:
            raise ConfigError(
                f"sample.trajectory_max_frames: {self.trajectory_max_frames} is too small",
                fix=f"use 2 to {MAX_STEPS + 1}",
            )


def model_guidance(info: dict) -> float:
    """The weight a model with a guide samples with by default: the one its training chose on its own
    pictures (``noisebloom.json``'s ``guide.weight``, :mod:`core.training.guidance_choice`), else
    :data:`DEFAULT_GUIDANCE`."""
    guide = info.get("guide") if isinstance(info, dict) else None
    weight = guide.get("weight") if isinstance(guide, dict) else None
    return min(float(weight), MAX_GUIDANCE) if isinstance(weight, (int, float)) else DEFAULT_GUIDANCE


def resolve_guidance(config: SampleConfig, model: object) -> float:
    """The autoguidance weight ``config`` means for ``model`` (raises when it asks for a guide the model lacks)."""
    has_guide = getattr(model, "guide", None) is not None
    if config.guidance is None:
        return model_guidance(getattr(model, "info", {})) if has_guide else 0.0
    if config.guidance > 0 and not has_guide:
        raise ConfigError(
            f"sample.guidance: {config.guidance:g} asked, but this model has no guide network "
            "(it was trained with guide_at 0, or before Noisebloom kept one)",
            fix="use guidance 0, or train the model again to get autoguidance",
        )
    return float(config.guidance)
