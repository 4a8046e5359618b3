"""Every sampler runs at 1, 2 and 50 steps where it can, refuses clearly where it cannot; seeds are per image."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from core.catalogue.samplers import SAMPLERS
from core.errors import ConfigError
from core.sampling.config import SampleConfig
from core.sampling.sample import sample
from core.sampling.samplers import build_scheduler

CASES = [
    (name, obj)
    for name, spec in SAMPLERS.items()
    for obj in ("eps", "flow")
    if ("flow" if obj == "flow" else "ddpm") in spec.families and not spec.needs_map
]  # the few-step sampler: tests/core/training/test_training_fewstep.py


@pytest.mark.parametrize("name,objective", CASES)
def test_each_sampler_runs_at_1_2_and_50_steps(models, name, objective):
    model = models[objective]
    finals = {}
    for steps in (1, 2, 50):
        seen = []
        r = sample(
            model,
            SampleConfig(sampler=name, steps=steps, num=1, device="cpu"),
            callback=seen.append,
        )
        assert r.images.shape == (1, 16, 16, 1) and r.images.dtype == np.uint8
        assert [s.i for s in seen] == list(range(steps)), f"{name}: callback steps"
        finals[steps] = r.images
    assert not np.array_equal(finals[1], finals[50]), f"{name}: 1 and 50 steps gave the same image"


def test_dpmpp_karras_and_v_prediction_run(models):
    for objective in ("eps", "v"):
        r = sample(
            models[objective], SampleConfig(sampler="dpmpp_2m", karras=True, steps=5, num=1, device="cpu")
        )
        assert r.images.shape == (1, 16, 16, 1)


def test_sampler_that_cannot_do_the_step_count_says_how_many_it_can(models):
    # diffusers' DPM-Solver with "leading" spacing collapses 1,000 steps onto one timestep.
    with pytest.raises(
        ConfigError, match=r"sample\.steps: sampler 'dpmpp_2m' cannot run 1000 steps.*at most 999"
    ):
        sample(models["eps"], SampleConfig(sampler="dpmpp_2m", steps=1000, num=1, device="cpu"))


@pytest.mark.parametrize("name", ["unipc", "dpmpp_2m"])
def test_flow_step_counts_whose_timesteps_repeat_are_refused_before_sampling(models, name):
    # At 999 steps a flow model's integer timesteps repeat (sigma * 1000 rounds onto the same value):
    # UniPC then failed an assertion at its very last step, and DPM-Solver++ fed the network wrong
    # noise levels. Both are refused up front, naming the count that works.
    with pytest.raises(ConfigError, match=rf"sampler '{name}' cannot run 999 steps.*at most 998"):
        sample(models["flow"], SampleConfig(sampler=name, steps=999, num=1, device="cpu"))
    r = sample(models["flow"], SampleConfig(sampler=name, steps=998, num=1, device="cpu"))
    assert r.images.shape == (1, 16, 16, 1)


def test_flow_models_default_to_unipc_and_ddpm_models_to_ddim(models):
    assert sample(models["flow"], SampleConfig(steps=2, num=1, device="cpu")).sampler == "unipc"
    assert sample(models["eps"], SampleConfig(steps=2, num=1, device="cpu")).sampler == "ddim"


@pytest.mark.parametrize("steps", [0, 1001])
def test_step_count_outside_1_to_1000_is_refused(steps):
    with pytest.raises(ConfigError, match="sample.steps"):
        SampleConfig(steps=steps)


def test_sampler_of_the_wrong_family_is_refused_with_the_usable_ones(models):
    with pytest.raises(
        ConfigError, match="'flow_euler' cannot sample an eps-prediction model; use one of ddpm"
    ):
        sample(models["eps"], SampleConfig(sampler="flow_euler", steps=2, num=1, device="cpu"))
    with pytest.raises(ConfigError, match="'ddpm' cannot sample a flow-matching model"):
        sample(models["flow"], SampleConfig(sampler="ddpm", steps=2, num=1, device="cpu"))
    with pytest.raises(ConfigError, match="sample.karras: sampler 'ddim' has no Karras"):
        sample(models["eps"], SampleConfig(sampler="ddim", karras=True, steps=2, num=1, device="cpu"))
    with pytest.raises(ConfigError, match="sample.eta: only the ddim sampler"):
        sample(models["eps"], SampleConfig(sampler="ddpm", eta=0.5, steps=2, num=1, device="cpu"))


@pytest.mark.parametrize("name,eta", [("ddpm", 0.0), ("euler_a", 0.0), ("ddim", 1.0), ("dpmpp_2m", 0.0)])
def test_image_k_of_a_seed_is_the_same_whatever_the_batch_size(models, name, eta):
    cfg = SampleConfig(sampler=name, eta=eta, steps=6, num=3, seed=7, device="cpu")
    a = sample(models["eps"], cfg.replace(batch_size=1)).images
    b = sample(models["eps"], cfg.replace(batch_size=3)).images
    c = sample(models["eps"], cfg.replace(batch_size=2)).images
    alone = sample(models["eps"], cfg.replace(num=1, first_index=2)).images
    assert np.abs(a.astype(int) - b.astype(int)).max() <= 1  # batched convs may differ in the last float bit
    assert np.abs(a.astype(int) - c.astype(int)).max() <= 1
    assert np.abs(alone[0].astype(int) - a[2].astype(int)).max() <= 1
    assert not np.array_equal(a[0], a[1])  # different images within a seed
    other = sample(models["eps"], cfg.replace(seed=8, num=1)).images
    assert np.abs(other[0].astype(int) - a[0].astype(int)).mean() > 5  # another seed, another image


def test_sample_config_round_trips_through_json(tmp_path):
    cfg = SampleConfig(sampler="ddim", steps=20, eta=0.3, seed=5, trajectory=True)
    cfg.save(tmp_path / "s.json")
    assert SampleConfig.load(tmp_path / "s.json") == cfg
    assert dataclasses.asdict(cfg)["steps"] == 20


@pytest.mark.parametrize("name", ["unipc", "dpmpp_2m"])
def test_a_flow_models_shift_reaches_the_multistep_solvers(name):
    from diffusers import FlowMatchEulerDiscreteScheduler

    config = dict(FlowMatchEulerDiscreteScheduler(shift=3.0).config)
    sched = build_scheduler(name, config, "flow")
    assert sched.config.flow_shift == 3.0
    sched.set_timesteps(8)
    euler = FlowMatchEulerDiscreteScheduler.from_config(config)
    euler.set_timesteps(8)
    plain = build_scheduler(name, {**config, "shift": 1.0}, "flow")
    plain.set_timesteps(8)
    # near the model's own shifted noise levels (the solvers space their steps a little differently)
    assert abs(float(sched.sigmas[1]) - float(euler.sigmas[1])) < 0.02
    assert float(sched.sigmas[1]) - float(plain.sigmas[1]) > 0.05
