"""Autoguidance: guide a model with a worse version of itself (Karras et al. 2024).

``D_w(x) = D(x) + w * (D(x) - D_guide(x))``, at the noise levels of :data:`GUIDE_BANDS`: the
difference between the trained network and a less trained copy of it (the trainer keeps the EMA
weights from ``TrainConfig.guide_at`` of the run, see :mod:`core.training.trainer`) points away from
the errors both make, and extrapolating along it sharpens the samples without a condition and
without narrowing them to one mode the way classifier-free guidance does. Every model output the
samplers use (eps, v, x0 or flow velocity) is linear in the denoised estimate, so guiding the raw
output is the same as guiding the estimate.

Written here because diffusers has no autoguidance for unconditional models: it is the formula
above, applied per network call. A guided step costs two network evaluations (of the default 20
UniPC steps 16 are guided, of 8 six).

Measured in ``benchmarks/bench_quality.py guidance`` (issue 8; 10 minutes of training on a 2-core
CPU, 500 samples, UniPC 8): see :data:`DEFAULT_GUIDANCE`. Guides trained separately for
a tenth of the run's steps were too weak (FD no better than unguided at w = 0.5, worse above), for
half of them too close to the final model (a milder gain that needed w = 1.5); a quarter sat between.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

DEFAULT_GUIDANCE = 1.5
"""The weight ``w`` used when a model has a guide and the caller does not choose one, at the noise
levels of :data:`GUIDE_BANDS`. On the first Muon headline digit model (pixel-small, 10 minutes on a
2-core CPU, 2,063 steps; UniPC 8, 500 samples; ``benchmarks/results/quality_guidance_intervals.json``)
guided between 0.15 and 0.9: w = 1.0 FD 1.95 / 77% confident, **1.5 1.88 / 80%**, 2.0 2.47 / 82%,
2.5 3.27 / 83%; on the current headline model (2,167 steps, ``quality_guidance_bands_headline.json``)
1.5 1.95 / 77%, 2.0 2.34 / 79%, 2.5 2.78 / 83%, 3.0 3.39 / 82%; on a weaker one (5 minutes on one
thread, ``quality_guidance_bands_scarce4000.json``) 1.5 7.24 / 69%, 2.5 7.45 / 74%. Guided at every
step (``quality_guidance.json``, the default before the interval): unguided FD 5.59 / 63%, 0.5 2.57 /
72%, 0.75 2.24 / 75%, 1.0 2.36 / 78%, 1.5 3.86 / 80%, 2.0 6.10 / 80%. No sample memorised at any
weight. Higher weights trade variety for legibility; 1.5 has the lowest FD on both headline models.
The weight before was 0.75 (guided at every step; those files at commit a6821bb).

Over eight batch-64 default models (10 or 15 minutes of CPU training, five training seeds) x three
sampling seeds, 500 samples each (``bench_quality.py pool``, ``quality_pool_defaults_sampling.json``),
mean FD / confident share: w = 1.5 2.49 / 81.3%; 2.5 3.42 / 84.3%; 1.5 from noise scaled by 0.9 2.56
/ 82.9%; 2.0 from noise scaled by 0.85 3.40 / 84.9% (real digits at 500: FD 1.41, 93.5%). A higher
weight or a colder start buys legibility with FD and stops short of 85%; 1.5 keeps the lowest FD.
The guide's moment, on two of those models (EMA snapshots from 10% to 60% of the run as the guide,
w 1.5 / 2.5, two sampling seeds; an exploration script that was not kept, figures in issue 8's
notes): 10% FD 5.20 / 18.0, 15% 4.30 / 4.78, 25% 2.76 / 3.34, 40% 3.01 / 3.21, 60% 4.20 / 3.74; the
trainer's 25% stays (``TrainConfig.guide_at``)."""

MAX_GUIDANCE = 10.0

Bands = tuple[tuple[float, float, float], ...]

GUIDE_BANDS: Bands = ((0.15, 0.9, 1.0),)
"""Where the guide steers and how hard: (low, high, factor) bands of noise level (timestep / 1000:
flow sigma, or the DDPM step's fraction), bounds inclusive, the first band holding a level wins, the
weight times the band's factor. The default is one band: the full weight between 0.15 and 0.9;
outside it the network runs alone and the guide is not evaluated. Guidance in a limited interval
(Kynkäänniemi et al. 2024, for classifier-free guidance) keeps the extrapolation off the last,
nearly clean steps, where it only sharpens noise into artefacts, and off the very first. On the
first Muon headline model (``benchmarks/results/quality_guidance_intervals.json``, UniPC 8, whose
levels are 1, 0.875, ..., 0.125; 500 samples; the runs below 0.5 and from 0.3 are in
``quality_guidance_intervals_first.json``), best weight of each: every step FD 2.24 / 75%
confident (w 0.75); 0.15-0.9 1.88 / 80% (w 1.5); 0.2-0.8 1.86 / 76% (1.5); 0.2-1 1.98 / 78% (1.0);
0.3-1 2.68 / 78% (1.0); only below 0.5 4.69 / 66% (1.0). Guiding the noisiest steps makes digits
legible (0.2-1 at w 2.5: 85% confident) at a cost in FD (4.03); guiding the cleanest ones only adds
artefacts.

Two bands, the full weight from 0.5 to 0.9 and 0.4 of it from 0.15 to 0.5, did not earn the default
(``bench_quality.py guidance --bands``, ``quality_guidance_bands_*.json``): on the current headline
model it legibly beat one band at equal FD (w 2.5: FD 2.33 / 83% confident against one band's 2.78
/ 83%), but on a model trained for 5 minutes on one thread it was worse at every weight (w 2.5:
10.06 / 74% against 7.45 / 74%). Measured on flow models only."""
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
