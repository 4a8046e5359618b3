"""Held-out denoising loss by timestep band: how well the (EMA) network denoises pictures it never
trained on, at low, middle and high noise.

Fixed held-out rows, fixed noise and fixed times inside each band (all from a constant seed), so
the figure changes only when the network does; the training loss, drawn afresh each step, is far
noisier. A held-out loss that rises while the training loss falls is the sign of memorisation.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from core.data.prepared import PreparedDataset
from core.data.torch_data import resize, to_model_range
from core.diffusion.objectives import Objective

BANDS = ((0.0, 0.25), (0.25, 0.5), (0.5, 0.75), (0.75, 1.0))


class HeldOut:
    """The fixed held-out batch; :meth:`losses` measures a network on it."""

    def __init__(
        self, data: PreparedDataset, resolution: int | None, *, max_rows: int = 48, per_band: int = 1
    ) -> None:
        rows = np.asarray(data.val_indices[:max_rows], np.int64)
        self.empty = len(rows) == 0
        if self.empty:
            return
        x = to_model_range(np.asarray(data.array[np.sort(rows)]))
        if resolution and resolution != data.resolution:
            x = resize(x, resolution)
        g = torch.Generator().manual_seed(1234)
        self.x0 = x.repeat_interleave(per_band, 0)
        self.noise = torch.randn(self.x0.shape, generator=g)
        n = len(self.x0)
        self.u = [(lo + (hi - lo) * (torch.arange(n) + 0.5) / n).clamp(1e-5, 1 - 1e-5) for lo, hi in BANDS]

    @torch.no_grad()
    def losses(
        self,
        network: nn.Module,
        objective: Objective,
        *,
        device: torch.device | str,
        dtype: torch.dtype,
        chunk: int = 64,
    ) -> dict[str, float]:
        if self.empty:
            return {}
        out: dict[str, float] = {}
        for (lo, hi), u in zip(BANDS, self.u, strict=True):
            total, count = 0.0, 0
            for s in range(0, len(self.x0), chunk):
                x0 = self.x0[s : s + chunk].to(device)
                nb = objective.noisy(x0, self.noise[s : s + chunk].to(device), u[s : s + chunk].to(device))
                pred = network(nb.x_t.to(dtype), nb.timesteps).sample.float()
                total += (pred - nb.target).pow(2).flatten(1).mean(1).sum().item()
                count += len(x0)
            out[f"val_loss_t{int(lo * 1000)}-{int(hi * 1000)}"] = total / count
        out["val_loss"] = sum(out.values()) / len(BANDS)
        return out
