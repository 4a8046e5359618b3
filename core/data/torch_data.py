"""torch Dataset and DataLoader over a :class:`~core.data.prepared.PreparedDataset`.

Items are float32 in [-1, 1]: images ``(C, H, W)``, clips ``(T, C, H, W)``. Rows are read from
the memmap one at a time, so only the batches in flight are in memory. Horizontal flip, when the
dataset asks for it, is drawn per item from the loader's seeded generator.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, Dataset

from core.data.prepared import PreparedDataset


def to_model_range(batch_u8: np.ndarray | torch.Tensor) -> torch.Tensor:
    """uint8 channels-last -> float32 channels-first in [-1, 1] (..., H, W, C) -> (..., C, H, W)."""
    t = torch.as_tensor(np.asarray(batch_u8))
    return t.movedim(-1, -3).float().div_(127.5).sub_(1.0)


class DiffusionDataset(Dataset):
    def __init__(
        self, data: PreparedDataset, split: Literal["train", "val", "all"] = "train", flip: bool | None = None
    ):
        self.data = data
        if split == "all":
            self.indices = np.arange(len(data), dtype=np.int64)
        else:
            self.indices = data.train_indices if split == "train" else data.val_indices
        self.flip = data.flip if flip is None else flip

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, i: int) -> torch.Tensor:
        x = to_model_range(np.array(self.data.array[self.indices[i]]))
        if self.flip and torch.rand(()) < 0.5:
            x = x.flip(-1)
        return x


def make_loader(
    data: PreparedDataset,
    batch_size: int,
    *,
    split: Literal["train", "val", "all"] = "train",
    shuffle: bool = True,
    seed: int = 0,
    drop_last: bool = False,
    num_workers: int = 0,
) -> DataLoader:
    g = torch.Generator().manual_seed(seed)
    ds = DiffusionDataset(data, split, flip=None if split == "train" else False)
    return DataLoader(
        ds, batch_size=batch_size, shuffle=shuffle, generator=g, drop_last=drop_last, num_workers=num_workers
    )


def resize(x: torch.Tensor, resolution: int) -> torch.Tensor:
    """Resize (..., C, H, W) to resolution x resolution (bilinear with antialiasing)."""
    lead = x.shape[:-3]
    y = F.interpolate(
        x.reshape(-1, *x.shape[-3:]), size=(resolution, resolution), mode="bilinear", antialias=True
    )
    return y.reshape(*lead, *y.shape[-3:])
