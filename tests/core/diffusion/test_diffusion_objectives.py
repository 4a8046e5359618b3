"""Objectives, schedules and loss weighting against diffusers' own noising and the papers' formulas."""

from __future__ import annotations

import pytest
import torch
from diffusers import DDPMScheduler

from core.diffusion.objectives import make_objective, noisy_batch, sample_unit_time
from core.diffusion.schedules import make_scheduler, objective_from_scheduler_config
from core.diffusion.weighting import loss_weights, weighted_mse


def _x0(shape=(6, 1, 8, 8), seed=0):
    return torch.rand(shape, generator=torch.Generator().manual_seed(seed)) * 2 - 1


@pytest.mark.parametrize("schedule", ["linear", "cosine"])
def test_ddpm_noising_matches_diffusers_add_noise_and_velocity(schedule):
    beta = {"linear": "linear", "cosine": "squaredcos_cap_v2"}[schedule]
    ref = DDPMScheduler(num_train_timesteps=1000, beta_schedule=beta)
    x0, noise = _x0(), _x0(seed=1)
    u = torch.tensor([0.0001, 0.1, 0.35, 0.5, 0.8, 0.9999])
    eps = make_objective("eps", schedule).noisy(x0, noise, u)
    assert eps.timesteps.tolist() == [0, 100, 350, 500, 800, 999]
    torch.testing.assert_close(eps.x_t, ref.add_noise(x0, noise, eps.timesteps))
    assert torch.equal(eps.target, noise)
    v = make_objective("v", schedule).noisy(x0, noise, u)
    torch.testing.assert_close(v.target, ref.get_velocity(x0, noise, v.timesteps))
    assert torch.equal(make_objective("x0", schedule).noisy(x0, noise, u).target, x0)


def test_flow_matching_uses_the_diffusers_convention():
    x0, noise = _x0(), _x0(seed=1)
    u = torch.tensor([0.1, 0.2, 0.4, 0.6, 0.8, 0.95])
    nb = make_objective("flow").noisy(x0, noise, u)
    s = u.view(-1, 1, 1, 1)
    torch.testing.assert_close(nb.x_t, (1 - s) * x0 + s * noise)
    torch.testing.assert_close(nb.target, noise - x0)
    torch.testing.assert_close(nb.timesteps, u * 1000)
    # one Euler step of diffusers' scheduler with the true velocity lands on x0 exactly
    sched = make_scheduler("flow")
    sched.set_timesteps(sigmas=[0.6, 0.0], device="cpu")
    x = (1 - 0.6) * x0 + 0.6 * noise
    torch.testing.assert_close(
        sched.step(noise - x0, sched.timesteps[0], x).prev_sample, x0, atol=1e-5, rtol=0
    )


@pytest.mark.parametrize("name", ["eps", "v", "x0", "flow"])
def test_predict_x0_inverts_the_target(name):
    obj = make_objective(name, "cosine")
    x0 = _x0((4, 2, 3, 8, 8))  # a clip batch (B, T, C, H, W): shape-agnostic
    nb = obj.noisy(x0, _x0((4, 2, 3, 8, 8), seed=3), torch.tensor([0.05, 0.3, 0.6, 0.9]))
    torch.testing.assert_close(obj.predict_x0(nb.x_t, nb.timesteps, nb.target), x0, atol=2e-4, rtol=0)


def test_batches_are_deterministic_given_the_generator():
    obj = make_objective("flow")
    a = noisy_batch(obj, _x0(), torch.Generator().manual_seed(5), t_sampling="logit-normal")
    b = noisy_batch(obj, _x0(), torch.Generator().manual_seed(5), t_sampling="logit-normal")
    c = noisy_batch(obj, _x0(), torch.Generator().manual_seed(6), t_sampling="logit-normal")
    assert torch.equal(a.x_t, b.x_t) and torch.equal(a.timesteps, b.timesteps)
    assert not torch.equal(a.x_t, c.x_t)


def test_logit_normal_time_concentrates_in_the_middle():
    g = torch.Generator().manual_seed(0)
    uni = sample_unit_time(20000, g, method="uniform")
    ln = sample_unit_time(20000, g, method="logit-normal")
    mid = lambda u: ((u > 0.25) & (u < 0.75)).float().mean().item()  # noqa: E731
    assert abs(mid(uni) - 0.5) < 0.02
    assert mid(ln) > 0.6  # sigmoid(N(0,1)) puts ~0.73 of its mass there
    assert 0 < ln.min() and ln.max() < 1
    with pytest.raises(ValueError, match="unknown t sampling"):
        sample_unit_time(2, g, method="cubic")


@pytest.mark.parametrize("name", ["eps", "v", "flow"])
def test_min_snr_weights_equal_the_clamped_x0_loss(name):
    """Hang et al. 2023: every target's weighted loss equals min(SNR, gamma) times its x0 error."""
    obj = make_objective(name, "linear")
    x0, noise = _x0(), _x0(seed=1)
    nb = obj.noisy(x0, noise, torch.tensor([0.01, 0.05, 0.2, 0.5, 0.8, 0.97]))
    wrong = nb.target + _x0(seed=9) * 0.1
    x0_err = (obj.predict_x0(nb.x_t, nb.timesteps, wrong) - x0).pow(2).flatten(1).mean(1)
    target_err = (wrong - nb.target).pow(2).flatten(1).mean(1)
    w = loss_weights(nb.snr, name, "min-snr", gamma=5.0)
    torch.testing.assert_close(w * target_err, torch.clamp(nb.snr, max=5.0) * x0_err, rtol=1e-3, atol=1e-6)
    assert torch.equal(loss_weights(nb.snr, name, "uniform"), torch.ones(6))


def test_weighted_mse_is_the_weighted_mean_of_per_sample_errors():
    pred, target = torch.zeros(2, 1, 2, 2), torch.stack([torch.ones(1, 2, 2), 2 * torch.ones(1, 2, 2)])
    assert weighted_mse(pred, target, torch.tensor([1.0, 0.5])).item() == pytest.approx((1 + 0.5 * 4) / 2)


@pytest.mark.parametrize(
    ("objective", "schedule", "cls", "pred"),
    [("eps", "linear", "DDPMScheduler", "epsilon"), ("v", "cosine", "DDPMScheduler", "v_prediction"),
     ("x0", "linear", "DDPMScheduler", "sample"), ("flow", None, "FlowMatchEulerDiscreteScheduler", None)],
)  # fmt: skip
def test_scheduler_config_round_trips_the_objective(objective, schedule, cls, pred):
    sched = make_scheduler(objective, schedule)
    assert type(sched).__name__ == cls and sched.config.num_train_timesteps == 1000
    if pred:
        assert sched.config.prediction_type == pred
    config = dict(sched.config, _class_name=cls)
    assert objective_from_scheduler_config(config) == (objective, schedule)
