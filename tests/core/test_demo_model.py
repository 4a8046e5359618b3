"""The shipped demo model loads without Noisebloom's help and samples pictures, not noise."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from core.sampling.config import SampleConfig
from core.sampling.sample import sample

DEMO = Path(__file__).resolve().parents[2] / "resources" / "demo" / "model"


def test_the_demo_model_samples_blossom_like_pictures():
    out = sample(DEMO, SampleConfig(num=4, steps=8, seed=0, device="cpu", trajectory=False)).images
    assert out.shape == (4, 32, 32, 3)
    # The training pictures are coloured petals on a green-tinted background with a yellow centre:
    # samples are far from uniform noise (strong spatial structure) and their centre is bright.
    noise_tv = 85.0  # mean |neighbour difference| of uniform noise in 0..255 is about 85
    tv = np.abs(np.diff(out.astype(float), axis=2)).mean()
    assert tv < noise_tv / 3
    centre, border = out[:, 12:20, 12:20].mean(), out[:, :4].mean()
    assert centre > border + 20
