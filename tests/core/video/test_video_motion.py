"""Motion statistics: frame difference and blob displacement measure what they claim."""

from __future__ import annotations

import numpy as np
import pytest

from core.metrics.motion import blob_displacement, mean_abs_frame_difference, motion_stats


def _square_clip(step: int, frames: int = 6, res: int = 32) -> np.ndarray:
    clip = np.zeros((frames, res, res), np.uint8)
    for t in range(frames):
        clip[t, 4:10, 2 + step * t : 8 + step * t] = 255
    return clip


def test_a_still_clip_has_no_motion_and_a_moving_square_moves_its_speed():
    still = _square_clip(0)[None]
    moving = _square_clip(3)[None]
    assert mean_abs_frame_difference(still) == 0.0
    assert blob_displacement(still)["displacement_px"] == 0.0
    assert blob_displacement(moving)["displacement_px"] == pytest.approx(3.0, abs=1e-6)
    assert mean_abs_frame_difference(moving) > 0


def test_independent_frames_move_far_more_than_a_smooth_clip():
    rng = np.random.default_rng(0)
    frames = np.zeros((1, 8, 32, 32, 1), np.uint8)
    for t in range(8):  # the square jumps to a random place every frame
        y, x = rng.integers(0, 26, 2)
        frames[0, t, y : y + 6, x : x + 6] = 255
    smooth = _square_clip(1, frames=8)[None, ..., None]
    assert motion_stats(frames)["displacement_px"] > 3 * motion_stats(smooth)["displacement_px"]


def test_leftover_sampling_noise_does_not_hide_the_motion():
    """Dim noise used to add dozens of small blobs whose nearest neighbours were always close."""
    rng = np.random.default_rng(1)
    clean = np.stack([_square_clip(2, frames=8, res=64)] * 4)
    clean[:, :, 30:44, 30:44] = 255  # a second, still square: mean displacement 1 px
    noise = np.clip(rng.normal(0.25, 0.2, clean.shape), 0, 1) * 255
    noisy = np.maximum(clean, noise).astype(np.uint8)
    c, n = motion_stats(clean), motion_stats(noisy)
    assert c["blobs_per_frame"] == pytest.approx(2.0) and c["displacement_px"] == pytest.approx(1.0, abs=0.05)
    assert n["blobs_per_frame"] == pytest.approx(2.0)
    assert n["displacement_px"] == pytest.approx(1.0, abs=0.3)
