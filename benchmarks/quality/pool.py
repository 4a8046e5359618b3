"""Sampling settings judged over several trained models and sampling seeds at once.

One model and one seed are too noisy to choose by (FD moves by 1-2 between sampling seeds of one
model, and one seed's draw can favour many models at once: seed 0 was the most legible draw on
most of eight, ``quality_pool_defaults_sampling.json``); each setting here is the mean over
``--models`` x ``--sample-seeds`` draws of ``--samples``. A setting is ``KEY=VALUE,...`` with
``w`` (autoguidance weight), ``lo`` / ``hi`` (the guided band of noise levels), ``steps``,
``sampler`` and ``temp`` (the initial noise's scale).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from benchmarks.digits import DigitJudge, digits_dataset
from benchmarks.quality.shared import guide_in, judged_line, means, real_line, rounded, seeded_draws

NAME = "pool"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--name", required=True, help="names the result file: quality_pool_NAME.json")
    p.add_argument("--models", nargs="+", type=Path, required=True, help="trained model folders")
    p.add_argument("--sample-seeds", default="0,1,2")
    p.add_argument("--samples", type=int, default=500)
    p.add_argument("settings", nargs="+", help="KEY=VALUE,... with w, lo, hi, steps, sampler, temp")


def _temperature(t: float) -> None:
    """Exploration: start sampling from noise scaled by ``t`` (below 1: a narrower, more legible set)."""
    import core.sampling.sample as sampling
    from core.sampling.seeds import initial_noise

    def scaled(*a, **k):
        return initial_noise(*a, **k) * t

    sampling.initial_noise = scaled  # type: ignore[assignment]


def run(args: argparse.Namespace) -> dict:
    from core.models.folder import load_model_folder
    from core.sampling.guidance import GUIDE_BANDS

    data = digits_dataset(32)
    judge = DigitJudge.build(32, data)
    real = judge.real_fd(args.samples)
    models = {str(m): load_model_folder(m) for m in args.models}
    seeds = [int(s) for s in args.sample_seeds.split(",")]
    (lo, hi, _), *_ = GUIDE_BANDS
    settings = {}
    for spec in args.settings:
        kw = dict(kv.split("=", 1) for kv in spec.split(","))
        guide_in(((float(kw.get("lo", lo)), float(kw.get("hi", hi)), 1.0),))
        _temperature(float(kw.get("temp", 1.0)))
        sampling = {
            "sampler": kw.get("sampler"),
            "steps": int(kw.get("steps", 8)),
            "guidance": float(kw["w"]) if "w" in kw else None,
        }
        draws = [
            {"model": name, "seed": seed, **rounded(d)}
            for name, model in models.items()
            for seed, d in zip(
                seeds, seeded_draws(model, judge, seeds, n=args.samples, **sampling), strict=True
            )
        ]
        settings[spec] = {
            **rounded(means(draws)),
            "fd_max": max(d["fd"] for d in draws),
            "confident_share_min": min(d["confident_share"] for d in draws),
            "draws": draws,
        }
        print(spec, json.dumps({k: v for k, v in settings[spec].items() if k != "draws"}), flush=True)
    return {
        "models": {name: m.info.get("trained_steps") for name, m in models.items()},
        "sample_seeds": seeds,
        "samples": args.samples,
        "real_fd_same_size": rounded(real),
        "settings": settings,
    }


def summary(f: dict) -> dict:
    n = len(f["models"]) * len(f["sample_seeds"])
    out = {
        spec: f"{judged_line(r)} (means of {n} draws); FD at most {r['fd_max']:.2f}, confident at least"
        f" {r['confident_share_min']:.0%}"
        for spec, r in f["settings"].items()
    }
    r = f["real_fd_same_size"]
    out[f"real digits, {r['n']} of them"] = real_line(r)
    return out


def result_key(args: argparse.Namespace) -> str:
    return f"pool_{args.name}"
