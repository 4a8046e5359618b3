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
(:mod:`core.training.checkpoint`), ``metrics.jsonl`` (:mod:`core.metrics.metrics_log`) and
``samples/step_NNNNNNN.png`` previews. Several processes: ``torchrun --nproc_per_node N -m core.cli
train ...`` or ``accelerate launch -m core.cli train ...``; each process takes its own slice of
every batch and DDP averages the gradients, so all processes hold the same weights.

:func:`train` is the loop; the run's state and its side work (checkpoint, preview, held-out loss,
copying check) are :class:`core.training.run.Run`. Speed: ``benchmarks/results/train_speed.json``.
"""

from __future__ import annotations

import contextlib
import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from core.catalogue.training import MAX_BATCH_SIZE
from core.data.prepared import PreparedDataset
from core.errors import ConfigError, NoisebloomError
from core.training import gpu, guidance_choice
from core.training import run as _run
from core.training.config import TrainConfig
from core.training.optim import kind_of_state
from core.training.run import MetricFn, PreviewFn, Run
from core.training.threads import ThreadPolicy

ProgressFn = Callable[[int, int, dict], None]

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
    if mp != "no" and not use_cuda and not _on_cpu(config):
        raise ConfigError(
            f"train.mixed_precision: {mp} needs a CUDA GPU or the CPU here",
            fix="use --mixed-precision no (or auto)",
        )
    if use_cuda:
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    return Accelerator(
        cpu=config.device == "cpu",
        mixed_precision=mp if use_cuda else "no",  # a CPU run's bf16 is its own autocast (Run.autocast)
        gradient_accumulation_steps=config.grad_accum,
    )


def _on_cpu(config: TrainConfig) -> bool:
    """Whether the run trains on the CPU (what accelerate picks for ``config.device``)."""
    if config.device == "cpu":
        return True
    mps = getattr(torch.backends, "mps", None)
    return config.device == "auto" and not torch.cuda.is_available() and not (mps and mps.is_available())


def _cpu_precision(
    config: TrainConfig, network: torch.nn.Module, sample_shape: tuple[int, ...]
) -> tuple[TrainConfig, Any]:
    """(``config`` with ``mixed_precision`` decided for a run on the CPU, the measured choice or None):
    bf16 where this processor has it and it measures faster (:mod:`core.training.precision`); a bf16
    run's attention stays float32. Other devices and runs of several processes are left as they are."""
    import os

    from core.training import precision

    if not _on_cpu(config):
        return config, None
    choice = None
    if config.mixed_precision == "auto":
        if int(os.environ.get("WORLD_SIZE", "1")) > 1:  # every process must train the same way
            return config.replace(mixed_precision="no"), None
        choice = precision.choose_cpu_precision(network, sample_shape, config.batch_size)
        config = config.replace(mixed_precision=choice.mixed_precision)
    elif config.mixed_precision == "bf16":
        precision.keep_attention_float32(network)
    return config, choice


def _resumed_precision(config: TrainConfig, saved: TrainConfig | None) -> str:
    """A resumed run trains in the precision it chose (``auto`` is decided once, at its start);
    ``saved`` is the run's ``config.json`` (None when it has none)."""
    if config.mixed_precision != "auto" or saved is None:
        return config.mixed_precision
    return saved.mixed_precision


# The preset whose training defaults (optimizer, learning rate, EMA) a network from outside Noisebloom
# fine-tunes with, by its kind: a diffusers UNet2DModel (google/ddpm-cifar10-32 and the like) takes the
# largest UNet preset's AdamW at 2e-4, the learning rate of Ho et al. 2020, a tenth of it for a fine-tune.
FOREIGN_PRESET = {"unet": "unet-gpu"}


def adopt_parent(config: TrainConfig, model_dir: str | Path) -> TrainConfig:
    """``config`` with the preset, objective and schedule of the model it fine-tunes.

    The folder comes from outside: it is checked through the model folder's bounded reader without
    reading its weights; a plain diffusers folder (no ``noisebloom.json``) gives the objective and
    schedule its scheduler implies, and the preset of its network's kind (:data:`FOREIGN_PRESET`)."""
    from core.models.folder import check_model_folder

    info = check_model_folder(model_dir)
    changes: dict[str, Any] = {"init_from": str(model_dir)}
    if info.get("preset") in _known_presets():
        changes["preset"] = info["preset"]
    elif info.get("network") in FOREIGN_PRESET:
        changes["preset"] = FOREIGN_PRESET[info["network"]]
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
    _check_parent_schedule(parent, config, where)
    size, colours = int(info.get("resolution", resolution)), int(info.get("channels", channels))
    if colours != channels:
        raise ConfigError(
            f"{where} is a {size} px {_colour(colours)} model and the data is {resolution} px "
            f"{_colour(channels)}",
            fix=f"fine-tune it on {_colour(colours)} pictures of {size} px or more, or train a new model "
            "on this data",
        )
    net = parent.network
    if size != resolution:
        if info.get("network") != "unet":
            raise ConfigError(
                f"{where} is a {size} px model and the data is {resolution} px",
                fix=f"fine-tune it on pictures scanned at {size} px",
            )
        net.register_to_config(sample_size=resolution)  # a UNet is convolutional: any multiple of 8 works
    takes = dict(net.config).get("augment_dim", 0) == AUGMENT_DIM
    augment = resolve_augment(config.augment, pictures, takes, f"the network of {config.init_from}")
    preset = info.get("preset", config.preset)
    return net, {"preset": preset, "parent": str(Path(config.init_from).resolve())}, augment


def _colour(channels: int) -> str:
    return {1: "grayscale", 3: "RGB", 4: "RGBA"}.get(channels, f"{channels}-channel")


def _check_parent_schedule(parent: Any, config: TrainConfig, where: str) -> None:
    """Refuse a parent whose scheduler noises otherwise than the schedule training uses: a diffusers
    folder from elsewhere may carry other betas or step counts, and fine-tuning it on Noisebloom's
    schedule would teach it another process than the one it was trained for (sampling it as it is
    works: the samplers take the folder's own scheduler config)."""
    if config.objective == "flow":
        return
    from core.diffusion.schedules import alphas_cumprod

    try:
        theirs = getattr(parent.make_scheduler(), "alphas_cumprod", None)
    except (AttributeError, TypeError, ValueError):  # a scheduler class diffusers lacks, a bad config
        theirs = None
    ours = alphas_cumprod(config.schedule)
    if theirs is None or theirs.shape != ours.shape or not torch.allclose(theirs.double(), ours, atol=1e-6):
        c = parent.scheduler_config
        shown = (
            f"{c.get('beta_schedule', 'linear')} betas {c.get('beta_start', '?')} to {c.get('beta_end', '?')} "
            f"over {c.get('num_train_timesteps', '?')} steps"
        )
        raise ConfigError(
            f"{where}: its scheduler noises with {shown}, not the linear or cosine schedule of 1,000 steps "
            "that Noisebloom fine-tunes with",
            fix="sample it as it is, or train a new model",
        )


def _check_resume(config: TrainConfig, saved: TrainConfig | None, path: Path) -> None:
    """Refuses a resume whose ``config`` differs from ``saved`` (the run's ``path``) in a fixed field."""
    if saved is None:
        return
    for name in _RESUME_FIXED:
        if getattr(saved, name) != getattr(config, name):
            raise ConfigError(
                f"train.{name}: {getattr(config, name)!r} differs from the run being resumed ({getattr(saved, name)!r})",
                fix=f"resume with the run's own setting (see {path}) or start a new --out folder",
            )


def _resumed_augment(config: TrainConfig, saved: TrainConfig | None, path: Path) -> float | None:
    """The augmentation probability of the run being resumed (as it recorded it in ``path``; 0 for runs
    from before ``augment``), refused when the config names another one."""
    if saved is None:
        return config.augment
    had = saved.augment or 0.0
    if config.augment is not None and config.augment != had:
        raise ConfigError(
            f"train.augment: {config.augment!r} differs from the run being resumed ({had!r})",
            fix=f"resume with the run's own setting (see {path}) or leave augment unset",
        )
    return had


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
    """The loop: optimizer steps until the run should stop, the side work on its schedule, then the
    last preview, held-out loss and checkpoint."""
    run = _start(
        config, data, run_dir, resume=resume, should_stop=should_stop, on_preview=on_preview,
        on_metric=on_metric, writing=writing,
    )  # fmt: skip
    config = run.config  # with the augmentation probability it resolved
    main = run.main
    stopped_early = False
    threads = ThreadPolicy.for_device(str(run.device)) if run.world == 1 else None
    try:
        while True:
            if threads is not None:
                threads.tick()
            stop, early = run.decide_stop()
            if stop:
                stopped_early = early
                break
            t0 = _run.now()
            lr = lr_at(config, run.peak, run.step, run.progress_fraction())
            stepped = run.train_step(lr)
            if stepped is None:
                continue  # a non-finite loss or gradient: skipped
            loss, norm = stepped
            run.count(loss, t0)
            step = run.step

            if step % config.log_every == 0 or run.at_budget():
                run.settle_finite()
                run.log_train(lr, norm)
            if on_progress is not None:
                on_progress(step, run.total(), run.progress())
            if main and run.guide_due():
                run.keep_guide()
            if main and run.preview_due():
                run.preview()
            if main and run.held_out is not None and step % config.val_every == 0:
                run.validate()
            if main and config.memorization_every and step % config.memorization_every == 0:
                run.check_copying()
            if config.checkpoint_every and step % config.checkpoint_every == 0:
                run.checkpoint()

        run.settle_finite()
        step = run.step
        final: dict[str, Any] = dict(run.last)
        if main and config.preview_every and run.previewed_step != step and step > 0:
            run.preview()
        if main and run.held_out is not None and (step % config.val_every or step == 0):
            final.update(run.validate())
        # every process knows whether the model folder is saved again with a chosen guidance weight
        choosing = bool(config.guide_at) and step >= guidance_choice.MIN_STEPS and data.kind != "clip"
        if main and choosing:
            run.choose_guidance()
        if choosing or run.saved_step != step or not (run.model_dir / "model_index.json").is_file():
            run.checkpoint()
        if run.world > 1:  # every process must hold the same weights: check it, and say so
            digests: list[Any] = [None] * run.world
            torch.distributed.all_gather_object(digests, weights_digest(run.net))
            final["weights_sha256"] = digests
            final["replicas_identical"] = len(set(digests)) == 1
        run.accelerator.wait_for_everyone()
    finally:
        run.log.close()
        if threads is not None:
            threads.close()
    final["elapsed_s"] = round(run.elapsed(), 3)
    return TrainResult(run_dir, run.model_dir, run.step, stopped_early, final)


def _start(
    config: TrainConfig,
    data: PreparedDataset,
    run_dir: Path,
    *,
    resume: bool,
    should_stop: Callable[[], bool] | None,
    on_preview: PreviewFn | None,
    on_metric: MetricFn | None,
    writing: dict[str, Path | None],
) -> Run:
    """The refusals (resolution, resume, preset and data kind), the accelerator and the network,
    then the :class:`~core.training.run.Run` built from them."""
    from core.models.presets import PRESETS, get_preset
    from core.training.checkpoint import load_state

    t_begin = _run.now()
    state_dir = run_dir / "state"
    resolution = config.resolution or data.resolution
    if resolution % 8 or not 16 <= resolution <= 256:
        raise ConfigError(
            f"train.resolution: the data is {data.resolution} px, which is not a multiple of 8 in 16..256",
            fix="pass --resolution (16..256 in steps of 8) or rescan the folder at such a size",
        )
    if resume:
        path = run_dir / "config.json"
        saved = TrainConfig.load(path) if path.is_file() else None  # what the run recorded at its start
        _check_resume(config, saved, path)
        config = _resumed_batch(
            config.replace(
                augment=_resumed_augment(config, saved, path),
                mixed_precision=_resumed_precision(config, saved),
            ),
            saved,
        )
        previous = load_state(state_dir)
    else:
        previous = None
        if (state_dir / "trainer.json").is_file():
            raise NoisebloomError(
                f"{run_dir}: already holds a training run",
                fix="pass --resume to continue it, or choose another --out folder",
            )

    if not config.init_from and get_preset(config.preset).data_kind != data.kind:
        raise ConfigError(
            f"train.preset: {config.preset} is a network for {get_preset(config.preset).data_kind}s, "
            f"and this dataset holds {data.kind}s",
            fix=f"choose a preset for {data.kind}s: "
            + ", ".join(n for n, p in PRESETS.items() if p.data_kind == data.kind),
        )
    sample_shape: tuple[int, ...] = (data.channels, resolution, resolution)
    if data.kind == "clip":
        sample_shape = (int(data.frames or 1), *sample_shape)

    # the pictures the run trains and validates on: a folder's all (held-out ones included, what a
    # person sees); a benchmark's array may hold more than its split uses
    pictures = len(data.train_indices) + len(data.val_indices) or len(data)
    network, lineage, augment = _build_network(config, data.channels, resolution, pictures)
    config = config.replace(augment=augment)  # what config.json records, so a resume does the same
    config, choice = _cpu_precision(config, network, sample_shape)
    accelerator = _make_accelerator(config)
    batch = None
    if (
        previous is None
        and gpu.fills_batch(config.gpu_batch, accelerator.device)
        and accelerator.num_processes == 1
    ):
        config, batch = _fill_gpu(
            config, network, sample_shape, accelerator, len(data.train_indices) or len(data)
        )
    kind = _optimizer_kind(config, previous.optimizer if previous is not None else None)
    run = Run(
        config, data, run_dir, accelerator=accelerator, network=network, lineage=lineage,
        optimizer_kind=kind, resolution=resolution, sample_shape=sample_shape, previous=previous,
        t_begin=t_begin, should_stop=should_stop, on_preview=on_preview, on_metric=on_metric,
        writing=writing,
    )  # fmt: skip
    if choice is not None:
        run.log.write({"step": run.step, "kind": "precision", "mixed_precision": choice.mixed_precision,
                       "reason": choice.reason, "float32_s": choice.float32_s, "bf16_s": choice.bf16_s})  # fmt: skip
    if batch is not None:
        run.log.write({"step": run.step, "kind": "batch", "batch_size": batch.batch_size, "lr": config.lr,
                       "reason": batch.reason, "seconds": {str(b): s for b, s in batch.seconds.items()}})  # fmt: skip
    return run


def _fill_gpu(
    config: TrainConfig,
    network: torch.nn.Module,
    sample_shape: tuple[int, ...],
    accelerator: Any,
    pictures: int,
) -> tuple[TrainConfig, Any]:
    """(``config`` with the batch that fills the GPU and its learning rate, the measured choice):
    :func:`core.training.gpu.fill_batch` on the run's own network, moved to the device here."""
    network.to(accelerator.device)
    top = gpu.largest_batch(config.batch_size, pictures, MAX_BATCH_SIZE)
    probe = gpu.probe_step(network, sample_shape, accelerator.device, autocast=accelerator.autocast)
    batch = gpu.fill_batch(config.batch_size, top, probe)
    lr = config.peak_lr() * batch.lr_scale
    return config.replace(batch_size=batch.batch_size, lr=lr), batch


def _resumed_batch(config: TrainConfig, saved: TrainConfig | None) -> TrainConfig:
    """A resumed run with ``gpu_batch="auto"`` trains at the batch and learning rate its start chose
    where that start grew the batch (:func:`_fill_gpu`)."""
    if config.gpu_batch != "auto" or saved is None:
        return config
    if saved.gpu_batch != "auto" or saved.batch_size == config.batch_size:
        return config
    return config.replace(batch_size=saved.batch_size, lr=saved.lr)


def weights_digest(network: torch.nn.Module) -> str:
    """sha256 of every parameter's bytes, in order: equal digests mean bit-identical weights."""
    import hashlib

    h = hashlib.sha256()
    for name, p in network.state_dict().items():
        h.update(name.encode())
        h.update(p.detach().cpu().contiguous().view(torch.uint8).numpy().tobytes())
    return h.hexdigest()
