"""A small image classifier used as a feature extractor and as a judge of samples.

The digit benchmarks train it themselves on real digits (``benchmarks/digits.py``), so no
weights are downloaded: a three-convolution network (LeNet-like, with batch norm; ~57k parameters)
whose penultimate 128-d layer gives the features for FD / KID
(:class:`ClassifierFeatures`), and whose softmax gives two judgements of a set of samples
(:func:`class_scores`): the share classified with confidence above 0.9 ("recognisable"), and the
entropy of the predicted class distribution normalised by log K (1 = every class equally often,
0 = one class only: mode collapse).

Read the two together, and with FD: like any classifier trained only on real digits, it is
confidently wrong on things that are not digits. Measured (``benchmarks/results/digits_reference.json``):
uniform noise and digits half-mixed with noise are all called "8" with confidence above 0.9, so
their confident share is 100% while their class entropy is 0 and their FD is thousands of times
that of real digits.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from core.metrics.features import images_to_float


class SmallClassifier(nn.Module):
    """conv(w) pool conv(2w) pool conv(4w) pool -> 2x2 avg pool -> fc(128) -> fc(classes); w = 16: ~57k params.

    Cheap on purpose (~2.5 MFLOPs per 32 px image): it is trained by each benchmark on a 2-core CPU.
    """

    def __init__(self, channels: int = 1, classes: int = 10, width: int = 16, feature_dim: int = 128) -> None:
        super().__init__()

        def block(c_in: int, c_out: int) -> list[nn.Module]:
            return [
                nn.Conv2d(c_in, c_out, 3, padding=1, bias=False),
                nn.BatchNorm2d(c_out),
                nn.ReLU(),
                nn.MaxPool2d(2),
            ]

        self.channels = channels
        self.body = nn.Sequential(
            *block(channels, width),
            *block(width, 2 * width),
            *block(2 * width, 4 * width),
            nn.AdaptiveAvgPool2d(2),
            nn.Flatten(),
            nn.Linear(16 * width, feature_dim),
            nn.ReLU(),
        )
        self.head = nn.Linear(feature_dim, classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x))


def _batches(model: SmallClassifier, images_u8: np.ndarray, fn: Callable, batch: int) -> np.ndarray:
    model.eval()
    out = []
    with torch.no_grad():
        for s in range(0, len(images_u8), batch):
            out.append(fn(images_to_float(images_u8[s : s + batch], model.channels)).double().numpy())
    return np.concatenate(out)


class ClassifierFeatures:
    """FeatureExtractor: the classifier's penultimate layer (D = 128)."""

    def __init__(self, model: SmallClassifier, name: str = "classifier", batch: int = 256) -> None:
        self.model = model
        self.name = name
        self.batch = batch

    def __call__(self, images_u8: np.ndarray) -> np.ndarray:
        return _batches(self.model, images_u8, self.model.features, self.batch)


def predict_proba(model: SmallClassifier, images_u8: np.ndarray, batch: int = 256) -> np.ndarray:
    """(N, classes) softmax probabilities."""
    return _batches(model, images_u8, lambda x: model(x).softmax(1), batch)


@dataclass
class ClassScores:
    confident_share: float  # share of samples whose top probability exceeds the threshold
    class_entropy: float  # entropy of the histogram of predicted classes / log(classes), in [0, 1]
    histogram: list[int]
    threshold: float

    def to_dict(self) -> dict:
        return {
            "confident_share": self.confident_share,
            "class_entropy": self.class_entropy,
            "class_histogram": self.histogram,
            "confidence_threshold": self.threshold,
        }


def class_scores(probs: np.ndarray, threshold: float = 0.9) -> ClassScores:
    """Confident share (max prob > threshold) and normalised entropy of the argmax histogram."""
    probs = np.asarray(probs, dtype=np.float64)
    k = probs.shape[1]
    hist = np.bincount(probs.argmax(1), minlength=k)
    p = hist / max(hist.sum(), 1)
    nz = p[p > 0]
    entropy = max(0.0, float(-(nz * np.log(nz)).sum() / np.log(k))) if k > 1 else 0.0
    return ClassScores(float((probs.max(1) > threshold).mean()), entropy, hist.tolist(), threshold)


def train_classifier(
    images_u8: np.ndarray,
    labels: np.ndarray,
    *,
    classes: int = 10,
    epochs: int = 8,
    batch: int = 64,
    lr: float = 2e-3,
    seed: int = 0,
    augment_shift: int = 2,
    width: int = 16,
    log: Callable[[str], None] | None = None,
) -> SmallClassifier:
    """Train a :class:`SmallClassifier` with AdamW and a cosine learning rate (random shifts of +-2 px)."""
    torch.manual_seed(seed)
    g = torch.Generator().manual_seed(seed)
    x_all = images_to_float(images_u8, images_u8.shape[-1] if images_u8.ndim == 4 else 1)
    y_all = torch.as_tensor(np.asarray(labels), dtype=torch.long)
    model = SmallClassifier(channels=x_all.shape[1], classes=classes, width=width)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-4)
    steps = epochs * ((len(x_all) + batch - 1) // batch)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps)
    for epoch in range(epochs):
        model.train()
        perm = torch.randperm(len(x_all), generator=g)
        total = 0.0
        for s in range(0, len(perm), batch):
            idx = perm[s : s + batch]
            x = x_all[idx]
            if augment_shift:
                dx, dy = (torch.randint(-augment_shift, augment_shift + 1, (2,), generator=g)).tolist()
                x = torch.roll(x, shifts=(dy, dx), dims=(2, 3))
            loss = nn.functional.cross_entropy(model(x), y_all[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            total += loss.item() * len(idx)
        if log:
            log(f"classifier epoch {epoch + 1}/{epochs}: loss {total / len(perm):.4f}")
    return model.eval()
