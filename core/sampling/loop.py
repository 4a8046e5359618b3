"""The sampling loop: one pass of a diffusers scheduler, with a k-diffusion style per-step callback.

Follows ``k_diffusion.sampling.sample_euler(model, x, sigmas, callback=...)`` (Crowson): at each
step the callback receives the current sample and the denoised estimate x0, which *is* the live
preview; with no callback the loop does no extra work at all. The predicted x0 is the scheduler's
own ``pred_original_sample`` where it returns one, otherwise it is computed from the model output:
x0 = (x_t - sqrt(1 - abar) eps) / sqrt(abar) (eps, Ho et al. 2020), x0 = sqrt(abar) x_t -
sqrt(1 - abar) v (v, Salimans & Ho 2022), x0 = x_t - sigma v (flow, Lipman et al. 2022).

Shape-agnostic: ``x`` may be images (B, C, H, W) or clips (B, T, C, H, W); the scheduler maths is
elementwise and the network receives ``x`` as is with a 1-D tensor of B timesteps.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch

from core.catalogue.samplers import steps_in
from core.errors import Cancelled


@dataclass
class StepInfo:
    """What one sampling step shows: step ``i`` of ``n`` at timestep ``t`` (noise level ``sigma``).

    ``x_t`` is the sample the network saw at this step, in model range (variance-preserving scale,
    so a preview of it looks alike for every sampler); ``x0`` is the predicted clean sample.
    ``sigma`` is the flow sigma for flow models, else sqrt((1 - abar) / abar); ``indices`` are the
    numbers of the images in the batch.
    """

    i: int
    n: int
    t: float
    sigma: float
    x_t: torch.Tensor
    x0: torch.Tensor
    indices: tuple[int, ...] = ()


StepCallback = Callable[[StepInfo], None]


def _expand(v: torch.Tensor | float, like: torch.Tensor) -> torch.Tensor:
    v = torch.as_tensor(v, dtype=like.dtype, device=like.device)
    return v.reshape(-1, *([1] * (like.ndim - 1))) if v.ndim else v


def predict_x0(
    x_t: torch.Tensor,
    model_output: torch.Tensor,
    prediction_type: str,
    *,
    abar: torch.Tensor | float | None = None,
    sigma: torch.Tensor | float | None = None,
) -> torch.Tensor:
    """The clean-sample estimate from a model output (x_t in variance-preserving scale, or flow x_t).

    ``prediction_type`` is the diffusers name: "epsilon", "v_prediction", "sample" (abar needed for
    the first two) or "flow_prediction" (flow sigma needed).
    """
    if prediction_type == "flow_prediction":
        return x_t - _expand(sigma, x_t) * model_output
    if prediction_type == "sample":
        return model_output
    a = _expand(abar, x_t)
    if prediction_type == "epsilon":
        return (x_t - (1 - a).sqrt() * model_output) / a.sqrt()
    if prediction_type == "v_prediction":
        return a.sqrt() * x_t - (1 - a).sqrt() * model_output
    raise ValueError(f"unknown prediction type {prediction_type!r}")


def step_kwargs(scheduler: Any, generators: Sequence[torch.Generator] | None, *, eta: float = 0.0) -> dict:
    """Keyword arguments for ``scheduler.step``: per-image generators where it draws noise, DDIM's eta."""
    import inspect

    params = inspect.signature(scheduler.step).parameters
    kw: dict[str, Any] = {}
    if "generator" in params and generators is not None:
        kw["generator"] = list(generators)
    if "eta" in params:
        kw["eta"] = float(eta)
    return kw


def _prediction_type(scheduler: Any, flow: bool) -> str:
    return "flow_prediction" if flow else scheduler.config.prediction_type


@dataclass
class LoopResult:
    """What one pass made: the final sample, the steps it ran (callbacks fired) and its network
    evaluations (``order`` per step, less one at the end: Heun runs ``2 * steps - 1``)."""

    x: torch.Tensor
    steps: int
    evaluations: int


def run_steps(
    network: Callable[..., Any],
    scheduler: Any,
    x: torch.Tensor,
    *,
    order: int = 1,
    begin: int = 0,
    flow: bool = False,
    generators: Sequence[torch.Generator] | None = None,
    eta: float = 0.0,
    callback: StepCallback | None = None,
    should_stop: Callable[[], bool] | None = None,
    indices: tuple[int, ...] = (),
) -> LoopResult:
    """Run ``scheduler`` (``set_timesteps`` already called) from ``x``.

    ``x`` is in the scheduler's own space (already multiplied by ``init_noise_sigma``). ``order`` is
    the sampler's network evaluations per step (:attr:`core.catalogue.samplers.SamplerSpec.order`:
    2 for Heun, whose timestep list holds each later step twice); the callback fires once per step,
    with the step's first evaluation's x0. ``begin`` is the position in ``scheduler.timesteps`` to
    start from (a branch from a recorded step: ``order * step``). ``should_stop()`` is checked
    before every network evaluation and raises :class:`~core.errors.Cancelled`.
    """
    timesteps = scheduler.timesteps
    if hasattr(scheduler, "set_begin_index"):
        scheduler.set_begin_index(begin)
    kw = step_kwargs(scheduler, generators, eta=eta)
    n = steps_in(len(timesteps), order)
    i = steps_in(begin, order)
    first_i = i
    sigmas = getattr(scheduler, "sigmas", None)
    batch = x.shape[0]
    for pos in range(begin, len(timesteps)):
        if should_stop is not None and should_stop():
            raise Cancelled()
        t = timesteps[pos]
        first = (pos - begin) % order == 0
        x_in = scheduler.scale_model_input(x, t) if hasattr(scheduler, "scale_model_input") else x
        model_output = network(x_in, t.expand(batch)).sample
        out = scheduler.step(model_output, t, x, **kw)
        if callback is not None and first:
            callback(_step_info(scheduler, sigmas, pos, i, n, t, x_in, model_output, out, flow, indices))
        if first:
            i += 1
        x = out.prev_sample
    return LoopResult(x, i - first_i, len(timesteps) - begin)


def run_loop(network: Callable[..., Any], scheduler: Any, x: torch.Tensor, **kw: Any) -> torch.Tensor:
    """:func:`run_steps`' final sample alone (the training previews' call)."""
    return run_steps(network, scheduler, x, **kw).x


def _step_info(scheduler, sigmas, pos, i, n, t, x_in, model_output, out, flow, indices) -> StepInfo:
    if sigmas is not None:
        sigma = sigmas[pos].to(x_in.device, torch.float32)
        abar = None if flow else 1.0 / (1.0 + sigma**2)
    else:
        abar = scheduler.alphas_cumprod.to(x_in.device)[t.long()].float()
        sigma = ((1 - abar) / abar).sqrt()
    x0 = getattr(out, "pred_original_sample", None)
    if x0 is None:
        x0 = predict_x0(x_in, model_output, _prediction_type(scheduler, flow), abar=abar, sigma=sigma)
    return StepInfo(i, n, float(t), float(sigma), x_in, x0, indices)
