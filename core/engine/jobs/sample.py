"""The ``sample`` and ``branch`` jobs: images (or clips) drawn by :mod:`core.sampling.sample`, every
step sent as a ``step`` event, the result recorded as a sample set with its trajectory."""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from core.catalogue.samplers import MAX_GUIDANCE, MAX_SEED, MAX_STEPS, SAMPLERS
from core.engine import protocol as P
from core.engine.job import Context, Job, JobKind
from core.engine.jobs.common import (
    MAX_PREVIEW_IMAGES,
    find_model,
    int_in,
    number_or_none,
    png_b64,
    preview_image,
    require,
    sample_config,
)
from core.errors import NoisebloomError
from core.sampling.sample import branch, sample
from core.sampling.trajectory import tensor_to_uint8
from core.workspace.catalog import new_id
from core.workspace.paths import samples_dir


def validate_sample(args: dict[str, Any], ctx: Context) -> None:
    find_model(ctx, str(require(args, "model", str, "sample")), "sample")
    sample_config(args)


def validate_branch(args: dict[str, Any], ctx: Context) -> None:
    int_in(args, "step", 0, MAX_STEPS, "branch", default=0)
    int_in(args, "seed", 0, MAX_SEED, "branch")
    int_in(args, "steps", 1, MAX_STEPS, "branch")
    sampler = args.get("sampler")
    if sampler is not None and sampler not in SAMPLERS:
        raise NoisebloomError(
            f"branch: argument 'sampler' is {sampler!r}", fix=f"use one of {', '.join(SAMPLERS)}"
        )
    guidance = args.get("guidance")
    if guidance is not None and (
        not isinstance(guidance, (int, float))
        or isinstance(guidance, bool)
        or not 0 <= guidance <= MAX_GUIDANCE
    ):
        raise NoisebloomError(
            f"branch: argument 'guidance' is {guidance!r}", fix=f"use a number from 0 to {MAX_GUIDANCE:g}"
        )
    if ctx.catalog.get("sample_sets", str(require(args, "sample_set", str, "branch"))) is None:
        raise NoisebloomError(
            f"branch: no sample set {args['sample_set']!r}", fix="list sample_sets to see the ids"
        )


def _step_callback(job: Job, ctx: Context) -> Callable[[Any], None]:
    def callback(info: Any) -> None:
        final = info.i + 1 == info.n  # StepInfo.i is 0-based; the protocol's i is 1-based
        xt = tensor_to_uint8(info.x_t[:MAX_PREVIEW_IMAGES])
        x0 = tensor_to_uint8(info.x0[:MAX_PREVIEW_IMAGES])
        i, n, t, sigma = (
            int(info.i) + 1,
            int(info.n),
            number_or_none(info.t),
            number_or_none(getattr(info, "sigma", None)),
        )
        ctx.emit_throttled(
            lambda: P.Step(
                id=job.id,
                i=i,
                n=n,
                t=t,
                sigma=sigma,
                xt=[png_b64(preview_image(a)) for a in xt],
                x0=[png_b64(preview_image(a)) for a in x0],
            ),
            key=(job.id, "step"),
            force=final,
        )

    return callback


def _record_sample_set(
    ctx: Context,
    set_id: str,
    model_id: str | None,
    model_path: Path,
    config: dict,
    out_dir: Path,
    result: Any,
) -> P.SampleDone:
    images = [str(p) for p in getattr(result, "paths", [])]
    ctx.catalog.insert(
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
    return P.SampleDone(
        sample_set=set_id, out_dir=str(out_dir), images=images, trajectory=str(traj) if traj else None
    )


def _draw(job: Job, ctx: Context, draw: Callable[..., Any]) -> tuple[str, Path, Any]:
    """Run ``draw`` into a new sample-set folder with the job's step events and stop checks; the
    folder is removed if it fails or is cancelled. Returns the set's id, its folder and the result."""
    set_id = new_id("samples")
    out_dir = samples_dir(ctx.root) / set_id
    job.writes = out_dir
    try:
        result = draw(out_dir=out_dir, callback=_step_callback(job, ctx), should_stop=job.checkpoint)
    except BaseException:
        shutil.rmtree(out_dir, ignore_errors=True)
        raise
    return set_id, out_dir, result


def run_sample(job: Job, ctx: Context) -> P.SampleDone:
    model_id, model_path = find_model(ctx, str(job.args["model"]), "sample")
    config = sample_config(job.args)
    set_id, out_dir, result = _draw(job, ctx, lambda **hooks: sample(model_path, config, **hooks))
    return _record_sample_set(ctx, set_id, model_id, model_path, config.to_dict(), out_dir, result)


def run_branch(job: Job, ctx: Context) -> P.SampleDone:
    parent = ctx.catalog.get("sample_sets", str(job.args["sample_set"]))
    assert parent is not None
    trajectory, step = Path(parent["path"]) / "trajectory", int(job.args.get("step", 0))
    set_id, out_dir, result = _draw(
        job,
        ctx,
        lambda **hooks: branch(
            trajectory,
            step,
            seed=job.args.get("seed"),
            steps=job.args.get("steps"),
            sampler=job.args.get("sampler"),
            guidance=job.args.get("guidance"),
            **hooks,
        ),
    )
    # what the branch drew with (its seed, sampler, steps, guidance), and the step it branched from
    # as the window counts it (from 1, as the scrubber shows it)
    config = dict(result.config.to_dict(), branch_of=parent["id"], branch_step=step + 1)
    return _record_sample_set(
        ctx, set_id, parent["model_id"], Path(parent["model_path"]), config, out_dir, result
    )


KINDS = {"sample": JobKind(validate_sample, run_sample), "branch": JobKind(validate_branch, run_branch)}
