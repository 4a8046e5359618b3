"""The ``export`` job: a sample set's denoising (or each of its clips) or a run's timelapse as
MP4 / WebM / GIF. Existing files are replaced only when the command says ``overwrite``."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

from core.engine import protocol as P
from core.engine.job import Context, Job, JobKind
from core.engine.jobs.common import require
from core.errors import NoisebloomError
from core.export.clips import clip_names, export_clip_denoising, export_clips
from core.export.timelapse import export_timelapse
from core.export.trajectory import export_trajectory
from core.fsutil import refuse_existing
from core.workspace.catalog import new_id
from core.workspace.paths import exports_dir

EXPORT_OVERWRITE_FIX = 'send the export again with "overwrite": true to replace them, or choose another name'
EXPORT_WHAT = ("denoising", "clips")
EXPORT_FORMATS = ("mp4", "webm", "gif")


def validate(args: dict[str, Any], ctx: Context) -> None:
    _validate_export_options(args)
    if "run" in args:
        if args.get("what", "denoising") != "denoising":
            raise NoisebloomError(
                f"export: 'what' is {args['what']!r} but a run has no clips to export",
                fix="pass a sample_set for what 'clips', or leave 'what' out for the run's timelapse",
            )
        if ctx.catalog.get("runs", str(args["run"])) is None:
            raise NoisebloomError(f"export: no run {args['run']!r}", fix="list runs to see the ids")
        return
    row = ctx.catalog.get("sample_sets", str(require(args, "sample_set", str, "export")))
    if row is None:
        raise NoisebloomError(
            f"export: no sample set {args['sample_set']!r}", fix="list sample_sets to see the ids"
        )
    if args.get("what") == "clips" and not _holds_clips(Path(row["path"])):
        raise NoisebloomError(
            f"export: sample set {row['id']} holds images, not clips ('what' is 'clips')",
            fix="leave 'what' out to export its denoising, or sample a clip model",
        )
    if not args.get("overwrite", False):
        refuse_existing(_export_targets(args, ctx), fix=EXPORT_OVERWRITE_FIX)


def _export_targets(args: dict[str, Any], ctx: Context) -> list[Path]:
    """The files an export with a chosen ``out`` would write (the workspace's own names are new)."""
    if "out" not in args:
        return []
    out = _absolute(args["out"], "export")
    if args.get("what") != "clips":
        return [out]

    row = ctx.catalog.get("sample_sets", str(args["sample_set"]))
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


def run(job: Job, ctx: Context) -> P.ExportDone:
    _validate_export_options(job.args)
    fmt = str(job.args.get("format", "mp4")).lower().lstrip(".")
    what = str(job.args.get("what", "denoising"))
    opts = {k: job.args[k] for k in ("fps", "scale", "resample") if k in job.args}
    hold = job.args.get("hold_s")
    export_id = new_id("export")
    paths: list[str] | None = None
    chosen = _absolute(job.args["out"], "export") if job.args.get("out") else None
    overwrite = bool(job.args.get("overwrite", False))
    if not overwrite:  # again: a file may have appeared since the job was accepted
        refuse_existing(_export_targets(job.args, ctx), fix=EXPORT_OVERWRITE_FIX)
    job.writes = chosen or exports_dir(ctx.root)
    if "run" in job.args:
        source_kind, source_id = "run", str(job.args["run"])
        run_row = ctx.catalog.get("runs", source_id)
        out = chosen or exports_dir(ctx.root) / f"{export_id}-timelapse.{fmt}"
        if hold is not None:
            opts["hold_s"] = hold
        export_timelapse(Path(run_row["path"]), out, **opts)
    else:
        source_kind, source_id = "sample_set", str(job.args["sample_set"])
        row = ctx.catalog.get("sample_sets", source_id)
        folder = Path(row["path"])
        if "indices" in job.args:
            opts["indices"] = [int(i) for i in job.args["indices"]]
        if what == "clips":  # each finished clip as its own file, at the clip's fps
            out = chosen or exports_dir(ctx.root) / export_id
            written = export_clips(folder, fmt, out_dir=out, prefix=f"{source_id}-", overwrite=True, **opts)
            paths = [str(p) for p in written]
        else:
            out = chosen or exports_dir(ctx.root) / f"{export_id}.{fmt}"
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
    ctx.catalog.insert(
        "exports",
        id=export_id,
        source_kind=source_kind,
        source_id=source_id,
        path=str(out),
        format=fmt,
        created=time.time(),
    )
    return P.ExportDone(export=export_id, path=str(out), what=what, paths=paths)


KINDS = {"export": JobKind(validate, run)}
