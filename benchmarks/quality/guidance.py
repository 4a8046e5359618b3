"""Guidance weights: one trained model with a guide network, its default sampler at ``--steps``, each
autoguidance weight; ``--bands`` / ``--intervals`` explore guiding in other bands of noise level."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from benchmarks.digits import DigitJudge, digits_dataset
from benchmarks.quality.shared import guide_in, judged_line, parse_bands, rounded, sample_and_judge

NAME = "guidance"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", type=Path, required=True)
    p.add_argument("--weights", default="0,0.25,0.5,0.75,1,1.5,2")
    p.add_argument("--steps", type=int, default=8)
    p.add_argument(
        "--bands",
        help="SPEC;SPEC;... each SPEC LO,HI[,FACTOR]|LO,HI[,FACTOR]|...: bands of noise level (0..1) to "
        "guide in, at FACTOR times each weight (default: GUIDE_BANDS only)",
    )
    p.add_argument("--intervals", help="LO,HI;LO,HI;...: one band each, at factor 1 (the older form)")
    p.add_argument("--name", help="names the result file: quality_guidance[_bands]_NAME.json")
    p.add_argument("--samples", type=int, default=500)


def run(args: argparse.Namespace) -> dict:
    """One trained model with a guide, its default sampler at ``--steps``, each autoguidance weight."""
    from core.models.folder import load_model_folder

    data = digits_dataset(32)
    judge = DigitJudge.build(32, data)
    model = load_model_folder(args.model)
    if model.guide is None:
        raise SystemExit(f"{args.model}: this model has no guide network (train it with guide_at > 0)")
    rows = []
    specs = args.bands or args.intervals  # an interval LO,HI is one band at factor 1
    for spec in specs.split(";") if specs else [None]:
        if spec:  # exploration: guide in these bands of noise level (timestep / 1000)
            guide_in(parse_bands(spec))
        for w in (float(x) for x in args.weights.split(",")):
            row = rounded(sample_and_judge(model, judge, n=args.samples, steps=args.steps, guidance=w))
            rows.append({**row, "bands": spec} if spec else row)
            print(json.dumps(rows[-1]), flush=True)
    best = min(rows, key=lambda r: r["fd"])
    return {
        "model": str(args.model),
        "guide_trained_steps": model.info.get("guide", {}).get("trained_steps"),
        "trained_steps": model.info.get("trained_steps"),
        "samples": args.samples,
        "rows": rows,
        "lowest_fd_at": best["guidance"],
    }


def summary(f: dict) -> dict:
    return {
        f"guidance {r['guidance']:g}, {r['sampler']} {r['sample_steps']}"
        + (f", noise levels {r['interval']}" if r.get("interval") else "")
        + (f", bands {r['bands']}" if r.get("bands") else ""): judged_line(r)
        for r in f["rows"]
    }


def result_key(args: argparse.Namespace) -> str:
    key = "guidance"
    if args.bands or args.intervals:
        key += "_bands" if args.bands else "_intervals"  # explorations: their own files
    if args.name:
        key += f"_{args.name}"
    return key
