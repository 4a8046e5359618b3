"""``noisebloom train DATA_DIR --out RUN_DIR ...``: train (or fine-tune, or resume) from the command line.

DATA_DIR is a prepared dataset folder (with ``prepared.json``) or any folder of pictures / clips,
which is scanned into the workspace first. Several processes (checked here on the 2-core CPU: two
gloo processes, bit-identical weights at the end, printed as "2 processes, weights identical")::

    torchrun --nproc_per_node 2 -m core.cli train DATA_DIR --out RUN_DIR --device cpu
    accelerate launch --multi_gpu --num_processes 2 -m core.cli train DATA_DIR --out RUN_DIR --device cpu

(``accelerate launch --cpu --num_processes 2`` starts a single process: accelerate's ``--cpu``
means "no GPU", not "CPU workers"; ``--multi_gpu`` is what selects its torchrun launcher, and
``--device cpu`` keeps the processes on the CPU with gloo.) On GPUs: ``accelerate launch
--multi_gpu --num_processes N -m core.cli train ...``; several nodes: add accelerate's
``--num_machines / --machine_rank / --main_process_ip`` or torchrun's ``--nnodes / --rdzv-endpoint``.

Only argparse is imported here; torch and the trainer load inside :func:`run`.
"""

from __future__ import annotations

import argparse
import sys
import time

_ARGS = {  # CLI name -> TrainConfig field, for the options that map one to one
    "preset": "preset",
    "objective": "objective",
    "schedule": "schedule",
    "resolution": "resolution",
    "max_steps": "max_steps",
    "max_epochs": "max_epochs",
    "max_minutes": "max_minutes",
    "batch_size": "batch_size",
    "gpu_batch": "gpu_batch",
    "lr": "lr",
    "device": "device",
    "seed": "seed",
    "mixed_precision": "mixed_precision",
    "memory_format": "memory_format",
    "compile": "compile",
    "preview_every": "preview_every",
    "checkpoint_every": "checkpoint_every",
    "val_every": "val_every",
    "memorization_every": "memorization_every",
    "ema_decay": "ema_decay",
    "adam_beta2": "adam_beta2",
    "optimizer": "optimizer",
    "ema_power": "ema_power",
    "guide_at": "guide_at",
    "augment": "augment",
    "grad_accum": "grad_accum",
    "t_sampling": "t_sampling",
    "loss_weighting": "loss_weighting",
    "log_every": "log_every",
}


DATA_HELP = "folder of pictures / clips, or a prepared dataset folder"


def register(subparsers: argparse._SubParsersAction) -> None:
    """``train`` and ``finetune`` (``train --init-from MODEL_DIR`` with the model first), sharing
    every option."""
    options = argparse.ArgumentParser(add_help=False)
    _add_options(options)
    p = subparsers.add_parser(
        "train",
        parents=[options],
        help="train a diffusion model on a folder of pictures or clips",
        description=(
            "Train a diffusion model on DATA_DIR (a folder of pictures / clips, or a prepared dataset). "
            "The model ends up in RUN_DIR/model, a diffusers pipeline folder. "
            "Multi-process: torchrun --nproc_per_node N -m core.cli train ... --device cpu, or "
            "accelerate launch --multi_gpu --num_processes N -m core.cli train ..."
        ),
    )
    p.add_argument("data_dir", metavar="DATA_DIR", help=DATA_HELP)
    p.add_argument("--init-from", metavar="MODEL_DIR", help="fine-tune this model folder on DATA_DIR")
    p.set_defaults(func=run)
    f = subparsers.add_parser(
        "finetune",
        parents=[options],
        help="fine-tune a model folder (Noisebloom's, or a diffusers DDPM pipeline) on a folder of pictures",
        description=(
            "Fine-tune MODEL_DIR (a Noisebloom model folder, or a local diffusers unconditional pipeline "
            "folder such as a copy of google/ddpm-cifar10-32) on DATA_DIR; the same as "
            "`noisebloom train DATA_DIR --init-from MODEL_DIR`. The new run records MODEL_DIR as its parent."
        ),
    )
    f.add_argument("model_dir", metavar="MODEL_DIR", help="the model folder to start from")
    f.add_argument("data_dir", metavar="DATA_DIR", help=DATA_HELP)
    f.set_defaults(func=run_finetune, init_from=None)


def run_finetune(args: argparse.Namespace) -> int:
    args.init_from = args.model_dir
    return run(args)


def _add_options(p: argparse.ArgumentParser) -> None:
    """The options ``train`` and ``finetune`` share."""
    p.add_argument(
        "--out", required=True, metavar="RUN_DIR", help="run folder to write (config, state, model, samples)"
    )
    p.add_argument(
        "--preset",
        help="network preset: pixel-small (default), pixel-cpu, unet-cpu, unet-laptop, unet-gpu, dit-s, unet-tiny, dit-tiny; "
        "for clips clip-cpu (default), clip-tiny",
    )
    p.add_argument(
        "--objective", choices=("eps", "v", "x0", "flow"), help="what the network predicts (default flow)"
    )
    p.add_argument("--schedule", choices=("linear", "cosine"), help="DDPM noise schedule (eps / v / x0 only)")
    p.add_argument(
        "--resolution", type=int, help="training side in px, 16..256 in steps of 8 (default: the data's)"
    )
    budget = p.add_mutually_exclusive_group()
    budget.add_argument("--max-steps", type=int, help="stop after this many optimizer steps")
    budget.add_argument(
        "--max-minutes",
        type=float,
        help="wall-clock budget, final save included, counted over resumes (default 10)",
    )
    budget.add_argument("--max-epochs", type=float, help="stop after this many passes over the data")
    p.add_argument("--batch-size", type=int, help="images per step and process (default 64)")
    p.add_argument(
        "--lr", type=float, help="peak learning rate (default: the preset's; a tenth when fine-tuning)"
    )
    p.add_argument(
        "--gpu-batch",
        choices=("auto", "fixed"),
        help="default auto: on a CUDA GPU, a larger batch (and learning rate) while the GPU is not full",
    )
    p.add_argument("--device", choices=("auto", "cpu", "cuda", "mps"), help="where to train (default auto)")
    p.add_argument("--seed", type=int, help="random seed (default 0)")
    p.add_argument(
        "--mixed-precision",
        choices=("auto", "no", "bf16", "fp16"),
        help="default auto: bf16 on CUDA, and on a CPU with native bf16 where it measures faster",
    )
    p.add_argument(
        "--memory-format",
        choices=("auto", "contiguous", "channels_last"),
        help="layout of the network and batches (default auto: channels_last for UNets on CUDA)",
    )
    p.add_argument(
        "--compile",
        choices=("auto", "no", "yes", "max-autotune", "reduce-overhead"),
        help="torch.compile the network (default auto: on CUDA for runs of 10 minutes or 5,000 steps or more; "
        "reduce-overhead: CUDA graphs)",
    )
    p.add_argument("--grad-accum", type=int, help="micro-batches per optimizer step")
    p.add_argument("--ema-decay", type=float, help="EMA decay (0: none; default 0.999)")
    p.add_argument("--adam-beta2", type=float, help="AdamW's second-moment decay (default 0.99)")
    p.add_argument(
        "--optimizer",
        choices=("adamw", "muon"),
        help="muon: Muon for the hidden layers, AdamW for the rest (default: the preset's; muon for pixel-small)",
    )
    p.add_argument(
        "--ema-power",
        type=float,
        help="EMA warmup exponent: higher averages longer (default: the preset's; 0.85 for pixel-small)",
    )
    p.add_argument(
        "--guide-at",
        type=float,
        help="fraction of the run whose weights are kept as the autoguidance guide (0: none; default 0.25)",
    )
    p.add_argument(
        "--augment",
        type=float,
        help="probability of each augmentation the network is told of and samples without (0: none; "
        "default: on for small folders on pixel-* and dit-* networks, see TrainConfig.augment)",
    )
    p.add_argument("--t-sampling", choices=("uniform", "logit-normal"), help="time-step distribution")
    p.add_argument("--loss-weighting", choices=("uniform", "min-snr"), help="loss weighting over time steps")
    p.add_argument("--preview-every", type=int, help="steps between preview samples (0: never)")
    p.add_argument("--checkpoint-every", type=int, help="steps between checkpoints")
    p.add_argument("--val-every", type=int, help="steps between held-out losses (0: never)")
    p.add_argument(
        "--memorization-every",
        type=int,
        help="steps between checks of how many samples copy a training picture (0: never; default 250)",
    )
    p.add_argument("--log-every", type=int, help="steps between lines of RUN_DIR/metrics.jsonl (default 10)")
    p.add_argument(
        "--small",
        choices=("reject", "upscale"),
        default="reject",
        help="pictures of DATA_DIR smaller than the resolution: reject them (default) or upscale them",
    )
    p.add_argument("--config", metavar="JSON", help="start from this train config file (flags override it)")
    p.add_argument("--resume", action="store_true", help="continue RUN_DIR from its last checkpoint")
    p.add_argument(
        "--overwrite",
        action="store_true",
        help="replace the run in RUN_DIR (its config, state, model, samples and metrics; nothing else)",
    )
    p.add_argument(
        "--workspace",
        help="workspace folder: the scanned dataset cache, and the library the run is listed in when it exists "
        "(default: NOISEBLOOM_HOME or the user data folder)",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def _load_data(args: argparse.Namespace, resolution: int | None):
    from pathlib import Path

    from core.data.prepared import META_NAME, PreparedDataset
    from core.errors import DataError

    folder = Path(args.data_dir)
    if not folder.exists():
        raise DataError(f"{folder}: no such folder", fix="pass a folder of pictures or clips")
    if (folder / META_NAME).is_file():
        return PreparedDataset.open(folder)
    from core.data.scan import scan_folder
    from core.data.settings import DatasetSettings
    from core.workspace.paths import datasets_dir, workspace_root

    settings = DatasetSettings(resolution=resolution or 32, small_policy=args.small)
    result = scan_folder(folder, settings, cache_root=datasets_dir(workspace_root(args.workspace)))
    if not args.quiet:
        print(
            f"dataset: {result.rows} {result.kind}s from {folder} "
            f"({len(result.rejected)} rejected) -> {result.dataset_dir}",
            file=sys.stderr,
        )
    for line in result.skipped_lines(folder):  # named even with --quiet: nothing dropped silently
        print(line, file=sys.stderr)
    return PreparedDataset.open(result.dataset_dir)


def _parent_resolution(config) -> int | None:  # noqa: ANN001
    """The side a fine-tune scans its folder at when --resolution is not given: its model's own."""
    if not config.init_from:
        return None
    from core.models.folder import check_model_folder

    return int(check_model_folder(config.init_from)["resolution"])


def _config(args: argparse.Namespace):
    from pathlib import Path

    from core.training.config import TrainConfig
    from core.training.trainer import adopt_parent

    run_dir = Path(args.out)
    if args.resume and (run_dir / "config.json").is_file():
        config = TrainConfig.load(run_dir / "config.json")
    elif args.config:
        config = TrainConfig.load(args.config)
    else:
        config = TrainConfig()
    given = {field: getattr(args, name) for name, field in _ARGS.items() if getattr(args, name) is not None}
    if {"max_steps", "max_minutes", "max_epochs"} & set(given):  # one budget replaces the others
        given = {"max_steps": None, "max_minutes": None, "max_epochs": None, **given}
    if args.init_from and not args.resume:
        config = adopt_parent(config, args.init_from)
    return config.replace(**given) if given else config


def run(args: argparse.Namespace) -> int:
    """Check RUN_DIR before anything else (a folder that is not a run is never written into), then
    hold its lock while an ``--overwrite`` clears the old run and the trainer writes the new one."""
    from pathlib import Path

    from core.training.runfolder import check_out_folder, is_run_folder
    from core.workspace.lock import hold

    out = Path(args.out)
    if not _is_main_process():  # the main process checks, clears and locks the folder for all
        return _train(args)
    if not is_run_folder(out):  # refused before a lock file is written into it
        check_out_folder(out, resume=args.resume, overwrite=args.overwrite)
    with hold(out, "run folder", fix="wait for the other training to finish, or choose another --out folder"):
        check_out_folder(out, resume=args.resume, overwrite=args.overwrite)  # again, now that it is ours
        if args.overwrite:
            from core.training.runfolder import clear_run

            clear_run(out)
        return _train(args)


def _train(args: argparse.Namespace) -> int:
    import contextlib

    from core.data.report import NothingToTrainOn
    from core.errors import DataError
    from core.training.trainer import train

    config = _config(args)
    parent_size = None if config.resolution else _parent_resolution(config)
    try:
        data = _load_data(args, config.resolution or parent_size)
    except NothingToTrainOn as e:
        if parent_size is None:
            raise
        raise DataError(  # a fine-tune scans at its model's size: say so, and how to choose another
            f"{e.problem} (the folder is scanned at {parent_size} px, the size of the model {config.init_from})",
            fix=f"{e.fix}, or fine-tune at another size with --resolution N",
        ) from None
    if data.kind == "clip" and args.preset is None and not config.init_from and not args.resume:
        from core.models.presets import get_preset

        if get_preset(config.preset).data_kind != "clip":
            config = config.replace(preset="clip-cpu")  # the default clip preset for a folder of clips
    bar = None
    interactive = not args.quiet and _is_main_process()
    if interactive:
        from tqdm import tqdm

        bar = tqdm(total=0, unit="step", dynamic_ncols=True, file=sys.stderr)

    def on_progress(step: int, total: int, m: dict) -> None:
        if bar is None:
            return
        bar.total = total
        bar.n = step
        parts = []
        if m.get("loss") is not None:
            parts.append(f"loss {m['loss']:.4f}")
        if m.get("img_per_s"):
            parts.append(f"{m['img_per_s']:.1f} img/s")
        parts.append(f"ETA {time.strftime('%H:%M:%S', time.gmtime(m.get('eta_s') or 0))}")
        bar.set_postfix_str(", ".join(parts), refresh=False)
        bar.refresh()

    started = time.time()
    try:
        result = train(config, data, args.out, resume=args.resume, on_progress=on_progress)
    finally:
        if bar is not None:
            with contextlib.suppress(Exception):
                bar.close()
    if _is_main_process():
        loss = result.metrics.get("loss")
        tail = f", loss {loss:.4f}" if isinstance(loss, float) else ""
        print(f"trained {result.steps} steps{tail}; model: {result.model_dir}")
        _list_in_workspace(args, config, result, started)
        digests = result.metrics.get("weights_sha256")
        if digests:
            same = "identical" if result.metrics.get("replicas_identical") else "DIFFERENT"
            print(f"{len(digests)} processes, weights {same}: " + " ".join(d[:16] for d in digests))
    return 0


def _list_in_workspace(args: argparse.Namespace, config, result, started: float) -> None:  # noqa: ANN001
    """Add the run and its model to the workspace's library (its catalog), as the window's runs
    are, so the next window lists them wherever RUN_DIR is; only when the workspace exists (the
    app or an earlier command made it). SQLite serialises this write with a running engine's, and
    the engine reads the catalog afresh on every ``list``. A failure here leaves the model saved."""
    import sqlite3

    from core.errors import NoisebloomError
    from core.training.registry import register_run
    from core.workspace.catalog import Catalog
    from core.workspace.paths import workspace_root

    root = workspace_root(args.workspace, create=False)
    if not root.is_dir():
        return
    try:
        catalog = Catalog(root)
        try:
            register_run(
                catalog,
                result.run_dir,
                config.to_dict(),
                steps=int(result.steps),
                status="stopped" if result.stopped_early else "done",
                started=started,
                model_dir=result.model_dir,
            )
        finally:
            catalog.close()
    except (sqlite3.Error, OSError, NoisebloomError) as e:
        print(f"noisebloom: the model is saved but not listed in the library of {root}: {e}", file=sys.stderr)


def _is_main_process() -> bool:
    import os

    return os.environ.get("RANK", "0") == "0"
