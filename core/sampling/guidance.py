"""Autoguidance: guide a model with a worse version of itself (Karras et al. 2024).

``D_w(x) = D(x) + w * (D(x) - D_guide(x))`` at the noise levels of :data:`GUIDE_BANDS`. The guide is
an earlier EMA snapshot of the same run (``TrainConfig.guide_at``, :mod:`core.training.trainer`):
the difference points away from the errors both make, so extrapolating along it sharpens the
samples without a condition and without narrowing them to one mode the way classifier-free guidance
does. Every output the samplers use (eps, v, x0 or flow velocity) is linear in the denoised
estimate, so guiding the raw output is guiding the estimate. Written here because diffusers has no
autoguidance for unconditional models; a guided step costs two network evaluations.

The default weight and its bound are :data:`core.catalogue.samplers.DEFAULT_GUIDANCE` and
``MAX_GUIDANCE``. Figures: ``benchmarks/results/quality_guidance*.json`` and
``quality_pool_defaults_sampling.json``; how they were chosen: ``docs/decisions.md``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

# Re-exported (their home is the catalogue): core.training.run and the tests import them here.
from core.catalogue.samplers import DEFAULT_GUIDANCE as DEFAULT_GUIDANCE
from core.catalogue.samplers import MAX_GUIDANCE as MAX_GUIDANCE

Bands = tuple[tuple[float, float, float], ...]

GUIDE_BANDS: Bands = ((0.15, 0.9, 1.0),)
"""Where the guide steers and how hard: (low, high, factor) bands of noise level (timestep / 1000:
flow sigma, or the DDPM step's fraction), bounds inclusive, the first band holding a level wins, the
weight times the band's factor. The default is one band, the full weight between 0.15 and 0.9;
outside it the network runs alone and the guide is not evaluated. Guidance in a limited interval
(Kynkäänniemi et al. 2024, for classifier-free guidance) keeps the extrapolation off the last,
nearly clean steps, where it only sharpens noise into artefacts, and off the very first. This band
had the lowest FD of the intervals measured (``benchmarks/results/quality_guidance_intervals.json``);
two bands did not beat it on every model (``quality_guidance_bands_*.json``). Measured on flow
models only."""
TIMESTEPS = 1000  # the training timesteps of every Noisebloom scheduler (flow: timestep = 1000 * sigma)


@dataclass
class _Output:
    sample: torch.Tensor


def band_factors(level: torch.Tensor, bands: Bands) -> torch.Tensor:
    """The share of the weight each noise level gets: the factor of the first band holding it (bounds
    inclusive), 0 outside every band."""
    factors = torch.zeros_like(level)
    done = torch.zeros_like(level, dtype=torch.bool)
    for lo, hi, factor in bands:
        hit = (level >= lo) & (level <= hi) & ~done
        factors[hit] = factor
        done |= hit
    return factors


class GuidedNetwork(nn.Module):
    """``network(x, t).sample`` extrapolated away from ``guide(x, t).sample`` by ``weight`` times the
    factor of the noise band (:data:`GUIDE_BANDS`) that each sample's level ``t / 1000`` lies in; the
    others get the network's output unchanged, and a batch with none inside skips the guide."""

    def __init__(
        self, network: nn.Module, guide: nn.Module, weight: float, bands: Bands = GUIDE_BANDS
    ) -> None:
        super().__init__()
        self.network, self.guide, self.weight = network, guide, float(weight)
        self.bands = tuple((float(lo), float(hi), float(f)) for lo, hi, f in bands)

    def forward(self, x: torch.Tensor, t: torch.Tensor | float) -> _Output:
        out = self.network(x, t).sample
        level = torch.as_tensor(t, dtype=torch.float64).reshape(-1).cpu() / TIMESTEPS
        factors = band_factors(level, self.bands).expand(out.shape[0])
        if not bool(factors.any()):
            return _Output(out)
        bad = self.guide(x, t).sample.to(out.dtype)
        w = self.weight * factors.to(device=out.device, dtype=out.dtype).reshape(-1, *[1] * (out.ndim - 1))
        return _Output(out + w * (out - bad))


def guided(
    network: nn.Module, guide: nn.Module | None, weight: float, bands: Bands = GUIDE_BANDS
) -> nn.Module:
    """``network`` itself when there is nothing to guide with (no guide, or weight 0)."""
    if guide is None or weight == 0:
        return network
    return GuidedNetwork(network, guide, weight, bands)
