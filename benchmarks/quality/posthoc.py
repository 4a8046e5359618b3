"""One training run, several EMA lengths tracked beside the trainer's, each sampled with its own guide.

The idea of EDM2's post-hoc EMA (Karras et al. 2024) done as plain parallel EMAs: every variant
averages the same weight trajectory, is kept as a guide at the same step as the trainer's, and
is sampled from the same noise, so the comparison is paired and the training seed's noise (FD
+-1.5 between seeds at this budget) cancels out. diffusers' EMAModel with warmup decays at
1 - (1 + step)^-power (capped at ``ema_decay``): an average over about step^power steps.
"""

from __future__ import annotations

import argparse
import json
import math
from typing import Any

import torch

from benchmarks.digits import DigitJudge, digits_dataset
from benchmarks.quality.shared import (
    judged_line,
    parse_set,
    register_arch,
    rounded,
    sample_and_judge,
    train_recipe,
)

NAME = "posthoc"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--name", required=True, help="names the result file: quality_posthoc_NAME.json")
    p.add_argument("--set", action="append", help="TrainConfig FIELD=VALUE (JSON value)")
    p.add_argument("--steps", type=int, default=2426, help="training steps (default: the CPU headline's)")
    p.add_argument("--powers", default="0.6667,0.75,0.8,0.85,0.9", help="EMA warmup exponents to track")
    p.add_argument("--weights", default="0.75,1,1.5", help="autoguidance weights to sample each with")
    p.add_argument("--samples", type=int, default=500)
    p.add_argument("--n-train", type=int)
    p.add_argument("--arch", help="an ad-hoc network (see register_arch)")


def run(args: argparse.Namespace) -> dict:
    import diffusers.training_utils as tu

    from core.models.folder import load_model_folder
    from core.training.config import TrainConfig

    overrides = dict(parse_set(kv) for kv in args.set or [])
    if args.arch:
        overrides["preset"] = register_arch(args.arch)
    powers = [float(p) for p in args.powers.split(",")]
    guide_at = TrainConfig(**{k: v for k, v in overrides.items() if k == "guide_at"}).guide_at
    guide_step = math.ceil(guide_at * args.steps)
    base = tu.EMAModel
    made: list[Any] = []

    class MultiEMA(base):  # type: ignore[misc,valid-type]
        def __init__(self, parameters, **kwargs):
            parameters = list(parameters)
            super().__init__(parameters, **kwargs)
            self.extra = {p: base(parameters, **{**kwargs, "power": p}) for p in powers}
            self.guides: dict[float, list[torch.Tensor]] = {}
            self.n = 0
            made.append(self)

        def to(self, *a, **k):
            super().to(*a, **k)
            for e in self.extra.values():
                e.to(*a, **k)

        def step(self, parameters):
            parameters = list(parameters)
            super().step(parameters)
            for e in self.extra.values():
                e.step(parameters)
            self.n += 1
            if self.n == guide_step:
                self.guides = {p: [t.clone() for t in e.shadow_params] for p, e in self.extra.items()}

    tu.EMAModel = MultiEMA
    data = digits_dataset(32, n_train=args.n_train)
    judge = DigitJudge.build(32, data)
    overrides.update(max_minutes=None, max_steps=args.steps, preview_every=0, checkpoint_every=0)
    row = train_recipe(args.name, overrides, data, 0, args.work / "posthoc")
    model = load_model_folder(row["model_dir"])
    kept = (model.info.get("guide") or {}).get("trained_steps")
    if kept != guide_step:
        raise SystemExit(f"the trainer kept its guide at step {kept}, the variants at {guide_step}")
    ema = made[-1]
    variants: dict[str, Any] = {}
    for p in powers:
        ema.extra[p].copy_to(model.network.parameters())
        for t, g in zip(model.guide.parameters(), ema.guides[p], strict=True):
            t.data.copy_(g)
        window = round(min(args.steps**p, 1 / (1 - ema.extra[p].decay)))
        for w in (float(x) for x in args.weights.split(",")):
            s = sample_and_judge(model, judge, n=args.samples, steps=8, guidance=w)
            variants[f"power {p:g}, guidance {w:g}"] = {"power": p, "window_steps": window, **rounded(s)}
            print(args.name, p, w, json.dumps(rounded(s)), flush=True)
    return {
        "steps": args.steps,
        "samples": args.samples,
        "guide_step": guide_step,
        "row": row,
        "variants": variants,
    }


def summary(f: dict) -> dict:
    return {
        name: f"{judged_line(r)}; EMA over about {r['window_steps']} steps"
        for name, r in f["variants"].items()
    }


def result_key(args: argparse.Namespace) -> str:
    return f"posthoc_{args.name}"
