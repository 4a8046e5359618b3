"""Make it fast: distil a trained flow model into a few-step map, saved in its folder's ``fewstep/``.

The student is a copy of the model's network, started from its weights and read as a flow map
``f(x_t, t) = x_t - t * v(x_t, 1000 t)`` (:mod:`core.sampling.fewstep` samples it). The teacher is
the model itself with its autoguidance (:mod:`core.sampling.guidance`), so the map keeps guidance's
benefit at no cost per sample (as Align Your Flow, Sabour et al. 2025, distils toward the guided
velocity). No training data is needed: the teacher's own samples are the data. Two routes:

- ``distil`` (Luhman & Luhman 2021, knowledge distillation of the sampler): the teacher samples a
  pool of trajectories with UniPC; the student regresses each trajectory's point at each level
  onto where that trajectory ends.
- ``consistency`` (ECT, Geng et al. 2024, with a guided teacher step as in consistency
  distillation): ``f(x_t, t)`` regresses onto the stop-gradient ``f(x_r, r)``, with ``x_r`` one
  guided Euler step of the teacher from ``x_t`` and ``r`` approaching ``t`` in four stages.

Which is the default and why: ``docs/decisions.md`` and ``benchmarks/results/quality_fewstep*.json``.
"""

from __future__ import annotations

import copy
import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import torch
import torch.nn.functional as F

from core.config import Config
from core.errors import Cancelled, ConfigError
from core.fsutil import atomic_directory, atomic_write_text
from core.models.folder import FEWSTEP_DIR, GUIDE_FILE, LoadedModel, load_model_folder
from core.models.folder_checks import INFO_NAME
from core.sampling.config import SampleConfig, resolve_guidance
from core.sampling.guidance import guided
from core.sampling.loop import run_steps
from core.sampling.model import resolve_device, sample_shape
from core.sampling.samplers import build_scheduler
from core.sampling.seeds import image_generators, initial_noise
from core.training.run import now

ROUTES = ("distil", "consistency")
POOL_BYTES = 256 * 2**20  # the distil pool's trajectories (float16) stay under this
POOL_SHARE = 0.4  # of a minutes budget, the most the teacher's pool may take
POOL_MAX = 1600  # trajectories; benchmarks/results/quality_fewstep.json
STAGES = 4  # consistency: r = t * (1 - 2^-(stage + 1)), stage 0..3 over the run


@dataclass(frozen=True)
class FastConfig(Config):
    """How a model is made fast. ``minutes`` (the whole phase, pool included) or ``steps`` (the
    student's optimizer steps) bounds it; ``guidance`` None takes the model's default weight."""

    kind: ClassVar[str] = "make-fast"

    route: str = "distil"
    minutes: float | None = 3.0
    steps: int | None = None
    batch_size: int = 64
    lr: float = 1e-3
    guidance: float | None = None
    teacher_steps: int = 8
    decay: bool = True  # the rate falls linearly to 0 over the budget (after 20 warm-up steps)
    noise_share: float = 0.5  # of each batch, the share at pure noise: the one-step sample
    map_steps: int | None = None  # the most steps the map samples in: its levels (None: the teacher's)
    pool: int | None = None
    seed: int = 0
    device: str = "auto"

    def validate(self) -> None:
        if self.route not in ROUTES:
            raise ConfigError(
                f"make-fast.route: unknown route {self.route!r}", fix=f"use {' or '.join(ROUTES)}"
            )
        if self.minutes is None and self.steps is None:
            raise ConfigError("make-fast: no budget", fix="give minutes or steps")
        if self.minutes is not None and not 0 < self.minutes <= 24 * 60:
            raise ConfigError(f"make-fast.minutes: {self.minutes:g} is out of range", fix="use 0.1 to 1440")
        if self.steps is not None and not 1 <= self.steps <= 10**7:
            raise ConfigError(f"make-fast.steps: {self.steps} is out of range", fix="use 1 or more")
        if not 1 <= self.batch_size <= 4096:
            raise ConfigError(f"make-fast.batch_size: {self.batch_size} is out of range", fix="use 1 to 4096")
        if not 0 < self.lr <= 1:
            raise ConfigError(
                f"make-fast.lr: {self.lr:g} is out of range", fix="use a rate above 0, e.g. 1e-3"
            )
        if not 2 <= self.teacher_steps <= 16:
            raise ConfigError(
                f"make-fast.teacher_steps: {self.teacher_steps} is out of range", fix="use 2 to 16"
            )
        if not 0 <= self.noise_share <= 1:
            raise ConfigError(
                f"make-fast.noise_share: {self.noise_share:g} is out of range", fix="use 0 to 1"
            )
        if self.map_steps is not None and not 1 <= self.map_steps <= self.teacher_steps:
            raise ConfigError(
                f"make-fast.map_steps: {self.map_steps} is out of range",
                fix=f"use 1 to teacher_steps ({self.teacher_steps})",
            )
        if self.pool is not None and not 1 <= self.pool <= 10**6:
            raise ConfigError(
                f"make-fast.pool: {self.pool} is out of range", fix="use 1 or more trajectories"
            )


@dataclass
class FastResult:
    """What one phase did: the student's steps, its first and last losses, the pool's size."""

    model_dir: Path
    steps: int
    seconds: float
    pool: int
    levels: list[float]
    first_loss: float
    last_loss: float


ProgressFn = Callable[[dict[str, Any]], None]


def make_fast(
    model_dir: str | Path,
    config: FastConfig,
    *,
    progress: ProgressFn | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> FastResult:
    """Distil the model folder ``model_dir`` into a few-step map and save it there (``fewstep/``,
    then ``noisebloom.json``'s ``fewstep`` entry, each written atomically). ``progress(dict)`` hears
    each phase and every 10th step. ``should_stop()`` returning True ends the phase early and saves
    what the map has learnt (nothing, and :class:`~core.errors.Cancelled`, before its first step);
    a ``Cancelled`` it raises (the engine's cancel) leaves the folder as it was."""
    t0 = now()
    model_dir = Path(model_dir)
    device = resolve_device(config.device)
    model = load_model_folder(model_dir, device)
    _check_model(model)
    weight = resolve_guidance(SampleConfig(guidance=config.guidance), model)
    teacher = guided(model.network.eval(), model.guide.eval() if model.guide else None, weight)
    shape = sample_shape(model)
    levels = _teacher_levels(model, config.teacher_steps, device)
    budget_s = None if config.minutes is None else 60.0 * config.minutes
    stop = should_stop or (lambda: False)

    pool_n = config.pool or _pool_size(shape, len(levels), config)
    pool_budget = None if budget_s is None else POOL_SHARE * budget_s
    states, finals = _teacher_pool(
        teacher, model, config, shape, pool_n, device, pool_budget, t0, progress, stop
    )
    m = config.map_steps or len(levels)
    picks = [round(k * len(levels) / m) for k in range(m)]
    states, levels = states[:, picks].contiguous(), [levels[i] for i in picks]  # the map's own levels

    torch.manual_seed(config.seed)
    student = copy.deepcopy(model.network).to(device).train().requires_grad_(True)
    opt = torch.optim.AdamW(student.parameters(), lr=config.lr, betas=(0.9, 0.99), weight_decay=0.0)
    gen = torch.Generator("cpu").manual_seed(config.seed + 1)
    losses: list[float] = []
    step = 0
    while True:
        elapsed = now() - t0
        if config.steps is not None and step >= config.steps:
            break
        if (budget_s is not None and elapsed >= budget_s) or stop():
            break
        share = (step / config.steps) if config.steps else (elapsed / budget_s if budget_s else 0.0)
        for group in opt.param_groups:
            group["lr"] = config.lr * min(1.0, (step + 1) / 20) * ((1.0 - share) if config.decay else 1.0)
        if config.route == "distil":
            loss = _distil_loss(student, states, finals, levels, config, gen, device)
        else:
            loss = _consistency_loss(student, teacher, finals, config, share, gen, device)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(student.parameters(), 1.0)
        opt.step()
        step += 1
        losses.append(float(loss.detach()))
        if progress is not None and (step % 10 == 0 or step == 1):
            progress({"phase": "train", "step": step, "loss": losses[-1], "elapsed": now() - t0,
                      "budget": budget_s, "steps": config.steps})  # fmt: skip
    if not losses:
        if stop():
            raise Cancelled()
        raise ConfigError(
            "make-fast: the budget ended before the map took a step",
            fix="give more minutes (at least 1) or a step count",
        )
    info = {
        "levels": [round(float(t), 6) for t in levels],
        "guidance": float(weight),
        "route": config.route,
        "trained_steps": step,
        "teacher_steps": config.teacher_steps,
        "pool": int(finals.shape[0]),
        "teacher_trained_steps": int(model.info.get("trained_steps", 0)),
    }
    _save(model_dir, student, {**(model.info or {}), "fewstep": info})
    return FastResult(model_dir, step, now() - t0, int(finals.shape[0]), list(info["levels"]),
                      losses[0], sum(losses[-10:]) / len(losses[-10:]))  # fmt: skip


def _check_model(model: LoadedModel) -> None:
    if model.objective != "flow":
        raise ConfigError(
            f"make-fast: {model.path} is an {model.objective}-prediction model; few-step maps are made "
            "from flow-matching models",
            fix="train with the flow objective (the default) to make a model fast",
        )
    if (model.info or {}).get("kind") == "clip":
        raise ConfigError(f"make-fast: {model.path} is a clip model", fix="make an image model fast")


def _teacher_levels(model: LoadedModel, steps: int, device: torch.device) -> list[float]:
    """The noise levels of the teacher's UniPC at ``steps`` steps: where the map is trained."""
    scheduler = build_scheduler("unipc", model.scheduler_config, model.objective)
    scheduler.set_timesteps(steps, device=device)
    return [float(s) for s in scheduler.sigmas[:-1]]


def _pool_size(shape: tuple[int, ...], n_levels: int, config: FastConfig) -> int:
    """Trajectories in the pool: up to :data:`POOL_MAX` within :data:`POOL_BYTES`; with a step budget,
    about one visit per trajectory and level (a time budget cuts the pool at :data:`POOL_SHARE`)."""
    per = (n_levels + 1) * math.prod(shape) * 2  # float16 states at each level and the end
    n = min(POOL_MAX, POOL_BYTES // per)
    if config.steps is not None:
        n = min(n, config.steps * config.batch_size // n_levels)
    return max(64, n)


@torch.inference_mode()
def _teacher_pool(teacher, model, config, shape, n, device, budget_s, t0, progress, stop):
    """``n`` teacher trajectories: (n, levels, *shape) float16 states and (n, *shape) float32 ends;
    fewer when ``budget_s`` (seconds since ``t0``) runs out first, never less than one batch."""
    states, finals = [], []
    batch = 64
    for lo in range(0, n, batch):
        if lo and (stop() or (budget_s is not None and now() - t0 > budget_s)):
            break
        rows = tuple(range(lo, min(lo + batch, n)))
        generators = image_generators(config.seed, rows)
        scheduler = build_scheduler("unipc", model.scheduler_config, model.objective)
        scheduler.set_timesteps(config.teacher_steps, device=device)
        seen: list[torch.Tensor] = []
        x = initial_noise(generators, shape, device=device)
        ran = run_steps(teacher, scheduler, x, flow=True, callback=_recorder(seen))
        states.append(torch.stack(seen, 1))
        finals.append(ran.x.float().cpu())
        if progress is not None:
            progress({"phase": "pool", "done": rows[-1] + 1, "of": n, "elapsed": now() - t0})
    return torch.cat(states), torch.cat(finals)


def _recorder(seen: list[torch.Tensor]) -> Callable[[Any], None]:
    """A step callback keeping each step's network input, in float16 on the CPU."""
    return lambda info: seen.append(info.x_t.half().cpu())


def _distil_loss(student, states, finals, levels, config, gen, device) -> torch.Tensor:
    """Each trajectory point's map onto the trajectory's end; ``noise_share`` of the batch at pure
    noise (the one-step sample) and the rest spread over the levels."""
    n, k = states.shape[:2]
    batch = config.batch_size
    rows = torch.randint(0, n, (batch,), generator=gen)
    which = torch.randint(0, k, (batch,), generator=gen)
    which[: round(batch * config.noise_share)] = 0
    x_t = states[rows, which].to(device, torch.float32)
    t = torch.tensor([levels[i] for i in which.tolist()], device=device)
    pred = _map(student, x_t, t)
    return F.mse_loss(pred, finals[rows].to(device))


def _consistency_loss(student, teacher, finals, config, share, gen, device) -> torch.Tensor:
    """ECT's loss with a guided teacher step: ``f(x_t, t)`` onto stop-gradient ``f(x_r, r)``, weighted
    by 1 / (t - r); ``t`` is pure noise for ``noise_share`` of the batch, else uniform in (0.02, 1)."""
    n, batch = finals.shape[0], config.batch_size
    rows = torch.randint(0, n, (batch,), generator=gen)
    x0 = finals[rows].to(device)
    z = torch.randn(x0.shape, generator=gen).to(device)
    t = torch.rand(batch, generator=gen) * 0.98 + 0.02
    t[: round(batch * config.noise_share)] = 1.0
    t = t.to(device)
    stage = min(STAGES - 1, int(share * STAGES))
    r = t * (1 - 0.5 ** (stage + 1))
    tt, rr = _col(t, x0), _col(r, x0)
    x_t = (1 - tt) * x0 + tt * z
    with torch.no_grad():
        v = teacher(x_t, 1000 * t).sample
        x_r = x_t - (tt - rr) * v
        target = _map(student, x_r, r)
    pred = _map(student, x_t, t)
    w = 1.0 / (t - r)
    return (w * ((pred - target) ** 2).flatten(1).mean(1)).mean() / w.mean()


def _col(v: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    return v.reshape(-1, *([1] * (like.ndim - 1)))


def _map(network, x_t: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """``flow_map`` at a batch of levels ``t``."""
    return x_t - _col(t, x_t) * network(x_t, 1000 * t).sample


def _save(model_dir: Path, student: torch.nn.Module, meta: dict[str, Any]) -> None:
    """The weights first, then ``noisebloom.json`` with the entry that makes the loader read them: a
    kill between the two leaves the folder sampling as before."""
    from safetensors.torch import save_file

    with atomic_directory(model_dir / FEWSTEP_DIR) as tmp:
        state = {k: v.detach().to("cpu").contiguous() for k, v in student.state_dict().items()}
        save_file(state, tmp / GUIDE_FILE)
    atomic_write_text(model_dir / INFO_NAME, json.dumps(meta, indent=2) + "\n")


__all__ = ["FastConfig", "FastResult", "ROUTES", "make_fast"]
