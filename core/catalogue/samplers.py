"""The sampling catalogue: each sampler's facts, the default sampler per family, the step, seed and
guidance defaults and bounds.

:mod:`core.sampling.samplers` builds a diffusers scheduler for each sampler here and takes these
facts instead of asking the scheduler; :class:`core.sampling.config.SampleConfig` takes its defaults
and bounds from here; the window offers what this lists. Why each default is what it is:
``docs/decisions.md`` and ``benchmarks/results/quality_pool_default_steps.json`` (steps),
``quality_sweep_gpu*.json`` (the flow default), ``quality_pool_defaults_sampling.json`` (guidance).
"""

from __future__ import annotations

from dataclasses import dataclass

from core.errors import ConfigError

FAMILIES = ("ddpm", "flow")  # "ddpm": eps / v / x0 models; "flow": flow matching


def steps_in(positions: int, order: int) -> int:
    """Steps that ``positions`` entries of a timestep list make at ``order`` network evaluations per
    step: a second-order sampler (Heun) lists the first step once and every later one twice."""
    return (positions + order - 1) // order


@dataclass(frozen=True)
class SamplerSpec:
    """One sampler as the engine and the window know it (its scheduler class: core.sampling.samplers)."""

    name: str
    families: tuple[str, ...]  # the model families it can sample
    title: str  # what the window calls it
    reference: str = ""
    order: int = 1  # network evaluations per step: 2 for Heun, whose callback fires once per step
    stochastic: bool = False  # draws fresh noise at each step (needs per-image generators)
    scales_like_ve: bool = False  # its sample is x0 + sigma * eps (k-diffusion), not the network's input
    continues_in: tuple[str, ...] = ()  # families where a branch can re-space the steps left (no Karras)
    needs_map: bool = False  # runs on a model's few-step map (core.sampling.fewstep), not its velocity

    def steps_in(self, positions: int) -> int:
        """Steps that ``positions`` entries of its timestep list make (Heun: 2 * steps - 1 entries)."""
        return steps_in(positions, self.order)

    def positions(self, steps: int) -> int:
        """Entries of its timestep list for ``steps`` steps."""
        return self.order * steps - (self.order - 1)

    def position_of(self, step: int) -> int:
        """The timestep entry where step ``step`` starts."""
        return self.order * step


SAMPLERS: dict[str, SamplerSpec] = {
    s.name: s
    for s in (
        SamplerSpec("ddpm", ("ddpm",), "DDPM", "Ho et al. 2020", stochastic=True, continues_in=("ddpm",)),
        SamplerSpec("ddim", ("ddpm",), "DDIM", "Song et al. 2021; eta adjustable", stochastic=True),
        SamplerSpec(
            "euler", ("ddpm",), "Euler", "Karras et al. 2022", scales_like_ve=True, continues_in=("ddpm",)
        ),
        SamplerSpec(
            "euler_a",
            ("ddpm",),
            "Euler ancestral",
            "Karras et al. 2022",
            stochastic=True,
            scales_like_ve=True,
        ),
        SamplerSpec(
            "heun",
            ("ddpm",),
            "Heun",
            "Karras et al. 2022",
            order=2,
            scales_like_ve=True,
            continues_in=("ddpm",),
        ),
        SamplerSpec(
            "dpmpp_2m", ("ddpm", "flow"), "DPM-Solver++ 2M", "Lu et al. 2022", continues_in=("ddpm",)
        ),
        SamplerSpec("unipc", ("ddpm", "flow"), "UniPC", "Zhao et al. 2023"),
        SamplerSpec("flow_euler", ("flow",), "Flow Euler", "", continues_in=("flow",)),
        SamplerSpec("flow_heun", ("flow",), "Flow Heun", "", order=2),
        SamplerSpec(
            "fewstep",
            ("flow",),
            "Few-step",
            "a distilled flow map (Luhman & Luhman 2021), DDIM-style steps between its levels",
            needs_map=True,
        ),
    )
}

# The sampler a model gets when none is chosen: DDIM for DDPM objectives; UniPC (flow sigmas) for
# flow, the lowest FD at 8 steps on every model measured (benchmarks/results/quality_sweep_gpu*.json).
DEFAULT_SAMPLER = {"ddpm": "ddim", "flow": "unipc"}

# A model made fast (core.training.fewstep) samples with its few-step map when no sampler is chosen
# and at most this many steps are asked for; above it, with DEFAULT_SAMPLER on its velocity
# (benchmarks/results/quality_fewstep.json: the map at 4 steps against UniPC at 8 and 20).
FEWSTEP_AUTO_STEPS = 4

# Steps when none are asked for (SampleConfig, `noisebloom sample` and `evaluate`, the Generate
# area): 20 is more legible than 8 and 12 at a better FD than 50 for 2.5x less time
# (benchmarks/results/quality_pool_default_steps.json). Training previews use fewer
# (TrainConfig.preview_steps) so as not to slow training down.
DEFAULT_STEPS = 20
MAX_STEPS = 1000  # the training timesteps of every Noisebloom scheduler

MAX_SEED = 2**63 - 1  # seeds of training and sampling: numpy's SeedSequence takes any, torch 63 bits

# Autoguidance (core.sampling.guidance): the weight a model with a guide network gets when the caller
# does not choose one, the lowest FD of the weights measured on the default models
# (benchmarks/results/quality_pool_defaults_sampling.json, quality_guidance_bands_headline.json).
DEFAULT_GUIDANCE = 1.5
MAX_GUIDANCE = 10.0


def family_of(objective: str) -> str:
    """ "flow" for flow-matching models, "ddpm" for eps / v / x0 models."""
    if objective == "flow":
        return "flow"
    if objective in ("eps", "v", "x0"):
        return "ddpm"
    raise ConfigError(
        f"model objective {objective!r} is not one Noisebloom can sample", fix="use eps, v, x0 or flow"
    )


def samplers_for(family: str, *, fewstep: bool = False) -> tuple[str, ...]:
    """The samplers of ``family`` in the order the window offers them: the default first; the
    few-step sampler only for a model with a few-step map (``fewstep``)."""
    default = DEFAULT_SAMPLER[family]
    return (
        default,
        *(
            n
            for n, s in SAMPLERS.items()
            if family in s.families and n != default and (fewstep or not s.needs_map)
        ),
    )


def default_sampler_for(family: str, steps: int, *, fewstep: bool = False) -> str:
    """The sampler a model gets at ``steps`` steps when none is chosen: its few-step map at up to
    :data:`FEWSTEP_AUTO_STEPS` steps where it has one, else the family's default."""
    if fewstep and family == "flow" and steps <= FEWSTEP_AUTO_STEPS:
        return "fewstep"
    return DEFAULT_SAMPLER[family]


def continuing() -> tuple[str, ...]:
    """The samplers a branch can re-space (in some family): ``continues_in`` not empty."""
    return tuple(n for n, s in SAMPLERS.items() if s.continues_in)


def draws_noise(name: str, eta: float = 0.0) -> bool:
    """Whether sampler ``name`` draws fresh noise as it goes (DDIM only with ``eta`` > 0): only then
    does a branch's new seed change what the steps after the branch point make."""
    spec = SAMPLERS[name]
    return spec.stochastic and (name != "ddim" or eta > 0)


def takes_over_in(family: str) -> tuple[str, ...]:
    """The samplers that can take over a ``family`` trajectory mid-way (a branch with another
    sampler or step count: ``continues_in``)."""
    return tuple(n for n, s in SAMPLERS.items() if family in s.continues_in)
