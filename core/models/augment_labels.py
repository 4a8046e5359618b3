"""The augment-label map the pixel UNet and the DiT share (EDM's non-leaking augmentation,
:mod:`core.training.augment`): a zero-initialised linear map from the labels to the time embedding,
so a fresh network computes the same with or without it; None, what every sampler passes, is
"not augmented" (all zeros)."""

from __future__ import annotations

import torch
from torch import nn


def label_map(augment_dim: int, width: int) -> nn.Linear | None:
    """A zeroed ``Linear(augment_dim, width)`` without bias, or None for ``augment_dim`` 0. Built after
    the rest of the network, so the other initial weights stay what they are without it."""
    if not augment_dim:
        return None
    layer = nn.Linear(augment_dim, width, bias=False)
    nn.init.zeros_(layer.weight)
    return layer


def embed_labels(layer: nn.Linear | None, labels: torch.Tensor | None, batch: int) -> torch.Tensor | None:
    """What ``labels`` (B, augment_dim) add to the time embedding; None labels are zeros, sent through
    the map all the same so that DDP sees its weight used. None where the network has no map; labels
    given to such a network are refused."""
    if layer is None:
        if labels is not None:
            raise ValueError("this network was built with augment_dim 0, so it takes no augment_labels")
        return None
    weight = layer.weight
    labels = weight.new_zeros(batch, weight.shape[1]) if labels is None else labels
    return layer(labels.to(weight.dtype))
