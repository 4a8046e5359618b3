"""The trainer's GPU code paths, each chosen on CUDA only: the deferred finite check, channels-last
and ``torch.compile`` (the fused AdamW is :func:`core.training.optim.fused_for`).

The finite-gradient check of each optimizer step: a step whose gradient norm is not finite (a NaN or
infinite loss makes it so) is skipped, logged as a "skipped" row of ``metrics.jsonl``, and
``max_bad_steps`` such steps in a row stop the run. Two ways:

- **per step** (the CPU, and optimizers that cannot skip on the device): the host reads the norm after
  each step and skips the optimizer there; a skipped step is not counted as a step.
- **deferred** (CUDA with torch's fused AdamW): reading the norm each step would make the host wait
  for the GPU every step. Instead the flag stays on the device as the optimizer's ``found_inf``
  (what ``torch.amp.GradScaler`` sets), which torch's fused Adam kernels honour by leaving the
  weights, the moments and the step count untouched; counters of skipped steps and of consecutive
  ones (``run = (run + bad) * bad``) are kept on the device too, and the host reads them every
  ``sync_every`` steps (the run's ``log_every``), then writes the skipped rows and raises as the
  per-step check would. A skipped step still counts against the step budget there, and the EMA
  steps towards the unchanged weights.

:func:`memory_format_for` and :func:`compile_mode_for` are the run's layout and ``torch.compile``
decisions (``TrainConfig.memory_format`` and ``TrainConfig.compile``); :func:`fill_batch` is the batch
that fills a GPU (``TrainConfig.gpu_batch``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import torch

from core.training.optim import skips_on_device

CHANNELS_LAST_NETWORKS = ("unet", "pixel-unet")
"""The 4-D convolutional networks that "auto" puts in channels-last on CUDA (DiTs and clip networks stay
contiguous). On the 2-core CPU channels-last measured slower (pixel-small, 32 px, batch 64: 105-115
against 107-110 ms a step in float32, 117-122 against 99-101 in bf16), so "auto" keeps it to CUDA."""

COMPILE_MIN_MINUTES = 10.0
COMPILE_MIN_STEPS = 5_000
"""``compile="auto"`` compiles on CUDA only when every budget the run has is at least this long (the
warm-up, a minute or so for a UNet, is counted in the run's time). A guess, not yet measured on a GPU:
``benchmarks/gpu_checks.sh`` reports the warm-up and the compiled speed beside each other."""


def defers(device: torch.device, optimizer: torch.optim.Optimizer) -> bool:
    """Whether the run checks finiteness on the device (:class:`DeferredCheck`): on CUDA, with an
    optimizer that can skip a step there (:func:`core.training.optim.skips_on_device`)."""
    return device.type == "cuda" and skips_on_device(optimizer)


class DeferredCheck:
    """The device-side finite check of the module docstring. :meth:`mark` after each backward pass
    (no synchronisation), :meth:`read` every ``sync_every`` steps (one)."""

    def __init__(self, optimizer: torch.optim.Optimizer, device: torch.device, sync_every: int) -> None:
        self.sync_every = sync_every
        self.found_inf = torch.zeros((), dtype=torch.float32, device=device)
        optimizer.found_inf = self.found_inf  # read by torch's fused Adam at each step
        # skipped since the last read, consecutive now, the longest run of consecutive since the last read
        self._counts = torch.zeros(3, dtype=torch.float32, device=device)

    def mark(self, norm: torch.Tensor | float) -> torch.Tensor:
        """Flag this step: 1.0 (on the device) where ``norm`` is not finite, which the optimizer then
        skips; the counters advance."""
        norm = torch.as_tensor(norm, device=self.found_inf.device)
        bad = (~torch.isfinite(norm)).to(torch.float32)
        self.found_inf.copy_(bad)
        skipped, run, longest = self._counts.unbind()
        skipped.add_(bad)
        run.add_(bad).mul_(bad)
        torch.maximum(longest, run, out=longest)
        return bad

    def read(self) -> tuple[int, int]:
        """(skipped steps, the longest run of consecutive ones) since the last read; the host waits
        for the device here."""
        skipped, _, longest = (int(v) for v in self._counts.tolist())
        self._counts[0] = 0
        self._counts[2] = self._counts[1]
        return skipped, longest


def memory_format_for(choice: str, device: torch.device, network_kind: str | None) -> torch.memory_format:
    """``TrainConfig.memory_format`` resolved: "auto" is channels-last for the UNet and pixel-UNet
    networks on CUDA (:data:`CHANNELS_LAST_NETWORKS`), contiguous elsewhere; "channels_last" only
    applies to those 4-D networks."""
    if network_kind not in CHANNELS_LAST_NETWORKS or choice == "contiguous":
        return torch.contiguous_format
    if choice == "channels_last" or device.type == "cuda":
        return torch.channels_last
    return torch.contiguous_format


def compile_mode_for(
    choice: str, device: torch.device, time_budget_s: float | None, step_budget: int | None
) -> str | None:
    """``TrainConfig.compile`` resolved to a ``torch.compile`` mode ("default", "max-autotune",
    "reduce-overhead": CUDA graphs, for small networks whose steps are short), or None for none.
    "auto": on CUDA, where Triton (which torch.compile generates GPU kernels with) is installed, when
    the run is long enough to repay the warm-up (:data:`COMPILE_MIN_MINUTES`, :data:`COMPILE_MIN_STEPS`);
    never elsewhere."""
    if choice == "no":
        return None
    if choice == "yes":
        return "default"
    if choice != "auto":
        return choice
    if device.type != "cuda" or (time_budget_s is None and step_budget is None) or not _has_triton():
        return None
    long_in_time = time_budget_s is None or time_budget_s >= COMPILE_MIN_MINUTES * 60
    long_in_steps = step_budget is None or step_budget >= COMPILE_MIN_STEPS
    return "default" if long_in_time and long_in_steps else None


def _has_triton() -> bool:
    import importlib.util

    return importlib.util.find_spec("triton") is not None


FILL_MAX_GROWTH = 1.5
"""``gpu_batch="auto"`` doubles the batch while a step at twice the batch costs less than this many times
the step before (images per second up by a third or more: the GPU was not yet full)."""
FILL_MAX_FACTOR = 16
"""The batch grows to at most this many times ``batch_size`` (the learning rate to its square root, 4x)."""
FILL_MEMORY_SHARE = 0.6
"""A batch whose probe step peaks above this share of the GPU's memory is not taken: the EMA, the
sampling copy, the guide and the previews need the rest."""


@dataclass(frozen=True)
class BatchChoice:
    batch_size: int
    lr_scale: float
    """The learning rate's factor: the square root of the batch's growth (Malladi et al. 2022, "On the
    SDEs and Scaling Rules for Adaptive Gradient Algorithms")."""
    reason: str
    seconds: dict[int, float] = field(default_factory=dict)
    """The probe's forward-and-backward seconds per batch tried."""


def fills_batch(choice: str, device: torch.device) -> bool:
    """Whether the run grows its batch to fill the device: ``gpu_batch="auto"`` on CUDA only (a CPU is
    full at any batch, and its defaults were measured at theirs)."""
    return choice == "auto" and device.type == "cuda"


def largest_batch(base: int, pictures: int, most: int) -> int:
    """The largest ``base * 2**k`` (k <= log2 :data:`FILL_MAX_FACTOR`) within ``most`` and the training
    pictures (a batch larger than the folder repeats its pictures), and never below ``base``."""
    top = base
    while top * 2 <= min(most, pictures, base * FILL_MAX_FACTOR):
        top *= 2
    return top


def fill_batch(base: int, top: int, step_s: Callable[[int], float | None]) -> BatchChoice:
    """The batch from ``base`` doubled up to ``top`` while each doubling costs under
    :data:`FILL_MAX_GROWTH` the step before. ``step_s(batch)`` is the probe: seconds of a forward and
    backward pass at that batch, or None when it does not fit in memory."""
    seconds: dict[int, float] = {}
    first = step_s(base)
    if first is None:
        return BatchChoice(base, 1.0, f"batch {base} already fills the GPU's memory", seconds)
    seconds[base] = first
    batch, reason = base, f"the largest batch allowed here ({top})"
    while batch * 2 <= top:
        t = step_s(batch * 2)
        if t is None:
            reason = f"batch {batch * 2} does not fit in the GPU's memory"
            break
        seconds[batch * 2] = t
        if t >= FILL_MAX_GROWTH * seconds[batch]:
            reason = f"batch {batch * 2} costs {t / seconds[batch]:.2f}x a step of {batch}: the GPU is full"
            break
        batch *= 2
    return BatchChoice(batch, math.sqrt(batch / base), reason, seconds)


def probe_step(
    network: torch.nn.Module,
    sample_shape: tuple[int, ...],
    device: torch.device,
    *,
    autocast: Callable[[], object],
    memory_share: float = FILL_MEMORY_SHARE,
    repeats: int = 2,
) -> Callable[[int], float | None]:
    """:func:`fill_batch`'s probe for ``network`` (already on ``device``): the fastest of ``repeats``
    forward-and-backward passes at a batch after one untimed pass, under ``autocast()``; None where
    the pass runs out of memory or, on CUDA, peaks above ``memory_share`` of the device's memory.
    The gradients are dropped afterwards and the weights are not changed."""

    from core.training.precision import step_seconds

    def sync() -> None:
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    def step_s(batch: int) -> float | None:
        gen = torch.Generator(device="cpu").manual_seed(batch)
        x = torch.randn((batch, *sample_shape), generator=gen).to(device)
        t = torch.rand(batch, generator=gen).to(device) * 999
        if device.type == "cuda":
            torch.cuda.empty_cache()
            torch.cuda.reset_peak_memory_stats(device)
        try:
            best = step_seconds(network, x, t, repeats=repeats, autocast=autocast, sync=sync)
        except torch.OutOfMemoryError:
            return None
        finally:
            del x, t
        if device.type == "cuda":
            total = torch.cuda.get_device_properties(device).total_memory
            if torch.cuda.max_memory_allocated(device) > memory_share * total:
                return None
        return best

    return step_s
