"""Training objectives: what is noised and what the network predicts.

- ``eps``, ``v``, ``x0``: the discrete DDPM process (Ho et al. 2020, "Denoising Diffusion
  Probabilistic Models"), x_t = sqrt(a_t) x0 + sqrt(1 - a_t) eps with 1,000 steps, predicting the
  noise eps (Ho et al.), the velocity v = sqrt(a_t) eps - sqrt(1 - a_t) x0 (Salimans & Ho 2022,
  "Progressive Distillation"), or the clean sample x0.
- ``flow``: rectified flow / flow matching (Liu et al. 2022; Lipman et al. 2022), x_t = (1 - s) x0
  + s noise with continuous s in (0, 1), predicting the velocity noise - x0; the network sees
  timestep = 1000 s, the convention of diffusers' FlowMatchEulerDiscreteScheduler.

Time is drawn uniformly or from a logit-normal (Esser et al. 2024, "Scaling Rectified Flow
Transformers"). Everything is shape-agnostic: a batch may be (B, C, H, W) images or
(B, T, C, H, W) clips, and every draw comes from the caller's ``torch.Generator``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from core.diffusion.schedules import NUM_TRAIN_TIMESTEPS, OBJECTIVES, alphas_cumprod

T_SAMPLINGS = ("uniform", "logit-normal")


@dataclass
class NoisyBatch:
    """One training view of a clean batch: the network input, its timesteps, the regression target."""

    x_t: torch.Tensor
    timesteps: torch.Tensor  # int64 0..999 (DDPM) or float 1000*sigma (flow), shape (B,)
    target: torch.Tensor
    snr: torch.Tensor  # signal-to-noise ratio of each sample, float32 (B,), for loss weighting


def _per_sample(v: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    return v.to(like.dtype).view(-1, *([1] * (like.ndim - 1)))


def sample_unit_time(
    n: int,
    generator: torch.Generator,
    *,
    method: str = "uniform",
    device: torch.device | str = "cpu",
    logit_mean: float = 0.0,
    logit_std: float = 1.0,
) -> torch.Tensor:
    """n times in the open interval (0, 1): uniform, or logit-normal (Esser et al. 2024, section 3.1)."""
    if method == "uniform":
        u = torch.rand(n, generator=generator, device=device)
    elif method == "logit-normal":
        u = torch.sigmoid(torch.randn(n, generator=generator, device=device) * logit_std + logit_mean)
    else:
        raise ValueError(f"unknown t sampling {method!r}; use one of {', '.join(T_SAMPLINGS)}")
    return u.clamp(1e-5, 1 - 1e-5)


class DDPMObjective:
    """eps / v / x0 prediction on the 1,000-step DDPM process (Ho et al. 2020; Salimans & Ho 2022)."""

    def __init__(self, prediction: str = "eps", schedule: str = "linear") -> None:
        if prediction not in ("eps", "v", "x0"):
            raise ValueError(f"unknown DDPM prediction {prediction!r}")
        self.name = prediction
        self.schedule = schedule
        self._abar = alphas_cumprod(schedule).float()

    def abar(self, t: torch.Tensor) -> torch.Tensor:
        return self._abar.to(t.device)[t.long()]

    def timesteps_from_unit(self, u: torch.Tensor) -> torch.Tensor:
        return (u * NUM_TRAIN_TIMESTEPS).long().clamp_(0, NUM_TRAIN_TIMESTEPS - 1)

    def noisy(self, x0: torch.Tensor, noise: torch.Tensor, u: torch.Tensor) -> NoisyBatch:
        t = self.timesteps_from_unit(u)
        a = self.abar(t)
        sa, sb = _per_sample(a.sqrt(), x0), _per_sample((1 - a).sqrt(), x0)
        x_t = sa * x0 + sb * noise
        if self.name == "eps":
            target = noise
        elif self.name == "v":
            target = sa * noise - sb * x0
        else:
            target = x0
        return NoisyBatch(x_t, t, target, (a / (1 - a)).float())

    def predict_x0(self, x_t: torch.Tensor, timesteps: torch.Tensor, output: torch.Tensor) -> torch.Tensor:
        a = self.abar(timesteps)
        sa, sb = _per_sample(a.sqrt(), x_t), _per_sample((1 - a).sqrt(), x_t)
        if self.name == "eps":
            return (x_t - sb * output) / sa
        if self.name == "v":
            return sa * x_t - sb * output
        return output


class FlowObjective:
    """Rectified-flow velocity prediction (Liu et al. 2022; Lipman et al. 2022), diffusers' convention."""

    name = "flow"
    schedule = None

    def timesteps_from_unit(self, u: torch.Tensor) -> torch.Tensor:
        return u.float() * NUM_TRAIN_TIMESTEPS

    def noisy(self, x0: torch.Tensor, noise: torch.Tensor, u: torch.Tensor) -> NoisyBatch:
        s = _per_sample(u, x0)
        x_t = (1 - s) * x0 + s * noise
        snr = ((1 - u) / u).float() ** 2
        return NoisyBatch(x_t, self.timesteps_from_unit(u), noise - x0, snr)

    def predict_x0(self, x_t: torch.Tensor, timesteps: torch.Tensor, output: torch.Tensor) -> torch.Tensor:
        s = _per_sample(timesteps.float() / NUM_TRAIN_TIMESTEPS, x_t)
        return x_t - s * output


Objective = DDPMObjective | FlowObjective


def make_objective(name: str, schedule: str | None = "linear") -> Objective:
    if name == "flow":
        return FlowObjective()
    if name in OBJECTIVES:
        return DDPMObjective(name, schedule or "linear")
    raise ValueError(f"unknown objective {name!r}; use one of {', '.join(OBJECTIVES)}")


def noisy_batch(
    objective: Objective,
    x0: torch.Tensor,
    generator: torch.Generator,
    *,
    t_sampling: str = "uniform",
) -> NoisyBatch:
    """Draw times and noise from ``generator`` (same device as x0) and noise the clean batch."""
    u = sample_unit_time(x0.shape[0], generator, method=t_sampling, device=x0.device)
    noise = torch.randn(x0.shape, generator=generator, device=x0.device, dtype=x0.dtype)
    return objective.noisy(x0, noise, u)
