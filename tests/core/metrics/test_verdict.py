from __future__ import annotations

import pytest

from core.metrics.verdict import MESSAGES, noise_fraction, verdict


def test_a_model_that_denoises_and_does_not_copy_is_learning():
    v = verdict(loss_ratio=0.3, memorized_share=0.0, heldout_history=[0.5, 0.4, 0.38], noise_frac=0.1)
    assert v.label == "learning" and v.message == "learning"
    assert "0.30" in v.reason and "0% memorised" in v.reason


def test_no_better_than_predicting_zeros_is_not_learning():
    v = verdict(loss_ratio=0.97, memorized_share=0.0)
    assert v.label == "not_learning"
    assert v.message == "not learning — check the learning rate"


def test_a_diverged_loss_is_not_learning():
    assert verdict(loss_ratio=float("nan")).label == "not_learning"
    assert verdict(loss_ratio=float("inf")).label == "not_learning"


def test_many_memorised_samples_is_copying():
    v = verdict(loss_ratio=0.2, memorized_share=0.25)
    assert v.label == "copying"
    assert v.message == "copying your pictures — add data or stop earlier"
    assert "25%" in v.reason


def test_a_few_memorised_samples_is_still_learning():
    assert verdict(loss_ratio=0.2, memorized_share=0.04).label == "learning"


def test_a_rising_heldout_loss_is_copying():
    assert verdict(loss_ratio=0.3, heldout_history=[0.50, 0.30, 0.36]).label == "copying"
    assert verdict(loss_ratio=0.3, heldout_history=[0.50, 0.30, 0.32]).label == "learning"


def test_samples_as_far_as_noise_are_not_learning_even_with_a_good_loss():
    frac = noise_fraction(fd_samples=80.0, fd_real=10.0, fd_noise=110.0)
    assert frac == pytest.approx(0.7)
    assert verdict(loss_ratio=0.3, memorized_share=0.0, noise_frac=frac).label == "not_learning"
    # degraded real digits sit at 0.02-0.05, a model trained only 20 steps at 0.17 (bench_quality verdict)
    assert verdict(loss_ratio=0.3, memorized_share=0.0, noise_frac=0.05).label == "learning"
    assert verdict(loss_ratio=0.3, memorized_share=0.0, noise_frac=0.17).label == "not_learning"


def test_rule_order_not_learning_loss_beats_copying():
    assert verdict(loss_ratio=0.95, memorized_share=0.5).label == "not_learning"


def test_every_label_has_the_issues_wording():
    assert set(MESSAGES) == {"learning", "copying", "not_learning", "too_little"}
