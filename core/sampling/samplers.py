"""Each sampler of :mod:`core.catalogue.samplers` as a diffusers scheduler built from the model's own
scheduler config.

A scheduler is always ``Class.from_config(model_config, **overrides)``, so the model's beta
schedule and prediction type carry over. DDPM ancestral, DDIM, Euler, Euler ancestral and Heun,
DPM-Solver++ 2M and UniPC for eps / v / x0 models; for flow-matching models FlowMatch Euler and
Heun, and DPM-Solver++ / UniPC in flow mode (``use_flow_sigmas``, ``prediction_type=
"flow_prediction"``). The facts about a sampler (family, order, VE scaling, whether a branch can
re-space it) are the catalogue's, never asked of the scheduler.
"""

from __future__ import annotations

import inspect
from typing import Any

from core.catalogue.samplers import (
    DEFAULT_SAMPLER,
    SAMPLERS,
    SamplerSpec,
    family_of,
)
from core.errors import ConfigError

# The diffusers scheduler class of each sampler.
SCHEDULER_CLASSES = {
    "ddpm": "DDPMScheduler",
    "ddim": "DDIMScheduler",
    "euler": "EulerDiscreteScheduler",
    "euler_a": "EulerAncestralDiscreteScheduler",
    "heun": "HeunDiscreteScheduler",
    "dpmpp_2m": "DPMSolverMultistepScheduler",
    "unipc": "UniPCMultistepScheduler",
    "flow_euler": "FlowMatchEulerDiscreteScheduler",
    "flow_heun": "FlowMatchHeunDiscreteScheduler",
}


def scheduler_class(name: str) -> Any:
    from diffusers import schedulers

    return getattr(schedulers, SCHEDULER_CLASSES[name])


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
    if karras and spec.needs_map:
        raise ConfigError(
            f"sample.karras: the {name!r} sampler runs a few-step map on its own noise levels",
            fix="drop --karras",
        )
    if karras:
        cls = scheduler_class(name)
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
    if name in SAMPLERS and SAMPLERS[name].needs_map:
        raise ConfigError(
            f"sample.sampler: {name!r} has no diffusers scheduler",
            fix="sample it with core.sampling.fewstep.run_fewstep",
        )
    check_sampler(name, objective, karras=karras)
    cls = scheduler_class(name)
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
