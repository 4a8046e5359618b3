"""Per-image seeds: image k of seed s is the same picture whatever the batch it is drawn in.

Each image owns a CPU ``torch.Generator`` seeded from (s, k) through numpy's ``SeedSequence``
(well-mixed, so neighbouring seeds give unrelated noise). Its initial noise and every ancestral
step's noise are drawn from that generator alone, in the same order in any batch; diffusers'
``randn_tensor`` takes such a list of generators, one per batch row. Noise is drawn on the CPU so
the same seed gives the same start on CPU, CUDA and MPS.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch


def image_seed(seed: int, index: int) -> int:
    """The 63-bit generator seed of image ``index`` under ``seed``."""
    state = np.random.SeedSequence([int(seed), int(index)]).generate_state(2, dtype=np.uint32)
    return (int(state[0]) << 31) ^ int(state[1])


def image_generators(seed: int, indices: Sequence[int]) -> list[torch.Generator]:
    return [torch.Generator("cpu").manual_seed(image_seed(seed, k)) for k in indices]


def initial_noise(
    generators: Sequence[torch.Generator], shape: Sequence[int], *, device: torch.device | str = "cpu"
) -> torch.Tensor:
    """(len(generators), *shape) float32 standard normal noise, one row per generator."""
    rows = [torch.randn((1, *shape), generator=g, dtype=torch.float32) for g in generators]
    return torch.cat(rows).to(device)
