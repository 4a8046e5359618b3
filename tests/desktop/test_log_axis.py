"""The loss plot's log-scale axis labels decades and a few round values, never a crowd."""

from __future__ import annotations

import math

import pytest

from desktop.ui.log_axis import MIN_LABEL_PX, log_ticks, tick_label

L = math.log10


def labels(lo: float, hi: float, px: float) -> list[str]:
    return [tick_label(v) for v in log_ticks(L(lo), L(hi), px)[0]]


def test_a_loss_curve_over_one_and_a_half_decades_reads_1_05_02_01_005():
    assert labels(0.035, 1.05, 230) == ["0.05", "0.1", "0.2", "0.5", "1"]
    labelled, minor = log_ticks(L(0.035), L(1.05), 230)
    assert len(minor) > 5 and not set(labelled) & set(minor)  # the other 1..9 multiples: grid only


@pytest.mark.parametrize(
    ("lo", "hi", "px"),
    [(1e-4, 1.2, 230), (1e-8, 10, 230), (1e-30, 1e5, 230), (0.035, 1.05, 90)],
)
def test_over_several_decades_only_decades_are_labelled_and_never_crowded(lo, hi, px):
    labelled, _ = log_ticks(L(lo), L(hi), px)
    assert len(labelled) >= 2
    assert all(abs(v - round(v)) < 1e-9 for v in labelled)
    assert (
        min(b - a for a, b in zip(labelled, labelled[1:], strict=False)) * px / (L(hi) - L(lo))
        >= MIN_LABEL_PX
    )


@pytest.mark.parametrize(
    ("lo", "hi", "want"),
    [
        (0.04, 0.06, ["0.04", "0.045", "0.05", "0.055", "0.06"]),
        (0.3, 0.6, ["0.3", "0.4", "0.5", "0.6"]),
        (0.0501, 0.0509, ["0.0502", "0.0504", "0.0506", "0.0508"]),
    ],
)
def test_under_a_decade_round_values_between_are_labelled(lo, hi, want):
    assert labels(lo, hi, 200) == want


def test_degenerate_ranges_have_no_ticks():
    assert log_ticks(0.0, 0.0, 200) == ([], [])
    assert log_ticks(float("nan"), 1.0, 200) == ([], [])


def test_the_train_areas_loss_axis_uses_them(window):
    window.show_area("Train")
    axis = window.train_area.loss.plot.getAxis("left")
    assert axis.logMode
    levels = axis.tickValues(L(0.035), L(1.05), 230)
    assert [tick_label(v) for v in levels[0][1]] == ["0.05", "0.1", "0.2", "0.5", "1"]
    assert axis.tickStrings(levels[0][1], 1.0, levels[0][0]) == ["0.05", "0.1", "0.2", "0.5", "1"]
    assert set(axis.tickStrings(levels[1][1], 1.0, levels[1][0])) == {""}
