"""Memorisation: each sample's nearest training images and the ratio test of Gu et al. 2023.

Gu et al. 2023 ("On Memorization in Diffusion Models", section 3) call a generated sample
memorised when its L2 distance to the nearest training image is below a third of the distance to
the second nearest: d1 < d2 / 3. A copy stands out from its neighbours; a new picture that merely
resembles the data does not. Distances here are L2 in pixel space over the whole image (or clip),
pixels scaled to [0, 1]: divide by sqrt(number of values) for an RMS pixel difference. One
addition: a sample identical to a training image (d1 == 0) counts as memorised even when the
training set holds that image twice (then d2 is 0 too and the ratio test alone would miss it).

Training images are read in chunks (a memory-mapped dataset is never loaded whole): candidates
come from a float32 matrix product, then the k nearest are recomputed exactly in float64.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from core.errors import Cancelled

RATIO = 1.0 / 3.0


@dataclass
class MemorizationResult:
    """``indices[i]`` are the k nearest training rows of sample i (nearest first), ``distances[i]`` their L2."""

    indices: np.ndarray  # (N, k) int64, rows of the training array given
    distances: np.ndarray  # (N, k) float64, L2 in [0, 1]-scaled pixel space
    memorized: np.ndarray  # (N,) bool
    share: float
    ratio: float = RATIO

    def to_dict(self) -> dict:
        return {
            "memorized_share": self.share,
            "memorized": [int(i) for i in np.flatnonzero(self.memorized)],
            "nearest": self.indices[:, 0].tolist(),
            "d1": self.distances[:, 0].tolist(),
            "d2": self.distances[:, 1].tolist() if self.distances.shape[1] > 1 else [],
            "ratio": self.ratio,
        }


class RowView:
    """Rows ``rows`` of a (memory-mapped) array, read only when indexed, optionally transformed
    (resized): lets :func:`nearest_training` scan a dataset's training split without loading it."""

    def __init__(
        self, array: np.ndarray, rows: np.ndarray, transform: Callable[[np.ndarray], np.ndarray] | None = None
    ):
        self.array = array
        self.rows = np.asarray(rows, dtype=np.int64)
        self.transform = transform
        first = self[np.zeros(1, np.int64)] if len(self.rows) else np.asarray(array[:0])
        self.shape = (len(self.rows), *first.shape[1:])
        self.dtype = first.dtype

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, key: slice | np.ndarray) -> np.ndarray:
        idx = self.rows[key]
        order = np.argsort(idx, kind="stable")  # read the memmap in increasing order
        in_order = np.asarray(self.array[idx[order]])
        out = np.empty_like(in_order)
        out[order] = in_order
        return self.transform(out) if self.transform is not None else out


def _flat(x: np.ndarray) -> torch.Tensor:
    arr = np.asarray(x)
    if arr.dtype != np.uint8:
        raise ValueError(f"expected uint8 images, got {arr.dtype}")
    return torch.from_numpy(np.array(arr).reshape(len(arr), -1))  # a copy: memmaps are read-only


def ratio_test(distances: np.ndarray, ratio: float = RATIO) -> np.ndarray:
    """Gu et al.'s rule on (N, >=2) sorted distances: d1 < ratio * d2, or an exact copy (d1 == 0)."""
    d = np.asarray(distances, dtype=np.float64)
    if d.ndim != 2 or d.shape[1] < 2:
        raise ValueError("the ratio test needs the two nearest distances of every sample")
    return (d[:, 0] < ratio * d[:, 1]) | (d[:, 0] == 0)


def nearest_training(
    samples_u8: np.ndarray,
    train_u8: np.ndarray,
    *,
    k: int = 3,
    ratio: float = RATIO,
    chunk: int = 1024,
    should_stop: Callable[[], bool] | None = None,
) -> MemorizationResult:
    """For each sample, its ``k`` nearest training images (k >= 2) and the memorisation flag.

    ``train_u8`` is a uint8 array (or memmap, or :class:`RowView`) of the same shape per row as the
    samples; the indices returned are its row numbers.
    """
    if k < 2:
        raise ValueError("k must be at least 2 (the ratio test compares the two nearest)")
    if len(train_u8) < 2:
        raise ValueError("the memorisation test needs at least 2 training images")
    if np.shape(samples_u8)[1:] != np.shape(train_u8)[1:]:
        raise ValueError(
            f"samples {np.shape(samples_u8)[1:]} and training images {np.shape(train_u8)[1:]} differ"
        )
    k = min(k, len(train_u8))
    s = _flat(samples_u8).to(torch.float64) / 255.0
    s32 = s.float()
    s_sq = (s32 * s32).sum(1, keepdim=True)
    cand = min(k + 4, len(train_u8))  # float32 shortlist, re-ranked exactly below
    best_d = torch.full((len(s), 0), float("inf"))
    best_i = torch.zeros((len(s), 0), dtype=torch.int64)
    for start in range(0, len(train_u8), chunk):
        if should_stop is not None and should_stop():
            raise Cancelled()
        t32 = _flat(train_u8[start : start + chunk]).float() / 255.0
        d2 = (s_sq + (t32 * t32).sum(1)[None] - 2 * s32 @ t32.T).clamp_min_(0)
        kk = min(cand, d2.shape[1])
        d, i = torch.topk(d2, kk, dim=1, largest=False)
        best_d = torch.cat([best_d, d], 1)
        best_i = torch.cat([best_i, i + start], 1)
        best_d, order = torch.topk(best_d, min(cand, best_d.shape[1]), dim=1, largest=False)
        best_i = torch.gather(best_i, 1, order)
    # exact float64 distances for the shortlist, a block of samples at a time
    rows = np.asarray(best_i)
    exact = np.empty(rows.shape, dtype=np.float64)
    for lo in range(0, len(rows), 64):
        block = rows[lo : lo + 64]
        uniq, inv = np.unique(block, return_inverse=True)
        t = _flat(train_u8[uniq]).to(torch.float64) / 255.0
        diff = t[torch.from_numpy(inv.reshape(block.shape))] - s[lo : lo + 64, None]
        exact[lo : lo + 64] = diff.norm(dim=2).numpy()
    order = np.argsort(exact, axis=1, kind="stable")[:, :k]
    indices = np.take_along_axis(rows, order, 1).astype(np.int64)
    distances = np.take_along_axis(exact, order, 1)
    flags = ratio_test(distances, ratio)
    return MemorizationResult(indices, distances, flags, float(flags.mean()) if len(flags) else 0.0, ratio)
