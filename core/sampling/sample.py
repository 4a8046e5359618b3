"""``sample()``: draw images from a model, write numbered PNGs and, when asked, the trajectory.

The engine, the CLI and the tests all call this. It composes the parts: a scheduler per sampler
(:mod:`core.sampling.samplers`), per-image seeds (:mod:`core.sampling.seeds`), the loop with its
per-step callback (:mod:`core.sampling.loop`) and the trajectory recorder
(:mod:`core.sampling.trajectory`). ``branch()`` continues a recorded trajectory from step k with a
new seed or a new number of remaining steps.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from core import __version__
from core.catalogue.samplers import (
    MAX_STEPS,
    SAMPLERS,
    continuing,
    default_sampler_for,
    draws_noise,
    family_of,
)
from core.errors import ConfigError, NoisebloomError
from core.fsutil import atomic_directory, atomic_write_text, refuse_existing
from core.media.png import write_png
from core.media.video import write_video
from core.sampling.config import SampleConfig, resolve_guidance
from core.sampling.fewstep import levels_for, run_fewstep
from core.sampling.guidance import guided
from core.sampling.loop import StepCallback, StepInfo, run_steps
from core.sampling.model import load_model, model_name, resolve_device, sample_shape
from core.sampling.samplers import build_scheduler, check_sampler
from core.sampling.seeds import image_generators, initial_noise
from core.sampling.trajectory import TrajectoryWriter, open_trajectory, tensor_to_uint8


@dataclass
class SampleResult:
    """What ``sample`` made: uint8 samples (N, H, W, C) or clips (N, T, H, W, C), and where they went.

    ``steps_run`` is the steps each sample went through in this call (fewer than ``config.steps``
    for a branch that keeps the step count), as the loop counted them."""

    images: np.ndarray
    config: SampleConfig
    sampler: str
    paths: list[Path] = field(default_factory=list)
    trajectory_dir: Path | None = None
    seconds: float = 0.0
    steps_run: int = 0


def image_name(index: int) -> str:
    return f"sample_{index:05d}.png"


def png_params(model: Any, config: SampleConfig, sampler: str, index: int) -> dict[str, Any]:
    """The text chunks of one sample's PNG: enough to regenerate it with ``config_from_png_params``."""
    return {
        "model": model_name(model),
        "sampler": sampler,
        "steps": config.steps,
        "seed": config.seed,
        "index": index,
        "eta": config.eta,
        "karras": config.karras,
        "guidance": config.guidance,
        "objective": model.objective,
        "software": f"noisebloom {__version__}",
    }


def config_from_png_params(params: dict[str, str], **changes: Any) -> SampleConfig:
    """A SampleConfig that regenerates exactly the image whose PNG carried ``params``."""
    if "branch_of" in params:
        raise ConfigError(
            f"PNG parameters: this image continues the trajectory {params['branch_of']} from step "
            f"{params.get('branch_step')}; sampling from scratch would not give it back",
            fix="branch that trajectory again (core.sampling.sample.branch)",
        )
    try:
        cfg = SampleConfig(
            sampler=params["sampler"],
            steps=int(params["steps"]),
            seed=int(params["seed"]),
            first_index=int(params["index"]),
            num=1,
            eta=float(params.get("eta", "0")),
            karras=params.get("karras", "false") == "true",
            guidance=float(params.get("guidance", "0")),  # written before autoguidance: none was used
        )
    except (KeyError, ValueError) as e:
        raise ConfigError(
            f"PNG parameters: missing or bad field {e}", fix="use a PNG written by noisebloom sample"
        ) from None
    return cfg.replace(**changes) if changes else cfg


def _start_scheduler(name: str, model: Any, config: SampleConfig, device: torch.device, schedule=None):
    scheduler = build_scheduler(name, model.scheduler_config, model.objective, karras=config.karras)
    try:
        if schedule is None:
            scheduler.set_timesteps(config.steps, device=device)
        else:
            scheduler.set_timesteps(device=device, **schedule)
    except (ValueError, IndexError, RuntimeError) as e:
        raise ConfigError(
            f"sample.steps: sampler {name!r} cannot run {config.steps} steps on this model ({e})",
            fix="choose another step count or sampler",
        ) from None
    return scheduler


def _steps_ok(name: str, steps: int, scheduler: Any) -> bool:
    """True when the schedule has ``steps`` distinct, finite noise levels (Heun: 2 * steps - 1 entries)
    and, for the one-evaluation-per-step samplers, distinct timesteps: multistep solvers find their
    place by the timestep's value, and integer timesteps that repeat (flow models at 999 steps)
    make UniPC fail at its last step and feed the network the wrong noise level."""
    spec = SAMPLERS[name]
    ts = scheduler.timesteps
    if len(ts) != spec.positions(steps) or not bool(torch.isfinite(ts.float()).all()):
        return False
    if spec.order == 1 and len(torch.unique(ts)) != len(ts):
        return False
    sigmas = getattr(scheduler, "sigmas", None)
    levels = sigmas[:-1] if sigmas is not None else ts
    return len(torch.unique(levels)) == steps


def _check_steps(name: str, model: Any, config: SampleConfig, scheduler: Any) -> None:
    if _steps_ok(name, config.steps, scheduler):
        return
    best = None
    for m in range(config.steps - 1, 0, -1):  # only on the error path: find the largest count that works
        probe = build_scheduler(name, model.scheduler_config, model.objective, karras=config.karras)
        try:
            probe.set_timesteps(m)
        except (ValueError, IndexError, RuntimeError):
            continue
        if _steps_ok(name, m, probe):
            best = m
            break
    fix = f"use at most {best} steps with {name}" if best else "choose another sampler"
    raise ConfigError(
        f"sample.steps: sampler {name!r} cannot run {config.steps} steps on this model "
        "(its timestep spacing would repeat or skip noise levels)",
        fix=fix,
    )


def _to_scheduler_space(name: str, scheduler: Any, x_vp: torch.Tensor, pos: int) -> torch.Tensor:
    """x in network-input scale -> the scheduler's own scale at timestep position ``pos``."""
    if SAMPLERS[name].scales_like_ve:
        sigma = float(scheduler.sigmas[pos])
        return x_vp * math.sqrt(sigma**2 + 1.0)
    return x_vp


def sample(
    model: Any,
    config: SampleConfig,
    *,
    out_dir: str | Path | None = None,
    callback: StepCallback | None = None,
    should_stop: Callable[[], bool] | None = None,
    overwrite: bool = False,
) -> SampleResult:
    """Draw ``config.num`` samples; with ``out_dir``, write ``sample_KKKKK.png`` and the trajectory.

    ``model`` is a loaded model (``core.models.folder.LoadedModel``: network, scheduler_config,
    objective, info, path) or a model folder path. ``callback(StepInfo)`` is called at every step of
    every batch; ``should_stop()`` is checked before every network evaluation and raises
    :class:`~core.errors.Cancelled`. With ``config.trajectory``, ``out_dir/trajectory/`` appears
    only once sampling finished. Files already in ``out_dir`` that this would write are refused
    before anything is drawn, unless ``overwrite``.
    """
    return _sample(
        model, config, out_dir=out_dir, callback=callback, should_stop=should_stop, overwrite=overwrite
    )


def _sample(
    model: Any,
    config: SampleConfig,
    *,
    out_dir: str | Path | None,
    callback: StepCallback | None,
    should_stop: Callable[[], bool] | None,
    start: dict[str, Any] | None = None,
    extra_meta: dict[str, Any] | None = None,
    overwrite: bool = False,
) -> SampleResult:
    t0 = time.perf_counter()
    device = resolve_device(config.device)
    if isinstance(model, (str, Path)):
        model = load_model(model, str(device))
    has_map = getattr(model, "fewstep", None) is not None
    name = config.sampler or default_sampler_for(family_of(model.objective), config.steps, fewstep=has_map)
    check_sampler(name, model.objective, karras=config.karras, eta=config.eta)
    spec = SAMPLERS[name]
    shape = sample_shape(model)
    flow = model.objective == "flow"
    schedule = start["schedule"] if start else None
    begin = start["begin"] if start else 0
    if spec.needs_map:  # the few-step map: its own levels, no scheduler, its guidance built in
        if not has_map:
            raise ConfigError(
                f"sample.sampler: {model_name(model) or 'this model'} has no few-step map",
                fix="make it fast first (`noisebloom make-fast MODEL_DIR`, or Make it fast in the window), "
                "or choose another sampler",
            )
        config = config.replace(sampler=name, guidance=_map_guidance(config, model))
        levels = levels_for(model.info["fewstep"]["levels"], config.steps)
        network = model.fewstep.to(device).eval()
        probe, n_steps = None, len(levels)
        first_step = begin
    else:
        config = config.replace(sampler=name, guidance=resolve_guidance(config, model))
        network = model.network.to(device).eval()
        if config.guidance:  # resolve_guidance made sure the model has a guide
            network = guided(network, model.guide.to(device).eval(), config.guidance)
        probe = _start_scheduler(name, model, config, device, schedule)
        if schedule is None:
            _check_steps(name, model, config, probe)
        n_steps = spec.steps_in(len(probe.timesteps))
        first_step = spec.steps_in(begin)
    out = Path(out_dir) if out_dir is not None else None
    if config.trajectory and out is None:
        raise ConfigError(
            "sample.trajectory: recording a trajectory needs an output folder", fix="pass out_dir"
        )
    if out is not None and not overwrite:
        refuse_existing(output_paths(out, config, clip=len(shape) == 4), fix=OVERWRITE_FIX)
    images = np.zeros((config.num, *shape[:-3], shape[-2], shape[-1], shape[-3]), dtype=np.uint8)
    traj_ctx = atomic_directory(out / "trajectory") if config.trajectory else nullcontext(None)
    steps_run = 0
    with traj_ctx as traj_tmp, torch.inference_mode():
        writer = None
        if traj_tmp is not None:
            writer = TrajectoryWriter(
                traj_tmp, n_steps - first_step, config.num, shape, config.trajectory_max_frames
            )
        for lo in range(0, config.num, config.batch_size):
            hi = min(lo + config.batch_size, config.num)
            indices = tuple(range(config.first_index + lo, config.first_index + hi))
            generators = image_generators(config.seed, indices)
            step_cb = _compose(writer, callback, slice(lo, hi), first_step)
            if spec.needs_map:
                if start is None:
                    x = initial_noise(generators, shape, device=device)
                else:
                    x = _replay(start, generators, shape, lo, hi, device)
                ran = run_fewstep(
                    network,
                    levels,
                    x,
                    generators=generators,
                    begin=begin,
                    callback=step_cb,
                    should_stop=should_stop,
                    indices=indices,
                )
            else:
                # a fresh scheduler per batch (multistep solvers keep history); the probe serves the first
                scheduler = probe if lo == 0 else _start_scheduler(name, model, config, device, schedule)
                if start is None:
                    x = initial_noise(generators, shape, device=device) * getattr(
                        scheduler, "init_noise_sigma", 1.0
                    )
                else:
                    x = _to_scheduler_space(
                        name, scheduler, _replay(start, generators, shape, lo, hi, device), begin
                    )
                ran = run_steps(
                    network,
                    scheduler,
                    x,
                    order=spec.order,
                    begin=begin,
                    flow=flow,
                    generators=generators,
                    eta=config.eta,
                    callback=step_cb,
                    should_stop=should_stop,
                    indices=indices,
                )
            x, steps_run = ran.x, ran.steps
            images[lo:hi] = tensor_to_uint8(x)
            if writer is not None:
                writer.record_final(x, slice(lo, hi))
        if writer is not None:
            meta = {
                "model": model_name(model),
                "objective": model.objective,
                "sample_config": config.to_dict(),
            }
            writer.close({**meta, **(extra_meta or {})})
    result = SampleResult(
        images,
        config,
        name,
        trajectory_dir=(out / "trajectory") if config.trajectory else None,
        steps_run=steps_run,
    )
    if out is not None:
        result.paths = _write_outputs(out, model, config, name, images, extra_meta)
    result.seconds = time.perf_counter() - t0
    return result


def _replay(start: dict[str, Any], generators, shape, lo: int, hi: int, device) -> torch.Tensor:
    """A branch's start rows, after replaying the noise the original run drew before step k."""
    for _ in range(start["advance"]):
        initial_noise(generators, shape)
    return start["state"][lo:hi].to(device)


def _map_guidance(config: SampleConfig, model: Any) -> float:
    """The autoguidance weight a few-step map was distilled with: what its samples carry (it cannot
    take another; the multistep samplers can)."""
    built_in = float(model.info["fewstep"].get("guidance", 0.0))
    if config.guidance is not None and abs(config.guidance - built_in) > 1e-9:
        raise ConfigError(
            f"sample.guidance: this model's few-step map was made with guidance {built_in:g}, "
            f"so it cannot sample at {config.guidance:g}",
            fix=f"use guidance {built_in:g} (or leave it out) with the few-step sampler, "
            "or another sampler for another weight",
        )
    return built_in


def _compose(writer: TrajectoryWriter | None, callback: StepCallback | None, rows: slice, first_step: int):
    if writer is None:
        return callback

    def record(info: StepInfo) -> None:
        step = info.i - first_step
        if writer.wants(step):
            writer.record(step, info.t, info.sigma, info.x_t, info.x0, rows)
        if callback is not None:
            callback(info)

    return record


OVERWRITE_FIX = "pass --overwrite to replace them, or choose another --out folder"


def output_paths(out: Path, config: SampleConfig, *, clip: bool) -> list[Path]:
    """What sampling ``config`` into ``out`` writes: the numbered images (GIFs for clips), the
    ``sample.json`` beside them and, when recorded, ``trajectory/``."""
    suffix = ".gif" if clip else ".png"
    names = [image_name(config.first_index + j).replace(".png", suffix) for j in range(config.num)]
    paths = [out / n for n in names] + [out / "sample.json"]
    return paths + ([out / "trajectory"] if config.trajectory else [])


def _write_outputs(
    out: Path, model: Any, config: SampleConfig, name: str, images: np.ndarray, extra
) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for j, img in enumerate(images):
        k = config.first_index + j
        params = png_params(model, config, name, k)
        if extra:
            params.update({"branch_of": extra["branch_of"], "branch_step": extra["branch_step"]})
        if img.ndim == 4:  # a clip: (T, H, W, C)
            fps = float((getattr(model, "info", None) or {}).get("fps") or 8.0)
            paths.append(write_video(img, out / image_name(k).replace(".png", ".gif"), fps))
        else:
            paths.append(write_png(out / image_name(k), img, params))
    doc = {
        "model": model_name(model),
        "objective": model.objective,
        "config": config.to_dict(),
        **(extra or {}),
    }
    atomic_write_text(out / "sample.json", json.dumps(doc, indent=2) + "\n")
    return paths


def branch(
    trajectory_dir: str | Path,
    step_k: int,
    *,
    seed: int | None = None,
    steps: int | None = None,
    sampler: str | None = None,
    guidance: float | None = None,
    out_dir: str | Path | None = None,
    model: Any = None,
    device: str | None = None,
    trajectory: bool | None = None,
    callback: StepCallback | None = None,
    should_stop: Callable[[], bool] | None = None,
    overwrite: bool = False,
) -> SampleResult:
    """Continue a recorded trajectory from its step ``step_k`` (a recorded step).

    ``seed`` replaces the noise that stochastic samplers (ddpm, euler_a, ddim with eta > 0) draw
    from step k on; with the original seed the original run is replayed. ``steps`` sets a new
    number of remaining steps, spread from step k's noise level down to zero (samplers that take a
    custom schedule: ddpm, euler, heun, dpmpp_2m without Karras sigmas, flow_euler). ``sampler``
    continues with another of those samplers (over the steps left, or ``steps``); ``guidance`` sets
    another autoguidance weight. ``model`` defaults to the model folder the trajectory names. The
    records (``sample.json``, the PNGs) name the step as the window counts it, from 1: ``step_k + 1``.
    """
    traj = open_trajectory(trajectory_dir)
    meta = traj.meta
    recorded = traj.steps
    if step_k not in recorded:
        near = min(recorded, key=lambda s: abs(s - step_k))
        raise ConfigError(
            f"branch: step {step_k} was not recorded in {traj.folder}",
            fix=f"branch from a recorded step, e.g. {near}",
        )
    r = recorded.index(step_k)
    base = SampleConfig.from_dict(meta["sample_config"])
    keep = base.trajectory and out_dir is not None
    changes: dict[str, Any] = {"trajectory": keep if trajectory is None else trajectory}
    if seed is not None:
        changes["seed"] = seed
    if device is not None:
        changes["device"] = device
    if guidance is not None:
        changes["guidance"] = guidance
    if model is None:
        if not meta.get("model"):
            raise NoisebloomError(f"{traj.folder}: the trajectory does not name its model", fix="pass model=")
        model = load_model(meta["model"], str(resolve_device(changes.get("device", base.device))))
    name = base.sampler
    state = torch.from_numpy(np.array(traj.state()[r], dtype=np.float32))
    t_k, sigma_k = float(meta["t"][r]), float(meta["sigma"][r])
    begin_step = step_k + int(meta.get("begin_step", 0))
    draws = draws_noise(name, base.eta)
    advance = 1 + (begin_step if draws else 0)  # noise draws the original run made before step k
    if sampler is not None and sampler != name:  # another sampler: over the steps left, re-spaced
        changes["sampler"] = sampler
        steps = traj.n_steps - step_k if steps is None else steps
    if steps is None:
        start = {"schedule": meta.get("schedule"), "state": state, "advance": advance}
        start["begin"] = SAMPLERS[name].position_of(begin_step)
        config = base.replace(**changes)
    else:
        schedule = _continuation(changes.get("sampler", name), model, base, t_k, sigma_k, steps)
        start = {"schedule": schedule, "state": state, "advance": advance, "begin": 0}
        config = base.replace(steps=steps, **changes)
    extra = {
        "branch_of": str(traj.folder),
        "branch_step": step_k + 1,
        "begin_step": begin_step if steps is None else 0,
    }
    if start["schedule"] is not None:
        extra["schedule"] = start["schedule"]
    return _sample(
        model,
        config,
        out_dir=out_dir,
        callback=callback,
        should_stop=should_stop,
        start=start,
        extra_meta=extra,
        overwrite=overwrite,
    )


def _continuation(
    name: str, model: Any, base: SampleConfig, t_k: float, sigma_k: float, m: int
) -> dict[str, Any]:
    """``set_timesteps`` arguments for ``m`` steps from step k's noise level down to zero."""
    if not 1 <= m <= MAX_STEPS:
        raise ConfigError(f"branch.steps: {m} is out of range", fix=f"use 1 to {MAX_STEPS}")
    if base.karras or family_of(model.objective) not in SAMPLERS[name].continues_in:
        usable = ", ".join(continuing())
        raise ConfigError(
            f"branch: sampler {name!r} cannot take over mid-way on a new schedule",
            fix=f"keep the sampler and the step count, or use one of {usable} (without Karras sigmas)",
        )
    return _RESPACE[name](model, t_k, sigma_k, m)


def _ddpm_timesteps(model: Any, t_k: float, sigma_k: float, m: int) -> dict[str, Any]:
    ts = np.unique(np.linspace(t_k, 0, m).round().astype(np.int64))[::-1]
    if len(ts) != m:
        raise ConfigError(
            f"branch.steps: only {int(t_k) + 1} DDPM steps remain after this step", fix="ask fewer"
        )
    return {"timesteps": ts.tolist()}


def _float_timesteps(model: Any, t_k: float, sigma_k: float, m: int) -> dict[str, Any]:
    return {"timesteps": np.linspace(t_k, 0, m).tolist()}


def _dpm_timesteps(model: Any, t_k: float, sigma_k: float, m: int) -> dict[str, Any]:
    ts = np.unique(np.linspace(t_k, 0, m + 1).round().astype(np.int64)[:-1])[::-1]
    if len(ts) != m:
        raise ConfigError(f"branch.steps: too many DPM-Solver steps for what remains ({m})", fix="ask fewer")
    return {"timesteps": ts.tolist()}


def _flow_sigmas(model: Any, t_k: float, sigma_k: float, m: int) -> dict[str, Any]:
    shift = float(model.scheduler_config.get("shift", 1.0))
    s = np.linspace(sigma_k, 0, m + 1)[:-1]
    return {"sigmas": (s / (shift - (shift - 1) * s)).tolist()}


# How each sampler that a branch can re-space (``SamplerSpec.continues_in``) takes the steps left.
_RESPACE = {
    "ddpm": _ddpm_timesteps,
    "euler": _float_timesteps,
    "heun": _float_timesteps,
    "dpmpp_2m": _dpm_timesteps,
    "flow_euler": _flow_sigmas,
}


__all__ = [
    "SAMPLERS",
    "SampleConfig",
    "SampleResult",
    "StepInfo",
    "branch",
    "config_from_png_params",
    "sample",
]
