from __future__ import annotations

import numpy as np

from core.metrics.features import FeatureExtractor, RandomConvFeatures
from core.metrics.frechet import frechet_distance


def test_random_conv_features_are_deterministic_across_instances(make_blobs):
    images = make_blobs(5, size=16)
    a, b = RandomConvFeatures(seed=0, size=32), RandomConvFeatures(seed=0, size=32)
    fa = a(images)
    assert fa.shape == (5, 480) and np.isfinite(fa).all()
    np.testing.assert_array_equal(fa, b(images))
    assert not np.allclose(fa, RandomConvFeatures(seed=1, size=32)(images))
    assert isinstance(a, FeatureExtractor)


def test_grey_and_rgb_of_the_same_picture_give_the_same_features(make_blobs):
    grey = make_blobs(3, size=16)
    rgb = np.repeat(grey, 3, axis=-1)
    f = RandomConvFeatures(size=16)
    np.testing.assert_allclose(f(grey), f(rgb), rtol=1e-5, atol=1e-5)


def test_fd_on_random_conv_features_separates_structure_from_noise(make_blobs):
    f = RandomConvFeatures(size=32)
    a = f(make_blobs(40, size=32, seed=0))
    b = f(make_blobs(40, size=32, seed=1))
    noise = f(np.random.default_rng(0).integers(0, 256, (40, 32, 32, 1), dtype=np.uint8))
    assert frechet_distance(a, noise) > 5 * frechet_distance(a, b)
