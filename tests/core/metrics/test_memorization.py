from __future__ import annotations

import numpy as np
import pytest

from core.metrics.memorization import nearest_training, ratio_test


def test_a_copied_training_image_is_memorised_and_a_new_one_is_not(make_blobs):
    train = make_blobs(40, size=16, seed=0)
    new = make_blobs(3, size=16, seed=99)
    rng = np.random.default_rng(0)
    copy = train[[7]].copy()
    jittered = np.clip(train[[12]].astype(int) + rng.integers(-3, 4, train[[12]].shape), 0, 255).astype(
        np.uint8
    )
    samples = np.concatenate([copy, jittered, new])
    result = nearest_training(samples, train, k=3)
    assert result.memorized.tolist() == [True, True, False, False, False]
    assert result.indices[0, 0] == 7 and result.distances[0, 0] == 0.0
    assert result.indices[1, 0] == 12
    assert result.share == pytest.approx(2 / 5)
    assert result.indices.shape == (5, 3)
    assert np.all(np.diff(result.distances, axis=1) >= 0)


def test_neighbours_and_distances_match_brute_force(make_blobs):
    train = make_blobs(50, size=16, seed=1)
    samples = make_blobs(6, size=16, seed=2)
    result = nearest_training(samples, train, k=4, chunk=7)  # chunks smaller than the set
    d = np.linalg.norm(
        samples.reshape(6, -1)[:, None].astype(float) / 255 - train.reshape(50, -1)[None] / 255, axis=2
    )
    want = np.sort(d, axis=1)[:, :4]
    np.testing.assert_allclose(result.distances, want, rtol=1e-12)
    np.testing.assert_array_equal(result.indices[:, 0], d.argmin(1))


def test_an_exact_copy_counts_even_when_the_training_set_holds_it_twice(make_blobs):
    train = make_blobs(10, size=16, seed=0)
    train[3] = train[4]
    result = nearest_training(train[[4]], train)
    assert result.distances[0, 0] == 0 and result.distances[0, 1] == 0
    assert result.memorized[0]


def test_ratio_test_is_gu_et_al_one_third_rule():
    d = np.array([[1.0, 3.01], [1.0, 2.99], [0.0, 0.5]])
    assert ratio_test(d).tolist() == [True, False, True]


def test_clips_are_compared_as_whole_clips():
    rng = np.random.default_rng(0)
    clips = rng.integers(0, 256, size=(6, 3, 8, 8, 1), dtype=np.uint8)
    result = nearest_training(clips[[2]], clips)
    assert result.indices[0, 0] == 2 and result.memorized[0]


def test_needs_two_training_images(make_blobs):
    with pytest.raises(ValueError, match="at least 2"):
        nearest_training(make_blobs(1), make_blobs(1))


def test_a_row_view_of_a_memmapped_split_gives_the_same_answer(tmp_path, make_blobs):
    from core.data.prepared import PreparedDataset
    from core.metrics.memorization import RowView

    data = PreparedDataset.from_array(make_blobs(40, size=16, seed=0))
    data.save(tmp_path / "d")
    opened = PreparedDataset.open(tmp_path / "d")
    rows = opened.train_indices[::-1]  # any order
    view = RowView(opened.array, rows)
    samples = np.concatenate([data.array[[rows[5]]], make_blobs(2, size=16, seed=9)])
    got = nearest_training(samples, view, chunk=8)
    want = nearest_training(samples, np.asarray(data.array)[rows])
    np.testing.assert_array_equal(got.indices, want.indices)
    assert got.memorized.tolist() == [True, False, False] and got.indices[0, 0] == 5
