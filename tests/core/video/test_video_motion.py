"""Motion statistics: frame difference, blob displacement, optical flow and static flicker measure
what they claim."""

from __future__ import annotations

import numpy as np
import pytest

from core.metrics.motion import (
    blob_displacement,
    flow_fields,
    flow_magnitude,
    footage_motion,
    mean_abs_frame_difference,
    motion_stats,
)


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


def _texture(h: int, w: int, seed: int = 0) -> np.ndarray:
    """A smooth random texture (uint8), something optical flow can follow anywhere."""
    import cv2

    rng = np.random.default_rng(seed)
    t = cv2.GaussianBlur(rng.uniform(0, 255, (h, w)).astype(np.float32), (0, 0), 1.5)
    return np.round((t - t.min()) / (t.max() - t.min()) * 255).astype(np.uint8)


@pytest.mark.parametrize("res", [32, 64])
def test_the_flow_of_a_scene_panning_2_px_per_frame_is_2_px(res):
    tex = _texture(res, res + 40)
    clip = np.stack([tex[:, 2 * t : 2 * t + res] for t in range(8)])[None, ..., None]
    assert flow_magnitude(clip) == pytest.approx(2.0, abs=0.1)
    assert footage_motion(clip)["static_share"] < 0.05  # everything moves


def test_a_square_moving_2_px_per_frame_flows_2_px_where_it_is():
    clip = np.zeros((1, 8, 32, 32), np.uint8)
    for t in range(8):
        clip[0, t, 10:20, 2 + 2 * t : 12 + 2 * t] = 255
    fields = flow_fields(clip)
    assert fields.shape == (1, 7, 32, 32)
    assert float(np.median(fields[fields > 0.5])) == pytest.approx(2.0, abs=0.2)
    inside = np.stack([fields[0, k, 12:18, 5 + 2 * k : 9 + 2 * k] for k in range(7)])  # the square's middle
    assert float(np.median(inside)) == pytest.approx(2.0, abs=0.2)


def test_a_still_clip_has_no_difference_flow_or_flicker():
    clip = np.repeat(_texture(32, 32)[None], 8, axis=0)[None]
    m = footage_motion(clip)
    assert m["mafd"] == 0.0 and m["flow_px"] < 0.05 and m["flicker"] == 0.0 and m["static_share"] == 1.0


def test_a_still_scene_that_flickers_shows_flicker_where_nothing_moves():
    base = _texture(32, 32).astype(np.int16)
    frames = [np.clip(base + (12 if t % 2 else -12), 0, 255).astype(np.uint8) for t in range(8)]
    clip = np.stack(frames)[None]
    m = footage_motion(clip)
    assert m["static_share"] > 0.9  # a change of brightness is no motion
    assert m["flicker"] > 0.05  # ~24/255 where nothing moves
    still = footage_motion(np.repeat(frames[0][None], 8, axis=0)[None])
    assert m["flicker"] > 20 * max(still["flicker"], 1e-4)
