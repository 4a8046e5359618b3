"""benchmarks/digits.py's DigitJudge.real_fd: real-vs-real FD is finite-set bias, so it shrinks with n
(runs without the bench extra: synthetic images, an untrained but seeded classifier)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

digits = pytest.importorskip("benchmarks.digits")


def _strokes(rng: np.random.Generator, n: int) -> np.ndarray:
    """``n`` 32 px images from one distribution: a bright bar at a random place and length."""
    out = np.zeros((n, 32, 32, 1), np.uint8)
    for img in out:
        r, c, length = rng.integers(4, 28), rng.integers(2, 12), rng.integers(8, 20)
        img[r - 2 : r + 2, c : c + length] = 255
    return out


@pytest.fixture(scope="module")
def judge():
    torch.manual_seed(0)
    from core.metrics.classifier import SmallClassifier

    rng = np.random.default_rng(0)
    return digits.DigitJudge(SmallClassifier().eval(), heldout=_strokes(rng, 400), train=_strokes(rng, 800))


def test_real_fd_is_the_bias_of_the_set_size_and_shrinks_as_it_grows(judge):
    small, large = judge.real_fd(100, draws=4), judge.real_fd(400, draws=4)
    assert small["n"] == 100 and small["draws"] == 4
    assert small["fd_min"] <= small["fd_mean"] <= small["fd_max"] and small["fd_sd"] >= 0
    assert large["fd_mean"] > 0 and small["fd_mean"] > 1.5 * large["fd_mean"]
    # a set from another distribution (the same bars, inverted) is far beyond the bias
    from core.metrics.frechet import frechet_distance

    other = frechet_distance(judge._real, judge.features(255 - _strokes(np.random.default_rng(1), 400)))
    assert other > 10 * large["fd_mean"]


def test_real_fd_draws_are_seeded(judge):
    assert judge.real_fd(100, draws=2, seed=7) == judge.real_fd(100, draws=2, seed=7)
    assert judge.real_fd(100, draws=2, seed=7) != judge.real_fd(100, draws=2, seed=8)
