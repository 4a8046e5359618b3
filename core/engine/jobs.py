"""The engine's jobs: thin glue from protocol commands to the core functions.

Each ``_job_<kind>(job, engine)`` parses its arguments into the core's own configs, calls the
core function with the job's hooks (``should_stop`` = :meth:`Job.checkpoint`, progress, preview
and step callbacks that emit events), records the outcome in the catalog, and returns the
``done`` event's results. Errors are raised as :class:`NoisebloomError` (one line, actionable).
"""

from __future__ import annotations

import base64
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from core.engine import protocol as P
from core.errors import Cancelled, NoisebloomError
from core.fsutil import refuse_existing
from core.workspace.catalog import new_id
from core.workspace.paths import datasets_dir, exports_dir, runs_dir, samples_dir

if TYPE_CHECKING:
    from core.engine.server import Engine, Job

MAX_PREVIEW_IMAGES = 16
EVALUATE_NUM = 32  # samples a health check draws by default
MAX_EVALUATE_NUM = 2048  # samples a health check may draw (each is compared with every training picture)
MAX_HEALTH_PAIRS = 32  # samples sent with their nearest training pictures
HEALTH_NEIGHBOURS = 3


# --- helpers ---------------------------------------------------------------------------------------


def png_b64(image: np.ndarray) -> str:
    """uint8 (H, W, C) -> base64 PNG (C = 1 or 3)."""
    from core.export.png import png_bytes

    return base64.b64encode(png_bytes(image)).decode("ascii")


class Rate:
    """Units per second over the job so far, and the ETA; for ``progress`` events."""

    def __init__(self, start_done: float = 0) -> None:
        self.t0 = time.monotonic()
        self.start = start_done

    def __call__(self, done: float, total: float) -> tuple[float | None, float | None]:
        dt = time.monotonic() - self.t0
        if dt <= 0 or done <= self.start:
            return None, None
        rate = (done - self.start) / dt
        return rate, max(0.0, (total - done) / rate) if total else None


def _require(args: dict[str, Any], name: str, kind: type | tuple[type, ...], command: str) -> Any:
    value = args.get(name)
    if not isinstance(value, kind):
        raise NoisebloomError(
            f"{command}: argument '{name}' is missing or of the wrong type", fix="see core/engine/protocol.py"
        )
    return value


def _dataset_row(engine: Engine, dataset_id: str, command: str) -> dict[str, Any]:
    row = engine.catalog.get("datasets", dataset_id)
    if row is None:
        raise NoisebloomError(
            f"{command}: no dataset {dataset_id!r}",
            fix="scan a folder first, or list datasets to see the ids",
        )
    return row


def _model_path(engine: Engine, model: str, command: str) -> tuple[str | None, Path]:
    row = engine.catalog.get("models", model)
    if row is not None:
        return row["id"], Path(row["path"])
    path = Path(model).expanduser()
    if path.is_dir():
        return None, path.resolve()
    raise NoisebloomError(
        f"{command}: no model {model!r}", fix="pass a model id from `list models` or a model folder"
    )


# --- validation (runs in the reader thread before a job is queued) -----------------------------------


def _optional(args: dict[str, Any], name: str, kind: type, command: str, fix: str) -> Any:
    """``args[name]`` when given, refused with the field and the fix when it is of another type."""
    value = args.get(name)
    if value is not None and (not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool)):
        raise NoisebloomError(f"{command}: argument '{name}' is {_shown(value)}", fix=fix)
    return value


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _int_in(args: dict[str, Any], name: str, lo: int, hi: int, command: str, default: Any = None) -> Any:
    value = args.get(name, default)
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or not lo <= value <= hi:
        raise NoisebloomError(
            f"{command}: argument '{name}' is {_shown(value)}", fix=f"use a whole number from {lo} to {hi}"
        )
    return value


def _config_args(args: dict[str, Any], name: str, command: str) -> dict[str, Any]:
    value = args.get(name)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise NoisebloomError(
            f"{command}: argument '{name}' is {_shown(value)}", fix="give an object of config fields, e.g. {}"
        )
    return dict(value)


def train_config(engine: Engine, args: dict[str, Any], kind: str) -> Any:
    """The job's TrainConfig: its ``config`` over the defaults, at the dataset's resolution unless set."""
    from core.data.prepared import PreparedDataset
    from core.training.config import TrainConfig

    overrides = _config_args(args, "config", kind)
    ds = _dataset_row(engine, str(_require(args, "dataset", str, kind)), kind)
    overrides.setdefault("resolution", PreparedDataset.open(ds["path"]).resolution)
    if kind == "finetune":
        _, parent = _model_path(engine, str(_require(args, "model", str, kind)), kind)
        overrides["init_from"] = str(parent)
    return TrainConfig.from_dict(overrides)


def sample_config(args: dict[str, Any]) -> Any:
    from core.sampling.config import SampleConfig

    cfg = _config_args(args, "config", "sample")
    cfg.setdefault("trajectory", True)
    return SampleConfig.from_dict(cfg)


def validate(kind: str, args: dict[str, Any], engine: Engine) -> None:
    """Every argument of a job, checked in the reader thread before ``accepted``: types, documented
    ranges (the configs' own bounds) and the configs themselves, so a refusal comes at once and
    names the field."""
    from core.config import MAX_SEED
    from core.sampling.samplers import MAX_STEPS
    from core.training.config import MAX_TRAIN_STEPS

    _optional(args, "name", str, kind, "give the name as a string")
    if kind == "scan":
        from core.data.settings import DatasetSettings

        sources = _require(args, "sources", list, "scan")
        if not sources:
            raise NoisebloomError("scan: no folders or files given", fix="drop a folder of pictures or clips")
        for s in sources:
            if not isinstance(s, str) or not s:
                raise NoisebloomError(
                    f"scan: a source is {_shown(s)}", fix="give each folder or file as a path string"
                )
            if not Path(s).expanduser().exists():
                raise NoisebloomError(f"{s}: no such file or folder", fix="check the path")
        DatasetSettings.from_dict(_config_args(args, "settings", "scan"))
    elif kind in ("train", "finetune"):
        train_config(engine, args, kind)
    elif kind == "resume_run":
        if engine.catalog.get("runs", str(_require(args, "run", str, kind))) is None:
            raise NoisebloomError(f"resume_run: no run {args['run']!r}", fix="list runs to see the ids")
        _int_in(args, "extra_steps", 1, MAX_TRAIN_STEPS, kind)
    elif kind == "sample":
        _model_path(engine, str(_require(args, "model", str, kind)), kind)
        sample_config(args)
    elif kind == "evaluate":
        model_id, _ = _model_path(engine, str(_require(args, "model", str, kind)), kind)
        _optional(args, "dataset", str, kind, "give a dataset id")
        _dataset_row(engine, _evaluation_dataset(engine, args, model_id), kind)
        num = args.get("num", EVALUATE_NUM)
        if not isinstance(num, int) or isinstance(num, bool) or not 2 <= num <= MAX_EVALUATE_NUM:
            raise NoisebloomError(
                f"evaluate: num is {_shown(num)}",
                fix=f"ask for at least 2 samples (FD needs two) and at most {MAX_EVALUATE_NUM}",
            )
        _int_in(args, "steps", 1, MAX_STEPS, kind)
        _int_in(args, "seed", 0, MAX_SEED, kind)
        _optional(args, "sampler", str, kind, "give a sampler name")
        _optional(args, "device", str, kind, "use auto, cpu, cuda or mps")
    elif kind in ("branch", "export"):
        if kind == "branch":
            _int_in(args, "step", 0, MAX_STEPS, kind, default=0)
            _int_in(args, "seed", 0, MAX_SEED, kind)
            _int_in(args, "steps", 1, MAX_STEPS, kind)
        if kind == "export":
            _validate_export_options(args)
        if kind == "export" and "run" in args:
            if args.get("what", "denoising") != "denoising":
                raise NoisebloomError(
                    f"export: 'what' is {args['what']!r} but a run has no clips to export",
                    fix="pass a sample_set for what 'clips', or leave 'what' out for the run's timelapse",
                )
            if engine.catalog.get("runs", str(args["run"])) is None:
                raise NoisebloomError(f"export: no run {args['run']!r}", fix="list runs to see the ids")
            return
        row = engine.catalog.get("sample_sets", str(_require(args, "sample_set", str, kind)))
        if row is None:
            raise NoisebloomError(
                f"{kind}: no sample set {args['sample_set']!r}", fix="list sample_sets to see the ids"
            )
        if kind == "export" and args.get("what") == "clips" and not _holds_clips(Path(row["path"])):
            raise NoisebloomError(
                f"export: sample set {row['id']} holds images, not clips ('what' is 'clips')",
                fix="leave 'what' out to export its denoising, or sample a clip model",
            )
    if kind == "export" and not args.get("overwrite", False):
        refuse_existing(_export_targets(args, engine), fix=EXPORT_OVERWRITE_FIX)


EXPORT_OVERWRITE_FIX = 'send the export again with "overwrite": true to replace them, or choose another name'


def _export_targets(args: dict[str, Any], engine: Engine) -> list[Path]:
    """The files an export with a chosen ``out`` would write (the workspace's own names are new)."""
    if "out" not in args:
        return []
    out = _absolute(args["out"], "export")
    if args.get("what") != "clips":
        return [out]
    from core.export.clips import clip_names

    row = engine.catalog.get("sample_sets", str(args["sample_set"]))
    fmt = str(args.get("format", "mp4"))
    names = clip_names(Path(row["path"]), fmt, args.get("indices"), prefix=f"{row['id']}-")
    return [out / n for n in names]


def _absolute(path: str, command: str) -> Path:
    """A path a job writes: absolute (the engine's working directory means nothing to its client)."""
    p = Path(path).expanduser()
    if not p.is_absolute():
        raise NoisebloomError(
            f"{command}: argument 'out' is a relative path ({path})", fix="give an absolute path"
        )
    return p


EXPORT_WHAT = ("denoising", "clips")
EXPORT_FORMATS = ("mp4", "webm", "gif")


def _validate_export_options(args: dict[str, Any]) -> None:
    """The export job's optional arguments: types and ranges, each refused with the field and the fix."""

    def bad(name: str, fix: str) -> NoisebloomError:
        return NoisebloomError(f"export: argument '{name}' is {args[name]!r}", fix=fix)

    def is_int(v: Any) -> bool:
        return isinstance(v, int) and not isinstance(v, bool)

    def is_num(v: Any) -> bool:
        return isinstance(v, (int, float)) and not isinstance(v, bool)

    if args.get("what", "denoising") not in EXPORT_WHAT:
        raise bad(
            "what", "use 'denoising' (the steps as one video) or 'clips' (each finished clip as a file)"
        )
    if str(args.get("format", "mp4")).lower().lstrip(".") not in EXPORT_FORMATS:
        raise bad("format", "use mp4, webm or gif")
    if "fps" in args and not (is_num(args["fps"]) and 0 < args["fps"] <= 240):
        raise bad("fps", "use frames per second above 0 and up to 240, or leave it out for the default")
    if "scale" in args and not (is_int(args["scale"]) and 1 <= args["scale"] <= 64):
        raise bad("scale", "use an integer upscaling factor from 1 to 64")
    if "resample" in args and args["resample"] not in ("nearest", "lanczos"):
        raise bad("resample", "use nearest or lanczos")
    if "show" in args and args["show"] not in ("x0", "xt", "both"):
        raise bad("show", "use x0, xt or both")
    if "hold_s" in args and not (is_num(args["hold_s"]) and 0 <= args["hold_s"] <= 60):
        raise bad("hold_s", "use 0 to 60 seconds")
    if "loops" in args and not (is_int(args["loops"]) and 1 <= args["loops"] <= 100):
        raise bad("loops", "use an integer from 1 to 100 plays of the clip")
    if "out" in args and not (isinstance(args["out"], str) and args["out"]):
        raise bad("out", "give a path as a string, or leave it out to write into the workspace's exports")
    if "overwrite" in args and not isinstance(args["overwrite"], bool):
        raise bad("overwrite", "use true (replace existing files) or false")
    if "format" in args and not isinstance(args["format"], str):
        raise bad("format", "use mp4, webm or gif")
    if "indices" in args:
        idx = args["indices"]
        if not (isinstance(idx, list) and idx and all(is_int(i) and i >= 0 for i in idx)):
            raise bad(
                "indices", "give a non-empty list of sample numbers from 0, e.g. [0, 2], or leave it out"
            )


def _holds_clips(folder: Path) -> bool:
    """Whether a sample folder holds clips (a model of kind "clip" drew them): its trajectory is
    (R, N, T, H, W, C), or (without a trajectory) it holds the clip GIFs that sampling writes."""
    xt = folder / "trajectory" / "xt.npy"
    if xt.is_file():
        try:
            return np.load(xt, mmap_mode="r").ndim == 6
        except (OSError, ValueError):
            return False
    return any(folder.glob("sample_*.gif"))


def run(job: Job, engine: Engine) -> dict[str, Any]:
    return JOBS[job.kind](job, engine)


# --- scan --------------------------------------------------------------------------------------------


def _job_scan(job: Job, engine: Engine) -> dict[str, Any]:
    from core.data.scan import scan_folder
    from core.data.settings import DatasetSettings

    settings = DatasetSettings.from_dict(job.args.get("settings") or {})
    sources = [Path(str(s)).expanduser().resolve() for s in job.args["sources"]]
    rate = Rate()

    def progress(done: int, total: int, message: str = "") -> None:
        r, eta = rate(done, total)
        engine.emit_throttled(
            P.Progress(
                id=job.id, done=done, total=total, unit="files", rate=r, eta_s=eta, message=str(message)
            )
        )
        job.checkpoint()

    result = scan_folder(
        sources, settings, cache_root=datasets_dir(engine.root), progress=progress, should_stop=job.checkpoint
    )
    report = result.to_dict()
    name = str(
        job.args.get("name")
        or (sources[0].name if len(sources) == 1 else f"{sources[0].name} +{len(sources) - 1}")
    )
    data = result.open()
    engine.catalog.insert(
        "datasets",
        id=result.dataset_id,
        name=name,
        kind=data.kind,
        path=str(result.dataset_dir),
        sources=[str(s) for s in sources],
        settings=settings.to_dict(),
        report=report,
        n_items=len(data),
        created=time.time(),
    )
    return {"dataset": result.dataset_id, "path": str(result.dataset_dir), "report": report}


# --- train / finetune / resume --------------------------------------------------------------------------


def _train_hooks(job: Job, engine: Engine, run_id: str, run_dir: Path) -> dict[str, Callable[..., Any]]:
    rate = Rate()
    first = {"step": None}

    def on_progress(step: int, total: int, metrics: dict[str, Any]) -> None:
        if first["step"] is None:
            first["step"] = step
            rate.start = step
            # A resumed run continues from its checkpoint: drop points logged after it.
            engine.catalog.truncate_metrics(run_id, step - 1)
        r, eta = rate(step, total)
        engine.emit_throttled(P.Progress(id=job.id, done=step, total=total, unit="steps", rate=r, eta_s=eta))
        values = {
            k: float(v) for k, v in metrics.items() if isinstance(v, (int, float)) and not isinstance(v, bool)
        }
        if values:
            engine.catalog.add_metrics(run_id, step, values)
            engine.emit(P.Metric(id=job.id, step=step, values=values))

    def on_metric(step: int, values: dict[str, Any]) -> None:
        vals = {
            k: float(v) for k, v in values.items() if isinstance(v, (int, float)) and not isinstance(v, bool)
        }
        engine.catalog.add_metrics(run_id, step, vals)
        engine.emit(P.Metric(id=job.id, step=step, values=vals))

    def on_preview(step: int, images: np.ndarray) -> None:
        frames = np.array(images[:MAX_PREVIEW_IMAGES])
        engine.emit_throttled(
            lambda: P.Preview(
                id=job.id,
                step=step,
                images=[png_b64(_preview_image(im)) for im in frames],
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
    job: Job, engine: Engine, run_id: str, config: Any, data: Any, run_dir: Path, *, resume: bool, fresh: bool
) -> dict[str, Any]:
    from core.training.trainer import train

    def has_checkpoint() -> bool:
        return (run_dir / "state" / "trainer.json").is_file()

    job.has_checkpoint = has_checkpoint
    job.writes = run_dir
    engine.catalog.update("runs", run_id, status="running", started=time.time(), error=None)
    try:
        result = train(config, data, run_dir, resume=resume, **_train_hooks(job, engine, run_id, run_dir))
    except Cancelled:
        # deleted only when asked to be ("discard"), or when a new run has nothing saved yet
        if job.discard or (fresh and not has_checkpoint()):
            _forget_run(engine, run_id, run_dir)
        else:
            engine.catalog.update("runs", run_id, status="interrupted")
        raise
    except Exception as e:
        status = "interrupted" if has_checkpoint() else "failed"  # a checkpoint stays resumable
        engine.catalog.update("runs", run_id, status=status, error=str(e), finished=time.time())
        raise
    if job.stop_requested and job.stop_reason == "shutdown":
        status = "interrupted"  # the engine closed: the run waits in the library to be resumed
    else:
        status = "stopped" if job.stop_requested else "done"
    engine.catalog.update("runs", run_id, status=status, finished=time.time(), steps=int(result.steps))
    model_dir = Path(result.model_dir)
    model_id = _register_model(engine, run_id, model_dir, engine.catalog.get("runs", run_id)["name"])
    return {
        "run": run_id,
        "model": model_id,
        "run_dir": str(run_dir),
        "model_dir": str(model_dir),
        "steps": int(result.steps),
    }


def _forget_run(engine: Engine, run_id: str, run_dir: Path) -> None:
    """Delete a run: its folder, its catalog row and metrics, its models' rows and health checks."""
    for m in engine.catalog.list("models", "WHERE run_id = ?", (run_id,)):
        engine.catalog.delete("models", m["id"])
        _forget_evaluation(engine, m)
    engine.catalog.delete("runs", run_id)
    if engine.root in run_dir.resolve().parents:  # never delete outside the workspace
        shutil.rmtree(run_dir, ignore_errors=True)


def _register_model(engine: Engine, run_id: str, model_dir: Path, name: str) -> str:
    from core.models.folder import read_model_info

    info = read_model_info(model_dir) or {}
    existing = engine.catalog.list("models", "WHERE run_id = ?", (run_id,))
    model_id = existing[0]["id"] if existing else new_id("model")
    engine.catalog.insert(
        "models",
        id=model_id,
        name=name,
        run_id=run_id,
        path=str(model_dir),
        info=info,
        created=existing[0]["created"] if existing else time.time(),
    )
    return model_id


def _new_run(job: Job, engine: Engine, *, parent_model: str | None = None) -> dict[str, Any]:
    from core.data.prepared import PreparedDataset

    ds = _dataset_row(engine, job.args["dataset"], job.kind)
    data = PreparedDataset.open(ds["path"])
    parent_id, parent_path = (None, None)
    if parent_model is not None:
        parent_id, parent_path = _model_path(engine, parent_model, job.kind)
    config = train_config(engine, job.args, job.kind)
    run_id = new_id("run")
    run_dir = runs_dir(engine.root) / run_id
    name = str(job.args.get("name") or (f"{ds['name']} (fine-tune)" if parent_model else ds["name"]))
    engine.catalog.insert(
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
    return _run_training(job, engine, run_id, config, data, run_dir, resume=False, fresh=True)


def _job_train(job: Job, engine: Engine) -> dict[str, Any]:
    return _new_run(job, engine)


def _job_finetune(job: Job, engine: Engine) -> dict[str, Any]:
    return _new_run(job, engine, parent_model=str(job.args["model"]))


def _job_resume_run(job: Job, engine: Engine) -> dict[str, Any]:
    from core.data.prepared import PreparedDataset
    from core.training.config import TrainConfig

    row = engine.catalog.get("runs", str(job.args["run"]))
    assert row is not None
    ds = _dataset_row(engine, row["dataset_id"], "resume_run")
    config = TrainConfig.from_dict(row["config"])
    extra = job.args.get("extra_steps")  # checked by validate()
    if extra is not None:
        config = config.replace(max_steps=int(row["steps"] or 0) + extra, max_minutes=None, max_epochs=None)
        engine.catalog.update("runs", row["id"], config=config.to_dict())
    return _run_training(
        job,
        engine,
        row["id"],
        config,
        PreparedDataset.open(ds["path"]),
        Path(row["path"]),
        resume=True,
        fresh=False,
    )


# --- sample / branch / export ------------------------------------------------------------------------------


def _step_callback(job: Job, engine: Engine) -> Callable[[Any], None]:
    from core.sampling.trajectory import to_uint8

    def callback(info: Any) -> None:
        final = info.i + 1 == info.n  # StepInfo.i is 0-based; the protocol's i is 1-based
        xt = to_uint8(info.x_t[:MAX_PREVIEW_IMAGES])
        x0 = to_uint8(info.x0[:MAX_PREVIEW_IMAGES])
        i, n, t, sigma = int(info.i) + 1, int(info.n), _num(info.t), _num(getattr(info, "sigma", None))
        engine.emit_throttled(
            lambda: P.Step(
                id=job.id,
                i=i,
                n=n,
                t=t,
                sigma=sigma,
                xt=[png_b64(_preview_image(a)) for a in xt],
                x0=[png_b64(_preview_image(a)) for a in x0],
            ),
            key=(job.id, "step"),
            force=final,
        )

    return callback


def _preview_image(a: np.ndarray) -> np.ndarray:
    """One picture per sample: an image as it is, a clip (T, H, W, C) as a filmstrip (H, T*W, C)
    that the app slices back into T frames of the width it knows from the model."""
    if a.ndim == 4:
        from core.export.clips import filmstrip

        return filmstrip(a)
    return a


def _num(v: Any) -> float | None:
    if v is None:
        return None
    try:
        return float(v)
    except (TypeError, ValueError):
        return None


def _record_sample_set(
    engine: Engine,
    set_id: str,
    model_id: str | None,
    model_path: Path,
    config: dict,
    out_dir: Path,
    result: Any,
) -> dict[str, Any]:
    images = [str(p) for p in getattr(result, "paths", [])]
    engine.catalog.insert(
        "sample_sets",
        id=set_id,
        model_id=model_id,
        model_path=str(model_path),
        config=config,
        path=str(out_dir),
        n_images=len(images),
        created=time.time(),
    )
    traj = getattr(result, "trajectory_dir", None)
    return {
        "sample_set": set_id,
        "out_dir": str(out_dir),
        "images": images,
        "trajectory": str(traj) if traj else None,
    }


def _job_sample(job: Job, engine: Engine) -> dict[str, Any]:
    from core.sampling.sample import sample

    model_id, model_path = _model_path(engine, str(job.args["model"]), "sample")
    config = sample_config(job.args)
    set_id = new_id("samples")
    out_dir = samples_dir(engine.root) / set_id
    job.writes = out_dir
    try:
        result = sample(
            model_path,
            config,
            out_dir=out_dir,
            callback=_step_callback(job, engine),
            should_stop=job.checkpoint,
        )
    except BaseException:
        shutil.rmtree(out_dir, ignore_errors=True)
        raise
    return _record_sample_set(engine, set_id, model_id, model_path, config.to_dict(), out_dir, result)


def _job_branch(job: Job, engine: Engine) -> dict[str, Any]:
    from core.sampling.sample import branch

    parent = engine.catalog.get("sample_sets", str(job.args["sample_set"]))
    assert parent is not None
    set_id = new_id("samples")
    out_dir = samples_dir(engine.root) / set_id
    job.writes = out_dir
    try:
        result = branch(
            Path(parent["path"]) / "trajectory",
            int(job.args.get("step", 0)),
            seed=job.args.get("seed"),
            steps=job.args.get("steps"),
            out_dir=out_dir,
            callback=_step_callback(job, engine),
            should_stop=job.checkpoint,
        )
    except BaseException:
        shutil.rmtree(out_dir, ignore_errors=True)
        raise
    config = dict(parent["config"], branch_of=parent["id"], branch_step=job.args.get("step"))
    return _record_sample_set(
        engine, set_id, parent["model_id"], Path(parent["model_path"]), config, out_dir, result
    )


def _job_export(job: Job, engine: Engine) -> dict[str, Any]:
    from core.export.clips import export_clip_denoising, export_clips
    from core.export.timelapse import export_timelapse
    from core.export.trajectory import export_trajectory

    _validate_export_options(job.args)
    fmt = str(job.args.get("format", "mp4")).lower().lstrip(".")
    what = str(job.args.get("what", "denoising"))
    opts = {k: job.args[k] for k in ("fps", "scale", "resample") if k in job.args}
    hold = job.args.get("hold_s")
    export_id = new_id("export")
    results: dict[str, Any] = {"what": what}
    chosen = _absolute(job.args["out"], "export") if job.args.get("out") else None
    overwrite = bool(job.args.get("overwrite", False))
    if not overwrite:  # again: a file may have appeared since the job was accepted
        refuse_existing(_export_targets(job.args, engine), fix=EXPORT_OVERWRITE_FIX)
    job.writes = chosen or exports_dir(engine.root)
    if "run" in job.args:
        source_kind, source_id = "run", str(job.args["run"])
        run_row = engine.catalog.get("runs", source_id)
        out = chosen or exports_dir(engine.root) / f"{export_id}-timelapse.{fmt}"
        if hold is not None:
            opts["hold_s"] = hold
        export_timelapse(Path(run_row["path"]), out, **opts)
    else:
        source_kind, source_id = "sample_set", str(job.args["sample_set"])
        row = engine.catalog.get("sample_sets", source_id)
        folder = Path(row["path"])
        if "indices" in job.args:
            opts["indices"] = [int(i) for i in job.args["indices"]]
        if what == "clips":  # each finished clip as its own file, at the clip's fps
            out = chosen or exports_dir(engine.root) / export_id
            paths = export_clips(folder, fmt, out_dir=out, prefix=f"{source_id}-", overwrite=True, **opts)
            results["paths"] = [str(p) for p in paths]
        else:
            out = chosen or exports_dir(engine.root) / f"{export_id}.{fmt}"
            if "show" in job.args:
                opts["show"] = job.args["show"]
            if hold is not None:
                opts["hold_last_s"] = hold
            if _holds_clips(folder):  # the clip playing while it denoises
                if "loops" in job.args:
                    opts["loops"] = int(job.args["loops"])
                export_clip_denoising(folder / "trajectory", out, **opts)
            else:
                export_trajectory(folder / "trajectory", out, **opts)
    engine.catalog.insert(
        "exports",
        id=export_id,
        source_kind=source_kind,
        source_id=source_id,
        path=str(out),
        format=fmt,
        created=time.time(),
    )
    return {"export": export_id, "path": str(out), **results}


# --- evaluate (the health check) -----------------------------------------------------------------------------


def _evaluation_dataset(engine: Engine, args: dict[str, Any], model_id: str | None) -> str:
    """The dataset given, else the one the model's run trained on."""
    if args.get("dataset") is not None:
        return str(args["dataset"])
    model = engine.catalog.get("models", model_id) if model_id else None
    run = engine.catalog.get("runs", model["run_id"]) if model and model.get("run_id") else None
    if run is None or not run.get("dataset_id"):
        raise NoisebloomError(
            "evaluate: this model has no training run in the workspace to take its dataset from",
            fix="pass the dataset to compare with ('dataset': id)",
        )
    return str(run["dataset_id"])


def _heldout_series(engine: Engine, model_id: str | None, model_path: Path) -> dict[str, list[list[float]]]:
    """The run's held-out loss (``val_loss`` and its bands) per step: the catalog's, else metrics.jsonl."""
    model = engine.catalog.get("models", model_id) if model_id else None
    if model and model.get("run_id"):
        series = engine.catalog.metrics(model["run_id"])
        out = {k: v for k, v in series.items() if k.startswith("val_loss")}
        if out:
            return out
    from core.metrics.evaluate import heldout_curve

    curve = heldout_curve(model_path)
    return {"val_loss": [[s, v] for s, v in curve]} if curve else {}


def _health_pairs(report: Any, data: Any, resolution: int, channels: int) -> list[dict[str, Any]]:
    """Each sample (flagged copies first, then closest to copying) beside its nearest training pictures."""
    from core.metrics.folders import match_images

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
        return png_b64(_preview_image(a))

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


def _job_evaluate(job: Job, engine: Engine) -> dict[str, Any]:
    """Sample the model and measure it against its dataset (core/metrics/evaluate.py); keep the result."""
    import hashlib
    import json
    import math

    from core.data.prepared import PreparedDataset
    from core.fsutil import atomic_write_text
    from core.metrics.evaluate import evaluate_model
    from core.metrics.memorization import RATIO
    from core.models.folder import load_model_folder
    from core.sampling.model import resolve_device
    from core.workspace.paths import evaluations_dir

    a = job.args
    model_id, model_path = _model_path(engine, str(a["model"]), "evaluate")
    ds = _dataset_row(engine, _evaluation_dataset(engine, a, model_id), "evaluate")
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
        engine.emit_throttled(
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
        "heldout_series": _heldout_series(engine, model_id, model_path),
        "pairs": _health_pairs(report, data, resolution, channels),
        "summary": report.summary(),
    }
    key = model_id or "path-" + hashlib.sha1(str(model_path.resolve()).encode()).hexdigest()[:12]
    out = evaluations_dir(engine.root) / f"{key}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out, json.dumps(result, default=P._json_default))
    if model_id:
        engine.catalog.update(
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
    progress["stage"], progress["message"] = 4, "done"
    send(force=True)
    return {**result, "evaluation": str(out)}


# --- estimate ---------------------------------------------------------------------------------------------


def estimate(engine: Engine, args: dict[str, Any]) -> dict[str, Any]:
    from core.data.prepared import PreparedDataset
    from core.training.config import TrainConfig
    from core.training.estimate import estimate_training

    ds = _dataset_row(engine, str(_require(args, "dataset", str, "estimate")), "estimate")
    data = PreparedDataset.open(ds["path"])
    overrides = _config_args(args, "config", "estimate")
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
    )
    out = est.to_dict()
    out["resolution"] = resolution  # the size measured at: the window's forecast scales from it
    out["seconds"] = est.seconds_for(config.max_steps, config.batch_size) if config.max_steps else None
    out["steps"] = (
        int(config.max_minutes * 60 * est.img_per_s / config.batch_size) if config.max_minutes else None
    )
    return out


# --- delete -----------------------------------------------------------------------------------------------


def delete_item(engine: Engine, what: str, item_id: str) -> dict[str, Any]:
    if what == "jobs":
        raise NoisebloomError("delete: jobs cannot be deleted", fix="cancel the job instead")
    row = engine.catalog.get(what, item_id)
    if row is None:
        raise NoisebloomError(f"delete: no {what[:-1]} {item_id!r}", fix=f"list {what} to see the ids")
    busy = [
        j
        for j in engine._jobs.values()
        if j.state in ("queued", "running", "paused") and item_id in j.args.values()
    ]
    if busy:
        raise NoisebloomError(
            f"delete: {what[:-1]} {item_id} is in use by job {busy[0].id}", fix="wait for it or cancel it"
        )
    path = Path(row["path"])
    engine.catalog.delete(what, item_id)
    if what == "runs":
        for m in engine.catalog.list("models", "WHERE run_id = ?", (item_id,)):
            engine.catalog.delete("models", m["id"])
            _forget_evaluation(engine, m)
    if what == "models":
        _forget_evaluation(engine, row)
    if path.exists() and engine.root in path.resolve().parents:  # never delete outside the workspace
        if what == "exports" and path.is_dir() and path.name != item_id:
            pass  # clips exported into a chosen folder: the folder is not the export's own
        elif path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink()
    return {"ok": True}


def _forget_evaluation(engine: Engine, model: dict[str, Any]) -> None:
    ev = model.get("evaluation") or {}
    path = Path(str(ev.get("path") or ""))
    if ev.get("path") and path.is_file() and engine.root in path.resolve().parents:
        path.unlink()


JOBS: dict[str, Callable[[Job, Engine], dict[str, Any]]] = {
    "scan": _job_scan,
    "train": _job_train,
    "finetune": _job_finetune,
    "resume_run": _job_resume_run,
    "sample": _job_sample,
    "branch": _job_branch,
    "export": _job_export,
    "evaluate": _job_evaluate,
}
