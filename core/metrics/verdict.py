"""The plain-language verdict on a model: learning, copying, or not learning.

The rule, checked in this order (the first that holds decides):

1. **not learning** (``"not learning — check the learning rate"``) when the held-out loss ratio
   (loss over the loss of predicting zeros, :attr:`BandLosses.ratio`) is not finite or is at least
   ``NOT_LEARNING_LOSS_RATIO`` (0.9): the network explains under a tenth of the target on pictures
   it never saw, which is what an untrained or diverged network does.
2. **copying** (``"copying your pictures — add data or stop earlier"``) when more than
   ``COPYING_SHARE`` (5%) of the samples are memorised (Gu et al. 2023's ratio test, see
   :mod:`core.metrics.memorization`), or when a held-out loss history is given and its latest value
   is more than ``OVERFIT_RISE`` (10%) above its minimum: the network got worse on unseen pictures
   while training went on, the onset of memorisation.
3. **not learning** when the samples are about as far from the held-out pictures as noise is:
   ``noise_fraction = (FD(samples) - FD(real)) / (FD(noise) - FD(real)) >= NOT_LEARNING_NOISE_FRACTION``
   (0.15), where FD(real) is between two sets of real pictures and FD(noise) between random noise
   images and the held-out pictures (all with the same feature extractor).
4. otherwise **learning**.

A "not learning" finding (1 or 3) for a model trained fewer than
:data:`core.catalogue.training.TOO_FEW_STEPS` optimizer steps reads **trained too little**
(``"trained too little — extend the training"``) instead: that few steps cannot learn anything, so
the learning rate is not the thing to change.

Calibration (``benchmarks/digits.py`` and ``benchmarks/bench_quality.py verdict``, MNIST digits,
default random-conv features): degraded real digits (blurred sigma 1.5 px, noisy sigma 50/255,
pixel-shuffled) sit at noise fractions 0.02-0.05 and digits mixed half-and-half with uniform noise at
0.42; models trained 5-10 minutes (samples 37-49% confidently recognised digits) at 0.002-0.004; a
model trained 20 steps (samples all one non-digit blob) at 0.17; the collapsed diffusers-recipe model
at 1.41. The threshold 0.15 (was 0.5) puts the 20-step model, the half-noise digits and the collapse
on the "not learning" side and every trained model and degraded digit on the other. Known miss: a
model trained 60 steps whose samples are still mostly one blob sits at 0.028, inside the learning
side; the held-out loss ratio (0.27 there) does not catch it either. Scarce data (``bench_quality.py
scarce``, ``quality_scarce_*.json``, today's defaults, 5 minutes on one thread each): 50 digits
trained for 447 epochs give 99% memorised samples (93% unguided), far over ``COPYING_SHARE``; 200,
1,000 and 4,000 digits give none. One dataset only: the constants stay here so more benchmarks can
move them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from core.catalogue.training import TOO_FEW_STEPS

NOT_LEARNING_LOSS_RATIO = 0.9
COPYING_SHARE = 0.05
OVERFIT_RISE = 0.10
NOT_LEARNING_NOISE_FRACTION = 0.15

MESSAGES = {
    "learning": "learning",
    "copying": "copying your pictures — add data or stop earlier",
    "not_learning": "not learning — check the learning rate",
    "too_little": "trained too little — extend the training",
}


@dataclass(frozen=True)
class Verdict:
    label: str  # "learning" | "copying" | "not_learning" | "too_little"
    reason: str  # one line, with the figures that decided

    @property
    def message(self) -> str:
        return MESSAGES[self.label]

    def to_dict(self) -> dict[str, str]:
        return {"label": self.label, "message": self.message, "reason": self.reason}


def noise_fraction(fd_samples: float, fd_real: float, fd_noise: float) -> float:
    """Where the samples sit between real pictures (0) and noise (1) on the FD scale."""
    span = fd_noise - fd_real
    if not span > 0:
        return float("nan")
    return (fd_samples - fd_real) / span


def verdict(
    *,
    loss_ratio: float | None = None,
    memorized_share: float | None = None,
    heldout_history: Sequence[float] | None = None,
    noise_frac: float | None = None,
    trained_steps: int | None = None,
) -> Verdict:
    """Apply the module's rule to whichever figures are known (None = not measured)."""
    found = _verdict(loss_ratio, memorized_share, heldout_history, noise_frac)
    if found.label == "not_learning" and trained_steps is not None and trained_steps < TOO_FEW_STEPS:
        return Verdict(
            "too_little",
            f"only {trained_steps:,} training steps (fewer than {TOO_FEW_STEPS:,} cannot learn anything); "
            f"{found.reason}",
        )
    return found


def _verdict(
    loss_ratio: float | None,
    memorized_share: float | None,
    heldout_history: Sequence[float] | None,
    noise_frac: float | None,
) -> Verdict:
    if loss_ratio is not None and (not math.isfinite(loss_ratio) or loss_ratio >= NOT_LEARNING_LOSS_RATIO):
        return Verdict(
            "not_learning",
            f"held-out loss is {loss_ratio:.2f} of the loss of predicting nothing "
            f"(learning models reach well below {NOT_LEARNING_LOSS_RATIO})",
        )
    if memorized_share is not None and memorized_share > COPYING_SHARE:
        return Verdict(
            "copying",
            f"{memorized_share:.0%} of the samples are near-copies of training pictures "
            f"(more than {COPYING_SHARE:.0%})",
        )
    hist = [float(v) for v in (heldout_history or ()) if math.isfinite(float(v))]
    if len(hist) >= 2 and hist[-1] > (1 + OVERFIT_RISE) * min(hist):
        return Verdict(
            "copying",
            f"held-out loss rose from {min(hist):.4g} to {hist[-1]:.4g} while training went on",
        )
    if noise_frac is not None and math.isfinite(noise_frac) and noise_frac >= NOT_LEARNING_NOISE_FRACTION:
        return Verdict(
            "not_learning",
            f"samples are {noise_frac:.0%} of the way from real pictures to noise (FD)",
        )
    parts = []
    if loss_ratio is not None:
        parts.append(f"held-out loss {loss_ratio:.2f} of the no-skill loss")
    if memorized_share is not None:
        parts.append(f"{memorized_share:.0%} memorised")
    if noise_frac is not None and math.isfinite(noise_frac):
        parts.append(f"samples {max(noise_frac, 0):.0%} of the way to noise")
    return Verdict("learning", ", ".join(parts) or "no figures measured")
