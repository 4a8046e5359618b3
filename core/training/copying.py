"""The early warning that samples start copying training pictures: the memorised share during training.

Every ``TrainConfig.memorization_every`` steps the trainer draws ``CHECK_SAMPLES`` samples from the
EMA weights with the fixed seeds ``CHECK_SEEDS`` (the previews' sampler and step count, no guidance)
and counts those that Gu et al. 2023's ratio test calls copies of a training picture
(:mod:`core.metrics.memorization`). The Health area shows the latest figure and warns above
``core.metrics.verdict.COPYING_SHARE``, the share at which a check after the run says "copying".
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from core.data.prepared import PreparedDataset

# One check at 32 px, pixel-small, 2,000 RGB pictures, on a busy 2-core CPU: 0.6-5.6 s, 1.3-3.4
# training steps of batch 64, so every 250 steps 0.5-1.4% of the training time (docs/decisions.md).
CHECK_EVERY = 250  # the held-out loss's interval too: both figures land on the same steps
CHECK_SAMPLES = 32  # as many as the Health check draws: one copy is 3%, two pass the 5% warning
CHECK_SEEDS = tuple(range(1_000, 1_000 + CHECK_SAMPLES))  # fixed: the figure is comparable over the run

Draw = Callable[[Sequence[int]], np.ndarray]


def memorized_share(draw: Draw, data: PreparedDataset, resolution: int) -> dict[str, float]:
    """``draw(CHECK_SEEDS)`` (uint8 (N, H, W, C) samples) against the training rows of ``data``:
    ``memorized_share``, ``memorized_count`` and ``memorized_checked`` (N). The rows are read in
    chunks and brought to ``resolution`` when the run trains at another size. Empty, and nothing
    drawn, for clips (a clip check would cost more than it tells early) or under 2 training rows."""
    from core.metrics.memorization import RowView, nearest_training

    if data.kind != "image" or len(data.train_indices) < 2:
        return {}
    transform = None
    if data.resolution != resolution:
        from core.metrics.folders import match_images

        def transform(rows: np.ndarray) -> np.ndarray:
            return match_images(rows, resolution, data.channels)

    samples = draw(CHECK_SEEDS)
    result = nearest_training(samples, RowView(data.array, data.train_indices, transform))
    return {
        "memorized_share": result.share,
        "memorized_count": int(result.memorized.sum()),
        "memorized_checked": len(samples),
    }
