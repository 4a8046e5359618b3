"""The samplers Noisebloom offers, each a diffusers scheduler built from the model's own scheduler config.

DDPM ancestral (Ho et al. 2020), DDIM with adjustable eta (Song et al. 2021), Euler and Euler
ancestral and Heun (Karras et al. 2022, "Elucidating the Design Space"), DPM-Solver++ 2M (Lu et al.
2022) with optional Karras sigmas, UniPC (Zhao et al. 2023); for flow-matching models the FlowMatch
Euler and Heun schedulers, and DPM-Solver++ / UniPC in flow mode (``use_flow_sigmas``,
``prediction_type="flow_prediction"``). A scheduler is always ``Class.from_config(model_config,
**overrides)``: the model's beta schedule and prediction type carry over.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Any

from core.errors import ConfigError

MAX_STEPS = 1000
# Sampling steps when none are asked for (SampleConfig, `noisebloom sample` and `evaluate`, the
# Generate area and its health check; desktop/model/generation.py keeps a copy that a test pins
# equal). Four default digit models (15 minutes of training each on one thread, two at a time, about
# 3,000 steps) x three sampling seeds, 500 samples a draw, UniPC with autoguidance 1.5
# (bench_quality.py pool, benchmarks/results/quality_pool_default_steps.json, a 2-core Xeon), mean
# FD / confident share / seconds per draw: 8 steps 2.81 / 84.0% / 5.0 s, 12 2.39 / 86.2% / 7.8 s, 20
# 3.01 / 87.2% / 13.1 s, 50 3.43 / 87.9% / 33.4 s (500 real digits: FD 1.41, 93.5% confident). All
# twelve draws were more legible at 20 than at 8; 50 adds 0.6 points for 2.5x the time and a worse
# FD (one draw at 5.01, over three times real digits'). At 20 steps guidance 1.0 gave 2.88 / 84.6%,
# 2.0 3.41 / 88.4%: 1.5 stays (core.sampling.guidance). Training previews use fewer
# (TrainConfig.preview_steps, 8) so that they do not slow training down.
DEFAULT_STEPS = 20


@dataclass(frozen=True)
class SamplerSpec:
    """One sampler: which diffusers class runs it and for which kind of model."""

    name: str
    class_name: str
    families: tuple[str, ...]  # "ddpm" (eps / v / x0 models) and/or "flow"
    stochastic: bool  # draws fresh noise at each step (needs per-image generators)
    title: str


SAMPLERS: dict[str, SamplerSpec] = {
    s.name: s
    for s in (
        SamplerSpec("ddpm", "DDPMScheduler", ("ddpm",), True, "DDPM ancestral (Ho et al. 2020)"),
        SamplerSpec("ddim", "DDIMScheduler", ("ddpm",), True, "DDIM, eta adjustable (Song et al. 2021)"),
        SamplerSpec("euler", "EulerDiscreteScheduler", ("ddpm",), False, "Euler (Karras et al. 2022)"),
        SamplerSpec("euler_a", "EulerAncestralDiscreteScheduler", ("ddpm",), True, "Euler ancestral"),
        SamplerSpec("heun", "HeunDiscreteScheduler", ("ddpm",), False, "Heun 2nd order (Karras et al. 2022)"),
        SamplerSpec(
            "dpmpp_2m",
            "DPMSolverMultistepScheduler",
            ("ddpm", "flow"),
            False,
            "DPM-Solver++ 2M (Lu et al. 2022)",
        ),
        SamplerSpec("unipc", "UniPCMultistepScheduler", ("ddpm", "flow"), False, "UniPC (Zhao et al. 2023)"),
        SamplerSpec(
            "flow_euler", "FlowMatchEulerDiscreteScheduler", ("flow",), False, "Flow matching, Euler"
        ),
        SamplerSpec("flow_heun", "FlowMatchHeunDiscreteScheduler", ("flow",), False, "Flow matching, Heun"),
    )
}

# Flow models default to UniPC (flow sigmas): at 8 steps it gave FD 23.6 on the model where flow
# Euler gave 36.6, DPM-Solver++ 2M 24.9 and 1,000 Euler steps 23.2 (bench_quality.py steps), and in
# the GPU recipe sweeps (benchmarks/results/quality_sweep_gpu*.json) UniPC 8 beat DPM-Solver++ 8 on
# FD for every one of 23 models, by 0.9-2.7 FD units (issue 8).
DEFAULT_SAMPLER = {"ddpm": "ddim", "flow": "unipc"}


def family_of(objective: str) -> str:
    """ "flow" for flow-matching models, "ddpm" for eps / v / x0 models."""
    if objective == "flow":
        return "flow"
    if objective in ("eps", "v", "x0"):
        return "ddpm"
    raise ConfigError(
        f"model objective {objective!r} is not one Noisebloom can sample", fix="use eps, v, x0 or flow"
    )


def default_sampler(objective: str) -> str:
    return DEFAULT_SAMPLER[family_of(objective)]


def check_sampler(name: str, objective: str, *, karras: bool = False, eta: float = 0.0) -> SamplerSpec:
    """The spec for ``name``, or a ConfigError saying why it cannot sample this model."""
    spec = SAMPLERS.get(name)
    if spec is None:
        raise ConfigError(
            f"sample.sampler: unknown sampler {name!r}", fix=f"use one of {', '.join(SAMPLERS)}"
        )
    family = family_of(objective)
    if family not in spec.families:
        usable = [n for n, s in SAMPLERS.items() if family in s.families]
        kind = "a flow-matching" if family == "flow" else f"an {objective}-prediction"
        raise ConfigError(
            f"sample.sampler: {name!r} cannot sample {kind} model", fix=f"use one of {', '.join(usable)}"
        )
    if karras:
        from diffusers import schedulers

        cls = getattr(schedulers, spec.class_name)
        if "use_karras_sigmas" not in inspect.signature(cls.__init__).parameters or family == "flow":
            raise ConfigError(
                f"sample.karras: sampler {name!r} has no Karras sigma option"
                + (" for flow-matching models" if family == "flow" else ""),
                fix="drop --karras or use dpmpp_2m, unipc, euler or heun on an eps / v / x0 model",
            )
    if eta and name != "ddim":
        raise ConfigError(
            f"sample.eta: only the ddim sampler takes eta (got sampler {name!r})", fix="set eta to 0"
        )
    return spec


def build_scheduler(
    name: str, scheduler_config: dict[str, Any], objective: str, *, karras: bool = False
) -> Any:
    """``SchedulerClass.from_config(model_config, **overrides)`` for sampler ``name``."""
    from diffusers import schedulers

    spec = check_sampler(name, objective, karras=karras)
    cls = getattr(schedulers, spec.class_name)
    accepted = inspect.signature(cls.__init__).parameters
    config = {k: v for k, v in scheduler_config.items() if k in accepted}
    overrides: dict[str, Any] = {}
    if name in ("dpmpp_2m", "unipc"):
        if name == "dpmpp_2m":
            overrides.update(algorithm_type="dpmsolver++", solver_order=2)
        if objective == "flow":
            overrides.update(
                use_flow_sigmas=True,
                prediction_type="flow_prediction",
                flow_shift=float(scheduler_config.get("shift", 1.0)),  # "shift" is not UniPC's own
            )
    if karras:
        overrides["use_karras_sigmas"] = True
    return cls.from_config(config, **overrides)
