"""``TrainConfig``: everything a training run is set with, saved as ``RUN_DIR/config.json``.

Defaults are for quality per minute on a small CPU (issue 8): rectified flow with logit-normal
time sampling (Liu et al. 2022; Esser et al. 2024) and min-SNR loss weighting (Hang et al. 2023),
the preset's optimizer (Muon with AdamW for pixel-small, AdamW beta2 0.99 for the others) at the
preset's rate with a short warmup and cosine decay, batch 64, and an EMA of the weights used for
sampling, of which a copy from a quarter of the way through is kept as the guide for autoguidance.
``benchmarks/bench_quality.py`` holds the measurements behind them
(results ``benchmarks/results/quality_*.json``): min-SNR gave FD 13.1 / 13.8 against 15.3 / 16.0
for uniform weights at the 1,600 steps a 2-core CPU makes in 10 minutes (two seeds), and 8.3
against 12.9 at 3,200 steps (``quality_sweep_gpu*.json``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from core.catalogue import training as C
from core.catalogue.samplers import MAX_SEED
from core.catalogue.samplers import MAX_STEPS as MAX_SAMPLE_STEPS
from core.catalogue.training import MAX_BATCH_SIZE, MAX_EPOCHS, MAX_GRAD_ACCUM, MAX_MINUTES, MAX_TRAIN_STEPS
from core.config import Config
from core.errors import ConfigError
from core.training.copying import CHECK_EVERY

FINE_TUNE_LR_FACTOR = 0.1  # fine-tuning starts from a trained model: a tenth of the scratch rate
AUTO_AUGMENT = 0.12
"""``augment`` when it is None for folders of :data:`AUTO_AUGMENT_SMALL_PICTURES` to
:data:`AUTO_AUGMENT_MAX_PICTURES` pictures: EDM's probability for CIFAR-10 (Karras et al. 2022); 1,855
emoji in 10 minutes copy nothing with it (``benchmarks/results/colour_emoji_32px_2000_defaults_10min.json``)."""
AUTO_AUGMENT_MAX_PICTURES = 2_000
"""Folders with fewer pictures than this (held-out ones included) are augmented when ``augment`` is None."""
AUTO_AUGMENT_SMALL = 0.25
"""``augment`` when it is None for folders under :data:`AUTO_AUGMENT_SMALL_PICTURES` pictures: at 300
pictures a 10-minute run makes about 1,000 passes over the folder, and at 0.12 its samples copy
(``benchmarks/results/colour_{emoji,digits,photo}_32px_300_{defaults,augment025}_10min.json``)."""
AUTO_AUGMENT_SMALL_PICTURES = 1_000


def auto_augment(pictures: int) -> float:
    """The probability ``augment`` None stands for on a network that takes augment labels, by the number
    of pictures in the folder (held-out ones included)."""
    if pictures < AUTO_AUGMENT_SMALL_PICTURES:
        return AUTO_AUGMENT_SMALL
    return AUTO_AUGMENT if pictures < AUTO_AUGMENT_MAX_PICTURES else 0.0


@dataclass(frozen=True)
class TrainConfig(Config):
    kind = "train"

    preset: str = C.DEFAULT_PRESET
    """Network preset (core.catalogue.training.PRESETS, built by core.models.presets)."""
    objective: Literal["eps", "v", "x0", "flow"] = C.DEFAULT_OBJECTIVE  # type: ignore[assignment]
    schedule: Literal["linear", "cosine"] = C.DEFAULT_SCHEDULE  # type: ignore[assignment]
    """Noise schedule of the DDPM objectives (ignored by flow)."""
    resolution: int | None = None
    """Training side in px; None trains at the dataset's resolution (otherwise batches are resized)."""
    batch_size: int = C.DEFAULT_BATCH_SIZE
    """Images per optimizer step and process (times grad_accum). 64: on a 2-core CPU, Muon's fixed
    cost per step (about a fifth of a batch-32 step) is spread over twice the images, 1.2-1.3x the
    images per second; three training seeds of 15 minutes each, paired with batch 32 under the same
    load, were about as good in FD and more often legible (``benchmarks/results/quality_batch.json``)."""
    gpu_batch: Literal["auto", "fixed"] = "auto"
    """auto: on a CUDA GPU the batch doubles from ``batch_size`` while a step at twice the batch costs
    under 1.5x the step before (the GPU was not full), within its memory, the folder and 16x, and the
    learning rate grows with the square root of the batch (:func:`core.training.gpu.fill_batch`); the
    run records the batch and rate it chose and a resume keeps them. fixed, and every other device:
    ``batch_size`` as it is."""
    lr: float | None = None
    """Peak AdamW learning rate; None: the preset's default, a tenth of it when fine-tuning."""
    lr_schedule: Literal["cosine", "constant"] = "cosine"
    warmup: int = 100
    """Linear warmup steps."""
    weight_decay: float = 0.0
    optimizer: Literal["adamw", "muon"] | None = None
    """None: the preset's (Muon for pixel-small, AdamW for the others); see :mod:`core.training.optim`."""
    adam_beta2: float = 0.99
    """AdamW's second-moment decay: 0.99 (as EDM2, Karras et al. 2024) rather than torch's 0.999, whose
    average spans most of the 1,000-2,000 steps of a 10-minute CPU run. Paired 10-minute runs on a
    2-core CPU (one core each, two training seeds): held-out loss 0.2439 / 0.2452 against 0.2503 /
    0.2521 for 0.999; FD 6.43 / 9.74 against 8.24 / 9.24 (FD varies more between seeds than
    between the two settings)."""
    grad_clip: float = 1.0
    """Clip the gradient norm to this (0 turns clipping off)."""
    grad_accum: int = 1
    ema_decay: float = 0.999
    """Largest EMA decay (with the warmup of diffusers' EMAModel); 0 samples the raw weights."""
    ema_power: float | None = None
    """The EMA's warmup exponent (diffusers' EMAModel ``power``): decay 1 - (1 + step)^-power, an
    average over about step^power steps (2/3: ~180 of 2,400 steps; 0.85: ~750) until ``ema_decay``.
    None: the preset's (0.85 for pixel-small, 2/3, diffusers' default, for the others)."""
    guide_at: float = 0.25
    """Fraction of the run at which the sampling weights are kept as the model's guide for
    autoguidance (Karras et al. 2024, :mod:`core.sampling.guidance`); 0 keeps no guide. 10 minutes
    on a 2-core CPU with the previous defaults (pixel-cpu, beta2 0.999), guidance 0.75, one run each
    (``quality_recipe_guide_at_*.json``; 0.25 is ``quality_per_minute.json`` at commit 6b2962a):
    0.15 FD 7.75 / 72% confident, **0.25 FD 7.19 / 67%**, 0.4 FD 8.42 / 66%."""
    max_steps: int | None = None
    max_epochs: float | None = None
    max_minutes: float | None = C.DEFAULT_MINUTES
    """Wall-clock budget in minutes, the final save included; counts the whole run across resumes."""
    seed: int = 0
    device: Literal["auto", "cpu", "cuda", "mps"] = "auto"
    mixed_precision: Literal["auto", "no", "bf16", "fp16"] = "auto"
    """auto: bf16 autocast on a CUDA GPU that supports it, and on a CPU with native bf16 where it
    measures faster (:mod:`core.training.precision`); float32 elsewhere. A run records its choice."""
    memory_format: Literal["auto", "contiguous", "channels_last"] = "auto"
    """Layout of the network and its batches. auto: channels-last for the UNet and pixel-UNet presets on
    CUDA, contiguous elsewhere (on a 2-core CPU channels-last measured slower; DiTs and clip networks
    always stay contiguous): :func:`core.training.gpu.memory_format_for`."""
    compile: Literal["auto", "no", "yes", "max-autotune", "reduce-overhead"] = "auto"
    """``torch.compile`` of the network that trains ("reduce-overhead": with CUDA graphs, for small
    networks). auto: on CUDA only, when the run's budgets are long enough to repay the warm-up, which
    the time budget counts (:func:`core.training.gpu.compile_mode_for`; not yet measured on a GPU)."""
    preview_every: int = 250
    """Optimizer steps between preview samples (0: never)."""
    preview_seeds: tuple[int, ...] = (0, 1, 2, 3, 4, 5, 6, 7)
    preview_steps: int = 8
    checkpoint_every: int = 500
    val_every: int = 250
    """Steps between held-out loss measurements (0: never)."""
    memorization_every: int = CHECK_EVERY
    """Steps between checks of how many samples copy a training picture, the early warning the
    Health area shows (0: never); its cost and sample count are in :mod:`core.training.copying`."""
    log_every: int = 10
    loss_weighting: Literal["uniform", "min-snr"] = "min-snr"
    snr_gamma: float = 5.0
    t_sampling: Literal["uniform", "logit-normal"] = "logit-normal"
    flip: bool | None = None
    """Random horizontal flips; None: as the dataset says."""
    augment: float | None = None
    """Probability of each non-leaking augmentation (:mod:`core.training.augment`: flips, quarter turns,
    shifts, zooms, which the network is told of and samples without); 0: off. None: on at
    :func:`auto_augment` (0.25 under 1,000 pictures, 0.12 under 2,000) on a network that takes augment
    labels (pixel-* and dit-*), off otherwise; a run records the value it resolved to."""
    init_from: str | None = None
    """Model folder to fine-tune from (same network; the run records it as its parent)."""
    max_bad_steps: int = 5
    """Consecutive NaN / inf steps that stop the run with an error (each one is skipped)."""

    def validate(self) -> None:
        from core.models.presets import PRESETS

        def bad(field: str, problem: str, fix: str) -> ConfigError:
            return ConfigError(f"{self.kind}.{field}: {problem}", fix=fix)

        if self.preset not in PRESETS:
            raise bad("preset", f"unknown preset {self.preset!r}", f"use one of {', '.join(PRESETS)}")
        r = self.resolution
        if r is not None and (r % 8 or not 16 <= r <= 256):
            problem = f"{r} is not a multiple of 8" if r % 8 else f"{r} is outside 16..256"
            raise bad("resolution", problem, "use 16..256 in steps of 8")
        for name, most in (("batch_size", MAX_BATCH_SIZE), ("grad_accum", MAX_GRAD_ACCUM)):
            if not 1 <= getattr(self, name) <= most:
                raise bad(
                    name,
                    f"{getattr(self, name)} is outside 1..{most}",
                    f"use 1 to {most} (default {type(self).__dataclass_fields__[name].default})",
                )
        if not 0 <= self.seed <= MAX_SEED:
            raise bad("seed", f"{self.seed} is out of range", f"use 0 to {MAX_SEED}")
        if self.lr is not None and not 0 < self.lr < 1:
            raise bad(
                "lr",
                f"{self.lr} is outside (0, 1)",
                "use a learning rate such as 1e-3 (scratch) or 1e-4 (fine-tune)",
            )
        if not 0 <= self.guide_at < 1:
            raise bad(
                "guide_at", f"{self.guide_at} is outside [0, 1)", "use 0.25 (or 0 for no autoguidance guide)"
            )
        if not 0 < self.adam_beta2 < 1:
            raise bad(
                "adam_beta2", f"{self.adam_beta2} is outside (0, 1)", "use 0.99 (or 0.999 as torch does)"
            )
        if self.ema_power is not None and not 0 < self.ema_power <= 1:
            raise bad(
                "ema_power", f"{self.ema_power} is outside (0, 1]", "use 2/3 (diffusers' default) to 0.9"
            )
        if not 0 <= self.ema_decay < 1:
            raise bad("ema_decay", f"{self.ema_decay} is outside [0, 1)", "use 0.999 (or 0 for no EMA)")
        for name, most in (
            ("max_steps", MAX_TRAIN_STEPS),
            ("max_epochs", MAX_EPOCHS),
            ("max_minutes", MAX_MINUTES),
        ):
            v = getattr(self, name)
            if v is not None and not 0 < v <= most:
                raise bad(
                    name,
                    f"{v} is outside (0, {most}]",
                    f"use a positive budget up to {most}, or leave it unset",
                )
        if self.max_steps is None and self.max_epochs is None and self.max_minutes is None:
            raise bad("max_steps", "no budget is set", "set max_steps, max_epochs or max_minutes")
        for name in (
            "warmup", "preview_every", "checkpoint_every", "val_every", "memorization_every", "weight_decay",
            "grad_clip",
        ):  # fmt: skip
            if getattr(self, name) < 0:
                raise bad(name, f"{getattr(self, name)} is negative", "use 0 or more")
            if getattr(self, name) > MAX_TRAIN_STEPS:
                raise bad(name, f"{getattr(self, name)} is too large", f"use at most {MAX_TRAIN_STEPS}")
        if self.preview_steps > MAX_SAMPLE_STEPS or self.log_every > MAX_TRAIN_STEPS:
            name = "preview_steps" if self.preview_steps > MAX_SAMPLE_STEPS else "log_every"
            raise bad(name, f"{getattr(self, name)} is too large", "use the default or a smaller value")
        if self.log_every < 1 or self.preview_steps < 1 or self.max_bad_steps < 1:
            name = (
                "log_every"
                if self.log_every < 1
                else "preview_steps"
                if self.preview_steps < 1
                else "max_bad_steps"
            )
            raise bad(name, f"{getattr(self, name)} must be at least 1", "use 1 or more")
        if len(self.preview_seeds) > 64:
            raise bad(
                "preview_seeds", f"{len(self.preview_seeds)} previews are too many", "use at most 64 seeds"
            )
        if self.augment is not None and not 0 <= self.augment <= 1:
            raise bad(
                "augment",
                f"{self.augment} is outside [0, 1]",
                f"use a probability such as {AUTO_AUGMENT_SMALL}, 0 for none, or leave it unset",
            )
        if self.snr_gamma <= 0:
            raise bad("snr_gamma", f"{self.snr_gamma} must be positive", "use 5 (Hang et al. 2023)")

    def optimizer_kind(self) -> str:
        """``optimizer``, or the preset's when unset."""
        from core.models.presets import get_preset

        return self.optimizer or get_preset(self.preset).default_optimizer

    def ema_power_value(self) -> float:
        """``ema_power``, or the preset's when unset."""
        from core.models.presets import get_preset

        return self.ema_power if self.ema_power is not None else get_preset(self.preset).default_ema_power

    def peak_lr(self) -> float:
        from core.models.presets import get_preset

        if self.lr is not None:
            return self.lr
        base = get_preset(self.preset).default_lr
        return base * FINE_TUNE_LR_FACTOR if self.init_from else base
