"""Seeded, resumable batch order over a :class:`~core.data.prepared.PreparedDataset`.

The training stream is the concatenation of one permutation of the training rows per epoch
(epoch e's permutation is drawn from a generator seeded with (seed, e)), so the whole order is a
function of the seed and a single position: saving that position resumes the exact data order.
Each optimizer step takes the next ``batch_size * world`` rows; process ``rank`` takes its slice.
Rows are read from the (memory-mapped) uint8 array and converted to float in [-1, 1].
"""

from __future__ import annotations

import numpy as np
import torch

from core.data.prepared import PreparedDataset
from core.data.torch_data import resize, to_model_range


class BatchStream:
    def __init__(
        self,
        data: PreparedDataset,
        batch_size: int,
        *,
        seed: int = 0,
        rank: int = 0,
        world: int = 1,
        flip: bool = False,
        resolution: int | None = None,
        position: int = 0,
    ) -> None:
        self.data = data
        self.rows = np.asarray(
            data.train_indices if len(data.train_indices) else np.arange(len(data)), np.int64
        )
        self.batch_size, self.seed, self.rank, self.world = batch_size, seed, rank, world
        self.flip = flip
        self.resolution = resolution if resolution and resolution != data.resolution else None
        self.position = position  # rows of the stream consumed so far (all processes together)
        self._perms: dict[int, np.ndarray] = {}

    @property
    def epoch(self) -> float:
        return self.position / len(self.rows)

    def _perm(self, epoch: int) -> np.ndarray:
        if epoch not in self._perms:
            self._perms = {k: v for k, v in self._perms.items() if k >= epoch - 1}
            rng = np.random.default_rng([self.seed, epoch])
            self._perms[epoch] = self.rows[rng.permutation(len(self.rows))]
        return self._perms[epoch]

    def _take(self, start: int, count: int) -> np.ndarray:
        n = len(self.rows)
        out = np.empty(count, np.int64)
        for i in range(count):  # small loop; spans epoch boundaries and datasets smaller than a batch
            p = start + i
            out[i] = self._perm(p // n)[p % n]
        return out

    def next_indices(self) -> np.ndarray:
        """This process's rows for the next step; advances the stream for every process."""
        start = self.position + self.rank * self.batch_size
        idx = self._take(start, self.batch_size)
        self.position += self.batch_size * self.world
        return idx

    def next_batch(self, device: torch.device | str = "cpu") -> torch.Tensor:
        idx = self.next_indices()
        order = np.argsort(idx, kind="stable")  # memmaps read fastest in file order
        rows = np.empty((len(idx), *self.data.array.shape[1:]), np.uint8)
        rows[order] = self.data.array[idx[order]]
        x = to_model_range(rows)
        if self.flip:
            # one coin per row, from the stream position: deterministic and resumable
            coins = np.random.default_rng([self.seed, 1, self.position]).random(len(idx)) < 0.5
            x[torch.from_numpy(coins)] = x[torch.from_numpy(coins)].flip(-1)
        if self.resolution:
            x = resize(x, self.resolution)
        return x.to(device, non_blocking=True)
