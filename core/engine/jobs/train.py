"""The ``train``, ``finetune`` and ``resume_run`` jobs: a run folder trained by
:func:`core.training.trainer.train`, its progress, metrics and previews sent as events, its model
registered in the catalog. A run with a checkpoint is kept unless a cancel asks to discard it."""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from core.data.prepared import PreparedDataset
from core.engine import protocol as P
from core.engine.job import Context, Job, JobKind, Rate
from core.engine.jobs.common import (
    MAX_PREVIEW_IMAGES,
    dataset_row,
    find_model,
    forget_evaluation,
    int_in,
    png_b64,
    preview_image,
    require,
    train_config,
)
from core.errors import Cancelled, NoisebloomError
from core.training.config import MAX_TRAIN_STEPS, TrainConfig
from core.training.forecast import ExpectedSteps
from core.training.registry import register_model
from core.training.trainer import train
from core.words import count
from core.workspace.catalog import new_id
from core.workspace.paths import runs_dir


def validate_train(args: dict[str, Any], ctx: Context) -> None:
    train_config(ctx, args, "train")


def validate_finetune(args: dict[str, Any], ctx: Context) -> None:
    train_config(ctx, args, "finetune")


def validate_resume(args: dict[str, Any], ctx: Context) -> None:
    row = ctx.catalog.get("runs", str(require(args, "run", str, "resume_run")))
    if row is None:
        raise NoisebloomError(f"resume_run: no run {args['run']!r}", fix="list runs to see the ids")
    if not row.get("dataset_id") or ctx.catalog.get("datasets", row["dataset_id"]) is None:
        raise NoisebloomError(
            f"resume_run: run {row['id']!r} has no dataset in the library (trained from the command line, "
            "or its dataset was deleted), so it cannot continue here",
            fix="fine-tune its model on a dataset instead: drop a folder on the model",
        )
    int_in(args, "extra_steps", 1, MAX_TRAIN_STEPS, "resume_run")


def _train_hooks(
    job: Job, ctx: Context, run_id: str, run_dir: Path, budget_s: float | None = None
) -> dict[str, Callable[..., Any]]:
    """The trainer's callbacks for the engine. On a time budget (``budget_s``) the progress counts
    seconds, so the window's bar follows the clock, with the steps so far and the narrowing range they
    are expected to end at (:class:`~core.training.forecast.ExpectedSteps`)."""
    rate = Rate()
    first = {"step": None}
    expected = ExpectedSteps()

    def on_progress(step: int, total: int, metrics: dict[str, Any]) -> None:
        if first["step"] is None:
            first["step"] = step
            rate.start = step
            # A resumed run continues from its checkpoint: drop points logged after it.
            ctx.catalog.truncate_metrics(run_id, step - 1)
        r, eta = rate(step, total)
        if budget_s:
            elapsed = float(metrics.get("elapsed_s") or 0.0)
            low, high = expected.update(step, total)
            about = f"about {low:,}" if low == high else f"about {low:,}–{high:,}"
            progress = P.Progress(
                id=job.id,
                done=min(elapsed, budget_s),
                total=budget_s,
                unit="s",
                eta_s=max(0.0, budget_s - elapsed),
                message=f"{count(step, 'step')} so far, {about} in all",
                step=step,
                expected_steps=[low, high],
            )
        else:
            progress = P.Progress(id=job.id, done=step, total=total, unit="steps", rate=r, eta_s=eta)
        ctx.emit_throttled(progress)
        values = {
            k: float(v) for k, v in metrics.items() if isinstance(v, (int, float)) and not isinstance(v, bool)
        }
        if values:
            ctx.catalog.add_metrics(run_id, step, values)
            ctx.emit(P.Metric(id=job.id, step=step, values=values))

    def on_metric(step: int, values: dict[str, Any]) -> None:
        vals = {
            k: float(v) for k, v in values.items() if isinstance(v, (int, float)) and not isinstance(v, bool)
        }
        ctx.catalog.add_metrics(run_id, step, vals)
        ctx.emit(P.Metric(id=job.id, step=step, values=vals))

    def on_preview(step: int, images: np.ndarray) -> None:
        frames = np.array(images[:MAX_PREVIEW_IMAGES])
        ctx.emit_throttled(
            lambda: P.Preview(
                id=job.id,
                step=step,
                images=[png_b64(preview_image(im)) for im in frames],
                caption=f"step {step}",
            ),
            key=(job.id, "preview"),
        )

    return {
        "should_stop": job.checkpoint,
        "on_progress": on_progress,
        "on_metric": on_metric,
        "on_preview": on_preview,
    }


def _run_training(
    job: Job, ctx: Context, run_id: str, config: Any, data: Any, run_dir: Path, *, resume: bool, fresh: bool
) -> P.TrainDone:

    def has_checkpoint() -> bool:
        return (run_dir / "state" / "trainer.json").is_file()

    job.has_checkpoint = has_checkpoint
    job.writes = run_dir
    ctx.catalog.update("runs", run_id, status="running", started=time.time(), error=None)
    try:
        budget_s = 60.0 * config.max_minutes if config.max_minutes else None
        hooks = _train_hooks(job, ctx, run_id, run_dir, budget_s)
        result = train(config, data, run_dir, resume=resume, **hooks)
    except Cancelled:
        # deleted only when asked to be ("discard"), or when a new run has nothing saved yet
        if job.discard or (fresh and not has_checkpoint()):
            _forget_run(ctx, run_id, run_dir)
        else:
            ctx.catalog.update("runs", run_id, status="interrupted")
        raise
    except Exception as e:
        status = "interrupted" if has_checkpoint() else "failed"  # a checkpoint stays resumable
        ctx.catalog.update("runs", run_id, status=status, error=str(e), finished=time.time())
        raise
    if job.stop_requested and job.stop_reason == "shutdown":
        status = "interrupted"  # the engine closed: the run waits in the library to be resumed
    else:
        status = "stopped" if job.stop_requested else "done"
    ctx.catalog.update("runs", run_id, status=status, finished=time.time(), steps=int(result.steps))
    model_dir = Path(result.model_dir)
    model_id = _register_model(ctx, run_id, model_dir, ctx.catalog.get("runs", run_id)["name"])
    return P.TrainDone(
        run=run_id, model=model_id, run_dir=str(run_dir), model_dir=str(model_dir), steps=int(result.steps)
    )


def _forget_run(ctx: Context, run_id: str, run_dir: Path) -> None:
    """Delete a run: its folder, its catalog row and metrics, its models' rows and health checks."""
    for m in ctx.catalog.list("models", "WHERE run_id = ?", (run_id,)):
        ctx.catalog.delete("models", m["id"])
        forget_evaluation(ctx, m)
    ctx.catalog.delete("runs", run_id)
    if ctx.root in run_dir.resolve().parents:  # never delete outside the workspace
        shutil.rmtree(run_dir, ignore_errors=True)


def _register_model(ctx: Context, run_id: str, model_dir: Path, name: str) -> str:
    return register_model(ctx.catalog, model_dir, name, run_id)[0]


def _new_run(job: Job, ctx: Context, *, parent_model: str | None = None) -> P.TrainDone:
    ds = dataset_row(ctx, job.args["dataset"], job.kind)
    data = PreparedDataset.open(ds["path"])
    parent_id, parent_path = (None, None)
    if parent_model is not None:
        parent_id, parent_path = find_model(ctx, parent_model, job.kind)
    config = train_config(ctx, job.args, job.kind)
    run_id = new_id("run")
    run_dir = runs_dir(ctx.root) / run_id
    name = str(job.args.get("name") or (f"{ds['name']} (fine-tune)" if parent_model else ds["name"]))
    ctx.catalog.insert(
        "runs",
        id=run_id,
        name=name,
        dataset_id=ds["id"],
        parent_model_id=parent_id or (str(parent_path) if parent_path else None),
        config=config.to_dict(),
        status="queued",
        path=str(run_dir),
        created=time.time(),
    )
    return _run_training(job, ctx, run_id, config, data, run_dir, resume=False, fresh=True)


def run_train(job: Job, ctx: Context) -> P.TrainDone:
    return _new_run(job, ctx)


def run_finetune(job: Job, ctx: Context) -> P.TrainDone:
    return _new_run(job, ctx, parent_model=str(job.args["model"]))


def run_resume(job: Job, ctx: Context) -> P.TrainDone:
    row = ctx.catalog.get("runs", str(job.args["run"]))
    assert row is not None
    ds = dataset_row(ctx, row["dataset_id"], "resume_run")
    config = TrainConfig.from_dict(row["config"])
    extra = job.args.get("extra_steps")  # checked by validate()
    if extra is not None:
        config = config.replace(max_steps=int(row["steps"] or 0) + extra, max_minutes=None, max_epochs=None)
        ctx.catalog.update("runs", row["id"], config=config.to_dict())
    return _run_training(
        job,
        ctx,
        row["id"],
        config,
        PreparedDataset.open(ds["path"]),
        Path(row["path"]),
        resume=True,
        fresh=False,
    )


KINDS = {
    "train": JobKind(validate_train, run_train),
    "finetune": JobKind(validate_finetune, run_finetune),
    "resume_run": JobKind(validate_resume, run_resume),
}
