"""``noisebloom evaluate MODEL_DIR --data DATA_DIR`` and ``noisebloom compare FOLDER_A FOLDER_B``.

``evaluate`` samples a model and prints SWD, FD, KID, the memorised share, the held-out loss by
noise level and a plain-language verdict (:mod:`core.metrics.evaluate`). DATA_DIR is a prepared
dataset folder (one with ``prepared.json``) or any folder of pictures, which is scanned first into
the workspace's ``datasets/`` at the model's resolution. ``compare`` measures SWD, FD and KID
between two folders of pictures.

Only argparse is imported here; torch and the metrics load inside the commands.
"""

from __future__ import annotations

import argparse
import sys

from core.catalogue.samplers import DEFAULT_STEPS


def register(subparsers: argparse._SubParsersAction) -> None:
    ev = subparsers.add_parser(
        "evaluate",
        help="measure a trained model: sample quality, copying, held-out loss, verdict",
        description=(
            "Sample a model and compare the samples with its dataset's held-out pictures: SWD, FD, KID, "
            "the share of samples that copy a training picture, the held-out loss by noise level, and a "
            "verdict (learning / copying your pictures / not learning)."
        ),
    )
    ev.add_argument("model", metavar="MODEL_DIR", help="model folder (e.g. RUN_DIR/model)")
    ev.add_argument(
        "--data",
        required=True,
        metavar="DATA_DIR",
        help="the training pictures: a prepared dataset folder, or a folder of pictures (scanned first)",
    )
    ev.add_argument("--num", type=int, default=64, metavar="N", help="samples to draw (default 64)")
    ev.add_argument(
        "--steps", type=int, default=None, metavar="S", help=f"sampling steps (default {DEFAULT_STEPS})"
    )
    ev.add_argument("--sampler", default=None, metavar="NAME", help="sampler (default: the model's default)")
    ev.add_argument("--seed", type=int, default=0)
    ev.add_argument("--batch-size", type=int, default=16)
    ev.add_argument("--device", default="auto", help="auto, cpu, cuda or mps")
    ev.add_argument("--workspace", metavar="W", help="workspace folder for scanning DATA_DIR")
    ev.add_argument(
        "--small",
        choices=("reject", "upscale"),
        default="reject",
        help="pictures of DATA_DIR smaller than the model's resolution: reject them (default) or upscale "
        "them, as `noisebloom train --small` did",
    )
    ev.add_argument("--json", action="store_true", help="print the figures as one JSON object")
    ev.set_defaults(func=run_evaluate)

    cp = subparsers.add_parser(
        "compare",
        help="SWD, FD and KID between two folders of pictures",
        description="Compare two folders of pictures (the first is the reference) with SWD, FD and KID.",
    )
    cp.add_argument("folder_a", metavar="FOLDER_A")
    cp.add_argument("folder_b", metavar="FOLDER_B")
    cp.add_argument("--resolution", type=int, default=64, help="compare at this size (default 64)")
    cp.add_argument(
        "--workspace", metavar="W", help="workspace folder (the scans are cached in its datasets/)"
    )
    cp.add_argument("--json", action="store_true")
    cp.set_defaults(func=run_compare)


def _log(quiet: bool):
    return (lambda _m: None) if quiet else (lambda m: print(f"noisebloom: {m}", file=sys.stderr, flush=True))


def _open_data(path: str, resolution: int, workspace: str | None, log, small: str = "reject"):
    from pathlib import Path

    from core.data.prepared import META_NAME, PreparedDataset
    from core.errors import DataError

    folder = Path(path)
    if not folder.is_dir():
        raise DataError(
            f"{folder}: no such folder", fix="pass the folder of training pictures or a prepared dataset"
        )
    if (folder / META_NAME).is_file():
        return PreparedDataset.open(folder)
    from core.data.scan import scan_folder
    from core.data.settings import DatasetSettings
    from core.workspace.paths import datasets_dir, workspace_root

    log(f"scanning {folder} at {resolution} px")
    settings = DatasetSettings(resolution=resolution, small_policy=small)
    result = scan_folder(folder, settings, cache_root=datasets_dir(workspace_root(workspace)))
    log(f"{result.rows} {result.kind}s ({len(result.rejected)} rejected)")
    for line in result.skipped_lines(folder):  # named even with --json: nothing dropped silently
        print(line, file=sys.stderr)
    return result.open()


def run_evaluate(args: argparse.Namespace) -> int:
    import json

    from core.errors import ConfigError
    from core.metrics.evaluate import evaluate_model
    from core.models.card import update_memorized_share
    from core.models.folder import load_model_folder
    from core.sampling.model import resolve_device

    if args.num < 2:
        raise ConfigError(f"evaluate.num: {args.num} samples", fix="ask for at least 2 (FD needs two)")
    log = _log(args.json)
    device = resolve_device(args.device)
    model = load_model_folder(args.model, device)
    data = _open_data(args.data, int(model.info.get("resolution") or 32), args.workspace, log, args.small)
    report = evaluate_model(
        model,
        data,
        num=args.num,
        steps=args.steps,
        sampler=args.sampler,
        seed=args.seed,
        batch_size=args.batch_size,
        device=str(device),
        log=log,
    )
    try:  # the model card's memorised share (core.models.card)
        update_memorized_share(args.model, report.memorized_share, report.num_samples)
    except OSError as e:
        print(
            f"noisebloom: {args.model}/README.md: the memorised share was not updated ({e})", file=sys.stderr
        )
    if args.json:
        print(json.dumps(report.to_dict(), indent=1))
    else:
        print(report.summary())
    return 0


def run_compare(args: argparse.Namespace) -> int:
    import json

    from core.metrics.folders import compare_folders
    from core.workspace.paths import datasets_dir, workspace_root

    out = compare_folders(
        args.folder_a,
        args.folder_b,
        resolution=args.resolution,
        cache_root=datasets_dir(workspace_root(args.workspace)),
    )
    if args.json:
        print(json.dumps(out, indent=1))
        return 0
    print(f"{out['a']} ({out['n_a']} pictures) vs {out['b']} ({out['n_b']}) at {out['resolution']} px")
    print(
        f"SWD x1e3  {out['swd']:.2f}  ({', '.join(f'{k} px {v:.2f}' for k, v in out['per_level'].items())})"
    )
    if "fd" in out:
        print(f"FD        {out['fd']:.4g}  ({out['features']})")
        print(f"KID       {out['kid']:.4g} +- {out['kid_std']:.2g}")
    return 0
