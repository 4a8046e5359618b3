from __future__ import annotations

import numpy as np
import pytest
import torch

from core.metrics.swd import laplacian_pyramid, pyramid_resolutions, swd


def test_identical_sets_give_zero(make_blobs):
    a = make_blobs(24, size=16)
    result = swd(a, a.copy())
    assert result.resolutions == [16]
    assert result.mean == pytest.approx(0.0, abs=1e-9)


def test_independent_draws_of_one_distribution_are_closer_than_a_different_distribution(make_blobs):
    a = make_blobs(32, size=32, seed=0)
    same = make_blobs(32, size=32, seed=1)
    rng = np.random.default_rng(0)
    noisy = np.clip(same.astype(int) + rng.normal(0, 40, same.shape), 0, 255).astype(np.uint8)
    near, far = swd(a, same, patches_per_image=32), swd(a, noisy, patches_per_image=32)
    assert near.resolutions == [32, 16]
    assert far.mean > 3 * near.mean
    assert all(f > n for f, n in zip(far.per_level, near.per_level, strict=True))


def test_coarse_level_sees_layout_fine_level_sees_detail(make_blobs):
    small = make_blobs(32, size=32, seed=0, radius=(2, 3))
    big = make_blobs(32, size=32, seed=1, radius=(7, 8))
    result = swd(small, big, patches_per_image=32)
    same = swd(small, make_blobs(32, size=32, seed=1, radius=(2, 3)), patches_per_image=32)
    assert result.per_level[1] > 2 * same.per_level[1]


def test_sets_of_different_sizes_and_rgb_work(make_blobs):
    a = make_blobs(10, size=16, channels=3)
    b = make_blobs(25, size=16, channels=3, seed=3)
    assert swd(a, b).mean > 0


def test_brightness_shift_needs_reference_normalisation(make_blobs):
    a = make_blobs(24, size=16)
    brighter = np.clip(a.astype(int) + 60, 0, 255).astype(np.uint8)
    each = swd(a, brighter, normalize="each").mean
    ref = swd(a, brighter, normalize="reference").mean
    assert ref > 5 * max(each, 1e-3)


def test_mismatched_sizes_are_refused(make_blobs):
    with pytest.raises(ValueError, match="differ"):
        swd(make_blobs(4, size=16), make_blobs(4, size=32))


def test_laplacian_pyramid_reconstructs_the_image():
    from core.metrics.swd import _pyr_up

    x = torch.rand(2, 1, 32, 32)
    levels = laplacian_pyramid(x, 3)
    assert [lv.shape[-1] for lv in levels] == [32, 16, 8]
    rec = levels[-1]
    for lv in reversed(levels[:-1]):
        rec = lv + _pyr_up(rec, lv.shape[-2:])
    assert torch.allclose(rec, x, atol=1e-5)


def test_levels_follow_progan_down_to_16px():
    assert pyramid_resolutions(128) == [128, 64, 32, 16]
    assert pyramid_resolutions(8, 8) == [8]
