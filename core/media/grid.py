"""Tiling uint8 pictures: grids (like torchvision's ``make_grid``, in numpy), x_t / x0 panels and
clip filmstrips."""

from __future__ import annotations

import math

import numpy as np

SHOW = ("x0", "xt", "both")  # what a denoising view or export shows: x0, x_t or both side by side


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


def panel(xt: np.ndarray, x0: np.ndarray, show: str, gap: int = 2) -> np.ndarray:
    """What ``show`` (one of :data:`SHOW`) picks from (..., H, W, C) uint8 x_t and x0: one of them, or
    both side by side with a black ``gap`` between."""
    if show == "x0":
        return x0
    if show == "xt":
        return xt
    spacer = np.zeros((*xt.shape[:-2], gap, xt.shape[-1]), dtype=np.uint8)
    return np.concatenate([xt, spacer, x0], axis=-2)


def filmstrip(clip: np.ndarray) -> np.ndarray:
    """(T, H, W, C) uint8 -> (H, T*W, C): a clip's frames side by side, e.g. one PNG per clip preview
    that a viewer slices back into T frames of width W and plays."""
    clip = np.asarray(clip)
    t, h, w, c = clip.shape
    return np.ascontiguousarray(clip.transpose(1, 0, 2, 3).reshape(h, t * w, c))
