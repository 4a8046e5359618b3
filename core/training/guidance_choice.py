"""The autoguidance weight a trained model samples with by default, chosen on its own pictures.

Autoguidance at 1.5 makes digits legible but colour pictures worse: on the emoji benchmark the
judge's FD is 247 at weight 0 and 592 at 1.5, on the digits 2.54 at 1.0 and 2.71 at 1.5, 6.37 at 0
(``benchmarks/results/colour_guidance_emoji_32px_2000_heldout.json``,
``colour_guidance_digits_32px.json``). The app has no judge, but the Fréchet distance of samples to
the folder's own pictures in random-convolution features (:mod:`core.metrics.features`) ranks the
weights as both judges do. So at the end of a run that keeps a guide, the trainer samples
:data:`SAMPLES` pictures at each of :data:`WEIGHTS` with the preview sampler and keeps the weight
nearest the folder, or the default where none is at least :data:`MARGIN` nearer than it (the
distance at this sample size is noisy; the digits' best is within a few percent of the default).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from core.sampling.guidance import DEFAULT_GUIDANCE

WEIGHTS = (0.0, 0.5, 1.0, DEFAULT_GUIDANCE)
SAMPLES = 128
REFERENCE = 1000
"""At most this many of the folder's pictures (a seeded draw) are the reference."""
MARGIN = 0.2
"""Another weight replaces the default only when its distance is this much (a fifth) below the default's."""
MIN_STEPS = 100
"""A run shorter than this keeps the default: its samples are noise at every weight."""


def choose_weight(
    draw: Callable[[float, int], np.ndarray], pictures: np.ndarray
) -> tuple[float, dict[float, float]]:
    """(the weight, the distance at each weight): ``draw(weight, n)`` gives n uint8 samples at that
    guidance weight, ``pictures`` the folder's uint8 pictures (N, H, W, C)."""
    from core.metrics.features import default_extractor
    from core.metrics.frechet import frechet_distance

    pick = np.sort(np.random.default_rng(0).permutation(len(pictures))[:REFERENCE])
    features = default_extractor()
    reference = features(np.ascontiguousarray(pictures[pick]))
    distance = {w: float(frechet_distance(reference, features(draw(w, SAMPLES)))) for w in WEIGHTS}
    best = min(distance, key=distance.get)
    if distance[best] > (1 - MARGIN) * distance[DEFAULT_GUIDANCE]:
        best = DEFAULT_GUIDANCE
    return best, distance
