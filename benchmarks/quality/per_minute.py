"""The headline: 10 minutes of training with Noisebloom's defaults vs diffusers' unconditional recipe.

Each recipe trains for ``--minutes`` of wall clock (the trainer's ``max_minutes``: start-up,
previews and the final save included), then ``--samples`` samples are drawn with each of
``--sample-seeds`` and judged; the targets are checked on the mean over those draws, FD against real
digits' FD at the same set size (``DigitJudge.real_fd``: FD's finite-set bias depends on it). The
defaults' model is sampled as the app samples (``SampleConfig().steps``) and at ``--also-steps``.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from benchmarks.digits import DigitJudge, digits_dataset, reference
from benchmarks.quality.shared import (
    JUDGED,
    judged_line,
    over_draws,
    real_line,
    rounded,
    seeded_draws,
    train_recipe,
)

NAME = "per-minute"
RECIPES = ("noisebloom-defaults", "diffusers-recipe", "previous-defaults-unet-cpu")

# diffusers' examples/unconditional_image_generation/train_unconditional.py, its defaults and
# README command: DDPM eps prediction, linear betas (1e-4..0.02, 1,000 steps), AdamW lr 1e-4 with
# 500 warmup steps then cosine, weight decay 1e-6, batch 16, no EMA, sampled with DDPM's 1,000
# steps in its pipeline (here DDIM 50 for 500 samples in reasonable time; the steps section shows
# what 1,000 DDPM steps give).
DIFFUSERS_RECIPE = {
    "objective": "eps",
    "schedule": "linear",
    "t_sampling": "uniform",
    "loss_weighting": "uniform",
    "lr": 1e-4,
    "lr_schedule": "cosine",
    "warmup": 500,
    "weight_decay": 1e-6,
    "optimizer": "adamw",  # the script's (Noisebloom's pixel-small takes Muon)
    "adam_beta2": 0.999,  # the script's default (Noisebloom's is 0.99)
    "batch_size": 16,
    "ema_decay": 0.0,
    "grad_clip": 1.0,
    "guide_at": 0.0,  # no autoguidance guide: the recipe samples its network alone
}
# the TrainConfig fields the headline records beside its figures
REPORTED_DEFAULTS = (
    "preset", "objective", "optimizer", "lr", "batch_size", "adam_beta2", "ema_decay", "ema_power", "t_sampling",
    "loss_weighting", "guide_at", "preview_steps",
)  # fmt: skip


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--minutes", type=float, default=10.0)
    p.add_argument("--samples", type=int, default=500)
    p.add_argument("--only", nargs="*", choices=RECIPES)
    p.add_argument("--recipe-preset", help="network for the diffusers recipe (default: the defaults' preset)")
    p.add_argument(
        "--sample-seeds",
        default="0,1,2",
        help="draw --samples samples with each seed; figures are their mean",
    )
    p.add_argument(
        "--also-steps",
        default="8",
        help="also sample Noisebloom's model at these step counts (the training previews' 8 by default)",
    )


def run(args: argparse.Namespace) -> dict:
    """Each recipe trained, sampled with each seed and judged; the targets on the defaults' means."""
    from core.models.folder import load_model_folder
    from core.sampling.config import SampleConfig
    from core.training.config import TrainConfig

    data = digits_dataset(32)
    judge = DigitJudge.build(32, data)
    ref = reference(32)
    fd_real_1000 = ref["real_train_vs_heldout"]["fd"]
    real = ref["real_fd_by_size"].get(str(args.samples)) or judge.real_fd(args.samples)
    fd_real = real["fd_mean"]
    seeds = [int(s) for s in args.sample_seeds.split(",")]
    defaults = TrainConfig()
    app_steps = SampleConfig().steps  # what Generate, `noisebloom sample` and the health check use
    rows: dict[str, Any] = {}
    recipes = {
        "noisebloom-defaults": ({}, None, app_steps),
        "diffusers-recipe": (
            {**DIFFUSERS_RECIPE, "preset": args.recipe_preset or defaults.preset},
            "ddim",
            50,
        ),
        # what the app trained with before these benchmarks: the full-resolution UNet at 1e-3
        "previous-defaults-unet-cpu": (
            {
                "preset": "unet-cpu",
                "lr": 1e-3,
                "loss_weighting": "uniform",
                "guide_at": 0.0,
                "adam_beta2": 0.999,
                "ema_power": 2 / 3,
            },
            "dpmpp_2m",
            defaults.preview_steps,
        ),
    }
    for name in args.only or ["noisebloom-defaults", "diffusers-recipe"]:
        overrides, sampler, steps = recipes[name]
        row = train_recipe(name, overrides, data, args.minutes, args.work / "per-minute")
        model = load_model_folder(row["model_dir"])  # loaded once for every draw
        draws = seeded_draws(model, judge, seeds, n=args.samples, sampler=sampler, steps=steps)
        row.update({k: v for k, v in draws[0].items() if k not in (*JUDGED, "kid_std", "class_histogram")})
        row.update(over_draws(draws, seeds))
        row["fd_vs_real_fd"] = row["fd"] / fd_real
        row["fd_vs_real_fd_1000"] = row["fd"] / fd_real_1000
        if name == "noisebloom-defaults":  # the same model and noise at other step counts
            row["also_at_steps"] = {
                str(other): over_draws(seeded_draws(model, judge, seeds, n=args.samples, steps=other), seeds)
                for other in [int(c) for c in args.also_steps.split(",") if c and int(c) != steps]
            }
        rows[name] = rounded(row)
        print(name, json.dumps(rows[name]), flush=True)
    d = rows.get("noisebloom-defaults")
    targets = None
    if d:
        targets = {
            "confident_share >= 0.85": d["confident_share"] >= 0.85,
            "class_entropy >= 0.95": d["class_entropy"] >= 0.95,
            "fd <= 3x real-vs-real fd (same set size)": d["fd"] <= 3 * fd_real,
            "memorized_share < 0.01": d["memorized_share"] < 0.01,
        }
    return {
        "minutes": args.minutes,
        "samples": args.samples,
        "sample_seeds": seeds,
        "real_vs_heldout": rounded(ref["real_train_vs_heldout"]),
        "real_fd_same_size": rounded(real),
        "real_heldout_scores": rounded(ref["real_heldout_scores"]),
        "defaults": {
            **{k: v for k, v in defaults.to_dict().items() if k in REPORTED_DEFAULTS},
            "lr": defaults.peak_lr(),
            "optimizer": defaults.optimizer_kind(),
            "ema_power": round(defaults.ema_power_value(), 4),
        },  # unset fields resolved to the preset's
        "rows": rows,
        "targets": targets,
    }


def summary(f: dict) -> dict:
    out = {
        name: f"{judged_line(r)}; {r['steps']} training steps, sampled with {r['sampler']} {r['sample_steps']}"
        + (f", autoguidance {r['guidance']:g}" if r.get("guidance") else "")
        + (
            f"; means of {len(r['draws'])} sampling seeds, FD "
            + " / ".join(f"{d['fd']:.2f}" for d in r["draws"])
            if r.get("draws")
            else ""
        )
        for name, r in f["rows"].items()
    }
    for name, r in f["rows"].items():
        for few, m in (r.get("also_at_steps") or {}).items():
            out[f"{name} at {few} sampling steps"] = (
                f"{judged_line(m)}; the same model and noise, {m['sample_seconds']:.1f} s per draw against"
                f" {r['sample_seconds']:.1f} s"
            )
    real = f.get("real_fd_same_size")
    real_key = "real digits, 1,000 of them (one draw)" if real else "real digits"
    out[real_key] = judged_line({**f["real_vs_heldout"], "memorized_share": 0.0})
    if real:
        out[f"real digits, {real['n']} of them"] = f"{real_line(real)}: the targets' FD reference"
    if f.get("targets"):
        out["targets met"] = ", ".join(k for k, ok in f["targets"].items() if ok) or "none"
        out["targets missed"] = ", ".join(k for k, ok in f["targets"].items() if not ok) or "none"
    return out


def result_key(args: argparse.Namespace) -> str:
    if args.only and len(args.only) == 1:
        return "per_minute_" + args.only[0].replace("-", "_")  # one recipe per process: one file each
    return "per_minute"
