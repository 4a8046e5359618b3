"""Frechet distance and kernel inception distance between two feature sets.

- Frechet distance (Heusel et al. 2017, "GANs Trained by a Two Time-Scale Update Rule", the FID
  formula): ||mu_a - mu_b||^2 + tr(S_a + S_b - 2 (S_a S_b)^(1/2)) between Gaussians fitted to the
  features. tr((S_a S_b)^(1/2)) is computed in float64 without scipy and stays real: from the
  eigenvalues of the symmetric S_a^(1/2) S_b S_a^(1/2) when there are few feature dimensions, or
  as the nuclear norm of the N_a x N_b product of the centred feature matrices when there are
  fewer images than dimensions (same value, see :func:`_trace_sqrt_product`). Biased for small
  sets: compare figures computed on equal set sizes.
- KID (Binkowski et al. 2018, "Demystifying MMD GANs"): the unbiased estimate of the squared MMD
  with the cubic polynomial kernel k(x, y) = (x.y / d + 1)^3, averaged over random subsets;
  unbiased, so two sets from the same distribution give about 0 (sometimes slightly below).

Both take (N, D) float features from any :class:`~core.metrics.features.FeatureExtractor`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def _features(x: np.ndarray, name: str) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2 or len(x) < 2:
        raise ValueError(f"{name}: expected (N, D) features with N >= 2, got shape {x.shape}")
    return x


def _trace_sqrt_product(a: np.ndarray, b: np.ndarray, method: str = "auto") -> float:
    """tr((S_a S_b)^(1/2)) for S_a = a^T a, S_b = b^T b (a, b centred and scaled rows).

    "cov": eigen-decomposition of the D x D covariances (cheap when D is small). "gram": the nonzero
    eigenvalues of S_a S_b are those of (a b^T)(a b^T)^T, so the trace is the nuclear norm of the
    N_a x N_b matrix a b^T (cheap when there are fewer images than feature dimensions).
    """
    if method == "auto":
        method = "cov" if a.shape[1] <= min(len(a), len(b)) else "gram"
    if method == "gram":
        return float(np.linalg.svd(a @ b.T, compute_uv=False).sum())
    s_a, s_b = a.T @ a, b.T @ b
    w, v = np.linalg.eigh(s_a)
    root_a = (v * np.sqrt(np.clip(w, 0, None))) @ v.T
    m = root_a @ s_b @ root_a
    return float(np.sqrt(np.clip(np.linalg.eigvalsh((m + m.T) / 2), 0, None)).sum())


def frechet_distance(features_a: np.ndarray, features_b: np.ndarray) -> float:
    """FD between Gaussians fitted to two (N, D) feature sets (0 for identical sets)."""
    a, b = _features(features_a, "features_a"), _features(features_b, "features_b")
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"feature sizes differ: {a.shape[1]} vs {b.shape[1]}")
    mu_a, mu_b = a.mean(0), b.mean(0)
    ca = (a - mu_a) / np.sqrt(len(a) - 1)  # S_a = ca^T ca, the unbiased covariance
    cb = (b - mu_b) / np.sqrt(len(b) - 1)
    fd = ((mu_a - mu_b) ** 2).sum() + (ca**2).sum() + (cb**2).sum() - 2 * _trace_sqrt_product(ca, cb)
    return max(float(fd), 0.0)


@dataclass
class KIDResult:
    mean: float
    std: float
    subsets: int
    subset_size: int


def _poly_mmd2(x: np.ndarray, y: np.ndarray) -> float:
    """Unbiased MMD^2 with k(x, y) = (x.y / d + 1)^3 (Binkowski et al. 2018, eq. 4)."""
    d = x.shape[1]
    k_xx = (x @ x.T / d + 1) ** 3
    k_yy = (y @ y.T / d + 1) ** 3
    k_xy = (x @ y.T / d + 1) ** 3
    m = x.shape[0]
    sum_xx = k_xx.sum() - np.trace(k_xx)
    sum_yy = k_yy.sum() - np.trace(k_yy)
    return float(sum_xx / (m * (m - 1)) + sum_yy / (m * (m - 1)) - 2 * k_xy.sum() / (m * m))


def kid(
    features_a: np.ndarray,
    features_b: np.ndarray,
    *,
    subsets: int = 100,
    subset_size: int = 1000,
    seed: int = 0,
) -> KIDResult:
    """KID: mean (and std) over ``subsets`` random subsets of min(subset_size, N_a, N_b) rows each."""
    a, b = _features(features_a, "features_a"), _features(features_b, "features_b")
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"feature sizes differ: {a.shape[1]} vs {b.shape[1]}")
    m = min(subset_size, len(a), len(b))
    rng = np.random.default_rng(seed)
    values = [
        _poly_mmd2(a[rng.choice(len(a), m, replace=False)], b[rng.choice(len(b), m, replace=False)])
        for _ in range(subsets)
    ]
    return KIDResult(float(np.mean(values)), float(np.std(values)), subsets, m)
