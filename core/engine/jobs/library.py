"""What the engine answers outside the job queue: the training-speed ``estimate``, ``delete`` of a
library item (its folder too, only inside the workspace, and never while a job uses it) and
``add_model`` of a model folder from anywhere (registered where it is, :mod:`core.training.registry`)."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from core.data.prepared import PreparedDataset
from core.engine import protocol as P
from core.engine.job import Context
from core.engine.jobs.common import config_args, dataset_row, forget_evaluation, optional, require
from core.errors import NoisebloomError
from core.training.config import TrainConfig
from core.training.estimate import estimate_training
from core.training.registry import model_folder_in, register_model


def estimate(ctx: Context, args: dict[str, Any]) -> dict[str, Any]:
    ds = dataset_row(ctx, str(require(args, "dataset", str, "estimate")), "estimate")
    data = PreparedDataset.open(ds["path"])
    overrides = config_args(args, "config", "estimate")
    overrides.setdefault("resolution", data.resolution)
    config = TrainConfig.from_dict(overrides)
    resolution = int(config.resolution or data.resolution)
    est = estimate_training(
        config.preset,
        data.channels,
        resolution,
        config.batch_size,
        frames=data.frames,
        optimizer=config.optimizer_kind(),
        bf16=None if config.mixed_precision == "auto" else config.mixed_precision == "bf16",
    )
    out = est.to_dict()
    out["resolution"] = resolution  # the size measured at: the window's forecast scales from it
    out["seconds"] = est.seconds_for(config.max_steps, config.batch_size) if config.max_steps else None
    out["steps"] = (
        int(config.max_minutes * 60 * est.img_per_s / config.batch_size) if config.max_minutes else None
    )
    return out


def delete_item(ctx: Context, what: str, item_id: str) -> dict[str, Any]:
    if what == "jobs":
        raise NoisebloomError("delete: jobs cannot be deleted", fix="cancel the job instead")
    row = ctx.catalog.get(what, item_id)
    if row is None:
        raise NoisebloomError(f"delete: no {what[:-1]} {item_id!r}", fix=f"list {what} to see the ids")
    busy = [j for j in ctx.live_jobs() if item_id in j.args.values()]
    if busy:
        raise NoisebloomError(
            f"delete: {what[:-1]} {item_id} is in use by job {busy[0].id}", fix="wait for it or cancel it"
        )
    path = Path(row["path"])
    ctx.catalog.delete(what, item_id)
    if what == "runs":
        for m in ctx.catalog.list("models", "WHERE run_id = ?", (item_id,)):
            ctx.catalog.delete("models", m["id"])
            forget_evaluation(ctx, m)
    if what == "models":
        forget_evaluation(ctx, row)
    if path.exists() and ctx.root in path.resolve().parents:  # never delete outside the workspace
        if what == "exports" and path.is_dir() and path.name != item_id:
            pass  # clips exported into a chosen folder: the folder is not the export's own
        elif path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink()
    return {"ok": True}


def add_model(ctx: Context, args: dict[str, Any]) -> P.ModelAdded:
    """Register a model folder (or a run folder's model) in the catalog by reference; the row of a
    folder already listed is found and answered instead of a second one."""
    path = str(require(args, "path", str, "add_model"))
    name = optional(args, "name", str, "add_model", "give the name as a string")
    if not Path(path).is_absolute():
        raise NoisebloomError(
            f"add_model: {path!r} is not an absolute path", fix="give the folder's full path"
        )
    folder = model_folder_in(path)
    model_id, added = register_model(ctx.catalog, folder, name)
    row = ctx.catalog.get("models", model_id) or {}
    return P.ModelAdded(model=model_id, added=added, name=str(row.get("name") or model_id), path=str(folder))
