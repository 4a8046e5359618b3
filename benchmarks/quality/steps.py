"""Steps vs quality: one trained model, every sampler that fits it at 1000 / 100 / 50 / 20 / 10 / 8 /
4 / 2 / 1 steps (``--samples-1000`` samples above 100 steps), each set judged against the digits."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from benchmarks.digits import DigitJudge, digits_dataset
from benchmarks.quality.shared import rounded, sample_and_judge

NAME = "steps"
STEP_COUNTS = (1000, 100, 50, 20, 10, 8, 4, 2, 1)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", type=Path, required=True)
    p.add_argument("--samples", type=int, default=500)
    p.add_argument("--samples-1000", type=int, default=100, help="samples at more than 100 steps")
    p.add_argument("--samplers")
    p.add_argument("--counts")
    p.add_argument("--part", help="name of this share of the samplers (writes quality_steps_PART.json)")
    p.add_argument("--guidance", type=float, help="autoguidance weight (default: the model's default)")


def _fits(sampler: str, family: str) -> bool:
    from core.sampling.samplers import check_sampler

    try:
        check_sampler(sampler, family)
        return True
    except Exception:
        return False


def run(args: argparse.Namespace) -> dict:
    from core.catalogue.samplers import SAMPLERS, family_of
    from core.models.folder import load_model_folder

    data = digits_dataset(32)
    judge = DigitJudge.build(32, data)
    model = load_model_folder(args.model)
    family = family_of(model.objective)
    samplers = args.samplers.split(",") if args.samplers else [s for s in SAMPLERS if _fits(s, family)]
    counts = [int(c) for c in args.counts.split(",")] if args.counts else list(STEP_COUNTS)
    rows = []
    for sampler in samplers:
        for steps in counts:
            n = args.samples if steps <= 100 else args.samples_1000
            try:
                row = sample_and_judge(
                    model, judge, n=n, sampler=sampler, steps=steps, guidance=args.guidance
                )
            except Exception as e:  # a sampler that cannot do this count says so in one line
                row = {"sampler": sampler, "sample_steps": steps, "refused": str(e).splitlines()[0]}
            rows.append(rounded(row))
            print(json.dumps(rows[-1]), flush=True)
    scored = [r for r in rows if "fd" in r]
    best_many = min((r["fd"] for r in scored if r["sample_steps"] >= 50), default=None)
    best_8 = min((r["fd"] for r in scored if r["sample_steps"] == 8), default=None)
    return {
        "model": str(args.model),
        "objective": model.objective,
        "samples": args.samples,
        "samples_at_1000_steps": args.samples_1000,
        "guidance": "the model's default" if args.guidance is None else args.guidance,
        "rows": rows,
        "best_fd_50_steps_or_more": best_many,
        "best_fd_8_steps": best_8,
        "8_steps_within_1.5x_best": None
        if best_many is None or best_8 is None
        else best_8 <= 1.5 * best_many,
    }


def summary(f: dict) -> dict:
    return {
        f"{r['sampler']} {r['sample_steps']} steps"
        + (f", guidance {r['guidance']:g}" if r.get("guidance") else ""): (
            f"FD {r['fd']:.2f}, confident {r['confident_share']:.0%}, {r['sample_seconds']} s"
            if "fd" in r
            else "refused"
        )
        for r in f["rows"]
    }


def result_key(args: argparse.Namespace) -> str:
    return "steps_" + args.part if args.part else "steps"  # samplers split over processes: one file each
