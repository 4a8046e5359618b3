"""``noisebloom make-fast MODEL_DIR``: distil a trained flow model into a few-step map in its folder.

Imports only argparse at the top; torch and the distillation load inside the command.
"""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "make-fast",
        help="teach a trained model to sample in 1 to 4 steps",
        description=(
            "Distil a trained flow model into a few-step map, saved in MODEL_DIR/fewstep (the folder's "
            "other files and its multi-step samplers are unchanged). Afterwards `noisebloom sample "
            "MODEL_DIR --steps 2` samples with the map; at more than 4 steps, or with --sampler, the "
            "model's own network runs as before. Needs no training data: the model's own samples "
            "(with its autoguidance) are what the map learns."
        ),
    )
    p.add_argument("model_dir", metavar="MODEL_DIR", help="a model folder trained with the flow objective")
    budget = p.add_mutually_exclusive_group()
    budget.add_argument("--minutes", type=float, help="time for the whole phase (default 3)")
    budget.add_argument("--steps", type=int, help="the map's training steps instead of a time budget")
    p.add_argument(
        "--route", choices=("distil", "consistency"), help="how the map is learnt (default distil)"
    )
    p.add_argument("--guidance", type=float, help="the autoguidance weight built into the map (default 1.5)")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or mps (default auto)")
    p.add_argument("--seed", type=int, help="seed (default 0)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import sys

    from core.training.fewstep import FastConfig, make_fast

    given = {"route": args.route, "guidance": args.guidance, "seed": args.seed}
    given = {k: v for k, v in given.items() if v is not None}
    if args.steps is not None:
        given.update(steps=args.steps, minutes=None)
    elif args.minutes is not None:
        given["minutes"] = args.minutes
    config = FastConfig(**given, device=args.device)

    def progress(event: dict) -> None:
        if event["phase"] == "pool" and (event["done"] == event["of"] or event["done"] % 512 == 0):
            print(f"teacher samples: {event['done']}/{event['of']}", file=sys.stderr, flush=True)
        elif event["phase"] == "train" and event["step"] % 50 == 0:
            print(f"step {event['step']}: loss {event['loss']:.4f}", file=sys.stderr, flush=True)

    result = make_fast(args.model_dir, config, progress=progress)
    levels = len(result.levels)
    print(
        f"{result.model_dir}: few-step map in {result.seconds:.0f} s ({result.steps} steps, "
        f"{result.pool} teacher samples); `noisebloom sample {result.model_dir} --steps 2` uses it "
        f"(1 to {levels} steps)",
        file=sys.stderr,
    )
    return 0
