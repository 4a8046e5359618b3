"""``noisebloom sample MODEL_DIR --out OUT_DIR``: draw N numbered PNGs (and the trajectory when asked).

Imports only argparse and the catalogue at the top; torch and the samplers load inside the command.
"""

from __future__ import annotations

import argparse

from core.catalogue.samplers import (
    DEFAULT_GUIDANCE,
    DEFAULT_SAMPLER,
    DEFAULT_STEPS,
    MAX_GUIDANCE,
    MAX_STEPS,
    SAMPLERS,
)


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "sample",
        help="draw images from a trained model",
        description=(
            "Draw N samples from a model folder (Noisebloom's own or any diffusers pipeline folder with a "
            "UNet2DModel) and write them as OUT_DIR/sample_00000.png, ... with the sampling parameters in "
            "the PNG text chunks. Image k of seed K is the same whatever the batch size. A clip model writes each "
            "clip as OUT_DIR/sample_00000.gif at the clip's fps; `noisebloom export OUT_DIR --clips mp4` "
            "(or webm, gif) re-encodes them, and with --trajectory `noisebloom export OUT_DIR --video "
            "denoise.mp4` shows a clip playing while it denoises."
        ),
    )
    p.add_argument(
        "model_dir", metavar="MODEL_DIR", help="model folder (model_index.json, unet/, scheduler/)"
    )
    p.add_argument("--out", required=True, metavar="OUT_DIR", help="folder for the PNGs (created if missing)")
    p.add_argument("--num", type=int, default=None, help="how many images (default 4)")
    p.add_argument(
        "--steps", type=int, default=None, help=f"sampling steps, 1 to {MAX_STEPS} (default {DEFAULT_STEPS})"
    )
    p.add_argument(
        "--sampler",
        choices=tuple(SAMPLERS),
        default=None,
        help=f"default: {DEFAULT_SAMPLER['ddpm']}, or {DEFAULT_SAMPLER['flow']} for flow models",
    )
    p.add_argument("--seed", type=int, default=None, help="seed (default 0)")
    p.add_argument("--batch-size", type=int, default=None, help="images per batch (default 16)")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or mps (default auto)")
    p.add_argument(
        "--guidance",
        type=float,
        default=None,
        help=f"autoguidance weight, 0 to {MAX_GUIDANCE:g} (default {DEFAULT_GUIDANCE:g} where the model "
        "has a guide network, else 0)",
    )
    p.add_argument("--eta", type=float, default=None, help="DDIM eta, 0 (deterministic) to 1")
    p.add_argument("--karras", action="store_true", help="Karras sigmas (dpmpp_2m, unipc, euler, heun)")
    p.add_argument(
        "--trajectory", action="store_true", help="record every step's x_t and x0 in OUT_DIR/trajectory"
    )
    p.add_argument(
        "--overwrite", action="store_true", help="replace sample files that already exist in OUT_DIR"
    )
    p.add_argument(
        "--from-png",
        metavar="PNG",
        help="take sampler, steps, seed, image index, eta, karras and guidance from a PNG that noisebloom sample wrote",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import shutil
    import sys
    from pathlib import Path

    from core.sampling.config import SampleConfig
    from core.sampling.model import load_model, resolve_device
    from core.sampling.sample import config_from_png_params, sample

    given = {
        "num": args.num,
        "steps": args.steps,
        "sampler": args.sampler,
        "seed": args.seed,
        "batch_size": args.batch_size,
        "eta": args.eta,
        "guidance": args.guidance,
    }
    given = {k: v for k, v in given.items() if v is not None}
    if args.karras:
        given["karras"] = True
    if args.from_png:
        from core.media.png import read_png_params

        config = config_from_png_params(read_png_params(args.from_png))
        config = config.replace(**given, device=args.device, trajectory=args.trajectory)
    else:
        config = SampleConfig(**given, device=args.device, trajectory=args.trajectory)
    device = resolve_device(config.device)
    model = load_model(args.model_dir, str(device))

    def progress(info) -> None:
        every = max(1, info.n // 20)  # about 20 lines per batch, whatever the step count
        if info.i % every == 0 or info.i + 1 == info.n:
            first, final = info.indices[0], info.indices[-1]
            print(f"images {first}-{final}: step {info.i + 1}/{info.n}", file=sys.stderr, flush=True)

    out = Path(args.out)
    created = not out.exists()
    try:
        result = sample(model, config, out_dir=out, callback=progress, overwrite=args.overwrite)
    except BaseException:
        if created:  # a failed run leaves no folder of its own behind (it held only what it wrote)
            shutil.rmtree(out, ignore_errors=True)
        raise
    for path in result.paths:
        print(path)
    if result.trajectory_dir is not None:
        print(result.trajectory_dir)
    guidance = f", guidance {result.config.guidance:g}" if result.config.guidance else ""
    print(
        f"{len(result.paths)} samples, {result.sampler} {config.steps} steps{guidance}, seed {config.seed}, "
        f"{result.seconds:.1f} s on {device}",
        file=sys.stderr,
    )
    return 0
