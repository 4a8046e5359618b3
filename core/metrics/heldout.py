"""Held-out denoising loss by timestep band, with a "predict nothing" baseline for each band.

The measurement itself is the trainer's (:class:`core.metrics.validation.HeldOut`: fixed
held-out rows, fixed noise, fixed times inside each band of unit time, low noise first), so the
figure ``noisebloom evaluate`` prints is the same one training logs to ``metrics.jsonl``. This
module adds what a verdict needs: for each band, the loss of a network that outputs zeros on the
same inputs (the mean squared target). Their ratio says how much of the target the network
explains on pictures it never trained on: about 1 means it has learnt nothing (or diverged), well
below 1 means it denoises. The ratio is comparable across objectives; raw losses are not (eps, v,
x0 and flow regress different targets).

``source`` is a :class:`~core.models.folder.LoadedModel`, or a loss callable
``loss_fn(x_t, timesteps, target) -> (B,) per-sample squared error`` for a network the caller
holds (the trainer's live EMA network, a test double).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from core.data.prepared import PreparedDataset

LossFn = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]


@dataclass
class BandLosses:
    """Held-out loss per band of unit time ``bands[i]`` (0 = clean, 1 = pure noise) and its baseline."""

    bands: list[tuple[float, float]]
    loss: list[float]
    baseline: list[float]  # loss of predicting zeros on the same inputs
    rows: int  # held-out images used
    split: str = "val"
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def mean(self) -> float:
        return float(np.mean(self.loss))

    @property
    def ratio(self) -> float:
        """Mean loss over mean baseline: ~1 learnt nothing, lower is better."""
        return float(np.mean(self.loss) / max(np.mean(self.baseline), 1e-12))

    def to_dict(self) -> dict[str, Any]:
        return {
            "split": self.split,
            "rows": self.rows,
            "bands": [list(b) for b in self.bands],
            "loss": self.loss,
            "baseline": self.baseline,
            "mean": self.mean,
            "ratio": self.ratio,
        }


def model_loss_fn(network: torch.nn.Module, dtype: torch.dtype = torch.float32) -> LossFn:
    """Per-sample squared error of ``network(x_t, t).sample`` against the target (a :data:`LossFn`)."""

    def loss(x_t: torch.Tensor, timesteps: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        pred = network(x_t.to(dtype), timesteps).sample.float()
        return (pred - target).pow(2).flatten(1).mean(1)

    return loss


@torch.no_grad()
def heldout_loss_by_band(
    source: Any,
    data: PreparedDataset,
    *,
    objective: str | None = None,
    schedule: str | None = None,
    resolution: int | None = None,
    device: str | torch.device = "cpu",
    max_rows: int | None = None,
    per_band: int | None = None,
    chunk: int = 64,
    use_train_if_no_val: bool = True,
) -> BandLosses | None:
    """The held-out loss of ``source`` in each timestep band of the trainer's validation.

    ``source`` is a LoadedModel (objective, schedule and resolution are read from it) or a
    :data:`LossFn` (then ``objective`` is required). Uses the dataset's held-out split; a dataset too
    small to hold any out falls back to training rows (``split="train"`` in the result) or, with
    ``use_train_if_no_val=False``, returns None.
    """
    from core.diffusion.objectives import make_objective
    from core.metrics.validation import BANDS, HeldOut

    network = None
    if hasattr(source, "network") and hasattr(source, "objective"):
        info = getattr(source, "info", {}) or {}
        objective = objective or source.objective
        schedule = schedule or info.get("schedule")
        resolution = resolution or info.get("resolution")
        network = source.network.to(device).eval()
    elif not callable(source):
        raise TypeError(f"source must be a LoadedModel or a loss callable, not {type(source).__name__}")
    elif objective is None:
        raise ValueError("objective is required with a loss callable")

    split = "val"
    if len(data.val_indices) == 0:
        if not use_train_if_no_val:
            return None
        split = "train"
        data = PreparedDataset(array=data.array, kind=data.kind, train_indices=data.train_indices,
                               val_indices=data.train_indices)  # fmt: skip
    sizes = {k: v for k, v in (("max_rows", max_rows), ("per_band", per_band)) if v is not None}
    held = HeldOut(data, resolution, **sizes)  # the trainer's sizes unless asked otherwise
    obj = make_objective(objective, schedule)
    if network is not None:  # the trainer's own measurement, as logged to metrics.jsonl
        dtype = next(network.parameters()).dtype
        logged = held.losses(network, obj, device=device, dtype=dtype, chunk=chunk)
        losses = [logged[f"val_loss_t{int(lo * 1000)}-{int(hi * 1000)}"] for lo, hi in BANDS]
    losses_fn, baselines = [], []
    for u in held.u:
        total, base, count = 0.0, 0.0, 0
        for s in range(0, len(held.x0), chunk):
            x0 = held.x0[s : s + chunk].to(device)
            nb = obj.noisy(x0, held.noise[s : s + chunk].to(device), u[s : s + chunk].to(device))
            if network is None:
                total += source(nb.x_t, nb.timesteps, nb.target).sum().item()
            base += nb.target.float().pow(2).flatten(1).mean(1).sum().item()
            count += len(x0)
        losses_fn.append(total / count)
        baselines.append(base / count)
    if network is None:
        losses = losses_fn
    if per_band is None:
        import inspect

        per_band = inspect.signature(HeldOut).parameters["per_band"].default
    rows = len(held.x0) // per_band
    return BandLosses([tuple(b) for b in BANDS], losses, baselines, rows, split)
