from __future__ import annotations

import numpy as np

from core.metrics.folders import as_frames, match_images


def test_match_images_converts_channels_and_size():
    rng = np.random.default_rng(0)
    grey = rng.integers(0, 256, (2, 8, 8, 1), dtype=np.uint8)
    rgb = match_images(grey, 8, 3)
    assert rgb.shape == (2, 8, 8, 3) and (rgb == grey).all()
    back = match_images(rgb, 8, 1)
    np.testing.assert_array_equal(back, grey)  # luminance of an all-grey picture is the grey
    flat = np.full((1, 16, 16, 3), 77, np.uint8)
    small = match_images(flat, 8, 3)
    assert small.shape == (1, 8, 8, 3) and (small == 77).all()


def test_clips_keep_their_frames():
    clips = np.zeros((2, 3, 8, 8, 1), np.uint8)
    assert match_images(clips, 4, 1).shape == (2, 3, 4, 4, 1)
    assert as_frames(clips).shape == (6, 8, 8, 1)
