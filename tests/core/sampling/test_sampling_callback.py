"""The per-step callback: x0 from the scheduler or computed (and the two agree), free when unused, cancel."""

from __future__ import annotations

import pytest
import torch

import core.sampling.loop as loop
from core.errors import Cancelled
from core.sampling.config import SampleConfig
from core.sampling.loop import predict_x0
from core.sampling.sample import sample
from core.sampling.samplers import build_scheduler


@pytest.mark.parametrize("objective,prediction", [("eps", "epsilon"), ("v", "v_prediction")])
@pytest.mark.parametrize("name", ["ddpm", "ddim", "euler", "euler_a", "heun"])
def test_computed_x0_agrees_with_the_schedulers_pred_original_sample(models, objective, prediction, name):
    model = models[objective]
    config = {**model.scheduler_config, "clip_sample": False}
    scheduler = build_scheduler(name, config, objective)
    scheduler.set_timesteps(10)
    g = torch.Generator().manual_seed(0)
    x = torch.randn(2, 1, 16, 16, generator=g) * getattr(scheduler, "init_noise_sigma", 1.0)
    for pos in (0, 3):
        if hasattr(scheduler, "set_begin_index"):
            scheduler.set_begin_index(pos)
        t = scheduler.timesteps[pos]
        x_in = scheduler.scale_model_input(x, t)
        with torch.no_grad():
            out = model.network(x_in, t.expand(2)).sample
        own = scheduler.step(out, t, x, **loop.step_kwargs(scheduler, [g, g])).pred_original_sample
        if hasattr(scheduler, "sigmas"):
            sigma = scheduler.sigmas[pos]
            abar = 1 / (1 + sigma**2)
        else:
            abar = scheduler.alphas_cumprod[t]
        mine = predict_x0(x_in, out, prediction, abar=abar)
        torch.testing.assert_close(mine, own, rtol=1e-4, atol=1e-4)
        scheduler = build_scheduler(name, config, objective)
        scheduler.set_timesteps(10)


@pytest.mark.parametrize("objective", ["eps", "v", "flow"])
def test_computed_x0_agrees_with_dpm_solvers_own_data_prediction(models, objective):
    model = models[objective]
    scheduler = build_scheduler("dpmpp_2m", model.scheduler_config, objective)
    scheduler.set_timesteps(8)
    scheduler.set_begin_index(2)
    scheduler._init_step_index(scheduler.timesteps[2])
    x = torch.randn(2, 1, 16, 16, generator=torch.Generator().manual_seed(1))
    t = scheduler.timesteps[2]
    with torch.no_grad():
        out = model.network(x, t.expand(2)).sample
    own = scheduler.convert_model_output(out, sample=x)  # DPM-Solver++ turns any output into x0
    sigma = scheduler.sigmas[2]
    pred = {"eps": "epsilon", "v": "v_prediction", "flow": "flow_prediction"}[objective]
    mine = predict_x0(x, out, pred, abar=1 / (1 + sigma**2), sigma=sigma)
    torch.testing.assert_close(mine, own, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize(
    "name,objective", [("dpmpp_2m", "eps"), ("flow_euler", "flow"), ("dpmpp_2m", "flow")]
)
def test_last_steps_computed_x0_is_the_final_sample(models, name, objective):
    """These samplers' last step lands exactly on the x0 predicted there, so the callback's x0 must match."""
    last = {}
    r = sample(
        models[objective],
        SampleConfig(sampler=name, steps=4, num=2, device="cpu"),
        callback=lambda s: last.update(s=s),
    )
    info = last["s"]
    assert (info.i, info.n) == (3, 4) and info.x0.shape == (2, 1, 16, 16)
    final = ((info.x0.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).movedim(1, -1).numpy()
    assert abs(final.astype(int) - r.images.astype(int)).max() <= 1


def test_step_info_carries_t_sigma_and_x_t_in_network_scale(models):
    infos = []
    sample(models["eps"], SampleConfig(sampler="euler", steps=3, num=1, device="cpu"), callback=infos.append)
    assert [s.i for s in infos] == [0, 1, 2] and all(s.n == 3 for s in infos)
    assert infos[0].sigma > infos[1].sigma > infos[2].sigma > 0
    assert infos[0].t > infos[2].t
    # Euler's own sample is x0 + sigma * noise (std ~ 14.6 at the start); x_t is what the network saw (std ~ 1).
    assert 0.6 < float(infos[0].x_t.std()) < 1.5


def test_no_callback_means_no_per_step_work(models, monkeypatch):
    def boom(*a, **k):
        raise AssertionError("x0 computed with nobody listening")

    monkeypatch.setattr(loop, "_step_info", boom)
    monkeypatch.setattr(loop, "predict_x0", boom)
    r = sample(models["eps"], SampleConfig(sampler="dpmpp_2m", steps=3, num=1, device="cpu"))
    assert r.images.shape == (1, 16, 16, 1)


def test_heun_calls_back_once_per_step_with_two_network_evaluations(models, counting):
    m = models["eps"]
    net = counting(m.network)
    model = type(m)(net, m.scheduler_config, m.objective, m.info, m.path)
    seen = []
    sample(
        model, SampleConfig(sampler="heun", steps=3, num=1, device="cpu"), callback=lambda s: seen.append(s.i)
    )
    assert seen == [0, 1, 2]
    assert net.calls == 5  # 2 per step, the last step (to sigma 0) is first order


@pytest.mark.parametrize("name,objective", [("heun", "eps"), ("flow_heun", "flow"), ("unipc", "flow")])
def test_the_loop_reports_the_steps_and_network_evaluations_it_ran(models, counting, name, objective):
    from core.catalogue.samplers import SAMPLERS
    from core.sampling.loop import run_steps

    m = models[objective]
    net = counting(m.network)
    scheduler = build_scheduler(name, m.scheduler_config, objective)
    scheduler.set_timesteps(4)
    seen = []
    x = torch.randn(1, 1, 16, 16) * getattr(scheduler, "init_noise_sigma", 1.0)
    with torch.inference_mode():
        ran = run_steps(
            net, scheduler, x, order=SAMPLERS[name].order, flow=objective == "flow", callback=seen.append
        )
    assert (ran.steps, ran.evaluations, net.calls) == (
        4,
        7 if SAMPLERS[name].order == 2 else 4,
        ran.evaluations,
    )
    assert [s.i for s in seen] == [0, 1, 2, 3] and {s.n for s in seen} == {4}


@pytest.mark.parametrize("k", [0, 1, 4])
def test_cancel_stops_within_one_step(models, counting, tmp_path, k):
    m = models["eps"]
    net = counting(m.network)
    model = type(m)(net, m.scheduler_config, m.objective, m.info, m.path)
    asked = {"n": 0}

    def should_stop():
        asked["n"] += 1
        return asked["n"] > k

    out = tmp_path / "out"
    with pytest.raises(Cancelled):
        sample(
            model,
            SampleConfig(sampler="ddim", steps=10, num=2, device="cpu", trajectory=True),
            out_dir=out,
            should_stop=should_stop,
        )
    assert net.calls == k
    assert not (out / "trajectory").exists()
    leftovers = [p for p in out.iterdir()] if out.exists() else []
    assert leftovers == []


def test_callback_may_cancel_and_it_propagates(models):
    def cancel_at_2(info):
        if info.i == 2:
            raise Cancelled()

    with pytest.raises(Cancelled):
        sample(
            models["eps"], SampleConfig(sampler="ddpm", steps=10, num=1, device="cpu"), callback=cancel_at_2
        )
