"""Motion statistics of clips: how much, and how far, things move between consecutive frames.

- Mean absolute frame difference (MAFD): mean over clips, frame pairs and pixels of
  |f[k+1] - f[k]| on a 0..1 scale. Zero for a still clip; large for flicker (independent frames).
- Blob displacement: each frame is lightly blurred (Gaussian, sigma = side / 64 px) and its bright
  pixels (above ``threshold``) are split into connected components (OpenCV, 8-connectivity) of at
  least ``min_area`` pixels (default: 0.75% of the frame, 8 px at 32 px, 31 px at 64 px); each blob
  of frame k is matched to the nearest blob centroid of frame k+1, and the distances (pixels) are
  averaged. This is the "moving bright digits" measure of Moving-MNIST-style data (Srivastava et al.
  2015). The blur and the area floor keep noise out: without them a frame of leftover sampling
  noise holds dozens of one-pixel "blobs" whose nearest neighbours in the next frame are always
  close, so noise scored as small, data-like motion (seen in the 64 px benchmark: 53 blobs a frame,
  displacement within 5% of the data's). ``blobs_per_frame`` is reported beside it.

- Optical-flow magnitude: dense flow between consecutive frames (OpenCV's Farneback, parameters
  sized for 32-64 px frames), its length in pixels per frame averaged over frame pairs and pixels.
  Unlike the blob measure it sees any texture move, not only bright shapes: the measure for footage.
- Flicker of static regions (temporal consistency): the mean absolute frame difference (0..1) over
  the pixels whose flow is under ``static_px`` (default 0.5 px per frame at 32 px, scaled with the
  side): what changes where nothing moves. Zero for a still clip, large for a sampler's shimmer.

All take uint8 clips (N, T, H, W, C) or (N, T, H, W) and look at the mean over channels.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def _gray(clips: np.ndarray) -> np.ndarray:
    x = np.asarray(clips)
    if x.ndim == 5:
        x = x.mean(axis=-1)
    if x.ndim != 4:
        raise ValueError(f"expected clips (N, T, H, W[, C]), got shape {x.shape}")
    return x.astype(np.float32) / 255.0


def mean_abs_frame_difference(clips: np.ndarray) -> float:
    g = _gray(clips)
    if g.shape[1] < 2:
        raise ValueError("a clip needs at least 2 frames for a frame difference")
    return float(np.abs(np.diff(g, axis=1)).mean())


def default_min_area(height: int, width: int) -> int:
    return max(4, round(0.0075 * height * width))


def blobs(frame: np.ndarray, threshold: float = 0.5, min_area: int | None = None) -> np.ndarray:
    """(K, 2) centroids (x, y) of the bright connected components of a (H, W) frame in 0..1."""
    import cv2

    h, w = frame.shape
    min_area = default_min_area(h, w) if min_area is None else min_area
    blurred = cv2.GaussianBlur(frame.astype(np.float32), (0, 0), max(h, w) / 64)
    mask = (blurred > threshold).astype(np.uint8)
    n, _, stats, cents = cv2.connectedComponentsWithStats(mask, connectivity=8)
    keep = [i for i in range(1, n) if stats[i, cv2.CC_STAT_AREA] >= min_area]
    return cents[keep].astype(np.float64) if keep else np.zeros((0, 2))


def blob_displacement(
    clips: np.ndarray, threshold: float = 0.5, min_area: int | None = None
) -> dict[str, Any]:
    """Mean nearest-blob displacement between consecutive frames (pixels), and how often blobs were found."""
    g = _gray(clips)
    dists: list[float] = []
    pairs = with_blobs = 0
    counts: list[int] = []
    for clip in g:
        cents = [blobs(f, threshold, min_area) for f in clip]
        counts.extend(len(c) for c in cents)
        for a, b in zip(cents[:-1], cents[1:], strict=True):
            pairs += 1
            if len(a) == 0 or len(b) == 0:
                continue
            with_blobs += 1
            d = np.sqrt(((a[:, None, :] - b[None, :, :]) ** 2).sum(-1))
            dists.extend(d.min(axis=1).tolist())
    return {
        "displacement_px": float(np.mean(dists)) if dists else float("nan"),
        "pairs_with_blobs": with_blobs / pairs if pairs else 0.0,
        "blobs_per_frame": float(np.mean(counts)) if counts else 0.0,
    }


FARNEBACK = dict(pyr_scale=0.5, levels=2, winsize=9, iterations=3, poly_n=5, poly_sigma=1.1, flags=0)


def flow_fields(clips: np.ndarray) -> np.ndarray:
    """(N, T-1, H, W) float32: the Farneback flow's length (pixels) from each frame to the next."""
    import cv2

    g = np.round(_gray(clips) * 255.0).astype(np.uint8)
    n, t, h, w = g.shape
    if t < 2:
        raise ValueError("a clip needs at least 2 frames for optical flow")
    out = np.empty((n, t - 1, h, w), np.float32)
    for i in range(n):
        for k in range(t - 1):
            flow = cv2.calcOpticalFlowFarneback(g[i, k], g[i, k + 1], None, **FARNEBACK)
            out[i, k] = np.sqrt((flow**2).sum(-1))
    return out


def flow_magnitude(clips: np.ndarray, fields: np.ndarray | None = None) -> float:
    """Mean optical-flow length in pixels per frame, over clips, frame pairs and pixels."""
    return float((flow_fields(clips) if fields is None else fields).mean())


def default_static_px(side: int) -> float:
    return 0.5 * side / 32


def static_flicker(
    clips: np.ndarray, static_px: float | None = None, fields: np.ndarray | None = None
) -> dict[str, float]:
    """Mean |f[k+1] - f[k]| (0..1) over the pixels that do not move (flow under ``static_px``), and
    the share of pixels that count as static."""
    g = _gray(clips)
    fields = flow_fields(clips) if fields is None else fields
    static_px = default_static_px(max(g.shape[2:])) if static_px is None else static_px
    still = fields < static_px
    diff = np.abs(np.diff(g, axis=1))
    return {
        "flicker": float(diff[still].mean()) if still.any() else 0.0,
        "static_share": float(still.mean()),
        "static_px": float(static_px),
    }


def footage_motion(clips: np.ndarray, static_px: float | None = None) -> dict[str, float]:
    """The footage benchmark's motion figures: frame difference, flow length and static flicker."""
    fields = flow_fields(clips)
    return {
        "mafd": mean_abs_frame_difference(clips),
        "flow_px": flow_magnitude(clips, fields),
        **static_flicker(clips, static_px, fields),
    }


def motion_stats(clips: np.ndarray, threshold: float = 0.5, min_area: int | None = None) -> dict[str, Any]:
    return {"mafd": mean_abs_frame_difference(clips), **blob_displacement(clips, threshold, min_area)}
