"""The sampling catalogue is the one table of samplers, defaults and bounds: the schedulers, the
sampling config, the CLI and the window read it, and its facts agree with what diffusers does."""

from __future__ import annotations

import subprocess
import sys

import pytest

from core.catalogue import samplers as C
from core.sampling.config import SampleConfig


def test_the_sampling_catalogue_loads_no_torch():
    code = "import sys, core.catalogue.samplers, core.sampling.config; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_the_sampling_config_takes_its_defaults_and_bounds_from_the_catalogue():
    assert SampleConfig().steps == C.DEFAULT_STEPS and C.MAX_SEED == 2**63 - 1
    SampleConfig(steps=C.MAX_STEPS, seed=C.MAX_SEED, guidance=C.MAX_GUIDANCE)
    for bad in ({"steps": C.MAX_STEPS + 1}, {"seed": C.MAX_SEED + 1}, {"guidance": C.MAX_GUIDANCE + 0.5}):
        with pytest.raises(ValueError):
            SampleConfig(**bad)


def test_the_window_offers_each_family_default_first():
    assert C.samplers_for("ddpm") == ("ddim", "ddpm", "euler", "euler_a", "heun", "dpmpp_2m", "unipc")
    assert C.samplers_for("flow") == ("unipc", "dpmpp_2m", "flow_euler", "flow_heun")
    assert C.samplers_for("flow", fewstep=True) == ("unipc", "dpmpp_2m", "flow_euler", "flow_heun", "fewstep")
    assert C.samplers_for("ddpm", fewstep=True) == C.samplers_for("ddpm")
    assert all(C.DEFAULT_SAMPLER[f] in C.samplers_for(f) for f in C.FAMILIES)


def test_a_model_with_a_few_step_map_gets_it_at_low_step_counts_only():
    assert C.default_sampler_for("flow", 2, fewstep=True) == "fewstep"
    assert C.default_sampler_for("flow", C.FEWSTEP_AUTO_STEPS, fewstep=True) == "fewstep"
    assert C.default_sampler_for("flow", C.FEWSTEP_AUTO_STEPS + 1, fewstep=True) == "unipc"
    assert C.default_sampler_for("flow", 2) == "unipc"
    assert C.default_sampler_for("ddpm", 2, fewstep=True) == "ddim"


ON_SCHEDULERS = [n for n, s in C.SAMPLERS.items() if not s.needs_map]


@pytest.mark.parametrize("name", ON_SCHEDULERS)
def test_each_samplers_facts_agree_with_its_diffusers_scheduler(name):
    from core.sampling.samplers import SCHEDULER_CLASSES, build_scheduler
    from tests.core.sampling.conftest import scheduler_for

    spec = C.SAMPLERS[name]
    assert set(SCHEDULER_CLASSES) == set(ON_SCHEDULERS)
    objective = "flow" if "flow" in spec.families else "eps"
    scheduler = build_scheduler(name, dict(scheduler_for(objective).config), objective)
    scheduler.set_timesteps(6)
    assert len(scheduler.timesteps) == spec.positions(6) and spec.steps_in(len(scheduler.timesteps)) == 6
    assert (spec.order == 2) == hasattr(scheduler, "state_in_first_order")
    assert spec.scales_like_ve == (float(getattr(scheduler, "init_noise_sigma", 1.0)) > 1.0)


def test_the_samplers_a_branch_can_respace_each_have_a_way_to():
    from core.sampling.sample import _RESPACE

    assert set(_RESPACE) == set(C.continuing())
    for spec in C.SAMPLERS.values():
        assert set(spec.continues_in) <= set(spec.families)
