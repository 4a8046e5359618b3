"""The ``scan`` job: a folder (or files) in, a prepared dataset and its report out (:mod:`core.data.scan`)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from core.data.scan import scan_folder
from core.data.settings import DatasetSettings
from core.engine import protocol as P
from core.engine.job import Context, Job, JobKind, Rate
from core.engine.jobs.common import config_args, require, shown
from core.errors import NoisebloomError
from core.workspace.paths import datasets_dir


def validate(args: dict[str, Any], ctx: Context) -> None:
    sources = require(args, "sources", list, "scan")
    if not sources:
        raise NoisebloomError("scan: no folders or files given", fix="drop a folder of pictures or clips")
    for s in sources:
        if not isinstance(s, str) or not s:
            raise NoisebloomError(
                f"scan: a source is {shown(s)}", fix="give each folder or file as a path string"
            )
        if not Path(s).expanduser().exists():
            raise NoisebloomError(f"{s}: no such file or folder", fix="check the path")
    DatasetSettings.from_dict(config_args(args, "settings", "scan"))


def run(job: Job, ctx: Context) -> P.ScanDone:
    settings = DatasetSettings.from_dict(job.args.get("settings") or {})
    sources = [Path(str(s)).expanduser().resolve() for s in job.args["sources"]]
    rate = Rate()

    def progress(done: int, total: int, message: str = "") -> None:
        r, eta = rate(done, total)
        ctx.emit_throttled(
            P.Progress(
                id=job.id, done=done, total=total, unit="files", rate=r, eta_s=eta, message=str(message)
            )
        )
        job.checkpoint()

    result = scan_folder(
        sources, settings, cache_root=datasets_dir(ctx.root), progress=progress, should_stop=job.checkpoint
    )
    report = result.to_dict()
    name = str(
        job.args.get("name")
        or (sources[0].name if len(sources) == 1 else f"{sources[0].name} +{len(sources) - 1}")
    )
    data = result.open()
    ctx.catalog.insert(
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
    return P.ScanDone(dataset=result.dataset_id, path=str(result.dataset_dir), report=report)


KINDS = {"scan": JobKind(validate, run)}
