"""One recipe (exploration): any TrainConfig field (``--set``), any preset or an ad-hoc network
(``--arch``), trained for ``--minutes`` and sampled with each ``--sample`` spec."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from benchmarks.digits import DigitJudge, digits_dataset
from benchmarks.quality import shared
from benchmarks.quality.shared import (
    judged_line,
    parse_set,
    register_arch,
    rounded,
    sample_and_judge,
    train_recipe,
)

NAME = "recipe"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--name", required=True)
    p.add_argument("--set", action="append", help="TrainConfig FIELD=VALUE (JSON value)")
    p.add_argument("--minutes", type=float, default=3.0)
    p.add_argument("--samples", type=int, default=300)
    p.add_argument("--n-train", type=int)
    p.add_argument(
        "--sample",
        default=":8",
        help="SAMPLER:STEPS[:GUIDANCE],... (empty sampler: the default; no guidance: the model's default)",
    )
    p.add_argument("--grid", help="save a PNG grid of 100 samples here")
    p.add_argument("--arch", help="an ad-hoc network, KIND:CH,CH,..:ATTN:LPB[:PATCH] (see register_arch)")


def _save_grid(images: np.ndarray, path: Path) -> None:
    from PIL import Image

    from core.training.preview import grid

    Image.fromarray(grid(images[:100])[..., 0]).save(path)


def run(args: argparse.Namespace) -> dict:
    from core.models.folder import load_model_folder

    overrides = dict(parse_set(kv) for kv in args.set or [])
    if args.arch:
        overrides["preset"] = register_arch(args.arch)
    data = digits_dataset(32, n_train=args.n_train)
    judge = DigitJudge.build(32, data)
    row = train_recipe(args.name, overrides, data, args.minutes, args.work / "recipes")
    model = load_model_folder(row["model_dir"])  # loaded once for every sampler and the grid
    for spec in args.sample.split(","):
        sampler, _, rest = spec.partition(":")
        steps, _, weight = rest.partition(":")
        guidance = float(weight) if weight else None
        s = sample_and_judge(
            model, judge, n=args.samples, sampler=sampler or None, steps=int(steps or 8), guidance=guidance
        )
        key = f"{s['sampler']}_{s['sample_steps']}" + (f"_g{weight}" if weight else "")
        row[key] = rounded({k: v for k, v in s.items() if k not in ("sampler", "sample_steps")})
        print(args.name, s["sampler"], s["sample_steps"], json.dumps(rounded(s)), flush=True)
    if args.grid:
        from core.sampling.config import SampleConfig
        from core.sampling.sample import sample

        images = sample(model, SampleConfig(steps=8, num=100, device=shared.DEVICE)).images
        _save_grid(images, Path(args.grid))
    return {"minutes": args.minutes, "samples": args.samples, "row": row}


def summary(f: dict) -> dict:
    return {k: judged_line(v) for k, v in f["row"].items() if isinstance(v, dict) and "fd" in v}


def result_key(args: argparse.Namespace) -> str:
    return f"recipe_{args.name}"
