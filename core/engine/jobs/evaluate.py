"""The ``evaluate`` job, the health check: samples of a model measured against its dataset
(:mod:`core.metrics.evaluate`), kept in the workspace's evaluations and summarised in the catalog."""

from __future__ import annotations

import hashlib
import json
import math
import time
from pathlib import Path
from typing import Any

import numpy as np

from core.catalogue.samplers import MAX_SEED, MAX_STEPS
from core.data.prepared import PreparedDataset
from core.engine import protocol as P
from core.engine.job import Context, Job, JobKind, Rate
from core.engine.jobs.common import (
    dataset_row,
    find_model,
    int_in,
    optional,
    png_b64,
    preview_image,
    require,
    shown,
)
from core.errors import Cancelled, NoisebloomError
from core.fsutil import atomic_write_text
from core.metrics.evaluate import evaluate_model, heldout_curve
from core.metrics.folders import match_images
from core.metrics.memorization import RATIO
from core.models.card import CARD_NAME, update_memorized_share
from core.models.folder import load_model_folder
from core.sampling.model import resolve_device
from core.workspace.paths import evaluations_dir

EVALUATE_NUM = 32  # samples a health check draws by default
MAX_EVALUATE_NUM = 2048  # samples a health check may draw (each is compared with every training picture)
MAX_HEALTH_PAIRS = 32  # samples sent with their nearest training pictures
HEALTH_NEIGHBOURS = 3


def validate(args: dict[str, Any], ctx: Context) -> None:
    model_id, _ = find_model(ctx, str(require(args, "model", str, "evaluate")), "evaluate")
    optional(args, "dataset", str, "evaluate", "give a dataset id")
    dataset_row(ctx, _evaluation_dataset(ctx, args, model_id), "evaluate")
    num = args.get("num", EVALUATE_NUM)
    if not isinstance(num, int) or isinstance(num, bool) or not 2 <= num <= MAX_EVALUATE_NUM:
        raise NoisebloomError(
            f"evaluate: num is {shown(num)}",
            fix=f"ask for at least 2 samples (FD needs two) and at most {MAX_EVALUATE_NUM}",
        )
    int_in(args, "steps", 1, MAX_STEPS, "evaluate")
    int_in(args, "seed", 0, MAX_SEED, "evaluate")
    optional(args, "sampler", str, "evaluate", "give a sampler name")
    optional(args, "device", str, "evaluate", "use auto, cpu, cuda or mps")


def _evaluation_dataset(ctx: Context, args: dict[str, Any], model_id: str | None) -> str:
    """The dataset given, else the one the model's run trained on."""
    if args.get("dataset") is not None:
        return str(args["dataset"])
    model = ctx.catalog.get("models", model_id) if model_id else None
    run = ctx.catalog.get("runs", model["run_id"]) if model and model.get("run_id") else None
    if run is None or not run.get("dataset_id"):
        raise NoisebloomError(
            "evaluate: this model has no training run in the workspace to take its dataset from",
            fix="pass the dataset to compare with ('dataset': id)",
        )
    return str(run["dataset_id"])


def _heldout_series(ctx: Context, model_id: str | None, model_path: Path) -> dict[str, list[list[float]]]:
    """The run's held-out loss (``val_loss`` and its bands) per step: the catalog's, else metrics.jsonl."""
    model = ctx.catalog.get("models", model_id) if model_id else None
    if model and model.get("run_id"):
        series = ctx.catalog.metrics(model["run_id"])
        out = {k: v for k, v in series.items() if k.startswith("val_loss")}
        if out:
            return out

    curve = heldout_curve(model_path)
    return {"val_loss": [[s, v] for s, v in curve]} if curve else {}


def _health_pairs(report: Any, data: Any, resolution: int, channels: int) -> list[dict[str, Any]]:
    """Each sample (flagged copies first, then closest to copying) beside its nearest training pictures."""
    mem = report.memorization
    rows = mem.get("nearest_rows") or []
    if report.samples is None or not rows:
        return []
    flagged = set(mem.get("memorized", []))
    d1, d2 = mem.get("d1", []), mem.get("d2", [])
    ratios = [a / b if b > 0 else (0.0 if a == 0 else float("inf")) for a, b in zip(d1, d2, strict=False)]
    order = sorted(range(len(rows)), key=lambda i: (i not in flagged, ratios[i] if i < len(ratios) else 1.0))

    def picture(a: np.ndarray) -> str:
        if a.shape[-3:] != (resolution, resolution, channels):
            a = match_images(a, resolution, channels)
        return png_b64(preview_image(a))

    pairs = []
    for i in order[:MAX_HEALTH_PAIRS]:
        near = [int(r) for r in rows[i][:HEALTH_NEIGHBOURS]]
        pairs.append(
            {
                "index": i,
                "sample": picture(np.asarray(report.samples[i])),
                "nearest": [picture(np.asarray(data.array[r])) for r in near],
                "rows": near,
                "d1": float(d1[i]),
                "d2": float(d2[i]) if i < len(d2) else None,
                "ratio": float(ratios[i]) if i < len(ratios) else None,
                "memorized": i in flagged,
            }
        )
    return pairs


def run(job: Job, ctx: Context) -> P.EvaluateDone:
    """Sample the model and measure it against its dataset (core/metrics/evaluate.py); keep the result."""
    a = job.args
    model_id, model_path = find_model(ctx, str(a["model"]), "evaluate")
    ds = dataset_row(ctx, _evaluation_dataset(ctx, a, model_id), "evaluate")
    num, batch = int(a.get("num", EVALUATE_NUM)), 16
    device = resolve_device(str(a.get("device", "auto")))
    progress = {"sampled": 0, "total": 0, "stage": 0, "message": "loading the model"}
    rate = Rate()

    def stop() -> bool:
        if job.checkpoint():  # a check has nothing worth keeping half-done: stop ends it like cancel
            raise Cancelled()
        return False

    def send(force: bool = False) -> None:
        total = progress["total"]
        done = progress["sampled"] + max(0, progress["stage"] - 1) if total else 0
        r, eta = rate(done, total)
        ctx.emit_throttled(
            P.Progress(
                id=job.id,
                done=done,
                total=total,
                unit="steps",
                rate=r,
                eta_s=eta,
                message=progress["message"],
            ),
            force=force,
        )

    def on_step(info: Any) -> None:
        if not progress["total"]:  # sampling steps of every batch, then three measuring stages
            progress["total"] = math.ceil(num / batch) * int(info.n) + 3
        progress["sampled"] += 1
        send()

    def on_log(message: str) -> None:
        if progress["sampled"]:
            progress["stage"] += 1
        progress["message"] = message
        send(force=True)
        stop()

    send(force=True)
    model = load_model_folder(model_path, device)
    data = PreparedDataset.open(ds["path"])
    report = evaluate_model(
        model,
        data,
        num=num,
        steps=a.get("steps"),
        sampler=a.get("sampler"),
        seed=int(a.get("seed", 0)),
        batch_size=batch,
        device=str(device),
        log=on_log,
        should_stop=stop,
        callback=on_step,
    )
    info = model.info or {}
    resolution = int(info.get("resolution") or data.resolution)
    channels = int(info.get("channels") or data.channels)
    figures = report.to_dict()
    figures.pop("memorization", None)  # the per-sample lists travel as "pairs"
    result = {
        **figures,
        "model": model_id,
        "model_dir": str(model_path),
        "dataset": ds["id"],
        "dataset_dir": str(ds["path"]),
        "dataset_name": ds.get("name"),
        "created": time.time(),
        "memorized_count": len(report.memorization.get("memorized", [])),
        "ratio_threshold": RATIO,
        "heldout_series": _heldout_series(ctx, model_id, model_path),
        "pairs": _health_pairs(report, data, resolution, channels),
        "summary": report.summary(),
    }
    key = model_id or "path-" + hashlib.sha1(str(model_path.resolve()).encode()).hexdigest()[:12]
    out = evaluations_dir(ctx.root) / f"{key}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out, json.dumps(result, default=P._json_default))
    if model_id:
        ctx.catalog.update(
            "models",
            model_id,
            evaluation={
                "path": str(out),
                "created": result["created"],
                "verdict": result["verdict"],
                "memorized_share": report.memorized_share,
                "num_samples": report.num_samples,
            },
        )
    try:  # the model card's memorised share (core.models.card); the result itself is kept above
        update_memorized_share(model_path, report.memorized_share, report.num_samples)
    except OSError as e:
        where = model_path / CARD_NAME
        ctx.emit(
            P.Log(id=job.id, level="warning", message=f"{where}: the memorised share was not updated ({e})")
        )
    progress["stage"], progress["message"] = 4, "done"
    send(force=True)
    return P.EvaluateDone(**result, evaluation=str(out))


KINDS = {"evaluate": JobKind(validate, run)}
