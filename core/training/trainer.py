"""The trainer: one loop for CPU, CUDA, MPS and many processes, on HF accelerate.

AdamW or Muon (:mod:`core.training.optim`) with linear warmup and cosine decay, gradient clipping
and accumulation, an EMA of the weights (diffusers' ``EMAModel``; the EMA is what previews, held-out
losses, the copying check of :mod:`core.training.copying` and the saved model use), seeded and
deterministic on CPU. Hooks in the shape of EDM's training loop (Karras et al. 2022):
``should_stop()`` is polled between steps, ``on_progress(step, total, metrics)`` after each step,
``on_preview(step, images)`` and ``on_metric(step, metrics)`` when those are made.
``should_stop()`` returning True finishes cleanly (checkpoint and model saved); a callback raising
:class:`~core.errors.Cancelled` abandons the run (nothing more is written).

Run folder: ``config.json``, ``model/`` (the model folder, :mod:`core.models.folder`), ``state/``
(:mod:`core.training.checkpoint`), ``metrics.jsonl`` (:mod:`core.training.metrics_log`) and
``samples/step_NNNNNNN.png`` previews. Several processes: ``torchrun --nproc_per_node N -m core.cli
train ...`` or ``accelerate launch -m core.cli train ...``; each process takes its own slice of
every batch and DDP averages the gradients, so all processes hold the same weights.
"""

from __future__ import annotations

import contextlib
import copy
import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from core.data.prepared import PreparedDataset
from core.errors import ConfigError, NoisebloomError
from core.training.config import TrainConfig
from core.training.optim import kind_of_state, make_optimizer

ProgressFn = Callable[[int, int, dict], None]
PreviewFn = Callable[[int, np.ndarray], None]
MetricFn = Callable[[int, dict], None]

# Fields that must match between a run and its resume.
_RESUME_FIXED = ("preset", "objective", "schedule", "resolution", "init_from")


@dataclass
class TrainResult:
    run_dir: Path
    model_dir: Path
    steps: int
    stopped_early: bool
    metrics: dict[str, Any] = field(default_factory=dict)


def lr_at(config: TrainConfig, peak: float, step: int, progress: float) -> float:
    """Linear warmup over ``config.warmup`` steps, then cosine decay to 10% of the peak at progress 1."""
    warm = min(1.0, (step + 1) / config.warmup) if config.warmup else 1.0
    if config.lr_schedule == "constant":
        return peak * warm
    p = min(max(progress, 0.0), 1.0)
    return peak * warm * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * p)))


def _make_accelerator(config: TrainConfig) -> Any:
    from accelerate import Accelerator

    if config.device == "cuda" and not torch.cuda.is_available():
        raise ConfigError(
            "train.device: cuda is not available on this machine", fix="use --device auto or cpu"
        )
    if config.device == "mps" and not torch.backends.mps.is_available():
        raise ConfigError(
            "train.device: mps is not available on this machine", fix="use --device auto or cpu"
        )
    use_cuda = torch.cuda.is_available() and config.device in ("auto", "cuda")
    mp = config.mixed_precision
    if mp == "auto":
        mp = "bf16" if use_cuda and torch.cuda.is_bf16_supported() else "no"
    if mp == "fp16":
        raise ConfigError(
            "train.mixed_precision: fp16 is not supported (its loss scaling hides the NaN check)",
            fix="use bf16 or auto",
        )
    if mp != "no" and not use_cuda:
        raise ConfigError(
            f"train.mixed_precision: {mp} needs a CUDA GPU here", fix="use --mixed-precision no (or auto)"
        )
    if use_cuda:
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    return Accelerator(
        cpu=config.device == "cpu",
        mixed_precision=mp,
        gradient_accumulation_steps=config.grad_accum,
    )


def adopt_parent(config: TrainConfig, model_dir: str | Path) -> TrainConfig:
    """``config`` with the preset, objective and schedule of the model it fine-tunes.

    The folder comes from outside: its ``noisebloom.json`` is read through the model folder's
    bounded, checked reader; without one, the whole folder is loaded to infer them."""
    from core.models.folder import load_model_folder, read_model_info

    info = read_model_info(model_dir) or load_model_folder(model_dir).info
    changes: dict[str, Any] = {"init_from": str(model_dir)}
    if info.get("preset") in _known_presets():
        changes["preset"] = info["preset"]
    if info.get("objective"):
        changes["objective"] = info["objective"]
    if info.get("schedule"):
        changes["schedule"] = info["schedule"]
    return config.replace(**changes)


def _known_presets() -> tuple[str, ...]:
    from core.models.presets import PRESETS

    return tuple(PRESETS)


def _build_network(
    config: TrainConfig, channels: int, resolution: int, pictures: int
) -> tuple[torch.nn.Module, dict[str, Any], float]:
    """(network, lineage, augmentation probability): ``config.augment`` resolved for a folder of
    ``pictures`` pictures (:func:`core.training.augment.resolve_augment`); a network from a
    preset gets ``augment_dim`` when that is above 0, a parent's keeps its own."""
    from core.models.folder import load_model_folder
    from core.models.presets import build, get_preset
    from core.training.augment import AUGMENT_DIM, resolve_augment

    if not config.init_from:
        takes = get_preset(config.preset).takes_augment_labels
        augment = resolve_augment(config.augment, pictures, takes, config.preset)
        torch.manual_seed(config.seed)  # the same initial weights in every process
        net = build(config.preset, channels, resolution, AUGMENT_DIM if augment else 0)
        return net, {"preset": config.preset, "parent": None}, augment
    parent = load_model_folder(config.init_from)
    info = parent.info
    where = f"train.init_from: {config.init_from}"
    if info.get("objective") != config.objective:
        raise ConfigError(
            f"{where} was trained with objective {info.get('objective')}, not {config.objective}",
            fix="leave --objective out to use the parent's",
        )
    if int(info.get("channels", channels)) != channels:
        raise ConfigError(
            f"{where} has {info.get('channels')} channel(s), the data has {channels}",
            fix="fine-tune on data of the same colour mode (grayscale or RGB)",
        )
    net = parent.network
    if int(info.get("resolution", resolution)) != resolution:
        if info.get("network") != "unet":
            raise ConfigError(
                f"{where} works at {info.get('resolution')} px, the data is {resolution} px",
                fix=f"train with --resolution {info.get('resolution')}",
            )
        net.register_to_config(sample_size=resolution)  # a UNet is convolutional: any multiple of 8 works
    takes = dict(net.config).get("augment_dim", 0) == AUGMENT_DIM
    augment = resolve_augment(config.augment, pictures, takes, f"the network of {config.init_from}")
    preset = info.get("preset", config.preset)
    return net, {"preset": preset, "parent": str(Path(config.init_from).resolve())}, augment


def _check_resume(config: TrainConfig, run_dir: Path) -> None:
    path = run_dir / "config.json"
    if not path.is_file():
        return
    saved = TrainConfig.load(path)
    for name in _RESUME_FIXED:
        if getattr(saved, name) != getattr(config, name):
            raise ConfigError(
                f"train.{name}: {getattr(config, name)!r} differs from the run being resumed ({getattr(saved, name)!r})",
                fix=f"resume with the run's own setting (see {path}) or start a new --out folder",
            )


def _resumed_augment(config: TrainConfig, run_dir: Path) -> float | None:
    """The augmentation probability of the run being resumed (as it recorded it; 0 for runs from
    before ``augment``), refused when the config names another one."""
    path = run_dir / "config.json"
    if not path.is_file():
        return config.augment
    saved = TrainConfig.load(path).augment or 0.0
    if config.augment is not None and config.augment != saved:
        raise ConfigError(
            f"train.augment: {config.augment!r} differs from the run being resumed ({saved!r})",
            fix=f"resume with the run's own setting (see {path}) or leave augment unset",
        )
    return saved


def _optimizer_kind(config: TrainConfig, saved: dict | None) -> str:
    """The config's optimizer; on resume the checkpoint's (runs from before the ``optimizer`` field
    used AdamW), refused when the config names another one."""
    if saved is None:
        return config.optimizer_kind()
    had = kind_of_state(saved)
    if config.optimizer not in (None, had):
        raise ConfigError(
            f"train.optimizer: {config.optimizer!r} differs from the run being resumed ({had!r})",
            fix=f"resume with --optimizer {had} (or none), or start a new --out folder",
        )
    return had


def train(
    config: TrainConfig,
    data: PreparedDataset,
    run_dir: str | Path,
    *,
    resume: bool = False,
    should_stop: Callable[[], bool] | None = None,
    on_progress: ProgressFn | None = None,
    on_preview: PreviewFn | None = None,
    on_metric: MetricFn | None = None,
) -> TrainResult:
    """Train ``config`` on ``data``, writing the run folder ``run_dir``; see the module docstring.

    The main process holds the run folder's lock (:mod:`core.workspace.lock`) for as long as it
    writes there, so a second trainer on the same folder is refused; temporary folders a killed
    write left behind are swept at the start and the end. A full disk, a lack of memory or of
    permission becomes one line that says which folder and which checkpoint is intact."""
    import os

    from core.errors import resource_error
    from core.fsutil import recover_directory
    from core.workspace.lock import hold

    run_dir = Path(run_dir)
    main = os.environ.get("RANK", "0") == "0"
    writing: dict[str, Path | None] = {"folder": None}
    lock = (
        hold(run_dir, "run folder", fix="wait for the other training to finish, or train into another folder")
        if main
        else contextlib.nullcontext()
    )
    with lock:
        try:
            if main:
                for folder in (run_dir / "state", run_dir / "model"):
                    recover_directory(folder)
            result = _train(
                config, data, run_dir, resume=resume, should_stop=should_stop, on_progress=on_progress,
                on_preview=on_preview, on_metric=on_metric, writing=writing,
            )  # fmt: skip
            if main:
                for folder in (run_dir / "state", run_dir / "model"):
                    recover_directory(folder)
            return result
        except Exception as e:
            err = resource_error(
                e, writing["folder"] or run_dir, intact=_intact(run_dir), fix=_resume_fix(e, run_dir)
            )
            if err is None:
                raise
            raise err from None


def _intact(run_dir: Path) -> str:
    """What a failed run still has: the last checkpoint's step, read from its state."""
    try:
        step = int(json.loads((run_dir / "state" / "trainer.json").read_text(encoding="utf-8"))["step"])
    except (OSError, ValueError, KeyError, TypeError):
        return "no checkpoint was saved yet"
    return f"the checkpoint at step {step} is intact"


def _resume_fix(e: BaseException, run_dir: Path) -> str | None:
    if isinstance(e, MemoryError) or "memory" in str(e).lower():
        return "use a smaller --batch-size or preset, then resume the run"
    if (run_dir / "state" / "trainer.json").is_file():
        return "free some space (or fix the permissions) and resume the run"
    return None


def _train(
    config: TrainConfig,
    data: PreparedDataset,
    run_dir: Path,
    *,
    resume: bool,
    should_stop: Callable[[], bool] | None,
    on_progress: ProgressFn | None,
    on_preview: PreviewFn | None,
    on_metric: MetricFn | None,
    writing: dict[str, Path | None],
) -> TrainResult:
    from diffusers.training_utils import EMAModel

    from core.diffusion.objectives import make_objective, noisy_batch
    from core.diffusion.weighting import loss_weights, weighted_mse
    from core.models.folder import save_model_folder
    from core.training.augment import augment as augment_batch
    from core.training.augment import batch_seed
    from core.training.batches import BatchStream
    from core.training.checkpoint import load_state, save_state
    from core.training.copying import memorized_share
    from core.training.metrics_log import MetricsLog
    from core.training.preview import grid, preview_samples
    from core.training.validation import HeldOut

    t_begin = time.monotonic()
    state_dir, model_dir = run_dir / "state", run_dir / "model"
    resolution = config.resolution or data.resolution
    if resolution % 8 or not 16 <= resolution <= 256:
        raise ConfigError(
            f"train.resolution: the data is {data.resolution} px, which is not a multiple of 8 in 16..256",
            fix="pass --resolution (16..256 in steps of 8) or rescan the folder at such a size",
        )
    if resume:
        _check_resume(config, run_dir)
        config = config.replace(augment=_resumed_augment(config, run_dir))
        previous = load_state(state_dir)
    else:
        previous = None
        if (state_dir / "trainer.json").is_file():
            raise NoisebloomError(
                f"{run_dir}: already holds a training run",
                fix="pass --resume to continue it, or choose another --out folder",
            )

    accelerator = _make_accelerator(config)
    main, rank, world, device = (
        accelerator.is_main_process,
        accelerator.process_index,
        accelerator.num_processes,
        accelerator.device,
    )
    from core.models.presets import PRESETS, get_preset

    if not config.init_from and get_preset(config.preset).data_kind != data.kind:
        raise ConfigError(
            f"train.preset: {config.preset} is a network for {get_preset(config.preset).data_kind}s, "
            f"and this dataset holds {data.kind}s",
            fix=f"choose a preset for {data.kind}s: "
            + ", ".join(n for n, p in PRESETS.items() if p.data_kind == data.kind),
        )
    channels = data.channels
    sample_shape = (channels, resolution, resolution)
    if data.kind == "clip":
        sample_shape = (int(data.frames or 1), *sample_shape)

    pictures = len(data)  # the folder's, held-out ones included: what a person sees
    network, lineage, augment = _build_network(config, channels, resolution, pictures)
    config = config.replace(augment=augment)  # what config.json records, so a resume does the same
    objective = make_objective(config.objective, config.schedule)
    peak = config.peak_lr()
    kind = _optimizer_kind(config, previous.optimizer if previous is not None else None)
    optimizer = make_optimizer(
        kind, network.parameters(), lr=peak, betas=(0.9, config.adam_beta2), weight_decay=config.weight_decay
    )
    model, optimizer = accelerator.prepare(network, optimizer)
    net = accelerator.unwrap_model(model)
    net.train()
    ema = None
    if config.ema_decay > 0:
        ema = EMAModel(
            net.parameters(),
            decay=config.ema_decay,
            use_ema_warmup=True,
            power=config.ema_power_value(),
            foreach=True,
        )
        ema.to(device)
    sample_net = copy.deepcopy(net).eval().requires_grad_(False)
    # autoguidance's guide: the sampling weights from ``guide_at`` of the run (main process only)
    guide_net: torch.nn.Module | None = None
    guide_step = 0
    amp_dtype = torch.float32

    noise_gen = torch.Generator(device=device).manual_seed(config.seed * 1_000_003 + 7919 * (rank + 1))
    aug_gen = torch.Generator()  # reseeded per batch from its stream position (core.training.augment)
    step, position, elapsed_before = 0, 0, 0.0
    if previous is not None:
        net.load_state_dict(previous.weights)
        optimizer.optimizer.load_state_dict(previous.optimizer)
        if ema is not None and previous.ema is not None:
            ema.load_state_dict(previous.ema)
            ema.to(device)
        if previous.rng is not None and previous.rng.shape[0] == world:
            noise_gen.set_state(previous.rng[rank].clone())
        step, position, elapsed_before = previous.step, previous.position, previous.elapsed_s
        if previous.guide is not None and main:
            guide_net = copy.deepcopy(sample_net)
            guide_net.load_state_dict(previous.guide)
            guide_step = previous.guide_step

    if main:
        run_dir.mkdir(parents=True, exist_ok=True)
        config.save(run_dir / "config.json")
        (run_dir / "samples").mkdir(exist_ok=True)
    log = MetricsLog(run_dir / "metrics.jsonl", resume_step=step if previous else None, enabled=main)

    flip = data.flip if config.flip is None else config.flip
    stream = BatchStream(
        data, config.batch_size, seed=config.seed, rank=rank, world=world, flip=flip,
        resolution=resolution, position=position,
    )  # fmt: skip
    held_out = HeldOut(data, resolution) if main and config.val_every else None
    n_rows = len(stream.rows)
    per_step = config.batch_size * world * config.grad_accum
    step_budget = config.max_steps
    if config.max_epochs is not None:
        by_epochs = max(1, math.ceil(config.max_epochs * n_rows / per_step))
        step_budget = by_epochs if step_budget is None else min(step_budget, by_epochs)
    time_budget = config.max_minutes * 60.0 if config.max_minutes else None
    info = {
        "preset": lineage["preset"],
        "kind": data.kind,
        "frames": data.frames,
        "fps": data.fps,
        "resolution": resolution,
        "channels": channels,
        "parent": lineage["parent"],
    }

    def elapsed() -> float:
        return elapsed_before + time.monotonic() - t_begin

    def progress_fraction() -> float:
        fracs = [0.0]
        if step_budget:
            fracs.append(step / step_budget)
        if time_budget:
            fracs.append(elapsed() / time_budget)
        return max(fracs)

    def refresh_sample_net() -> None:
        if ema is not None:
            ema.copy_to(sample_net.parameters())
        else:
            sample_net.load_state_dict(net.state_dict())

    cost = {"step": 0.0, "save": 2.0, "preview": 0.0, "val": 0.0, "copying": 0.0}  # seconds, last measured

    def checkpoint() -> None:
        t0 = time.monotonic()
        rng = noise_gen.get_state()
        if world > 1:
            rng = accelerator.gather(rng[None].to(device)).cpu()
        else:
            rng = rng[None]
        if main:
            refresh_sample_net()
            guide_state = guide_net.state_dict() if guide_net is not None else None
            writing["folder"] = state_dir
            save_state(
                state_dir,
                step=step,
                position=stream.position,
                elapsed_s=elapsed() + cost["save"],
                weights=net.state_dict(),
                optimizer_state=optimizer.optimizer.state_dict(),
                ema_state=ema.state_dict() if ema is not None else None,
                rng=rng,
                extra={"world": world, "epoch": stream.epoch},
                guide=guide_state,
                guide_step=guide_step,
            )
            writing["folder"] = model_dir
            save_model_folder(
                sample_net, config.objective, dict(info, trained_steps=step), model_dir,
                schedule=None if config.objective == "flow" else config.schedule,
                guide=guide_state, guide_steps=guide_step,
            )  # fmt: skip
            writing["folder"] = None
        cost["save"] = time.monotonic() - t0

    def keep_guide() -> None:
        nonlocal guide_net, guide_step
        refresh_sample_net()
        guide_net = copy.deepcopy(sample_net)
        guide_step = step
        log.write({"step": step, "kind": "guide", "elapsed_s": round(elapsed(), 3)})

    def preview() -> None:
        from core.sampling.guidance import DEFAULT_GUIDANCE, guided

        t0 = time.monotonic()
        refresh_sample_net()
        network = guided(sample_net, guide_net, DEFAULT_GUIDANCE)  # what Generate samples by default
        with accelerator.autocast():
            images = preview_samples(
                network, config.objective, config.schedule, config.preview_seeds, config.preview_steps,
                sample_shape, device=device,
            )  # fmt: skip
        from core.export.png import write_png

        writing["folder"] = run_dir / "samples"
        write_png(run_dir / "samples" / f"step_{step:07d}.png", grid(images))  # atomic: never half a file
        writing["folder"] = None
        cost["preview"] = time.monotonic() - t0
        if on_preview is not None:
            on_preview(step, images)

    def validate() -> dict[str, float]:
        t0 = time.monotonic()
        refresh_sample_net()
        with accelerator.autocast():
            vals = held_out.losses(sample_net, objective, device=device, dtype=amp_dtype)
        cost["val"] = time.monotonic() - t0
        if vals:
            log.write({"step": step, "kind": "val", "elapsed_s": round(elapsed(), 3), **vals})
            if on_metric is not None:
                on_metric(step, vals)
        return vals

    def check_copying() -> None:
        """The memorised share of fixed-seed samples from the EMA weights (:mod:`core.training.copying`)."""
        t0 = time.monotonic()
        refresh_sample_net()

        def draw(seeds: Any) -> np.ndarray:
            with accelerator.autocast():
                return preview_samples(
                    sample_net, config.objective, config.schedule, seeds, config.preview_steps, sample_shape,
                    device=device,
                )  # fmt: skip

        copying = memorized_share(draw, data, resolution)
        cost["copying"] = time.monotonic() - t0
        if copying:
            log.write({"step": step, "kind": "memorization", "elapsed_s": round(elapsed(), 3), **copying})
            if on_metric is not None:
                on_metric(step, copying)

    def decide_stop() -> tuple[bool, bool]:
        """(stop, early): the same answer in every process (rank 0 decides)."""
        stop, early = False, False
        if step_budget is not None and step >= step_budget:
            stop = True
        elif should_stop is not None and should_stop():
            stop, early = True, True
        elif time_budget is not None:
            extras = cost["preview"] + cost["val"] + cost["copying"]
            margin = cost["step"] * 1.5 + cost["save"] * 1.2 + extras + 0.5
            stop = elapsed() + margin >= time_budget
        if world > 1:
            flag = torch.tensor([int(stop) + 2 * int(early)], device=device)
            torch.distributed.broadcast(flag, 0)
            stop, early = bool(flag.item() & 1), bool(flag.item() & 2)
        return stop, early

    last: dict[str, Any] = {}
    loss_sum = torch.zeros((), device=device)
    loss_n, bad_steps, window_images = 0, 0, 0
    window_t = 0.0
    saved_step = step if previous is not None else -1
    stopped_early = False
    try:
        while True:
            stop, early = decide_stop()
            if stop:
                stopped_early = early
                break
            t0 = time.monotonic()
            lr = lr_at(config, peak, step, progress_fraction())
            for group in optimizer.param_groups:
                group["lr"] = lr
            for _ in range(config.grad_accum):
                x0 = stream.next_batch(device)
                told: dict[str, torch.Tensor] = {}  # the augment labels, for a network that is augmented
                if augment:
                    aug_gen.manual_seed(batch_seed(config.seed, stream.position, rank))
                    x0, told["augment_labels"] = augment_batch(x0, augment, aug_gen)
                with accelerator.accumulate(model):
                    nb = noisy_batch(objective, x0, noise_gen, t_sampling=config.t_sampling)
                    with accelerator.autocast():
                        pred = model(nb.x_t, nb.timesteps, **told).sample
                    weights = loss_weights(nb.snr, config.objective, config.loss_weighting, config.snr_gamma)
                    loss = weighted_mse(pred, nb.target, weights)
                    accelerator.backward(loss)
            norm = accelerator.clip_grad_norm_(model.parameters(), config.grad_clip or float("inf"))
            if not torch.isfinite(torch.as_tensor(norm)).item():
                optimizer.zero_grad(set_to_none=True)
                bad_steps += 1
                log.write({"step": step, "kind": "skipped", "reason": "non-finite loss or gradient"})
                if bad_steps >= config.max_bad_steps:
                    raise NoisebloomError(
                        f"training: the loss was NaN or infinite for {bad_steps} steps in a row at step {step}",
                        fix=f"lower the learning rate (now {peak:g}) or check the data; "
                        f"the last checkpoint in {run_dir} is intact",
                    )
                continue
            bad_steps = 0
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            if ema is not None:
                ema.step(net.parameters())
            step += 1
            loss_sum += loss.detach()
            loss_n += 1
            window_images += per_step
            dt = time.monotonic() - t0
            window_t += dt
            cost["step"] = dt if cost["step"] == 0 else 0.8 * cost["step"] + 0.2 * dt

            if step % config.log_every == 0 or (step_budget is not None and step >= step_budget):
                mean_loss = accelerator.reduce(loss_sum / max(loss_n, 1), "mean").item()
                img_s = window_images / window_t if window_t > 0 else 0.0
                last = {
                    "step": step,
                    "kind": "train",
                    "loss": mean_loss,
                    "lr": lr,
                    "img_per_s": img_s,
                    "epoch": stream.epoch,
                    "grad_norm": float(norm),
                    "elapsed_s": round(elapsed(), 3),
                }
                log.write(last)
                loss_sum.zero_()
                loss_n, window_images, window_t = 0, 0, 0.0
            if on_progress is not None:
                on_progress(
                    step,
                    _total(step, step_budget, time_budget, elapsed(), cost["step"]),
                    _progress(last, step, step_budget, time_budget, elapsed(), cost["step"]),
                )
            if main and config.guide_at and guide_net is None and progress_fraction() >= config.guide_at:
                keep_guide()
            if main and config.preview_every and step % config.preview_every == 0:
                preview()
            if main and held_out is not None and step % config.val_every == 0:
                validate()
            if main and config.memorization_every and step % config.memorization_every == 0:
                check_copying()
            if config.checkpoint_every and step % config.checkpoint_every == 0:
                checkpoint()
                saved_step = step

        final: dict[str, Any] = dict(last)
        if main and config.preview_every and step % config.preview_every and step > 0:
            preview()
        if main and held_out is not None and (step % config.val_every or step == 0):
            final.update(validate())
        if saved_step != step or not (model_dir / "model_index.json").is_file():
            checkpoint()
        if world > 1:  # every process must hold the same weights: check it, and say so
            digests: list[Any] = [None] * world
            torch.distributed.all_gather_object(digests, weights_digest(net))
            final["weights_sha256"] = digests
            final["replicas_identical"] = len(set(digests)) == 1
        accelerator.wait_for_everyone()
    finally:
        log.close()
    final["elapsed_s"] = round(elapsed(), 3)
    return TrainResult(run_dir, model_dir, step, stopped_early, final)


def weights_digest(network: torch.nn.Module) -> str:
    """sha256 of every parameter's bytes, in order: equal digests mean bit-identical weights."""
    import hashlib

    h = hashlib.sha256()
    for name, p in network.state_dict().items():
        h.update(name.encode())
        h.update(p.detach().cpu().contiguous().view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


def _total(
    step: int, step_budget: int | None, time_budget: float | None, elapsed: float, step_s: float
) -> int:
    totals = []
    if step_budget is not None:
        totals.append(step_budget)
    if time_budget is not None and step_s > 0:
        totals.append(step + max(0, int((time_budget - elapsed) / step_s)))
    return max(step, min(totals)) if totals else step


def _progress(
    last: dict[str, Any],
    step: int,
    step_budget: int | None,
    time_budget: float | None,
    elapsed: float,
    step_s: float,
) -> dict[str, Any]:
    total = _total(step, step_budget, time_budget, elapsed, step_s)
    eta = (total - step) * step_s
    if time_budget is not None:
        eta = min(eta, max(0.0, time_budget - elapsed))
    return {
        "loss": last.get("loss"),
        "lr": last.get("lr"),
        "img_per_s": last.get("img_per_s"),
        "epoch": last.get("epoch"),
        "elapsed_s": elapsed,
        "eta_s": eta,
    }
