"""Per-sample loss weights: uniform, or min-SNR-gamma (Hang et al. 2023, "Efficient Diffusion
Training via Min-SNR Weighting Strategy").

Min-SNR clamps each timestep's weight on the x0 error to min(SNR, gamma). For the other targets
the weight is converted: eps -> min(SNR, g) / SNR, v -> min(SNR, g) / (SNR + 1) (Hang et al., eq. 9),
flow velocity (noise - x0, with x0 error = sigma * velocity error) -> min(SNR, g) * sigma^2.
"""

from __future__ import annotations

import torch

LOSS_WEIGHTINGS = ("uniform", "min-snr")


def loss_weights(
    snr: torch.Tensor, objective: str, weighting: str = "uniform", gamma: float = 5.0
) -> torch.Tensor:
    """(B,) weights for the per-sample MSE of ``objective`` at signal-to-noise ratios ``snr``."""
    if weighting == "uniform":
        return torch.ones_like(snr)
    if weighting != "min-snr":
        raise ValueError(f"unknown loss weighting {weighting!r}; use one of {', '.join(LOSS_WEIGHTINGS)}")
    clamped = torch.clamp(snr, max=gamma)
    if objective == "eps":
        return clamped / snr
    if objective == "v":
        return clamped / (snr + 1)
    if objective == "x0":
        return clamped
    if objective == "flow":
        sigma_sq = 1.0 / (1.0 + snr.sqrt()) ** 2  # snr = ((1 - s) / s)^2  =>  s = 1 / (1 + sqrt(snr))
        return clamped * sigma_sq
    raise ValueError(f"unknown objective {objective!r}")


def weighted_mse(pred: torch.Tensor, target: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """Mean over the batch of weight * per-sample mean squared error (float32)."""
    per_sample = (pred.float() - target.float()).pow(2).flatten(1).mean(1)
    return (per_sample * weights).mean()
