"""GPU checks and figures, for a machine with a CUDA GPU (issue 4's GPU preset; none exists on the
2-core development CPU, so this runs on a lent GPU machine).

``--smoke``: Noisebloom's own code paths on CUDA, which the CPU test suite cannot reach: the
trainer (accelerate with bf16 autocast and TF32, EMA, previews, held-out losses, checkpoints,
resume) for a few steps of image presets and of the tiny clip preset on generated data, then
sampling on the GPU; the saved folder is loaded again and sampled on the CPU with the same seeds,
and the two sets of samples are compared (mean absolute difference in 0-255 levels).

``--speed``: training images/s and model FLOPs utilisation (MFU = 3 x forward FLOPs per image x
images/s / the GPU's dense bf16 peak; forward FLOPs counted by ``FlopCounterMode``) of the GPU
presets and of diffusers' reference UNets built from their published configurations (no
download): ``google/ddpm-cifar10-32`` (35.7M, 32 px) and the UNet of diffusers'
``train_unconditional.py`` example (114M, 64 px). Bare loop: bf16 autocast, fused AdamW, random
data on the GPU; then Noisebloom's trainer on the GPU preset (EMA, logging, held-out losses on).
The peak used is the data-sheet figure for the GPU's name; a measured 8192^3 bf16 matrix product
is recorded beside it.

    python benchmarks/bench_gpu.py --smoke --speed
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.common import load_average, write_result  # noqa: E402

# dense bf16 tensor-core peaks from NVIDIA's data sheets (SXM parts), FLOP/s
PEAK_BF16 = {"H200": 989.4e12, "H100": 989.4e12, "A100": 312e12, "L40S": 362e12, "RTX 4090": 165.2e12}


def peak_for(name: str) -> float | None:
    for key, value in PEAK_BF16.items():
        if key in name:
            return value
    return None


def _blobs(n: int, size: int, channels: int, seed: int = 0, frames: int | None = None) -> np.ndarray:
    """uint8 pictures (or clips of a blob moving right) of one bright disc on a dark ground."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:size, :size]
    t_count = frames or 1
    out = np.zeros((n, t_count, size, size, channels), np.uint8)
    for i in range(n):
        cy, cx, r = rng.uniform(size * 0.3, size * 0.7, 2).tolist() + [size * rng.uniform(0.12, 0.25)]
        color = rng.integers(120, 256, channels)
        for t in range(t_count):
            disc = (yy - cy) ** 2 + (xx - cx - t) ** 2 < r * r
            out[i, t][disc] = color
    return out if frames else out[:, 0]


def smoke(device: str = "cuda", log=print) -> dict:
    from core.data.prepared import PreparedDataset
    from core.models.folder import load_model_folder
    from core.sampling.config import SampleConfig
    from core.sampling.sample import sample
    from core.training.config import TrainConfig
    from core.training.trainer import _make_accelerator, train

    rows = {}
    cases = [
        ("unet-tiny", "flow", None, 3, 16),
        ("pixel-small", "flow", None, 3, 32),  # the CPU default (pixel-cpu before it)
        ("unet-cpu", "eps", "ddim", 1, 32),
        ("dit-tiny", "v", "dpmpp_2m", 3, 16),
        ("clip-tiny", "flow", None, 1, 16),
    ]
    with tempfile.TemporaryDirectory() as tmp:
        for preset, objective, sampler, channels, size in cases:
            clip = preset.startswith("clip")
            arr = _blobs(48, size, channels, frames=8 if clip else None)
            data = PreparedDataset.from_array(arr, "clip" if clip else "image", val_fraction=0.1, fps=8.0)
            run = Path(tmp) / preset
            common = dict(preset=preset, objective=objective, batch_size=8, max_minutes=None, device=device,
                          preview_every=10, val_every=10, checkpoint_every=10, warmup=5)  # fmt: skip
            t0 = time.perf_counter()
            first = train(TrainConfig(**common, max_steps=20), data, run)
            resumed = train(TrainConfig(**common, max_steps=30), data, run, resume=True)
            seconds = time.perf_counter() - t0
            model = load_model_folder(resumed.model_dir)
            cfg = dict(sampler=sampler, steps=8, num=4, seed=3, batch_size=4)
            gpu = sample(model, SampleConfig(**cfg, device=device)).images
            cpu = sample(load_model_folder(resumed.model_dir), SampleConfig(**cfg, device="cpu")).images
            diff = np.abs(gpu.astype(np.int16) - cpu.astype(np.int16))
            precision = _make_accelerator(TrainConfig(**common, max_steps=30)).mixed_precision
            rows[preset] = {
                "objective": objective,
                "steps_first_run": int(first.steps),
                "steps_after_resume": int(resumed.steps),
                "final_loss": resumed.metrics.get("loss"),
                "val_loss": resumed.metrics.get("val_loss"),
                "mixed_precision": str(precision),
                "sample_shape": list(gpu.shape),
                "gpu_vs_cpu_mean_abs_diff_levels": round(float(diff.mean()), 3),
                "gpu_vs_cpu_max_abs_diff_levels": int(diff.max()),
                "seconds": round(seconds, 1),
            }
            log(preset, json.dumps(rows[preset]))
    return rows


# --- speed ------------------------------------------------------------------------------------
def _reference_unets() -> dict:
    from diffusers import UNet2DModel

    def cifar10() -> torch.nn.Module:  # google/ddpm-cifar10-32's config.json
        return UNet2DModel(
            sample_size=32, in_channels=3, out_channels=3, layers_per_block=2,
            block_out_channels=(128, 256, 256, 256),
            down_block_types=("DownBlock2D", "AttnDownBlock2D", "DownBlock2D", "DownBlock2D"),
            up_block_types=("UpBlock2D", "UpBlock2D", "AttnUpBlock2D", "UpBlock2D"),
            norm_eps=1e-6, attention_head_dim=None,
        )  # fmt: skip

    def example64() -> torch.nn.Module:  # examples/unconditional_image_generation/train_unconditional.py
        return UNet2DModel(
            sample_size=64, in_channels=3, out_channels=3, layers_per_block=2,
            block_out_channels=(128, 128, 256, 256, 512, 512),
            down_block_types=("DownBlock2D",) * 4 + ("AttnDownBlock2D", "DownBlock2D"),
            up_block_types=("UpBlock2D", "AttnUpBlock2D") + ("UpBlock2D",) * 4,
        )  # fmt: skip

    return {"diffusers ddpm-cifar10-32": (cifar10, 32), "diffusers train_unconditional 64px": (example64, 64)}


def _time_training(net: torch.nn.Module, batch: int, size: int, seconds: float, device: str) -> float:
    net = net.to(device).train()
    opt = torch.optim.AdamW(net.parameters(), lr=1e-4, fused=device == "cuda")
    x = torch.randn(batch, 3, size, size, device=device)
    t = torch.randint(0, 1000, (batch,), device=device)

    def step() -> None:
        with torch.autocast(device, dtype=torch.bfloat16, enabled=device == "cuda"):
            loss = net(x, t).sample.float().pow(2).mean()
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)

    for _ in range(5):
        step()
    if device == "cuda":
        torch.cuda.synchronize()
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds or n < 3:
        step()
        n += 1
        if device == "cuda" and n % 5 == 0:
            torch.cuda.synchronize()
    if device == "cuda":
        torch.cuda.synchronize()
    return n * batch / (time.perf_counter() - t0)


def _matmul_tflops(device: str) -> float | None:
    if device != "cuda":
        return None
    a = torch.randn(8192, 8192, device=device, dtype=torch.bfloat16)
    b = torch.randn(8192, 8192, device=device, dtype=torch.bfloat16)
    for _ in range(3):
        a @ b
    torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(10):
        a @ b
    torch.cuda.synchronize()
    return 10 * 2 * 8192**3 / (time.perf_counter() - t0) / 1e12


def speed(args: argparse.Namespace, log=print) -> dict:
    from core.models.presets import build, count_params, flops_per_image

    device = args.device
    name = torch.cuda.get_device_name(0) if device == "cuda" else "cpu"
    peak = peak_for(name)
    models = {}
    for preset in args.presets.split(","):
        size = 32
        models[f"{preset} {size}px"] = (lambda p=preset, s=size: build(p, 3, s), size)
    models["unet-gpu 64px"] = (lambda: build("unet-gpu", 3, 64), 64)
    models.update(_reference_unets())
    rows = {}
    for label, (make, size) in models.items():
        torch.manual_seed(0)
        net = make()
        flops = flops_per_image(net, 3, size)
        batch = args.batch if size <= 32 else max(1, args.batch // 2)
        ips = _time_training(net, batch, size, args.seconds, device)
        rows[label] = {
            "params_m": round(count_params(net) / 1e6, 2),
            "resolution": size,
            "batch": batch,
            "gflops_per_image_fwd": round(flops / 1e9, 3),
            "train_img_per_s": round(ips, 1),
            "mfu": round(3 * flops * ips / peak, 4) if peak else None,
        }
        log(label, json.dumps(rows[label]))
        del net
        if device == "cuda":
            torch.cuda.empty_cache()
    trainer = _trainer_speed(args, log) if device == "cuda" else None
    return {"gpu": name, "peak_bf16_tflops": peak and peak / 1e12, "matmul_bf16_tflops_measured":
            _matmul_tflops(device), "rows": rows, "noisebloom_trainer": trainer}  # fmt: skip


def _trainer_speed(args: argparse.Namespace, log=print) -> dict:
    """unet-gpu through Noisebloom's trainer (bf16 autocast, EMA, logging, held-out losses)."""
    from core.data.prepared import PreparedDataset
    from core.models.presets import build, flops_per_image
    from core.training.config import TrainConfig
    from core.training.trainer import train

    data = PreparedDataset.from_array(_blobs(4096, 32, 3), "image", val_fraction=0.05)
    with tempfile.TemporaryDirectory() as tmp:
        cfg = TrainConfig(preset="unet-gpu", batch_size=args.batch, max_steps=args.trainer_steps,
                          max_minutes=None, device="cuda", preview_every=0, checkpoint_every=0,
                          val_every=100, log_every=10)  # fmt: skip
        train(cfg, data, tmp)
        lines = [json.loads(s) for s in (Path(tmp) / "metrics.jsonl").read_text().splitlines() if s.strip()]
    speeds = [r["img_per_s"] for r in lines if r.get("kind") == "train" and r.get("img_per_s")]
    steady = float(np.median(speeds[len(speeds) // 2 :])) if speeds else 0.0
    flops = flops_per_image(build("unet-gpu", 3, 32), 3, 32)
    peak = peak_for(torch.cuda.get_device_name(0))
    out = {"preset": "unet-gpu", "resolution": 32, "batch": args.batch, "steps": args.trainer_steps,
           "train_img_per_s_median_second_half": round(steady, 1),
           "mfu": round(3 * flops * steady / peak, 4) if peak else None}  # fmt: skip
    log("trainer", json.dumps(out))
    return out


def summarize(figures: dict) -> dict:
    out = {}
    for label, r in (figures.get("speed") or {}).get("rows", {}).items():
        mfu = f", MFU {r['mfu']:.1%}" if r.get("mfu") is not None else ""
        out[label] = f"{r['train_img_per_s']} img/s{mfu} ({r['params_m']} M params, batch {r['batch']})"
    t = (figures.get("speed") or {}).get("noisebloom_trainer")
    if t:
        out["unet-gpu 32px, Noisebloom trainer"] = (
            f"{t['train_img_per_s_median_second_half']} img/s, MFU {t['mfu']:.1%}"
        )
    for preset, r in (figures.get("smoke") or {}).items():
        out[f"smoke {preset}"] = (
            f"{r['steps_after_resume']} steps ({r['mixed_precision']}), GPU vs CPU samples differ by"
            f" {r['gpu_vs_cpu_mean_abs_diff_levels']} levels on average"
        )
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--smoke", action="store_true")
    p.add_argument("--speed", action="store_true")
    p.add_argument("--device", default="cuda", help="cuda (cpu only to try the script out)")
    p.add_argument("--presets", default="unet-gpu,dit-s,unet-laptop")
    p.add_argument("--batch", type=int, default=256)
    p.add_argument("--seconds", type=float, default=6.0, help="timed seconds per network")
    p.add_argument("--trainer-steps", type=int, default=300)
    p.add_argument("--no-write", action="store_true")
    args = p.parse_args(argv)
    if args.device == "cuda" and not torch.cuda.is_available():
        raise SystemExit("bench_gpu: no CUDA GPU here; run it on a GPU machine (or --device cpu to try it)")
    load0 = load_average()
    figures: dict = {}
    if args.smoke:
        figures["smoke"] = smoke(args.device)
    if args.speed:
        figures["speed"] = speed(args)
    print(json.dumps(figures, indent=1))
    if not args.no_write:
        section = None if args.smoke and args.speed else "smoke" if args.smoke else "speed"
        print(write_result("gpu", figures, summary=summarize(figures), section=section, load_at_start=load0))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
