"""``noisebloom export TRAJECTORY_DIR --video OUT.mp4|.webm|.gif``: the denoising as a video or GIF;
``noisebloom export SAMPLES_DIR --clips mp4|webm|gif``: the sampled clips of a clip model as videos.

For a clip model, ``--video`` plays the clip while it denoises (:mod:`core.export.clips`) at the
clip's fps unless ``--fps`` is given.

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
            "x0, the noisy sample x_t, or both side by side. For clip models: --clips FORMAT writes every "
            "sampled clip of a sample folder as SAMPLES_DIR/sample_KKKKK.FORMAT at the clip's fps, and "
            "--video shows the clip playing while it denoises (frame k: clip frame k mod T at denoising "
            "step ~k*n/total, at least --loops plays, then the finished clip)."
        ),
    )
    p.add_argument(
        "trajectory_dir",
        metavar="FOLDER",
        help="a sample folder (noisebloom sample --out) or its trajectory/ folder",
    )
    p.add_argument("--video", metavar="OUT", help="output .mp4, .webm or .gif")
    p.add_argument("--grid", metavar="OUT.png", help="also write the finished samples as one grid PNG")
    p.add_argument(
        "--clips",
        choices=("mp4", "webm", "gif"),
        help="write each sampled clip of SAMPLES_DIR (a clip model's sample folder) in this format",
    )
    p.add_argument("--clips-dir", metavar="DIR", help="where --clips writes (default: SAMPLES_DIR)")
    p.add_argument(
        "--fps",
        type=float,
        default=None,
        help="frames per second (default 12; a clip model's own fps for clips)",
    )
    p.add_argument(
        "--loops", type=int, default=2, help="clip denoising video: at least this many plays of the clip"
    )
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
    p.add_argument("--overwrite", action="store_true", help="replace output files that already exist")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from core.errors import ConfigError

    if not args.video and not args.grid and not args.clips:
        raise ConfigError(
            "export: nothing to write",
            fix="pass --video OUT.mp4|.webm|.gif, --grid OUT.png and/or --clips mp4|webm|gif",
        )
    if not args.overwrite:  # refuse before anything is written, naming every file in the way
        from core.fsutil import refuse_existing

        refuse_existing(
            [p for p in (args.video, args.grid) if p],
            fix="pass --overwrite to replace it, or choose another name",
        )
    if args.clips:
        from core.export.clips import export_clips

        for path in export_clips(
            args.trajectory_dir,
            args.clips,
            out_dir=args.clips_dir,
            fps=args.fps,
            scale=args.scale,
            resample=args.resample,
            overwrite=args.overwrite,
        ):
            print(path)
    indices = None
    if args.samples:
        try:
            indices = [int(s) for s in args.samples.split(",") if s.strip()]
        except ValueError:
            raise ConfigError(
                f"export --samples: {args.samples!r} is not a list of numbers", fix="e.g. --samples 0,2,3"
            ) from None
    if args.video and _is_clip_trajectory(args.trajectory_dir):
        from core.export.clips import export_clip_denoising

        print(
            export_clip_denoising(
                args.trajectory_dir,
                args.video,
                show=args.show,
                fps=args.fps,
                loops=args.loops,
                scale=args.scale,
                resample=args.resample,
                hold_last_s=args.hold,
                indices=indices,
                nrow=args.nrow,
            )
        )
    elif args.video:
        from core.export.trajectory import export_trajectory

        path = export_trajectory(
            args.trajectory_dir,
            args.video,
            show=args.show,
            fps=args.fps or 12.0,
            scale=args.scale,
            resample=args.resample,
            hold_last_s=args.hold,
            indices=indices,
            nrow=args.nrow,
        )
        print(path)
    if args.grid:
        import numpy as np

        from core.media.grid import make_grid
        from core.media.png import write_png
        from core.media.video import upscale
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


def _is_clip_trajectory(folder: str) -> bool:
    from core.sampling.trajectory import open_trajectory

    return open_trajectory(folder).xt.ndim == 6
