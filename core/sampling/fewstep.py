"""The few-step sampler: a distilled flow map ``f(x_t, t) ~ x0`` sampled in 1 to 8 evaluations.

A model folder made fast (:mod:`core.training.fewstep`) carries a second copy of its network in
``fewstep/``, trained so that ``f(x_t, t) = x_t - t * v(x_t, 1000 t)`` lands where the guided teacher's
ODE from ``(x_t, t)`` ends. Sampling at n steps: ``x0 = f(z, 1)``; then for each next level s of the
grid, ``x_s = (1 - s) x0 + s eps`` with ``eps = (x_t - (1 - t) x0) / t``, the noise the map implies
(DDIM's deterministic step, Song et al. 2021, taken on the map), and ``x0 = f(x_s, s)``. For an
exact map these are the points of the teacher's own trajectory, which is what the map was trained
on; fresh noise instead (consistency models' multistep sampling) measured worse at 2 and 4 steps.
The seed sets the starting noise alone. The grid is an evenly spread subset of the levels the map
was trained at (:func:`levels_for`). Written here because diffusers
has no scheduler for a flow map; the loop reports each step like :func:`core.sampling.loop.run_steps`
so the live view, the trajectory and branching work unchanged. Figures: ``benchmarks/results/
quality_fewstep*.json``; the choice of route and grid: ``docs/decisions.md``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

from core.errors import Cancelled, ConfigError
from core.sampling.loop import LoopResult, StepCallback, StepInfo

TIMESTEPS = 1000  # flow: timestep = 1000 * sigma


def levels_for(trained: Sequence[float], steps: int) -> list[float]:
    """The ``steps`` noise levels a sample visits: an evenly spread subset of the ``trained`` levels
    (highest first; the first is always the highest, pure noise)."""
    levels = sorted((float(t) for t in trained), reverse=True)
    if not 1 <= steps <= len(levels):
        raise ConfigError(
            f"sample.steps: the few-step sampler runs 1 to {len(levels)} steps on this model (got {steps})",
            fix=f"use 1 to {len(levels)} steps, or another sampler for more",
        )
    picks = [round(k * len(levels) / steps) for k in range(steps)]
    return [levels[i] for i in picks]


def flow_map(network: Callable, x_t: torch.Tensor, t: float) -> torch.Tensor:
    """``f(x_t, t) = x_t - t * v(x_t, 1000 t)``: the map's estimate of the clean sample."""
    v = network(x_t, torch.full((x_t.shape[0],), TIMESTEPS * t, device=x_t.device)).sample
    return x_t - t * v


def run_fewstep(
    network: Callable,
    levels: Sequence[float],
    x: torch.Tensor,
    *,
    generators: Sequence[torch.Generator],
    begin: int = 0,
    callback: StepCallback | None = None,
    should_stop: Callable[[], bool] | None = None,
    indices: tuple[int, ...] = (),
) -> LoopResult:
    """Run the few-step map over ``levels`` from ``x``, the sample at ``levels[begin]`` (pure noise
    when ``begin`` is 0). Deterministic: ``generators`` are not drawn from (the starting noise came
    from them), so a seed gives the same images in any batch."""
    n = len(levels)
    x0 = x
    for i in range(begin, n):
        if should_stop is not None and should_stop():
            raise Cancelled()
        t = float(levels[i])
        x0 = flow_map(network, x, t)
        if callback is not None:
            callback(StepInfo(i, n, TIMESTEPS * t, t, x, x0, indices))
        if i + 1 < n:
            t_next = float(levels[i + 1])
            eps = (x - (1 - t) * x0) / t
            x = (1 - t_next) * x0 + t_next * eps
    return LoopResult(x0, n - begin, n - begin)
