"""The ``make_fast`` job: a model folder distilled into a few-step map (:mod:`core.training.fewstep`),
its progress sent as ``progress`` events (seconds of the budget, or steps), the model's catalog row
updated so the window offers the few-step sampler."""

from __future__ import annotations

from typing import Any

from core.engine import protocol as P
from core.engine.job import Context, Job, JobKind, Rate
from core.engine.jobs.common import find_model, int_in, optional, require
from core.errors import ConfigError, NoisebloomError
from core.models.folder_checks import read_model_info
from core.training.fewstep import ROUTES, FastConfig, make_fast


def _config(args: dict[str, Any]) -> FastConfig:
    given: dict[str, Any] = {}
    minutes = args.get("minutes")
    if minutes is not None:
        if isinstance(minutes, bool) or not isinstance(minutes, (int, float)):
            raise NoisebloomError(
                f"make_fast: argument 'minutes' is {minutes!r}", fix="give minutes as a number"
            )
        given["minutes"] = float(minutes)
    steps = int_in(args, "steps", 1, 10**7, "make_fast")
    if steps is not None:
        given.update(steps=steps, minutes=None)
    route = optional(args, "route", str, "make_fast", f"use {' or '.join(ROUTES)}")
    if route is not None:
        given["route"] = route
    guidance = args.get("guidance")
    if guidance is not None:
        if isinstance(guidance, bool) or not isinstance(guidance, (int, float)):
            raise NoisebloomError(f"make_fast: argument 'guidance' is {guidance!r}", fix="give a number")
        given["guidance"] = float(guidance)
    device = optional(args, "device", str, "make_fast", "use auto, cpu, cuda or mps")
    if device is not None:
        given["device"] = device
    try:
        return FastConfig(**given)
    except ConfigError as e:
        raise NoisebloomError(str(e).splitlines()[0], fix=e.fix) from None


def validate(args: dict[str, Any], ctx: Context) -> None:
    _, path = find_model(ctx, str(require(args, "model", str, "make_fast")), "make_fast")
    info = read_model_info(path) or {}
    if info.get("objective") not in (None, "flow"):
        raise NoisebloomError(
            f"make_fast: {path} is an {info['objective']}-prediction model; few-step maps are made from "
            "flow-matching models",
            fix="train with the flow objective (the default) to make a model fast",
        )
    _config(args)


def run(job: Job, ctx: Context) -> P.MakeFastDone:
    model_id, model_path = find_model(ctx, str(job.args["model"]), "make_fast")
    config = _config(job.args)
    rate = Rate()

    def progress(event: dict[str, Any]) -> None:
        if config.steps is not None:
            done, total, unit = float(event.get("step", 0)), float(config.steps), "steps"
        else:
            done, total, unit = float(event["elapsed"]), 60.0 * float(config.minutes or 0), "s"
        if event["phase"] == "pool":
            message = f"the model draws what the fast version learns: {event['done']} of {event['of']}"
        else:
            message = f"learning to sample in a few steps: step {event['step']}, loss {event['loss']:.4f}"
        r, eta = rate(done, total)
        ctx.emit_throttled(
            P.Progress(id=job.id, done=done, total=total, unit=unit, rate=r, eta_s=eta, message=message)
        )

    job.writes = model_path / "fewstep"
    result = make_fast(model_path, config, progress=progress, should_stop=job.checkpoint)
    if model_id:
        ctx.catalog.update("models", model_id, info=read_model_info(model_path) or {})
    return P.MakeFastDone(
        model=model_id,
        model_dir=str(model_path),
        steps=result.steps,
        seconds=round(result.seconds, 1),
        levels=result.levels,
        guidance=float((read_model_info(model_path) or {}).get("fewstep", {}).get("guidance", 0.0)),
    )


KINDS = {"make_fast": JobKind(validate, run)}
