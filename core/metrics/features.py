"""Feature extractors for FD and KID: anything with ``__call__(images_u8) -> (N, D) float``.

The default, :class:`RandomConvFeatures`, needs no downloaded weights: a fixed, randomly
initialised 4-layer convolutional network (3x3, stride 2, ReLU, He-scaled weights drawn from numpy's
PCG64 with a fixed seed, so every machine and every run builds the same network) whose activations
are averaged over space at each layer. Why this rather than downsampled pixels and gradients:
random convolutional features respond to local shape (strokes, edges, corners, texture) at four
scales at once. Naeem et al. 2020 ("Reliable Fidelity and Diversity Metrics for Generative
Models") propose randomly initialised CNN embeddings where ImageNet features do not fit the data,
and Lee et al. 2022 ("Demystifying Randomly Initialized Networks for Evaluating Generative
Models") find them to rank generative models much like trained features; raw pixels mostly
measure alignment and brightness. Figures are only comparable with figures from the same
extractor: not with the Inception-based FID of papers.

Measured on digits (``benchmarks/digits.py``, FD against 1,000 held-out digits): 500 other real
digits 0.05, blurred 2.6, noisy 5.8, pixel-shuffled 2.4, half noise 62, uniform noise 147. It
separates real from degraded and degraded from noise well, but ranks kinds of degradation poorly
(shuffled pixels score like blur). In a quick trial, per-channel std as extra features did not
change that; 2x2 spatially pooled deeper layers did rank shuffled pixels above blur, at 2,016
dimensions and about 10x the time, so they are not the default. SWD ranks them more sensibly.

For digits, the benchmark's own classifier gives better features (its penultimate layer,
:class:`~core.metrics.classifier.ClassifierFeatures`).
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np
import torch
import torch.nn.functional as F


@runtime_checkable
class FeatureExtractor(Protocol):
    """Maps uint8 images (N, H, W, C) to float features (N, D)."""

    name: str

    def __call__(self, images_u8: np.ndarray) -> np.ndarray: ...


def images_to_float(images_u8: np.ndarray, channels: int = 3) -> torch.Tensor:
    """uint8 (N, H, W, C) -> float32 (N, channels, H, W) in [-1, 1]; grey is repeated to RGB, alpha dropped."""
    arr = np.asarray(images_u8)
    if arr.ndim == 3:
        arr = arr[..., None]
    if arr.ndim != 4 or arr.dtype != np.uint8:
        raise ValueError(f"expected uint8 images (N, H, W, C), got {arr.dtype} {arr.shape}")
    x = torch.from_numpy(np.array(arr)).permute(0, 3, 1, 2).float().div_(127.5).sub_(1.0)
    c = x.shape[1]
    if channels == 3 and c == 1:
        x = x.expand(-1, 3, -1, -1)
    elif channels == 3 and c == 4:
        x = x[:, :3]
    elif channels == 1 and c >= 3:
        x = x[:, :3].mean(1, keepdim=True)
    return x


class RandomConvFeatures:
    """Fixed random conv features: per-layer spatial means of 4 ReLU conv layers (32+64+128+256 = 480 dims)."""

    name = "random-conv"
    widths = (32, 64, 128, 256)

    def __init__(self, seed: int = 0, size: int = 64, batch: int = 64) -> None:
        self.size = size
        self.batch = batch
        rng = np.random.default_rng(seed)
        self.weights: list[torch.Tensor] = []
        c_in = 3
        for c_out in self.widths:
            std = np.sqrt(2.0 / (c_in * 9))  # He et al. 2015 scaling keeps activations O(1) layer to layer
            w = rng.standard_normal((c_out, c_in, 3, 3)) * std
            self.weights.append(torch.from_numpy(w.astype(np.float32)))
            c_in = c_out
        self.name = f"random-conv(seed={seed},size={size})"

    @torch.no_grad()
    def __call__(self, images_u8: np.ndarray) -> np.ndarray:
        out = []
        for start in range(0, len(images_u8), self.batch):
            x = images_to_float(images_u8[start : start + self.batch], 3)
            if x.shape[-1] != self.size or x.shape[-2] != self.size:
                x = F.interpolate(x, size=(self.size, self.size), mode="bilinear", antialias=True)
            feats = []
            for w in self.weights:
                x = F.relu(F.conv2d(x, w, stride=2, padding=1))
                feats.append(x.mean(dim=(2, 3)))
            out.append(torch.cat(feats, 1).numpy())
        return np.concatenate(out).astype(np.float64) if out else np.zeros((0, sum(self.widths)))


def default_extractor() -> FeatureExtractor:
    return RandomConvFeatures()
