"""``noisebloom dataset ...``: scan dropped folders into a training set, show and list datasets.

    noisebloom dataset scan FOLDER [FOLDER|FILE ...] [--resolution R] [--crop center|letterbox|random]
                                   [--flip] [--small reject|upscale] [--kind auto|image|clip]
                                   [--frames T] [--stride S] [--as-frames] [--json] [--workspace W]
    noisebloom dataset show ID_OR_FOLDER [--json] [--workspace W]
    noisebloom dataset list [--workspace W]

Only argparse is imported here; the scanner loads inside the command so ``--help`` stays instant.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "dataset",
        help="turn a folder of pictures or videos into a training set",
        description="Validate, preprocess and cache pictures and videos for training (the workspace's datasets/).",
    )
    sub = p.add_subparsers(dest="dataset_command", metavar="ACTION")

    scan = sub.add_parser(
        "scan",
        help="scan folders and files into a cached training set and print the report",
        description=(
            "Scan folders (recursively) and single files into a training set: every file is accepted or "
            "rejected with a reason; exact and near duplicates are reported. Re-scanning reuses the cache."
        ),
    )
    scan.add_argument("sources", nargs="+", metavar="FOLDER", help="folders and/or files to scan")
    scan.add_argument(
        "--resolution", type=int, default=32, help="square training size in pixels, 16-256 (default 32)"
    )
    scan.add_argument(
        "--crop",
        choices=["center", "letterbox", "random"],
        default="center",
        help="crop policy (default center)",
    )
    scan.add_argument(
        "--flip", action="store_true", help="random horizontal flips in training (wrong for text and digits)"
    )
    scan.add_argument(
        "--small",
        choices=["reject", "upscale"],
        default="reject",
        help="pictures smaller than the resolution",
    )
    scan.add_argument(
        "--kind",
        choices=["auto", "image", "clip"],
        default="auto",
        help="dataset kind (default: from the files)",
    )
    scan.add_argument("--frames", type=int, default=8, metavar="T", help="frames per video clip (default 8)")
    scan.add_argument(
        "--stride", type=int, default=1, metavar="S", help="take every S-th video frame (default 1)"
    )
    scan.add_argument(
        "--max-clips",
        type=int,
        default=32,
        metavar="N",
        help="clips taken from each video at most (default 32)",
    )
    scan.add_argument(
        "--as-frames", action="store_true", help="use videos as a bag of frames for an image model"
    )
    scan.add_argument(
        "--frames-per-second", type=float, default=2.0, metavar="F", help="with --as-frames (default 2)"
    )
    scan.add_argument(
        "--pixel-budget",
        type=float,
        default=100.0,
        metavar="MP",
        help="refuse pictures over this many megapixels (default 100)",
    )
    scan.add_argument("--workers", type=int, default=0, help="decoding processes (default: one per CPU core)")
    scan.add_argument(
        "--json", action="store_true", help="print the machine-readable report (JSON) instead of text"
    )
    scan.add_argument("--quiet", action="store_true", help="no progress line")
    scan.add_argument(
        "--workspace",
        metavar="W",
        help="workspace folder (default: $NOISEBLOOM_HOME or the user data folder)",
    )
    scan.set_defaults(func=run_scan)

    show = sub.add_parser("show", help="print the report of a scanned dataset (by id or folder)")
    show.add_argument("dataset", metavar="ID_OR_FOLDER")
    show.add_argument("--json", action="store_true", help="print the JSON report")
    show.add_argument("--workspace", metavar="W")
    show.set_defaults(func=run_show)

    ls = sub.add_parser("list", help="list the datasets in the workspace")
    ls.add_argument("--workspace", metavar="W")
    ls.set_defaults(func=run_list)

    p.set_defaults(func=lambda args: (p.print_help(), 0)[1])


def _progress(quiet: bool):  # type: ignore[no-untyped-def]
    if quiet or not sys.stderr.isatty():
        return None

    def show(done: int, total: int, name: str) -> None:
        sys.stderr.write(f"\r{done}/{total} {name[-60:]:<60}")
        if done == total:
            sys.stderr.write("\n")
        sys.stderr.flush()

    return show


def run_scan(args: argparse.Namespace) -> int:
    from core.data.scan import NothingToTrainOn, scan_folder
    from core.data.settings import DatasetSettings
    from core.workspace.paths import datasets_dir, workspace_root

    settings = DatasetSettings(
        resolution=args.resolution,
        crop=args.crop,
        flip=args.flip,
        small_policy=args.small,
        dataset_kind=args.kind,
        clip_frames=args.frames,
        clip_stride=args.stride,
        max_clips_per_video=args.max_clips,
        as_frames=args.as_frames,
        frames_per_second=args.frames_per_second,
        pixel_budget=int(args.pixel_budget * 1e6),
        workers=args.workers,
    )
    root = workspace_root(args.workspace)
    try:
        result = scan_folder(
            args.sources, settings, cache_root=datasets_dir(root), progress=_progress(args.quiet)
        )
    except NothingToTrainOn as e:
        if args.json:  # the report was written before the error: print it as well
            print(json.dumps(e.result.to_dict(), indent=1))
        raise
    print(json.dumps(result.to_dict(), indent=1) if args.json else result.summary())
    return 0


def _find(args: argparse.Namespace) -> Any:
    from pathlib import Path

    from core.errors import DataError
    from core.workspace.paths import datasets_dir, workspace_root

    folder = Path(args.dataset)
    if not (folder / "report.json").is_file():
        folder = datasets_dir(workspace_root(args.workspace)) / args.dataset
    if not (folder / "report.json").is_file():
        raise DataError(
            f"{args.dataset}: no scanned dataset with that id or folder", fix="see `noisebloom dataset list`"
        )
    return folder


def run_show(args: argparse.Namespace) -> int:
    from core.data.result import ScanResult

    folder = _find(args)
    d = json.loads((folder / "report.json").read_text(encoding="utf-8"))
    print(json.dumps(d, indent=1) if args.json else ScanResult.from_dict(d).summary())
    return 0


def run_list(args: argparse.Namespace) -> int:
    from core.workspace.paths import datasets_dir, workspace_root

    found = 0
    for folder in sorted(datasets_dir(workspace_root(args.workspace)).iterdir()):
        report = folder / "report.json"
        if folder.name.startswith(".") or not report.is_file():
            continue
        d = json.loads(report.read_text(encoding="utf-8"))
        what = f"{d['rows']} {'clips' if d['kind'] == 'clip' else 'images'} {d['resolution']}px"
        print(f"{folder.name}  {what}  {', '.join(d['sources'])}")
        found += 1
    if not found:
        print("no datasets yet: noisebloom dataset scan FOLDER")
    return 0
