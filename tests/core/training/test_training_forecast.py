"""The forecast before Start: steps, plain words, the fix for a too-short budget, and Auto's pick."""

from __future__ import annotations

import pytest

from core.training import forecast as F

SIZES = (16, 24, 32, 48, 64, 96, 128, 256)


def test_quality_words_follow_the_step_table() -> None:
    assert F.quality(F.TOO_FEW_STEPS - 1) == "too few steps to learn anything"
    assert F.quality(F.TOO_FEW_STEPS) == "rough colours and blobs"
    assert F.quality(F.RECOGNISABLE_STEPS) == "recognisable shapes"
    assert F.quality(F.CLEAN_STEPS) == "clean results"


def test_speed_elsewhere_is_scaled_by_pixel_count_unless_measured_there() -> None:
    assert F.speed_at(32, {64: 10.0}) == pytest.approx(40.0)
    assert F.speed_at(128, {64: 10.0}) == pytest.approx(2.5)
    assert F.speed_at(32, {64: 10.0, 32: 30.0}) == 30.0  # a measurement at the size wins


def test_auto_picks_a_smaller_size_on_a_slow_speed_and_a_larger_one_on_a_fast_one() -> None:
    # 10 minutes, batch 64, a 64 px dataset; images/s measured at 64 px
    slow = F.auto_resolution({64: 30.0}, 64, 10, SIZES, 64)  # 64 px: 281 steps, 32 px: 1,125
    fast = F.auto_resolution({64: 200.0}, 64, 10, SIZES, 64)  # 64 px: 1,875 steps
    assert (slow, fast) == (32, 64)
    # too slow for any size: the smallest Auto allows, never below 32 for a larger dataset
    assert F.auto_resolution({64: 1.0}, 64, 10, SIZES, 64) == 32
    # never above the dataset's size, and a dataset under 32 px keeps its own size
    assert F.auto_resolution({64: 1e6}, 64, 10, SIZES, 48) == 48
    assert F.auto_resolution({16: 1.0}, 64, 10, SIZES, 16) == 16


def test_a_too_short_budget_names_the_problem_and_the_fix() -> None:
    # 70 steps in 5 minutes at 64 px (the busy-machine run of issue 23)
    ips = 70 * 64 / (5 * 60)
    fc = F.forecast({64: ips}, 64, 64, SIZES, minutes=5, dataset_resolution=64)
    assert fc is not None and fc.too_few and fc.steps == 70
    assert (
        fc.text == "About 70 steps in 5 min at 64 px: too few steps to learn anything — give it about 25 min."
    )
    # fast enough at a smaller size: that is offered too
    fc = F.forecast({64: ips * 1.5}, 64, 64, SIZES, minutes=5, dataset_resolution=64)
    assert fc.too_few
    assert fc.text == (
        "About 105 steps in 5 min at 64 px: too few steps to learn anything — "
        "give it about 15 min, or train at 32 px."
    )


def test_a_good_budget_says_what_to_expect_and_what_the_next_size_would_need() -> None:
    ips = 1500 * 64 / 600  # 1,500 steps in 10 min at 32 px
    fc = F.forecast({32: ips}, 64, 32, SIZES, minutes=10, dataset_resolution=64)
    assert not fc.too_few
    assert (
        fc.text == "About 1,500 steps in 10 min at 32 px: recognisable shapes. 48 px would need about 25 min."
    )
    # a step budget: the time it takes
    fc = F.forecast({32: ips}, 64, 32, SIZES, steps=200, dataset_resolution=32)
    assert fc.too_few and fc.text == (
        "200 steps at 32 px, about 2 min: too few steps to learn anything — give it at least 300 steps."
    )
    assert F.forecast({}, 64, 32, SIZES, minutes=10) is None


def test_the_expected_end_of_a_time_budget_run_only_narrows_until_the_speed_leaves_it():
    from core.training.forecast import ExpectedSteps

    e = ExpectedSteps()
    assert e.update(100, 1100) == (950, 1250)  # 1,000 more steps, 15% either way
    low, high = e.update(200, 1080)  # a little slower: the new range is cut to the old one
    assert 950 <= low and high <= 1250 and low < high
    ranges = [e.update(s, s + (1000 - s)) for s in range(300, 1000, 100)]  # on course to 1,000
    for (a, b), (c, d) in zip([(low, high), *ranges], ranges, strict=False):
        assert c >= a and d <= b  # never wider than the last
    assert ranges[-1][0] <= 1000 <= ranges[-1][1]
    # another program takes the processor: 2,000 steps a minute become 200; the range moves down
    slow = e.update(920, 940)
    assert slow[1] < ranges[-1][0] and slow[0] >= 920
    assert e.update(930, 930) == (930, 930)  # the end: the range closes on the steps made
