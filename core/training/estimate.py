"""Before training: how fast and how big will it be? Measured, not guessed.

Builds the preset's network at the dataset's size, runs a few real training steps (forward,
backward, the run's optimizer) on a random batch, and reports images/s and the memory training will
hold: weights, gradients, the optimizer's state and the EMA copy (at most five float32 copies of
the parameters: AdamW keeps two moments, Muon one for the hidden layers) plus the activations kept
for backward, counted exactly with ``saved_tensors_hooks`` at the configured batch size. The probe
batch is small; forward and backward scale with the batch, the optimizer step does not (Muon's
orthogonalisation is per step), so the two are timed apart. The same number on any device; the
speed is this machine's.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import torch

from core.models.presets import build, count_params, get_preset
from core.training.threads import ThreadPolicy

PARAM_COPIES = 5  # weights, gradients, AdamW m and v (Muon: one buffer), EMA


@dataclass(frozen=True)
class Estimate:
    img_per_s: float
    params: int
    param_bytes: int
    activation_bytes: int
    mixed_precision: str = "no"  # what the trainer would train in here: "bf16" or "no"

    @property
    def peak_memory_bytes(self) -> int:
        return self.param_bytes + self.activation_bytes

    def seconds_for(self, steps: int, batch_size: int) -> float:
        return steps * batch_size / self.img_per_s

    def to_dict(self) -> dict[str, Any]:
        return {
            "img_per_s": self.img_per_s,
            "params": self.params,
            "param_bytes": self.param_bytes,
            "activation_bytes": self.activation_bytes,
            "peak_memory_bytes": self.peak_memory_bytes,
            "mixed_precision": self.mixed_precision,
        }


def _activation_bytes(network: torch.nn.Module, x: torch.Tensor, t: torch.Tensor) -> int:
    seen: dict[tuple[int, int], int] = {}
    weights = {p.untyped_storage().data_ptr() for p in network.parameters()}

    def pack(tensor: torch.Tensor) -> torch.Tensor:
        storage = tensor.untyped_storage()
        if storage.data_ptr() not in weights:  # weights saved for backward are not activations
            seen[(storage.data_ptr(), storage.nbytes())] = storage.nbytes()
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
        out = network(x, t).sample
    out.float().pow(2).mean().backward()
    network.zero_grad(set_to_none=True)
    return sum(seen.values())


def estimate_training(
    preset: str,
    channels: int,
    resolution: int,
    batch_size: int,
    *,
    frames: int | None = None,
    timed_steps: int = 2,
    max_probe_batch: int = 8,
    optimizer: str = "adamw",
    bf16: bool | None = None,
) -> Estimate:
    """Measure ``preset`` at ``channels`` x ``resolution`` px (x ``frames`` for clips) on the CPU,
    training with ``optimizer`` ("adamw" or "muon", :func:`core.training.optim.make_optimizer`), on
    the threads the trainer's policy would use now (:mod:`core.training.threads`), in the precision
    the trainer would choose (bf16 timed too where this processor has it, :mod:`core.training.precision`)."""
    from core.training import precision
    from core.training.optim import MuonAdamW, make_optimizer

    network = build(preset, channels, resolution)
    params = count_params(network)
    shape = (channels, resolution, resolution)
    if get_preset(preset).data_kind == "clip":
        shape = (frames or 8, *shape)
    probe = max(1, min(batch_size, max_probe_batch))
    g = torch.Generator().manual_seed(0)
    x = torch.randn((probe, *shape), generator=g)
    t = torch.randint(0, 1000, (probe,), generator=g)
    if bf16 is None:
        bf16 = precision.native_cpu_bf16()
    opt = make_optimizer(optimizer, network.parameters(), lr=1e-4, betas=(0.9, 0.99), weight_decay=0.0)

    def step(bf16: bool = False) -> tuple[float, float]:
        if isinstance(opt, MuonAdamW):  # a bf16 run orthogonalises in bf16 too
            opt.ns_dtype = torch.bfloat16 if bf16 else torch.float32
        t0 = time.perf_counter()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            loss = network(x, t).sample.float().pow(2).mean()
        loss.backward()
        t1 = time.perf_counter()
        opt.step()
        opt.zero_grad(set_to_none=True)
        return t1 - t0, time.perf_counter() - t1

    threads = ThreadPolicy.for_device("cpu")  # measured on the threads training would use now
    if threads is not None:
        threads.tick()
    try:
        step()  # warm-up: allocations, kernel selection
        times = [step() for _ in range(timed_steps)]
        per_image = sum(fb for fb, _ in times) / (probe * timed_steps)
        mixed = "no"
        if bf16 and per_image * min(batch_size, precision.PROBE_MAX_BATCH) >= precision.MIN_STEP_S:
            precision.keep_attention_float32(network)
            step(True)
            times_bf16 = [step(True) for _ in range(timed_steps)]
            per_image_bf16 = sum(fb for fb, _ in times_bf16) / (probe * timed_steps)
            if per_image / per_image_bf16 >= precision.MIN_SPEEDUP:
                times, per_image, mixed = times_bf16, per_image_bf16, "bf16"
    finally:
        if threads is not None:
            threads.close()
    per_step = sum(o for _, o in times) / timed_steps
    img_per_s = batch_size / max(per_image * batch_size + per_step, 1e-9)
    act = _activation_bytes(network, x, t) * batch_size / probe
    return Estimate(
        img_per_s=img_per_s,
        params=params,
        param_bytes=params * 4 * PARAM_COPIES,
        activation_bytes=int(act),
        mixed_precision=mixed,
    )
