"""Grids: many uint8 images tiled into one, row by row (like torchvision's ``make_grid``, in numpy)."""

from __future__ import annotations

import math

import numpy as np


def make_grid(images: np.ndarray, nrow: int | None = None, *, pad: int = 2, pad_value: int = 0) -> np.ndarray:
    """Tile (N, H, W, C) uint8 images into one (rows*(H+pad)+pad, nrow*(W+pad)+pad, C) image.

    ``nrow`` images per row (default: about square). Works for clip frames too: pass (N, H, W, C)
    frames of one time step.
    """
    a = np.asarray(images)
    if a.ndim == 3:
        a = a[..., None]
    if a.ndim != 4:
        raise ValueError(f"expected (N, H, W, C) images, got shape {a.shape}")
    n, h, w, c = a.shape
    nrow = max(1, min(n, nrow or math.ceil(math.sqrt(n))))
    rows = math.ceil(n / nrow)
    grid = np.full((rows * (h + pad) + pad, nrow * (w + pad) + pad, c), pad_value, dtype=a.dtype)
    for k in range(n):
        r, col = divmod(k, nrow)
        y, x = pad + r * (h + pad), pad + col * (w + pad)
        grid[y : y + h, x : x + w] = a[k]
    return grid
