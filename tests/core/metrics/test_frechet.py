from __future__ import annotations

import numpy as np
import pytest

from core.metrics.frechet import frechet_distance, kid


def test_fd_of_identical_sets_is_zero():
    x = np.random.default_rng(0).normal(size=(200, 8))
    assert frechet_distance(x, x.copy()) == pytest.approx(0.0, abs=1e-8)


def test_fd_matches_closed_form_for_a_mean_shift_and_a_scale():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(4000, 4))
    # same covariance, mean moved by (1, 1, 1, 1): FD = |shift|^2 = 4 exactly
    assert frechet_distance(x, x + 1.0) == pytest.approx(4.0, rel=1e-9)
    # 1-D Gaussians: FD = (mu1 - mu2)^2 + (s1 - s2)^2 with the sample statistics
    a, b = rng.normal(0, 1, (5000, 1)), rng.normal(0, 2, (5000, 1))
    want = (a.mean() - b.mean()) ** 2 + (a.std(ddof=1) - b.std(ddof=1)) ** 2
    assert frechet_distance(a, b) == pytest.approx(want, rel=1e-6)


def test_fd_works_with_fewer_samples_than_dimensions():
    rng = np.random.default_rng(1)
    a, same, shifted = rng.normal(size=(20, 64)), rng.normal(size=(20, 64)), rng.normal(size=(20, 64)) + 1.0
    near, far = frechet_distance(a, same), frechet_distance(a, shifted)
    assert np.isfinite(near) and np.isfinite(far)
    assert far > near + 32  # the mean term alone adds about 64 * 1.0^2


def test_kid_is_near_zero_for_one_distribution_and_grows_with_a_shift():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(300, 16)), rng.normal(size=(300, 16))
    same = kid(a, b, subsets=20, subset_size=100)
    shifted = kid(a, b + 0.5, subsets=20, subset_size=100)
    assert abs(same.mean) < 0.02
    assert shifted.mean > 10 * abs(same.mean) and shifted.mean > 0.05
    assert same.subset_size == 100


def test_kid_subset_size_shrinks_to_the_smaller_set():
    rng = np.random.default_rng(0)
    assert kid(rng.normal(size=(30, 4)), rng.normal(size=(50, 4)), subsets=3).subset_size == 30


def test_feature_size_mismatch_is_refused():
    with pytest.raises(ValueError, match="differ"):
        frechet_distance(np.zeros((4, 3)), np.zeros((4, 2)))


def test_both_ways_of_computing_the_covariance_term_agree():
    from core.metrics.frechet import _trace_sqrt_product

    rng = np.random.default_rng(2)
    for n_a, n_b, d in ((30, 40, 8), (12, 9, 50)):
        a, b = rng.normal(size=(n_a, d)), rng.normal(size=(n_b, d)) * 2
        assert _trace_sqrt_product(a, b, "gram") == pytest.approx(_trace_sqrt_product(a, b, "cov"), rel=1e-6)
