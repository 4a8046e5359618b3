"""Few-step maps: a teacher trained with the defaults, made fast by each route, judged at 1 / 2 / 4 steps
beside the teacher's UniPC at 20 (and 8) steps, with the latency of one 16-image 1-step batch.

The teacher trains ``--teacher-steps`` optimizer steps (or ``--model`` gives one trained already);
each route works on its own copy of the folder for ``--fast-minutes`` (pool included) or
``--fast-steps``. The targets (issue 25) are checked on the route that is the default.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import time
from pathlib import Path

from benchmarks.digits import DigitJudge, digits_dataset
from benchmarks.quality.shared import WORK, parse_set, rounded, sample_and_judge, train_recipe

NAME = "fewstep"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", type=Path, help="a trained teacher (default: train one)")
    p.add_argument("--teacher-steps", type=int, default=2662, help="the teacher's optimizer steps")
    p.add_argument(
        "--routes",
        default="distil,consistency",
        help="comma-separated variants: a route, optionally with FastConfig fields, e.g. distil+lr=5e-4",
    )
    p.add_argument("--fast-minutes", type=float, default=2.0)
    p.add_argument("--fast-steps", type=int, default=None, help="student steps instead of minutes")
    p.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE", help="a FastConfig field")
    p.add_argument("--counts", default="1,2,4")
    p.add_argument("--samples", type=int, default=500)
    p.add_argument("--part", help="writes quality_fewstep_PART.json")


def _latency(model, rounds: int = 15) -> dict:
    """One batch of 16 pictures at 1 step, as the seed slider asks for it: median of ``rounds``."""
    from core.sampling.config import SampleConfig
    from core.sampling.sample import sample

    cfg = SampleConfig(sampler="fewstep", steps=1, num=16, batch_size=16, device="cpu")
    sample(model, cfg)  # warm-up
    times = []
    for seed in range(rounds):
        t0 = time.perf_counter()
        sample(model, cfg.replace(seed=seed))
        times.append(time.perf_counter() - t0)
    return {"median_ms": round(1000 * statistics.median(times), 1), "max_ms": round(1000 * max(times), 1)}


def run(args: argparse.Namespace) -> dict:
    from core.models.folder import load_model_folder
    from core.training.fewstep import FastConfig, make_fast

    data = digits_dataset(32)
    judge = DigitJudge.build(32, data)
    work = WORK / "fewstep"
    teacher: dict = {}
    if args.model is None:
        teacher = train_recipe(
            "teacher", {"max_steps": args.teacher_steps, "max_minutes": None}, data, 0, work
        )
        model_dir = Path(teacher["model_dir"])
    else:
        model_dir = args.model
    base = load_model_folder(model_dir)
    rows = [rounded(sample_and_judge(base, judge, n=args.samples, sampler="unipc", steps=s)) for s in (20, 8)]
    for r in rows:
        print(json.dumps(r), flush=True)
    overrides = dict(parse_set(kv) for kv in args.set)
    routes = {}
    for variant in args.routes.split(","):
        route, *fields = variant.split("+")
        folder = work / f"fast_{variant}"
        if folder.exists():
            shutil.rmtree(folder)
        shutil.copytree(model_dir, folder)
        budget = (
            {"steps": args.fast_steps, "minutes": None} if args.fast_steps else {"minutes": args.fast_minutes}
        )
        cfg = FastConfig(route=route, device="cpu", **{**budget, **overrides, **dict(map(parse_set, fields))})
        done = make_fast(folder, cfg)
        fast = load_model_folder(folder)
        judged = []
        for steps in (int(c) for c in args.counts.split(",")):
            judged.append(
                rounded(sample_and_judge(fast, judge, n=args.samples, sampler="fewstep", steps=steps))
            )
            print(route, json.dumps(judged[-1]), flush=True)
        routes[variant] = {
            "config": cfg.to_dict(),
            "student_steps": done.steps,
            "seconds": round(done.seconds, 1),
            "pool": done.pool,
            "loss_first_last": [round(done.first_loss, 5), round(done.last_loss, 5)],
            "rows": judged,
            "latency_16_images_1_step": _latency(fast),
        }
    unipc20 = rows[0]
    checks = {}
    for route, r in routes.items():
        by = {row["sample_steps"]: row for row in r["rows"]}
        checks[route] = {
            "2_steps": None if 2 not in by else {
                "fd_ratio_to_unipc20": round(by[2]["fd"] / unipc20["fd"], 3),
                "met": by[2]["confident_share"] >= 0.85 and by[2]["fd"] <= 1.25 * unipc20["fd"],
            },
            "1_step": None if 1 not in by else {
                "fd_ratio_to_unipc20": round(by[1]["fd"] / unipc20["fd"], 3),
                "met": by[1]["confident_share"] >= 0.80 and by[1]["fd"] <= 2.0 * unipc20["fd"],
            },
        }  # fmt: skip
    return {
        "teacher": {"model": str(model_dir), **teacher, "trained_steps": base.info.get("trained_steps")},
        "teacher_rows": rows,
        "routes": routes,
        "targets": checks,
        "real_digits": judge.real_fd(args.samples, draws=10),
    }


def summary(f: dict) -> dict:
    out = {
        f"teacher ({f['teacher']['trained_steps']} steps), unipc {r['sample_steps']}": (
            f"FD {r['fd']:.2f}, confident {r['confident_share']:.0%}"
        )
        for r in f["teacher_rows"]
    }
    for route, r in f["routes"].items():
        cells = ", ".join(
            f"{row['sample_steps']} step{'s' if row['sample_steps'] > 1 else ''}: FD {row['fd']:.2f} / "
            f"{row['confident_share']:.0%}"
            for row in r["rows"]
        )
        lat = r["latency_16_images_1_step"]["median_ms"]
        out[f"{route} ({r['student_steps']} student steps, {r['seconds']:.0f} s)"] = (
            f"{cells}; 16 images at 1 step: {lat} ms"
        )
    return out


def result_key(args: argparse.Namespace) -> str:
    return "fewstep_" + args.part if args.part else "fewstep"
