"""Noise schedules of the discrete DDPM process (Ho et al. 2020) and their diffusers schedulers.

1,000 training steps with the linear betas of Ho et al. (1e-4 .. 0.02) or the cosine schedule of
Nichol & Dhariwal 2021 (diffusers' ``squaredcos_cap_v2``). ``alphas_cumprod`` is taken from
diffusers' :class:`~diffusers.DDPMScheduler` so training noises exactly as the saved scheduler
denoises. Flow matching (rectified flow) has no discrete schedule: it is represented by
:class:`~diffusers.FlowMatchEulerDiscreteScheduler` with timestep = 1000 * sigma.
"""

from __future__ import annotations

from typing import Any

import torch

NUM_TRAIN_TIMESTEPS = 1000
OBJECTIVES = ("eps", "v", "x0", "flow")
SCHEDULES = ("linear", "cosine")

BETA_SCHEDULE = {"linear": "linear", "cosine": "squaredcos_cap_v2"}
PREDICTION_TYPE = {"eps": "epsilon", "v": "v_prediction", "x0": "sample"}


def make_scheduler(objective: str, schedule: str | None = "linear") -> Any:
    """The diffusers scheduler saved with a model trained with ``objective`` (and ``schedule``)."""
    from diffusers import DDPMScheduler, FlowMatchEulerDiscreteScheduler

    if objective == "flow":
        return FlowMatchEulerDiscreteScheduler(num_train_timesteps=NUM_TRAIN_TIMESTEPS, shift=1.0)
    if objective not in PREDICTION_TYPE:
        raise ValueError(f"unknown objective {objective!r}; use one of {', '.join(OBJECTIVES)}")
    if schedule not in BETA_SCHEDULE:
        raise ValueError(f"unknown schedule {schedule!r}; use one of {', '.join(SCHEDULES)}")
    return DDPMScheduler(
        num_train_timesteps=NUM_TRAIN_TIMESTEPS,
        beta_schedule=BETA_SCHEDULE[schedule],
        prediction_type=PREDICTION_TYPE[objective],
        clip_sample=True,
        clip_sample_range=1.0,
    )


def alphas_cumprod(schedule: str) -> torch.Tensor:
    """The 1,000 values of alpha-bar_t (float64) for a DDPM schedule, from diffusers' DDPMScheduler."""
    return make_scheduler("eps", schedule).alphas_cumprod.to(torch.float64)


def objective_from_scheduler_config(config: dict[str, Any]) -> tuple[str, str | None]:
    """Infer (objective, schedule) from a saved ``scheduler_config.json``; raises ValueError if unknown."""
    name = config.get("_class_name", "")
    if name.startswith("FlowMatch"):
        return "flow", None
    pred = config.get("prediction_type", "epsilon")
    objective = {v: k for k, v in PREDICTION_TYPE.items()}.get(pred)
    if objective is None:
        raise ValueError(f"prediction_type {pred!r} is not one Noisebloom knows")
    beta = config.get("beta_schedule", "linear")
    schedule = {v: k for k, v in BETA_SCHEDULE.items()}.get(beta)
    return objective, schedule
