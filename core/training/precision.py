"""Mixed precision on the CPU: bf16 autocast where the processor computes bf16 itself and it trains faster.

Processors with AVX-512 BF16 or AMX (recent Xeons, AMD Zen 4 and later) run convolutions and
matrix products in bfloat16 at up to twice the float32 rate; elsewhere bf16 is emulated and slower.
So ``mixed_precision="auto"`` on the CPU looks for the instructions at the start of a run, then
times a forward and backward pass of the run's own network on its own batch size both ways and
trains in bf16 only when that is at least :data:`MIN_SPEEDUP` faster. Networks too small for the
difference to matter (a step under :data:`MIN_STEP_S`, the tests' tiny ones) stay in float32
without the second timing. The answer is kept per processor, torch version, thread count, network
and batch (``precision.json`` in the cache folder), so every run of one setup on one machine trains
the same way and measures nothing; the run records what it chose in ``config.json``, so a resume
does too; ``--mixed-precision no`` or ``bf16`` decides it by hand.

Attention runs in float32 under CPU autocast (:func:`keep_attention_float32`): torch's CPU flash
attention is about fourteen times slower backward in bf16 than in float32 on pixel-small.
Figures: ``benchmarks/results/train_speed_defaults_*.json`` (speed) and
``colour_digits_32px_precision_{no,bf16}.json`` (quality at a fixed step budget); the decisions
entry of 2026-12-04 has the rest.
"""

from __future__ import annotations

import functools
import json
import os
import platform
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch

MIN_SPEEDUP = 1.1
"""bf16 is chosen only when a step is at least this much faster: the timing is short and noisy."""
MIN_STEP_S = 0.02
"""A float32 forward and backward faster than this is not timed in bf16 (too small to gain)."""
PROBE_MAX_BATCH = 64


def native_cpu_bf16() -> bool:
    """Whether this CPU computes bfloat16 itself (AVX-512 BF16 or AMX tiles), as torch detects it."""
    cpu = getattr(torch, "cpu", None)
    checks = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    try:
        return any(bool(getattr(cpu, name)()) for name in checks if hasattr(cpu, name))
    except Exception:  # pragma: no cover - a torch build without the CPU checks
        return False


def keep_attention_float32(network: torch.nn.Module) -> list[tuple[torch.nn.Module, object]]:
    """Give every diffusers ``Attention`` in ``network`` a processor that computes in float32 under
    CPU autocast; returns the processors it replaced, for :func:`restore_attention`. Nothing saved
    changes: processors are not weights."""
    from diffusers.models.attention_processor import Attention

    replaced = []
    for module in network.modules():
        if isinstance(module, Attention):
            replaced.append((module, module.processor))
            module.set_processor(_float32_attention()())
    return replaced


def restore_attention(replaced: list[tuple[torch.nn.Module, object]]) -> None:
    for module, processor in replaced:
        module.set_processor(processor)


@functools.cache
def _float32_attention() -> type:
    """The processor class, built on first use so that importing this module needs no diffusers."""
    from diffusers.models.attention_processor import AttnProcessor2_0

    class Float32Attention(AttnProcessor2_0):
        """diffusers' scaled-dot-product attention with CPU autocast off and its inputs in float32."""

        def __call__(self, attn, hidden_states, encoder_hidden_states=None, attention_mask=None, temb=None):  # noqa: ANN001
            if encoder_hidden_states is not None:
                encoder_hidden_states = encoder_hidden_states.float()
            with torch.autocast("cpu", enabled=False):
                return super().__call__(
                    attn, hidden_states.float(), encoder_hidden_states, attention_mask, temb
                )

    return Float32Attention


def step_seconds(
    network: torch.nn.Module,
    x: torch.Tensor,
    t: torch.Tensor,
    *,
    bf16: bool = False,
    repeats: int = 2,
    autocast: Callable[[], Any] | None = None,
    sync: Callable[[], None] = lambda: None,
) -> float:
    """The fastest of ``repeats`` forward-and-backward passes of ``network`` on ``x`` at ``t`` (after
    one untimed pass), in CPU bf16 autocast or float32, or under ``autocast()`` where given; ``sync``
    waits for the device before and after each pass. The gradients are dropped afterwards, also when
    a pass fails (a GPU out of memory: :func:`core.training.gpu.probe_step`)."""
    best = float("inf")
    try:
        for i in range(repeats + 1):
            sync()
            t0 = time.perf_counter()
            with (
                autocast()
                if autocast is not None
                else torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16)
            ):
                out = network(x, t).sample
            out.float().pow(2).mean().backward()
            sync()
            if i:
                best = min(best, time.perf_counter() - t0)
    finally:
        network.zero_grad(set_to_none=True)
    return best


@dataclass(frozen=True)
class Choice:
    mixed_precision: str  # "bf16" or "no"
    reason: str
    float32_s: float | None = None
    bf16_s: float | None = None

    @property
    def speedup(self) -> float | None:
        if self.float32_s is None or not self.bf16_s:
            return None
        return self.float32_s / self.bf16_s


def cache_path() -> Path:
    """``precision.json`` in ``$NOISEBLOOM_HOME/cache`` where that is set, else the platform's cache folder."""
    import platformdirs

    home = os.environ.get("NOISEBLOOM_HOME")
    folder = (
        Path(home) / "cache" if home else Path(platformdirs.user_cache_dir("noisebloom", appauthor=False))
    )
    return folder / "precision.json"


def _processor_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def setup_key(network: torch.nn.Module, sample_shape: tuple[int, ...], batch_size: int) -> str:
    """What the choice depends on: processor, torch, threads, network, picture shape and batch."""
    config = dict(getattr(network, "config", {}) or {})
    net = f"{type(network).__name__}:{json.dumps(config, sort_keys=True, default=str)}"
    return "|".join(
        (
            _processor_name(),
            torch.__version__,
            str(torch.get_num_threads()),
            net,
            str(tuple(sample_shape)),
            str(batch_size),
        )
    )


def _cached(key: str) -> Choice | None:
    try:
        row = json.loads(cache_path().read_text(encoding="utf-8")).get(key)
        return Choice(**row) if isinstance(row, dict) else None
    except (OSError, ValueError, TypeError):
        return None


def _remember(key: str, choice: Choice) -> None:
    """Add ``choice`` to the cache; a cache that cannot be written is only a cache."""
    from core.fsutil import atomic_write_text

    path = cache_path()
    try:
        rows = json.loads(path.read_text(encoding="utf-8"))
        rows = rows if isinstance(rows, dict) else {}
    except (OSError, ValueError):
        rows = {}
    rows[key] = asdict(choice)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(path, json.dumps(rows, indent=1))
    except OSError:
        pass


def choose_cpu_precision(
    network: torch.nn.Module, sample_shape: tuple[int, ...], batch_size: int, *, native: bool | None = None
) -> Choice:
    """bf16 or float32 for training ``network`` on the CPU at ``batch_size`` pictures of
    ``sample_shape``: measured once per setup, as the module docstring says. The network's weights
    are untouched (no optimizer step) and torch's global random state is not used."""
    if not (native_cpu_bf16() if native is None else native):
        return Choice("no", "this processor has no native bf16")
    key = setup_key(network, sample_shape, batch_size)
    choice = _cached(key)
    if choice is None:
        choice = _measure(network, sample_shape, batch_size)
        _remember(key, choice)
    elif choice.mixed_precision == "bf16":
        keep_attention_float32(network)
    return choice


def _measure(network: torch.nn.Module, sample_shape: tuple[int, ...], batch_size: int) -> Choice:
    g = torch.Generator().manual_seed(0)
    batch = max(1, min(batch_size, PROBE_MAX_BATCH))
    x = torch.randn((batch, *sample_shape), generator=g)
    t = torch.randint(0, 1000, (batch,), generator=g)
    was_training = network.training
    network.train()
    try:
        fp32 = step_seconds(network, x, t, bf16=False)
        if fp32 < MIN_STEP_S:
            return Choice("no", "the network is too small to gain from bf16", fp32)
        replaced = keep_attention_float32(network)
        bf16 = step_seconds(network, x, t, bf16=True)
        chosen = fp32 / bf16 >= MIN_SPEEDUP
        if not chosen:
            restore_attention(replaced)
    finally:
        network.train(was_training)
    if chosen:
        return Choice("bf16", f"bf16 measured {fp32 / bf16:.2f}x as fast as float32", fp32, bf16)
    return Choice("no", f"bf16 measured only {fp32 / bf16:.2f}x as fast as float32", fp32, bf16)
