"""Non-leaking augmentation for small folders (Karras et al. 2022, "Elucidating the Design Space of
Diffusion-Based Generative Models", appendix C.4; the pipeline of Karras et al. 2020's ADA).

Each of the five geometric transforms below is applied to each picture independently with probability
``p``, and the network is told which were applied: :func:`augment` returns the augmented batch with
a label vector per picture (layout :data:`LABELS`), which the network adds to its time embedding
through a zero-initialised linear map (``augment_dim`` of :mod:`core.models.pixel_unet` and
:mod:`core.models.dit`). Sampling passes no labels, the same as all-zero labels ("not augmented"), so
the samples come out as the pictures are, while training sees rotated, shifted and rescaled views.

All random draws come from the CPU generator passed in, a fixed number per picture whatever the data,
so a batch's augmentation depends on the generator's seed alone (the trainer seeds it from the run's
seed and the batch's position in the stream: resumable, and the same on every device).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from core.training.config import auto_augment

LABELS = ("xflip", "yflip", "rotate_a", "rotate_b", "translate_x", "translate_y", "scale")
"""One column per entry, all 0 for a picture left as it is: ``xflip`` / ``yflip`` 1 when mirrored left-right
/ top-bottom; ``rotate_a`` = k in (1, 2) and ``rotate_b`` = k in (2, 3) for a rotation by k x 90 degrees
counter-clockwise (EDM's encoding); ``translate_x`` / ``translate_y`` the whole-pixel shift right / down as a
fraction of :data:`TRANSLATE_MAX` of the side (-1..1); ``scale`` the zoom's log2 in units of
:data:`SCALE_STD` (>0 enlarges). Applied in that order."""
AUGMENT_DIM = len(LABELS)
TRANSLATE_MAX = 0.125  # the largest shift, as a fraction of the side (EDM's translate_int_max)
SCALE_STD = 0.2  # standard deviation of log2 of the zoom (EDM's scale_std)


def resolve_augment(augment: float | None, pictures: int, takes_labels: bool, network: str) -> float:
    """The probability a run trains with: ``augment`` itself, or for None :func:`auto_augment` of the
    folder's ``pictures`` when the network takes augment labels, else 0.
    Augmenting a network that cannot be told which augmentation was applied would leak it into the samples,
    so an explicit ``augment`` > 0 for one is refused."""
    from core.errors import ConfigError

    if augment is None:
        return auto_augment(pictures) if takes_labels else 0.0
    if augment > 0 and not takes_labels:
        raise ConfigError(
            f"train.augment: {network} cannot be told which augmentation was applied, so its samples would show it",
            fix="set augment to 0, or train a pixel-* or dit-* preset from scratch",
        )
    return float(augment)


def batch_seed(seed: int, position: int, rank: int) -> int:
    """The augmentation seed of the batch at stream ``position`` in process ``rank`` of a run seeded ``seed``."""
    import numpy as np

    return int(np.random.SeedSequence([seed, 2, position, rank]).generate_state(1, np.uint64)[0] >> 1)


def augment(x: torch.Tensor, p: float, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """(augmented ``x``, labels (B, AUGMENT_DIM) float32) for a batch ``x`` (B, C, H, W) of square pictures
    in [-1, 1]; each transform of :data:`LABELS` is applied to each picture with probability ``p``.
    Borders are filled by reflection, so a shifted or shrunk picture continues its own edges."""
    if x.ndim != 4 or x.shape[-1] != x.shape[-2]:
        raise ValueError(f"augment takes a batch of square pictures (B, C, H, W), not {tuple(x.shape)}")
    n, _, side, _ = x.shape

    def chosen() -> torch.Tensor:
        return torch.rand(n, generator=generator) < p

    # every draw first, in a fixed order and number: the augmentation depends on the seed alone
    xflip, yflip = chosen(), chosen()
    rotate = torch.where(chosen(), torch.randint(1, 4, (n,), generator=generator), 0)
    shift_on = chosen()
    shift = ((torch.rand(2, n, generator=generator) * 2 - 1) * side * TRANSLATE_MAX).round().long() * shift_on
    scale_on = chosen()
    scale = torch.randn(n, generator=generator) * scale_on

    dev = x.device
    for flip, dim in ((xflip, -1), (yflip, -2)):
        if bool(flip.any()):
            x = torch.where(flip.to(dev)[:, None, None, None], x.flip(dim), x)
    for k in (1, 2, 3):
        rows = (rotate == k).nonzero().flatten().to(dev)
        if len(rows):
            x = x.index_copy(0, rows, torch.rot90(x[rows], k, dims=(-2, -1)))
    if bool(shift_on.any()):
        x = _shift(x, shift[0].to(dev), shift[1].to(dev))
    rows = scale_on.nonzero().flatten()
    if len(rows):
        x = x.index_copy(0, rows.to(dev), _zoom(x[rows.to(dev)], torch.exp2(scale[rows] * SCALE_STD).to(dev)))

    max_shift = max(1.0, side * TRANSLATE_MAX)
    labels = torch.stack(
        [
            xflip.float(),
            yflip.float(),
            ((rotate == 1) | (rotate == 2)).float(),
            ((rotate == 2) | (rotate == 3)).float(),
            shift[0].float() / max_shift,
            shift[1].float() / max_shift,
            scale,
        ],
        dim=1,
    )
    return x, labels.to(dev)


def _reflect(i: torch.Tensor, size: int) -> torch.Tensor:
    """Indices reflected into 0..size-1 without repeating the edge (numpy's "reflect")."""
    if size == 1:
        return torch.zeros_like(i)
    period = 2 * size - 2
    i = i.remainder(period)
    return torch.where(i >= size, period - i, i)


def _shift(x: torch.Tensor, dx: torch.Tensor, dy: torch.Tensor) -> torch.Tensor:
    """Each picture moved right by ``dx`` and down by ``dy`` whole pixels (B,), reflected at the border."""
    n, c, h, w = x.shape
    ys = _reflect(torch.arange(h, device=x.device)[None] - dy[:, None], h)  # (B, H): source row per row
    xs = _reflect(torch.arange(w, device=x.device)[None] - dx[:, None], w)
    x = x.gather(2, ys[:, None, :, None].expand(n, c, h, w))
    return x.gather(3, xs[:, None, None, :].expand(n, c, h, w))


def _zoom(x: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
    """Each picture scaled by ``s`` (B,) about its centre (bilinear, reflected at the border)."""
    theta = torch.zeros(len(s), 2, 3, device=x.device, dtype=x.dtype)
    theta[:, 0, 0] = theta[:, 1, 1] = 1 / s.to(x.dtype)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="reflection", align_corners=False)
