"""Where models of known quality land on the figures the health verdict reads.

Each model (``--models``, plus fresh ones trained for each of ``--early-steps`` steps, which are
still mostly noise) is evaluated exactly as the health panel does (``evaluate_model``: random-conv
FD between real pictures and noise, held-out loss ratio, memorised share, verdict) and its
samples are judged by the digit classifier: the verdict's thresholds should separate the
models whose samples are digits from those whose samples are not.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from benchmarks.digits import DigitJudge, digits_dataset
from benchmarks.quality.shared import parse_set, rounded, train_recipe

NAME = "verdict"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--models",
        nargs="*",
        help="trained model folders to place on the verdict's scale (PATH@N: trained on N digits)",
    )
    p.add_argument("--early-steps", default="20,60,150", help="also train fresh models this many steps")
    p.add_argument("--samples", type=int, default=200)
    p.add_argument("--set", action="append", help="TrainConfig FIELD=VALUE for the early models")


def run(args: argparse.Namespace) -> dict:
    from core.metrics.evaluate import evaluate_model
    from core.metrics.verdict import noise_fraction
    from core.models.folder import load_model_folder

    data = digits_dataset(32)
    judge = DigitJudge.build(32, data)
    models: dict[str, str] = {}
    n_train: dict[str, int] = {}  # MODEL@N: the model trained on the first N digits (scarce section)
    for spec in args.models or []:
        path, _, n = spec.partition("@")
        name = Path(path).parent.name if Path(path).name == "model" else Path(path).name
        models[name] = path
        if n:
            n_train[name] = int(n)
    for steps in [int(s) for s in args.early_steps.split(",") if s]:
        name = f"early_{steps}_steps"
        row = train_recipe(
            name,
            {
                "max_minutes": None,
                "max_steps": steps,
                "warmup": 10,
                **dict(parse_set(kv) for kv in args.set or []),
            },
            data,
            0,
            args.work / "verdict",
        )
        models[name] = row["model_dir"]
    rows = {}
    for name, path in models.items():
        own = digits_dataset(32, n_train=n_train[name]) if name in n_train else data
        report = evaluate_model(
            load_model_folder(path), own, num=args.samples, steps=8, device="cpu", kid_subsets=20
        )
        judged = (DigitJudge.build(32, own) if name in n_train else judge).score(report.samples)
        rows[name] = rounded(
            {
                "noise_fraction": noise_fraction(report.fd, report.fd_real, report.fd_noise),
                "heldout_loss_ratio": (report.heldout or {}).get("ratio"),
                "memorized_share": report.memorized_share,
                "verdict": report.verdict.label,
                "reason": report.verdict.reason,
                "digit_confident_share": judged["confident_share"],
                "digit_fd": judged["fd"],
                "digit_class_entropy": judged["class_entropy"],
            }
        )
        print(name, json.dumps(rows[name]), flush=True)
    return {"samples": args.samples, "rows": rows}


def summary(f: dict) -> dict:
    return {
        name: f"{r['verdict']}: noise fraction {r['noise_fraction']:.2f}, loss ratio {r['heldout_loss_ratio']},"
        f" digits confident {r['digit_confident_share']:.0%}"
        for name, r in f["rows"].items()
    }


def result_key(args: argparse.Namespace) -> str:
    return "verdict"
