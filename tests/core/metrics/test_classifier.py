from __future__ import annotations

import numpy as np
import pytest

from core.metrics.classifier import ClassifierFeatures, class_scores, predict_proba, train_classifier


def test_class_scores_confidence_and_entropy():
    probs = np.array([[0.95, 0.05], [0.1, 0.9], [0.5, 0.5], [0.02, 0.98]])
    s = class_scores(probs)
    assert s.confident_share == pytest.approx(0.5)  # 0.95 and 0.98 exceed 0.9; 0.9 does not
    assert s.histogram == [2, 2]
    assert s.class_entropy == pytest.approx(1.0)
    collapsed = class_scores(np.array([[0.99, 0.01]] * 4))
    assert collapsed.class_entropy == pytest.approx(0.0)


def test_small_classifier_learns_two_separable_classes_and_gives_features(make_blobs):
    small = make_blobs(8, size=16, seed=0, radius=(1.5, 2.0))
    big = make_blobs(8, size=16, seed=1, radius=(5.0, 6.0))
    x = np.concatenate([small, big])
    y = np.array([0] * 8 + [1] * 8)
    model = train_classifier(x, y, classes=2, epochs=12, batch=8, lr=5e-3, width=8)
    probs = predict_proba(model, np.concatenate([make_blobs(8, 16, seed=5, radius=(1.5, 2.0)),
                                                 make_blobs(8, 16, seed=6, radius=(5.0, 6.0))]))  # fmt: skip
    assert (probs.argmax(1) == np.array([0] * 8 + [1] * 8)).mean() >= 0.9
    feats = ClassifierFeatures(model)(x[:5])
    assert feats.shape == (5, 128)
