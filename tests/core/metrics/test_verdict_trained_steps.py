"""A model that stopped after too few steps is "trained too little", not "not learning"."""

from __future__ import annotations

from core.catalogue.training import TOO_FEW_STEPS
from core.metrics.evaluate import _trained_steps
from core.metrics.verdict import verdict


def test_few_steps_and_a_bad_loss_ratio_read_trained_too_little() -> None:
    v = verdict(loss_ratio=0.97, trained_steps=70)
    assert v.label == "too_little"
    assert v.message == "trained too little — extend the training"
    assert "70 training steps" in v.reason and "0.97" in v.reason
    # samples as far from real pictures as noise: the same
    assert verdict(noise_frac=0.6, trained_steps=TOO_FEW_STEPS - 1).label == "too_little"


def test_many_steps_and_a_bad_loss_ratio_read_not_learning() -> None:
    v = verdict(loss_ratio=0.97, trained_steps=5_000)
    assert v.label == "not_learning" and v.message == "not learning — check the learning rate"
    assert verdict(loss_ratio=0.97, trained_steps=TOO_FEW_STEPS).label == "not_learning"
    assert verdict(loss_ratio=0.97).label == "not_learning"  # steps unknown: no guess


def test_few_steps_do_not_change_a_learning_or_copying_verdict() -> None:
    assert verdict(loss_ratio=0.3, trained_steps=70).label == "learning"
    assert verdict(loss_ratio=0.3, memorized_share=0.5, trained_steps=70).label == "copying"


def test_the_steps_come_from_the_model_folder_info() -> None:
    assert _trained_steps({"trained_steps": 70}) == 70
    assert _trained_steps({"trained_steps": 0}) is None  # folders from elsewhere record 0
    assert _trained_steps({}) is None
