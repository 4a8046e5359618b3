"""Colour benchmarks (issue 23): train on colour pictures as the app does, sample as it samples, judge.

Data and judge: :mod:`benchmarks.colour` (emoji in two renderings; crops of real photographs).

    python benchmarks/bench_colour.py [--threads N] run --data emoji --resolution 32 --pictures 2000 \\
        --minutes 10 [--steps N] [--set field=value ...] [--name NAME] [--samples 1000]

trains ``TrainConfig``'s defaults (plus ``--set`` overrides) for ``--minutes`` of wall clock, or for
``--steps`` optimizer steps (a CPU-equivalent budget that a busy machine cannot shrink; ``--reuse``
judges the finished run of that name in ``--work`` again instead of training it), on
``--pictures`` pictures (all the emoji there are when more are asked for), holding out a tenth as
the app does; then draws ``--samples`` pictures with ``SampleConfig``'s defaults (the app's sampler,
steps and guidance) and writes ``benchmarks/results/colour_<name>.json`` and a grid of 64 samples,
``colour_<name>.png``. Beside the samples' figures, measured in the same run with the same judge:

- emoji: FD (emoji classifier's features) against the folder's pictures in the training rendering,
  of the other rendering of the same emoji (two artists drawing them), of blurred real pictures,
  and of the training pictures themselves (FD's finite-set floor at this size);
- photos: SWD and FD (random-convolution features) against held-out crops, of the training crops
  and of blurred crops;
- digits (the MNIST benchmark, ``benchmarks/digits.py``): FD and confident share of the digit classifier;
- all: the memorised share (Gu et al.'s ratio test against the training pictures).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.colour import (  # noqa: E402
    EmojiJudge,
    blurred,
    emoji_classifier,
    load_emoji,
    photo_crops,
    subset,
)
from benchmarks.common import RESULTS, load_average, write_result  # noqa: E402

PHOTO_HELDOUT = 400
BLUR_SIGMA_32 = 1.0  # px at 32 px; scaled with the resolution


def _value(v: str) -> Any:
    try:
        return json.loads(v)
    except json.JSONDecodeError:
        return v


def _overrides(pairs: list[str]) -> dict[str, Any]:
    out = {}
    for kv in pairs:
        key, sep, value = kv.partition("=")
        if not sep:
            raise SystemExit(f"--set {kv}: use field=value")
        out[key] = _value(value)
    return out


def build_data(kind: str, resolution: int, pictures: int) -> dict[str, Any]:
    """The folder's pictures (uint8 rows) and what its judge compares them with."""
    from core.data.prepared import PreparedDataset, split_indices

    if kind == "digits":
        from benchmarks.digits import digits_dataset

        data = digits_dataset(resolution, n_train=pictures if pictures < 4000 else None)
        array = np.asarray(data.array)
        return {"data": data, "array": array, "other": None, "train": array[data.train_indices]}
    if kind == "emoji":
        emoji = load_emoji(resolution)
        rows = subset(min(pictures, len(emoji.names)), len(emoji.names))
        array = np.ascontiguousarray(emoji.font[rows])
        other = np.ascontiguousarray(emoji.png[rows])
    else:
        crops = photo_crops(resolution, pictures + PHOTO_HELDOUT)
        array = np.ascontiguousarray(crops[PHOTO_HELDOUT:])
        other = np.ascontiguousarray(crops[:PHOTO_HELDOUT])  # held-out crops: the photos' reference
    train, val = split_indices(len(array))
    data = PreparedDataset(array=array, kind="image", train_indices=train, val_indices=val)
    return {"data": data, "array": array, "other": other, "train": array[train]}


def judge_emoji(samples: np.ndarray, d: dict[str, Any], sigma: float) -> dict[str, Any]:
    emoji = load_emoji(samples.shape[1])
    classifier, meta = emoji_classifier(emoji.png)
    judge = EmojiJudge(classifier, d["array"], d["train"])
    n = min(len(samples), len(d["array"]))
    rng = np.random.default_rng(1)
    pick = np.sort(rng.permutation(len(d["array"]))[:n])
    return {
        "judge": {"kind": "emoji classifier trained on the PNG rendering", **meta},
        "samples": judge.score(samples[:n]),
        "two_artists": {"fd": judge.fd(d["other"][pick]), "n": n},
        "blurred_real": {"fd": judge.fd(blurred(d["array"][pick], sigma)), "sigma_px": sigma, "n": n},
        "real_itself": {"fd": judge.fd(d["array"][pick]), "n": n},
    }


def judge_digits(samples: np.ndarray, d: dict[str, Any], sigma: float) -> dict[str, Any]:
    from benchmarks.digits import DigitJudge

    judge = DigitJudge.build(samples.shape[1], d["data"])
    n = min(len(samples), len(judge.train))  # FD depends on the set's size: real digits at the same n
    return {
        "judge": {"kind": "digit classifier (benchmarks/digits.py), FD against the 1,000 held-out digits"},
        "samples": judge.score(samples[:n]),
        "real_training_digits": judge.real_fd(n, draws=10),
    }


def judge_photos(samples: np.ndarray, d: dict[str, Any], sigma: float) -> dict[str, Any]:
    from core.metrics.features import default_extractor
    from core.metrics.frechet import frechet_distance
    from core.metrics.memorization import nearest_training
    from core.metrics.swd import swd

    held = d["other"]
    n = min(len(samples), len(held), len(d["train"]))
    feats = default_extractor()
    ref = feats(held)

    def both(images: np.ndarray) -> dict[str, float]:
        return {"swd": swd(held[:n], images[:n]).mean, "fd": float(frechet_distance(ref, feats(images[:n])))}

    return {
        "judge": {"kind": "SWD and random-convolution FD against held-out crops", "heldout": len(held)},
        "samples": {**both(samples), "memorized_share": nearest_training(samples, d["train"]).share, "n": n},
        "real_training_crops": {**both(d["train"]), "n": n},
        "blurred_real": {**both(blurred(d["train"][:n], sigma)), "sigma_px": sigma, "n": n},
    }


def save_grid(images: np.ndarray, path: Path, scale: int) -> None:
    from PIL import Image

    from core.training.preview import grid

    tiles = grid(images[:64])
    Image.fromarray(tiles[..., 0] if tiles.shape[-1] == 1 else tiles).resize(
        (8 * images.shape[2] * scale, 8 * images.shape[1] * scale), Image.Resampling.NEAREST
    ).save(path)


def pixel_small_variant(patch: str, prediction: str = "velocity") -> str:
    """Register pixel-small's network, optimizer and EMA with another patch size / prediction."""
    import dataclasses

    from core.models import presets

    base = presets.PRESETS["pixel-small"]
    name = f"pixel-small-p{patch}-{prediction}"
    make = presets._pixel_unet((24, 48, 96), (False, False, True), 1, int(patch), 8, prediction=prediction)
    presets.PRESETS[name] = dataclasses.replace(base, name=name, make=make)
    return name


def _finished_run(cfg: Any, run_dir: Path) -> tuple[Any, float]:
    """(TrainResult, training seconds) of a run that finished in ``run_dir`` with recipe ``cfg``."""
    from core.metrics.metrics_log import read_metrics
    from core.training.config import TrainConfig
    from core.training.trainer import TrainResult

    saved = TrainConfig.load(run_dir / "config.json")
    asked = cfg.replace(augment=saved.augment) if cfg.augment is None else cfg  # the run resolved it
    if saved != asked:
        raise SystemExit(f"{run_dir}: trained with another recipe; run without --reuse")
    rows = read_metrics(run_dir / "metrics.jsonl")
    train_rows = [r for r in rows if r.get("kind") == "train"]
    val = [r for r in rows if r.get("kind") == "val"]
    if not train_rows or not (run_dir / "model" / "model_index.json").is_file():
        raise SystemExit(f"{run_dir}: no finished run to reuse")
    steps = int(train_rows[-1]["step"])
    if cfg.max_steps and steps != cfg.max_steps:
        raise SystemExit(f"{run_dir}: stopped at step {steps} of {cfg.max_steps}; run without --reuse")
    metrics = {"val_loss": val[-1]["val_loss"]} if val else {}
    result = TrainResult(
        run_dir=run_dir, model_dir=run_dir / "model", steps=steps, stopped_early=False, metrics=metrics
    )
    return result, float(train_rows[-1]["elapsed_s"])


def run(args: argparse.Namespace) -> dict[str, Any]:
    from core.sampling.config import SampleConfig
    from core.sampling.sample import sample
    from core.training.config import TrainConfig
    from core.training.trainer import train

    d = build_data(args.data, args.resolution, args.pictures)
    overrides = _overrides(args.set)
    if args.arch:  # an ad-hoc network (benchmarks.bench_quality.register_arch's spec)
        from benchmarks.bench_quality import register_arch

        overrides["preset"] = register_arch(args.arch)
    if args.pixel:  # pixel-small with another patch size and / or prediction
        overrides["preset"] = pixel_small_variant(*args.pixel.split(":"))
    budget = {"max_steps": args.steps, "max_minutes": None} if args.steps else {"max_minutes": args.minutes}
    cfg = TrainConfig(**{**budget, **overrides})
    cfg.validate()
    run_dir = args.work / args.name
    if args.reuse:  # judge the finished run in --work again: same recipe, no retraining
        result, train_s = _finished_run(cfg, run_dir)
    else:
        if run_dir.exists():
            shutil.rmtree(run_dir)
        t0 = time.perf_counter()
        result = train(cfg, d["data"], run_dir)
        train_s = time.perf_counter() - t0
    print(f"{args.name}: {result.steps} steps in {train_s:.0f} s", flush=True)
    scfg = SampleConfig(num=args.samples, seed=0, batch_size=100)
    t0 = time.perf_counter()
    sampled = sample(str(result.model_dir), scfg)
    sample_s = time.perf_counter() - t0
    images = sampled.images
    sigma = BLUR_SIGMA_32 * args.resolution / 32
    judged = {"emoji": judge_emoji, "photo": judge_photos, "digits": judge_digits}[args.data](
        images, d, sigma
    )
    save_grid(images, RESULTS / f"colour_{args.name}.png", 2 if args.resolution <= 32 else 1)
    return {
        "data": args.data,
        "resolution": args.resolution,
        "pictures": int(len(d["data"].train_indices) + len(d["data"].val_indices)),  # the folder's
        "training_pictures": int(len(d["train"])),
        "budget": budget,
        "overrides": overrides,
        "steps": int(result.steps),
        "train_seconds": round(train_s, 1),
        "images_seen": int(result.steps) * cfg.batch_size * cfg.grad_accum,
        "val_loss": result.metrics.get("val_loss"),
        "sampler": sampled.sampler,
        "sample_steps": scfg.steps,
        "guidance": sampled.config.guidance,
        "sample_seconds": round(sample_s, 1),
        **judged,
    }


def app_side(samples: np.ndarray, held: np.ndarray) -> dict[str, float]:
    """What the app itself can measure without a judge: random-convolution FD and SWD of the samples
    against the pictures the run held out."""
    from core.metrics.features import default_extractor
    from core.metrics.frechet import frechet_distance
    from core.metrics.swd import swd

    n = min(len(samples), len(held))
    feats = default_extractor()
    return {"heldout_fd": float(frechet_distance(feats(held), feats(samples))), "heldout_swd": swd(held[:n], samples[:n]).mean,
            "heldout_n": len(held)}  # fmt: skip


def guidance(args: argparse.Namespace) -> dict[str, Any]:
    """One trained model sampled at several autoguidance weights / step counts, judged alike, with
    the app-side figures beside the judge's (does the held-out FD pick the judge's best weight?)."""
    from core.models.folder import load_model_folder
    from core.sampling.config import SampleConfig
    from core.sampling.sample import sample

    d = build_data(args.data, args.resolution, args.pictures)
    held = d["array"][d["data"].val_indices]
    judge = {"emoji": judge_emoji, "photo": judge_photos, "digits": judge_digits}[args.data]
    model = load_model_folder(args.model)
    rows, scale = {}, {}
    for spec in args.sample:
        steps, _, weight = spec.partition(":")
        cfg = SampleConfig(num=args.samples, seed=0, batch_size=100, steps=int(steps), guidance=float(weight))
        result = sample(model, cfg)
        judged = judge(result.images, d, BLUR_SIGMA_32 * args.resolution / 32)
        rows[spec] = {"sampler": result.sampler, **judged["samples"], **app_side(result.images, held)}
        scale = {k: v for k, v in judged.items() if k not in ("samples", "judge")}
        save_grid(result.images, RESULTS / f"colour_{args.name}_{steps}_{weight}.png", 2)
        print(spec, rows[spec], flush=True)
    return {"model": str(args.model), "data": args.data, "resolution": args.resolution, "pictures": args.pictures,
            "rows": rows, **scale}  # fmt: skip


def fast(args: argparse.Namespace) -> dict[str, Any]:
    """One trained colour model made fast (a copy in --work), sampled by its network with UniPC at 20
    steps and by its few-step map at --counts steps, all judged alike."""
    from core.models.folder import load_model_folder
    from core.sampling.config import SampleConfig
    from core.sampling.sample import sample
    from core.training.fewstep import FastConfig, make_fast

    d = build_data(args.data, args.resolution, args.pictures)
    folder = args.work / f"fast_{args.name}"
    if folder.exists():
        shutil.rmtree(folder)
    shutil.copytree(args.model, folder)
    cfg = FastConfig(**{"minutes": None, "steps": args.fast_steps, "device": "cpu", **_overrides(args.set)})
    done = make_fast(folder, cfg)
    model = load_model_folder(folder)
    judge = {"emoji": judge_emoji, "photo": judge_photos, "digits": judge_digits}[args.data]
    sigma = BLUR_SIGMA_32 * args.resolution / 32
    rows, scale = {}, {}
    for spec in ["unipc:20", *(f"fewstep:{c}" for c in args.counts.split(","))]:
        sampler, _, steps = spec.partition(":")
        cfg_s = SampleConfig(num=args.samples, seed=0, batch_size=100, steps=int(steps), sampler=sampler)
        t0 = time.perf_counter()
        result = sample(model, cfg_s)
        judged = judge(result.images, d, sigma)
        rows[spec] = {"seconds": round(time.perf_counter() - t0, 2), **judged["samples"]}
        scale = {k: v for k, v in judged.items() if k not in ("samples", "judge")}
        save_grid(result.images, RESULTS / f"colour_{args.name}_{sampler}_{steps}.png", 2)
        print(spec, rows[spec], flush=True)
    return {"model": str(args.model), "data": args.data, "resolution": args.resolution,
            "pictures": args.pictures, "fast_config": cfg.to_dict(), "student_steps": done.steps,
            "fast_seconds": round(done.seconds, 1), "pool": done.pool, "fast": rows, **scale}  # fmt: skip


def _r(x: Any) -> Any:
    if isinstance(x, float):
        return round(x, 4)
    if isinstance(x, dict):
        return {k: _r(v) for k, v in x.items()}
    return x


def _scale(f: dict[str, Any]) -> dict[str, str]:
    """The real pictures' own distances, the scale a sample's FD is read against (none for photos)."""
    if "two_artists" not in f:
        return {}
    return {"two artists / blurred": f"FD {f['two_artists']['fd']:.2f} / {f['blurred_real']['fd']:.2f}"}


def summary(f: dict[str, Any]) -> dict[str, Any]:
    if "fast" in f:  # the few-step section
        key = "swd" if f["data"] == "photo" else "fd"
        return (
            {
                f"{spec.replace(':', ' ')} step{'' if spec.endswith(':1') else 's'}": (
                    f"{key.upper()} {r[key]:.2f}, memorised {r['memorized_share']:.1%}"
                )
                for spec, r in f["fast"].items()
            }
            | {"map": f"{f['student_steps']} steps in {f['fast_seconds']:.0f} s, pool {f['pool']}"}
            | _scale(f)
        )
    if "rows" in f:  # the guidance section
        return {
            f"{spec.split(':')[0]} steps, guidance {spec.split(':')[1]}": f"FD {r['fd']:.2f}, memorised "
            f"{r['memorized_share']:.1%}"
            + (f"; held-out FD {r['heldout_fd']:.2f}" if "heldout_fd" in r else "")
            for spec, r in f["rows"].items()
        } | _scale(f)
    s = f["samples"]
    head = f"{f['pictures']} {f['data']} at {f['resolution']} px, {f['steps']} steps in {f['train_seconds']:.0f} s"
    if f["data"] == "digits":
        line = (
            f"FD {s['fd']:.2f} (real digits at this size {f['real_training_digits']['fd_mean']:.2f}); "
            f"confident {s['confident_share']:.0%}; memorised {s['memorized_share']:.1%}"
        )
    elif f["data"] == "emoji":
        line = (
            f"FD {s['fd']:.2f} (two artists {f['two_artists']['fd']:.2f}, blurred {f['blurred_real']['fd']:.2f}, "
            f"real floor {f['real_itself']['fd']:.2f}); "
            f"memorised {s['memorized_share']:.1%}"
        )
    else:
        line = (
            f"SWD {s['swd']:.1f} (real {f['real_training_crops']['swd']:.1f}, blurred "
            f"{f['blurred_real']['swd']:.1f}); FD {s['fd']:.2f} (real {f['real_training_crops']['fd']:.2f}, "
            f"blurred {f['blurred_real']['fd']:.2f}); memorised {s['memorized_share']:.1%}"
        )
    return {head: line, "sampled with": f"{f['sampler']} {f['sample_steps']} steps, guidance {f['guidance']}"}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    p.add_argument("--work", type=Path, default=Path("/tmp/noisebloom-bench/colour"))
    p.add_argument("--no-write", action="store_true", help="print the result instead of writing it")
    sub = p.add_subparsers(dest="section", required=True)
    r = sub.add_parser("run", help="train, sample and judge one recipe")
    r.add_argument("--data", choices=("emoji", "photo", "digits"), default="emoji")
    r.add_argument("--resolution", type=int, default=32)
    r.add_argument("--pictures", type=int, default=2000)
    r.add_argument("--minutes", type=float, default=10.0)
    r.add_argument("--steps", type=int, default=None, help="a step budget instead of minutes")
    r.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE")
    r.add_argument("--samples", type=int, default=1000)
    r.add_argument(
        "--pixel", default=None, metavar="PATCH[:PREDICTION]", help="pixel-small variant: 4:sample"
    )
    r.add_argument("--arch", default=None, help="an ad-hoc network: bench_quality.register_arch's spec")
    r.add_argument("--name", default=None)
    r.add_argument("--reuse", action="store_true", help="judge the finished run of this name in --work again")
    gd = sub.add_parser("guidance", help="sample one model at several guidance weights")
    gd.add_argument("--model", type=Path, required=True)
    gd.add_argument("--data", choices=("emoji", "photo", "digits"), default="emoji")
    gd.add_argument("--resolution", type=int, default=32)
    gd.add_argument("--pictures", type=int, default=2000, help="the folder it was trained on")
    gd.add_argument(
        "--sample", nargs="+", default=["20:0", "20:0.5", "20:1", "20:1.5", "20:2.5"], metavar="STEPS:W"
    )
    gd.add_argument("--samples", type=int, default=1000)
    gd.add_argument("--name", default=None)
    fs = sub.add_parser("fast", help="make one trained model fast and judge its few-step map")
    fs.add_argument("--model", type=Path, required=True)
    fs.add_argument("--data", choices=("emoji", "photo", "digits"), default="emoji")
    fs.add_argument("--resolution", type=int, default=32)
    fs.add_argument("--pictures", type=int, default=2000, help="the folder it was trained on")
    fs.add_argument("--fast-steps", type=int, default=600, help="the map's training steps")
    fs.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE", help="a FastConfig field")
    fs.add_argument("--counts", default="1,2,4")
    fs.add_argument("--samples", type=int, default=1000)
    fs.add_argument("--name", default=None)
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
        os.environ["OMP_NUM_THREADS"] = str(args.threads)  # fixed: the trainer's thread policy leaves it
    load = load_average()
    if args.section == "guidance":
        args.name = args.name or f"guidance_{args.model.parent.name}"
        figures = _r(guidance(args))
    elif args.section == "fast":
        args.name = args.name or f"fast_{args.model.parent.name}"
        figures = _r(fast(args))
    else:
        args.name = args.name or f"{args.data}_{args.resolution}px_{args.pictures}"
        figures = _r(run(args))
    print(json.dumps(figures, indent=1), flush=True)
    if not args.no_write:
        path = write_result(
            "colour", figures, summary=summary(figures), section=args.name, load_at_start=load
        )
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
