"""``noisebloom export TRAJECTORY_DIR --video OUT.mp4|.webm|.gif``: the denoising as a video or GIF.

Imports only argparse at the top; numpy and the writers load inside the command.
"""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "export",
        help="export a recorded sampling trajectory as MP4 / WebM / GIF, or a grid PNG",
        description=(
            "Export the denoising recorded by `noisebloom sample --trajectory` (pass the sample folder or its "
            "trajectory/ folder) as a video: H.264 MP4, VP9 WebM or GIF, showing the predicted clean image "
            "x0, the noisy sample x_t, or both side by side."
        ),
    )
    p.add_argument("trajectory_dir", metavar="TRAJECTORY_DIR")
    p.add_argument("--video", metavar="OUT", help="output .mp4, .webm or .gif")
    p.add_argument("--grid", metavar="OUT.png", help="also write the finished samples as one grid PNG")
    p.add_argument("--fps", type=float, default=12.0, help="frames per second (default 12)")
    p.add_argument(
        "--show", choices=("x0", "xt", "both"), default="x0", help="what each sample shows (default x0)"
    )
    p.add_argument("--scale", type=int, default=4, help="integer upscaling factor (default 4)")
    p.add_argument("--resample", choices=("nearest", "lanczos"), default="nearest", help="upscaling filter")
    p.add_argument(
        "--hold", type=float, default=1.0, metavar="SECONDS", help="hold the last frame (default 1 s)"
    )
    p.add_argument("--samples", metavar="I,J,...", help="which samples to show (default all)")
    p.add_argument("--nrow", type=int, default=None, help="samples per row of the grid")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from core.errors import ConfigError

    if not args.video and not args.grid:
        raise ConfigError(
            "export: nothing to write", fix="pass --video OUT.mp4|.webm|.gif and/or --grid OUT.png"
        )
    indices = None
    if args.samples:
        try:
            indices = [int(s) for s in args.samples.split(",") if s.strip()]
        except ValueError:
            raise ConfigError(
                f"export --samples: {args.samples!r} is not a list of numbers", fix="e.g. --samples 0,2,3"
            ) from None
    if args.video:
        from core.export.trajectory import export_trajectory

        path = export_trajectory(
            args.trajectory_dir,
            args.video,
            show=args.show,
            fps=args.fps,
            scale=args.scale,
            resample=args.resample,
            hold_last_s=args.hold,
            indices=indices,
            nrow=args.nrow,
        )
        print(path)
    if args.grid:
        import numpy as np

        from core.export.grid import make_grid
        from core.export.png import write_png
        from core.export.video import upscale
        from core.sampling.trajectory import open_trajectory

        final = np.asarray(open_trajectory(args.trajectory_dir).final)
        if indices is not None:
            bad = [i for i in indices if not 0 <= i < len(final)]
            if bad:
                raise ConfigError(
                    f"export --samples: sample {bad[0]} is not in {args.trajectory_dir} ({len(final)} samples)",
                    fix=f"pick from 0 to {len(final) - 1}",
                )
            final = final[indices]
        if final.ndim == 5:  # clips: first frame of each
            final = final[:, 0]
        grid = upscale(make_grid(final, args.nrow), args.scale, args.resample)
        print(write_png(args.grid, grid, {"software": "noisebloom export"}))
    return 0
