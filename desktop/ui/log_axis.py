"""A log-scale plot axis with readable labels: decades plus a few round values between them.

pyqtgraph's own log axis labels every 1..9 multiple once a decade has room for ticks, so a loss
curve's axis reads "0.09 0.08 0.07 0.06 0.05" in a stack. :func:`log_ticks` picks the labelled
values instead: the sparsest set of round mantissas (1; 1, 2, 5; 1, 2, 3, 5, 7; ... finer steps for a
range under a decade) that gives a few labels, never closer than a label's height; the other 1..9
multiples stay as unlabelled ticks for the grid. Over many decades only every k-th decade is labelled.

The pure tick choice is plain Python; :class:`LogAxis` (pyqtgraph) is built on first use.
"""

from __future__ import annotations

import math
from typing import Any

# Mantissa sets within a decade, sparsest first: each holds the one before it.
MANTISSAS: tuple[tuple[float, ...], ...] = (
    (1.0,),
    (1.0, 2.0, 5.0),
    (1.0, 2.0, 3.0, 5.0, 7.0),
    tuple(float(m) for m in range(1, 10)),
    tuple(1.0 + 0.5 * i for i in range(18)),
    tuple(1.0 + 0.2 * i for i in range(45)),
    tuple(1.0 + 0.1 * i for i in range(90)),
    tuple(1.0 + 0.05 * i for i in range(180)),
    tuple(1.0 + 0.02 * i for i in range(450)),
)
MIN_LABEL_PX = 22.0  # the least distance between two labels (a label is ~14 px high)
MIN_TICK_PX = 4.0  # unlabelled ticks closer than this are left out
ENOUGH_LABELS = 4


def _values(lo: float, hi: float, mantissas: tuple[float, ...], every: int = 1) -> list[float]:
    """log10 of m * 10**d for m in ``mantissas`` and d a multiple of ``every``, within [lo, hi]."""
    out = []
    for d in range(math.floor(lo) - 1, math.ceil(hi) + 1):
        if d % every:
            continue
        for m in mantissas:
            v = d + math.log10(m)
            if lo - 1e-9 <= v <= hi + 1e-9:
                out.append(v)
    return out


def _min_gap(values: list[float]) -> float:
    return min((b - a for a, b in zip(values, values[1:], strict=False)), default=math.inf)


def _linear(lo: float, hi: float, length_px: float) -> list[float]:
    """log10 of round values (1, 2 or 5 times a power of ten apart) between 10**lo and 10**hi."""
    a, b = 10**lo, 10**hi
    raw = (b - a) / max(1, int(length_px / (2 * MIN_LABEL_PX)))
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    first = math.ceil(a / step - 1e-9)
    return [math.log10(k * step) for k in range(first, math.floor(b / step + 1e-9) + 1) if k > 0]


def log_ticks(lo: float, hi: float, length_px: float) -> tuple[list[float], list[float]]:
    """(labelled, unlabelled) tick positions, in log10 units, for an axis showing 10**lo..10**hi
    over ``length_px`` pixels."""
    lo, hi = sorted((float(lo), float(hi)))
    if not (math.isfinite(lo) and math.isfinite(hi)) or hi - lo <= 0 or length_px <= 0:
        return [], []
    px = length_px / (hi - lo)  # pixels per decade
    labelled: list[float] = []
    if px < MIN_LABEL_PX:  # not even every decade has room: every k-th one
        every = math.ceil(MIN_LABEL_PX / px)
        labelled = _values(lo, hi, (1.0,), every)
    else:
        for mantissas in MANTISSAS:
            values = _values(lo, hi, mantissas)
            if len(values) > 1 and _min_gap(values) * px < MIN_LABEL_PX:
                break  # too dense: keep the sparser set
            labelled = values
            if len(values) >= ENOUGH_LABELS:
                break
    if len(labelled) < 2 and px >= MIN_LABEL_PX:  # a sliver of a decade: round linear steps
        labelled = _linear(lo, hi, length_px)
    minor = _values(lo, hi, MANTISSAS[3]) if math.log10(10 / 9) * px >= MIN_TICK_PX else []
    taken = {round(v, 9) for v in labelled}
    return labelled, [v for v in minor if round(v, 9) not in taken]


def tick_label(log_value: float) -> str:
    """The text of a tick at 10**log_value: 1, 0.5, 0.05, 2e-05, 1e+05."""
    x = 10**log_value
    return f"{x:.6g}" if 1e-4 <= x < 1e5 else f"{x:.3g}"


def log_axis(orientation: str = "left") -> Any:  # noqa: ANN401 - a pyqtgraph AxisItem
    """A pyqtgraph AxisItem whose log mode labels the ticks of :func:`log_ticks`; linear mode is
    pyqtgraph's own."""
    import pyqtgraph as pg

    class LogAxis(pg.AxisItem):
        def tickValues(self, minVal, maxVal, size):  # noqa: ANN001, ANN202, N802, N803 - pyqtgraph
            if not self.logMode:
                return super().tickValues(minVal, maxVal, size)
            labelled, minor = log_ticks(minVal, maxVal, size)
            return [(1.0, labelled), (None, minor)]

        def tickStrings(self, values, scale, spacing):  # noqa: ANN001, ANN202, N802 - pyqtgraph
            if not self.logMode:
                return super().tickStrings(values, scale, spacing)
            if spacing is None:  # the unlabelled level
                return [""] * len(values)
            return [tick_label(v + math.log10(scale)) if scale > 0 else "" for v in values]

    return LogAxis(orientation)
