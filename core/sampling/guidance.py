"""Autoguidance: guide a model with a worse version of itself (Karras et al. 2024).

``D_w(x) = D(x) + w * (D(x) - D_guide(x))``: the difference between the trained network and a less
trained copy of it (the trainer keeps the EMA weights from ``TrainConfig.guide_at`` of the run, see
:mod:`core.training.trainer`) points away from the errors both make, and extrapolating along it
sharpens the samples without a condition and without narrowing them to one mode the way
classifier-free guidance does. Every model output the samplers use (eps, v, x0 or flow velocity) is
linear in the denoised estimate, so guiding the raw output is the same as guiding the estimate.

Written here because diffusers has no autoguidance for unconditional models: it is the formula
above, applied per network call. A guided step costs two network evaluations.

Measured in ``benchmarks/bench_quality.py guidance`` (issue 8; 10 minutes of training on a 2-core
CPU, 500 samples, UniPC 8): see :data:`DEFAULT_GUIDANCE`. Guides trained separately for
a tenth of the run's steps were too weak (FD no better than unguided at w = 0.5, worse above), for
half of them too close to the final model (a milder gain that needed w = 1.5); a quarter sat between.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

DEFAULT_GUIDANCE = 0.75
"""The weight ``w`` used when a model has a guide and the caller does not choose one, chosen before
the headline run on an earlier digit model guided by a separate 2.5-minute run: there w = 0.75 gave
the lowest FD (7.2 against 11.4 unguided, same seeds), 69% of samples confidently recognised
against 56%. On the current headline model (pixel-small, 10 minutes, 2,426 steps;
``benchmarks/results/quality_guidance.json``, 500 samples, UniPC 8): unguided FD 7.7 / 58%
confident, w = 0.5 4.4 / 71%, **0.75 4.1 / 74%**, 1.0 3.8 / 73%, 1.5 4.2 / 79%, 2.0 4.9 / 81%; no
sample memorised at any weight. On the previous headline model (pixel-cpu, 1,754 steps; that file
at commit 6b2962a): unguided 11.6 / 58%, 0.75 7.2 / 67%, 1.0 6.8 / 67%. Higher weights trade
variety for legibility."""

MAX_GUIDANCE = 10.0


@dataclass
class _Output:
    sample: torch.Tensor


class GuidedNetwork(nn.Module):
    """``network(x, t).sample`` extrapolated away from ``guide(x, t).sample`` by ``weight``."""

    def __init__(self, network: nn.Module, guide: nn.Module, weight: float) -> None:
        super().__init__()
        self.network, self.guide, self.weight = network, guide, float(weight)

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> _Output:
        out = self.network(x, t).sample
        bad = self.guide(x, t).sample
        return _Output(out + self.weight * (out - bad.to(out.dtype)))


def guided(network: nn.Module, guide: nn.Module | None, weight: float) -> nn.Module:
    """``network`` itself when there is nothing to guide with (no guide, or weight 0)."""
    if guide is None or weight == 0:
        return network
    return GuidedNetwork(network, guide, weight)
