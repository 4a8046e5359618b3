"""What a training budget will buy, in plain words, before Start; and the "Auto" resolution.

From a measured training speed (images/s at the size it was measured), the batch size and the
budget, the expected optimizer steps and what a person can expect from that many steps. The speed at
another size is the measurement at that size when there is one; otherwise it is scaled by the pixel
count ratio from the nearest measured size (the rule: time per image is proportional to its pixels,
so 64 px costs 4x 32 px). Torch-free, so the window uses it too.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from core.catalogue.training import CLEAN_STEPS, RECOGNISABLE_STEPS, TOO_FEW_STEPS

QUALITY = (
    (TOO_FEW_STEPS, "too few steps to learn anything"),
    (RECOGNISABLE_STEPS, "rough colours and blobs"),
    (CLEAN_STEPS, "recognisable shapes"),
    (math.inf, "clean results"),
)
SMALLEST_AUTO = 32  # Auto never goes below this, unless the dataset itself is smaller


def quality(steps: float) -> str:
    """The plain words for what ``steps`` optimizer steps give (the :data:`QUALITY` table)."""
    return next(words for below, words in QUALITY if steps < below)


def speed_at(resolution: int, measured: Mapping[int, float]) -> float:
    """Images/s at ``resolution``: measured there, or scaled by pixel count from the nearest measured
    size (0.0 when nothing is measured)."""
    known = {int(r): float(v) for r, v in measured.items() if v and v > 0}
    if not known:
        return 0.0
    if resolution in known:
        return known[resolution]
    nearest = min(known, key=lambda r: (abs(math.log(r / resolution)), -r))
    return known[nearest] * (nearest / resolution) ** 2


def steps_in(minutes: float, img_per_s: float, batch_size: int) -> int:
    return int(minutes * 60 * img_per_s / max(batch_size, 1))


def minutes_for(steps: float, img_per_s: float, batch_size: int) -> float:
    return steps * max(batch_size, 1) / img_per_s / 60 if img_per_s > 0 else math.inf


def eligible(candidates: Iterable[int], dataset_resolution: int | None) -> list[int]:
    """The candidate sizes Auto may pick, smallest first: at most the dataset's prepared size, and
    not below :data:`SMALLEST_AUTO` unless the dataset is smaller (then its own size)."""
    sizes = sorted({int(c) for c in candidates})
    if dataset_resolution:
        floor = min(SMALLEST_AUTO, dataset_resolution)
        sizes = [c for c in sizes if floor <= c <= dataset_resolution] or [int(dataset_resolution)]
    else:
        sizes = [c for c in sizes if c >= SMALLEST_AUTO] or sizes
    return sizes


def auto_resolution(
    measured: Mapping[int, float],
    batch_size: int,
    minutes: float | None,
    candidates: Iterable[int],
    dataset_resolution: int | None,
) -> int:
    """The largest eligible size at which ``minutes`` reach :data:`RECOGNISABLE_STEPS`, else the
    smallest eligible one. With a step budget (``minutes`` None) the steps do not depend on the
    size, so the largest eligible size; with no speed measured, the dataset's own size."""
    sizes = eligible(candidates, dataset_resolution)
    if not any(v and v > 0 for v in measured.values()):
        return int(dataset_resolution) if dataset_resolution else sizes[-1]
    if minutes is None:
        return sizes[-1]
    good = [r for r in sizes if steps_in(minutes, speed_at(r, measured), batch_size) >= RECOGNISABLE_STEPS]
    return good[-1] if good else sizes[0]


def _round_minutes(minutes: float) -> float:
    """Up to a figure a person would say: whole minutes below 10, fives below an hour, then tens."""
    step = 1 if minutes < 10 else 5 if minutes < 60 else 10
    return max(step, math.ceil(minutes / step) * step)


def say_minutes(minutes: float) -> str:
    m = int(_round_minutes(minutes))
    if m < 60:
        return f"{m} min"
    h, rest = divmod(m, 60)
    return f"{h} h" + (f" {rest} min" if rest else "")


@dataclass(frozen=True)
class Forecast:
    resolution: int
    steps: int
    minutes: float  # the time the steps take (the budget itself for a time budget)
    words: str  # from QUALITY
    too_few: bool  # fewer than TOO_FEW_STEPS: the window shows it as a warning
    text: str  # the one line the Train area shows


def forecast(
    measured: Mapping[int, float],
    batch_size: int,
    resolution: int,
    candidates: Iterable[int],
    *,
    minutes: float | None = None,
    steps: int | None = None,
    dataset_resolution: int | None = None,
) -> Forecast | None:
    """The expectation for a budget of ``minutes`` (or of ``steps``) at ``resolution``, with the
    next larger eligible size's time for the same steps, or, when the budget is too short, the time
    and the smaller size that would reach :data:`TOO_FEW_STEPS`. None when no speed is measured."""
    ips = speed_at(resolution, measured)
    if ips <= 0:
        return None
    sizes = eligible(candidates, dataset_resolution)
    if minutes is not None:
        n, took = steps_in(minutes, ips, batch_size), float(minutes)
        head = f"About {n:,} steps in {minutes:g} min at {resolution} px: {quality(n)}"
    else:
        n = int(steps or 0)
        took = minutes_for(n, ips, batch_size)
        head = f"{n:,} steps at {resolution} px, about {say_minutes(took)}: {quality(n)}"
    if n < TOO_FEW_STEPS:
        if minutes is not None:
            fixes = [f"give it about {say_minutes(minutes_for(TOO_FEW_STEPS, ips, batch_size))}"]
            smaller = [
                r
                for r in sizes
                if r < resolution and steps_in(minutes, speed_at(r, measured), batch_size) >= TOO_FEW_STEPS
            ]
            if smaller:
                fixes.append(f"train at {smaller[-1]} px")
            fix = ", or ".join(fixes)
        else:
            fix = f"give it at least {TOO_FEW_STEPS:,} steps"
        return Forecast(resolution, n, took, quality(n), True, f"{head} — {fix}.")
    larger = [r for r in sizes if r > resolution]
    tail = ""
    if larger:
        need = minutes_for(n, speed_at(larger[0], measured), batch_size)
        tail = f" {larger[0]} px would need about {say_minutes(need)}."
    return Forecast(resolution, n, took, quality(n), False, f"{head}.{tail}")


class ExpectedSteps:
    """The step count a run on a time budget is expected to end at, as a range that only narrows.

    Each update takes the trainer's latest expectation (the steps so far plus what the time left
    allows at the last measured step cost) and widens it by :attr:`SPREAD` either way; that is
    intersected with the last range, so the range never widens and the window's "about A–B in all"
    does not jump about, as long as the intersection still holds the latest expectation. When it does
    not (another program took the processor, or gave it back) the new range replaces the old: the
    range always holds the latest expectation, and its low end is never below the steps made.
    """

    SPREAD = 0.15

    def __init__(self) -> None:
        self.low: int | None = None
        self.high: int | None = None

    def update(self, step: int, expected_total: int) -> tuple[int, int]:
        more = max(0, int(expected_total) - int(step))
        low, high = step + int(more * (1 - self.SPREAD)), step + math.ceil(more * (1 + self.SPREAD))
        if self.low is not None and self.high is not None:
            both = max(low, self.low), min(high, self.high)
            if both[0] <= expected_total <= both[1]:
                low, high = both
        self.low, self.high = max(low, step), max(high, step)
        return self.low, self.high
