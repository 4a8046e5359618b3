"""Scarce data: 50 / 200 / 1,000 / 4,000 training digits with equal compute (``--minutes`` each),
each model judged with its own guide and, where it has one, without it (does guiding copy more?)."""

from __future__ import annotations

import argparse
import json

from benchmarks.digits import DigitJudge, digits_dataset
from benchmarks.quality.shared import judged_line, parse_set, rounded, sample_and_judge, train_recipe

NAME = "scarce"
SIZES = "50,200,1000,4000"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--sizes", default=SIZES)
    p.add_argument("--minutes", type=float, default=5.0)
    p.add_argument("--samples", type=int, default=500)
    p.add_argument("--set", action="append", help="TrainConfig FIELD=VALUE (JSON value)")


def run(args: argparse.Namespace) -> dict:
    from core.models.folder import load_model_folder

    sizes = [int(s) for s in args.sizes.split(",")]
    overrides = dict(parse_set(kv) for kv in args.set or [])
    rows = {}
    for n_train in sizes:
        data = digits_dataset(32, n_train=n_train)
        judge = DigitJudge.build(32, data)
        name = f"train_{n_train}"
        row = train_recipe(name, overrides, data, args.minutes, args.work / "scarce")
        row["epochs"] = round(row["images_seen"] / n_train, 1)
        model = load_model_folder(row["model_dir"])  # loaded once for both samplings
        row.update(sample_and_judge(model, judge, n=args.samples))
        if row.get("guidance"):  # the same samples without autoguidance: does guiding copy more?
            plain = sample_and_judge(model, judge, n=args.samples, guidance=0.0)
            row["unguided"] = rounded(
                {k: plain[k] for k in ("fd", "kid", "confident_share", "memorized_share")}
            )
        rows[name] = rounded(row)
        print(name, json.dumps(rows[name]), flush=True)
    return {"minutes_each": args.minutes, "samples": args.samples, "overrides": overrides, "rows": rows}


def summary(f: dict) -> dict:
    return {
        name: f"{judged_line(r)}; {r['epochs']} epochs"
        + (
            f"; unguided FD {r['unguided']['fd']:.2f}, memorised {r['unguided']['memorized_share']:.1%}"
            if r.get("unguided")
            else ""
        )
        for name, r in f["rows"].items()
    }


def result_key(args: argparse.Namespace) -> str:
    if args.sizes != SIZES:
        return "scarce_" + args.sizes.replace(",", "_")  # sizes split over processes: one file each
    return "scarce"
