"""Near-duplicates: pairs of kept files that look alike, listed in the scan's report for a person
to check (both stay in the dataset; exact copies are the duplicates, dropped).

A pair is near when its grey structure and its colour grids both agree
(:func:`find_near_duplicates`). Why the colour threshold is 12: ``docs/decisions.md``
(2026-12-03, near-duplicates tell colours apart).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from core.data.preprocess import COLOUR_GRID, colour_distance, structure_distance
from core.data.result import NearDuplicate

MAX_NEAR_PAIRS = 1000
"""Pairs listed in the report; the count of pairs is kept whatever their number."""
NEAR_DUPLICATE_COLOUR = 12.0
"""Largest per-cell CIELAB distance (:func:`core.data.preprocess.colour_distance`) of two
near-duplicates: above what JPEG q75, a 0.9 resize or +3% brightness do to a colour emoji, below
most recolourings."""


def find_near_duplicates(
    accepted: list[dict[str, Any]], max_bits: int, max_colour: float = NEAR_DUPLICATE_COLOUR
) -> tuple[list[NearDuplicate], int]:
    """Pairs of kept files that look alike (blockwise, O(n^2)): their grey structure at most
    ``max_bits`` apart (:func:`~core.data.preprocess.structure_distance`, flat steps ignored) and
    their colour signatures at most ``max_colour`` apart.

    The grey hash alone calls a blue and a green copy of one shape identical, hence the colour
    test. It is skipped for a pair of greyscale pictures (their hash already says it all) and for a
    file without a colour signature; a file without a flat mask is compared on its plain hash.
    """
    if len(accepted) < 2:
        return [], 0
    hashes = np.array([int(f["dhash"], 16) for f in accepted], dtype=np.uint64)
    flats = np.array([int(f.get("flat") or "0", 16) for f in accepted], dtype=np.uint64)
    n_sig = 3 * COLOUR_GRID * COLOUR_GRID
    sigs = np.zeros((len(accepted), n_sig), np.uint8)
    has_sig = np.zeros(len(accepted), bool)
    for k, f in enumerate(accepted):
        raw = bytes.fromhex(f.get("colour") or "")
        if len(raw) == n_sig:
            sigs[k], has_sig[k] = np.frombuffer(raw, np.uint8), True
    grey = np.array([bool(f.get("grey")) for f in accepted])
    pairs: list[NearDuplicate] = []
    count = 0
    block = max(1, (1 << 24) // len(hashes))  # rows per step: a few 128 MB arrays at most
    for i0 in range(0, len(hashes), block):
        rows = slice(i0, i0 + block)
        half = structure_distance(hashes[rows, None], flats[rows, None], hashes[None, :], flats[None, :])
        ii, jj = np.nonzero(half <= 2 * max_bits)
        keep = jj > ii + i0
        ii, jj = ii[keep] + i0, jj[keep]
        check = has_sig[ii] & has_sig[jj] & ~(grey[ii] & grey[jj])
        alike = ~check | (colour_distance(sigs[ii], sigs[jj]) <= max_colour)
        for i, j in zip(ii[alike], jj[alike], strict=True):
            count += 1
            if len(pairs) < MAX_NEAR_PAIRS:
                bits = (int(half[i - i0, j]) + 1) // 2  # half bits, rounded up: still <= max_bits
                pairs.append(NearDuplicate(accepted[i]["name"], accepted[j]["name"], bits))
    return pairs, count
