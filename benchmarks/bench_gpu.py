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
is recorded beside it. Each GPU preset also trains through the trainer with the device's defaults
(fused AdamW, the deferred finite check, bf16, channels-last for UNets); ``--compile MODE`` compiles
both, its warm-up reported apart.

``--side-by-side N[,N...]``: N copies of a small preset (``--sbs-preset``, different seeds) trained
in one process as one batched forward and backward (:class:`SideBySide`), total images/s against
one copy alone. ``--tiny``: tiny networks for a few seconds, to try every mode out with ``--device
cpu`` (``benchmarks/gpu_checks.sh`` with ``DEVICE=cpu TINY=1``).

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


def _sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def _time_training(
    net: torch.nn.Module,
    batch: int,
    size: int,
    seconds: float,
    device: str,
    compile_mode: str | None = None,
    channels_last: bool = False,
) -> tuple[float, float]:
    """The bare loop: (images/s once warm, the warm-up's seconds beyond five steady steps). bf16
    autocast and fused AdamW on CUDA; ``compile_mode`` a ``torch.compile`` mode or None."""
    net = net.to(device).train()
    if channels_last:
        net = net.to(memory_format=torch.channels_last)
    opt = torch.optim.AdamW(net.parameters(), lr=1e-4, fused=device == "cuda")
    model = torch.compile(net, mode=compile_mode) if compile_mode else net
    x = torch.randn(batch, 3, size, size, device=device)
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    t = torch.randint(0, 1000, (batch,), device=device)

    def step() -> None:
        if compile_mode == "reduce-overhead":
            torch.compiler.cudagraph_mark_step_begin()
        with torch.autocast(device, dtype=torch.bfloat16, enabled=device == "cuda"):
            loss = model(x, t).sample.float().pow(2).mean()
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)

    t0 = time.perf_counter()
    for _ in range(5):
        step()
    _sync(device)
    warm = time.perf_counter() - t0
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds or n < 3:
        step()
        n += 1
        if n % 5 == 0:
            _sync(device)
    _sync(device)
    ips = n * batch / (time.perf_counter() - t0)
    return ips, max(0.0, warm - 5 * batch / ips)


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


def _peak(device: str) -> tuple[str, float | None]:
    name = torch.cuda.get_device_name(0) if device == "cuda" else "cpu"
    return name, peak_for(name)


def speed(args: argparse.Namespace, log=print) -> dict:
    """Each preset of ``--presets`` at 32 px (and unet-gpu at 64 px, diffusers' reference UNets, without
    ``--tiny``): the bare loop, then Noisebloom's trainer with its defaults on the device (fused AdamW,
    the deferred finite check, bf16, channels-last for UNets), both with ``--compile``."""
    from core.models.presets import build, count_params, flops_per_image, get_preset
    from core.training.gpu import memory_format_for

    device, mode = args.device, None if args.compile == "no" else args.compile
    compile_mode = "default" if mode == "yes" else mode
    name, peak = _peak(device)
    size = args.size
    models = {f"{p} {size}px": (p, lambda p=p: build(p, 3, size), size) for p in args.presets.split(",")}
    if not args.tiny and mode is None:
        models["unet-gpu 64px"] = ("unet-gpu", lambda: build("unet-gpu", 3, 64), 64)
        models.update({k: (None, make, s) for k, (make, s) in _reference_unets().items()})
    rows = {}
    for label, (preset, make, res) in models.items():
        torch.manual_seed(0)
        net = make()
        flops = flops_per_image(net, 3, res)
        kind = get_preset(preset).network if preset else "unet"
        last = memory_format_for("auto", torch.device(device), kind) is torch.channels_last
        batch = args.batch if res <= 32 else max(1, args.batch // 2)
        ips, warm = _time_training(net, batch, res, args.seconds, device, compile_mode, last)
        rows[label] = {
            "params_m": round(count_params(net) / 1e6, 2),
            "resolution": res,
            "batch": batch,
            "compile": args.compile,
            "channels_last": last,
            "gflops_per_image_fwd": round(flops / 1e9, 3),
            "train_img_per_s": round(ips, 1),
            "warmup_s": round(warm, 1),
            "mfu": round(3 * flops * ips / peak, 4) if peak else None,
        }
        log(label, json.dumps(rows[label]))
        del net
        if device == "cuda":
            torch.cuda.empty_cache()
        if preset is not None and res == size:
            rows[f"{label}, Noisebloom trainer"] = _trainer_speed(args, preset, flops, peak, log)
    return {"gpu": name, "peak_bf16_tflops": peak and peak / 1e12, "matmul_bf16_tflops_measured":
            _matmul_tflops(device), "compile": args.compile, "rows": rows}  # fmt: skip


def _trainer_speed(
    args: argparse.Namespace, preset: str, flops: float, peak: float | None, log=print
) -> dict:
    """``preset`` through Noisebloom's trainer with the device's defaults (EMA, logging every 10 steps,
    held-out losses every 100; no previews, checkpoints or copying checks) and ``--compile``: images/s
    as the metrics log reports them (the median of the second half of its windows), and the warm-up,
    the first window's extra seconds, setup included."""
    from core.data.prepared import PreparedDataset
    from core.training.config import TrainConfig
    from core.training.trainer import train

    data = PreparedDataset.from_array(
        _blobs(max(256, 4 * args.batch), args.size, 3), "image", val_fraction=0.05
    )
    with tempfile.TemporaryDirectory() as tmp:
        cfg = TrainConfig(preset=preset, batch_size=args.batch, max_steps=args.trainer_steps, max_minutes=None,
                          device=args.device, preview_every=0, checkpoint_every=0, val_every=100, log_every=10,
                          memorization_every=0, compile=args.compile, gpu_batch=args.gpu_batch)  # fmt: skip
        t0 = time.perf_counter()
        train(cfg, data, tmp)
        seconds = time.perf_counter() - t0
        lines = [json.loads(s) for s in (Path(tmp) / "metrics.jsonl").read_text().splitlines() if s.strip()]
    rows = [r for r in lines if r.get("kind") == "train" and r.get("img_per_s")]
    chosen = next((r for r in lines if r.get("kind") == "batch"), None)  # gpu_batch auto's choice
    batch = chosen["batch_size"] if chosen else args.batch
    speeds = [r["img_per_s"] for r in rows]
    steady = float(np.median(speeds[len(speeds) // 2 :])) if speeds else 0.0
    warm = rows[0]["elapsed_s"] - rows[0]["step"] * batch / steady if rows and steady else None
    out = {"preset": preset, "resolution": args.size, "batch": batch, "gpu_batch": args.gpu_batch,
           "batch_reason": chosen["reason"] if chosen else None, "steps": args.trainer_steps,
           "compile": args.compile, "train_img_per_s": round(steady, 1),
           "warmup_s": round(max(0.0, warm), 1) if warm is not None else None,
           "seconds": round(seconds, 1), "mfu": round(3 * flops * steady / peak, 4) if peak else None}  # fmt: skip
    log(f"{preset} trainer", json.dumps(out))
    return out


# --- several runs side by side ------------------------------------------------------------------
def _group_norm(x, num_groups, weight=None, bias=None, eps=1e-5):  # noqa: ANN001, ANN202
    """``F.group_norm`` in plain tensor operations: torch 2.13's own asks a tensor's channels-last
    contiguity, which ``vmap`` does not implement yet."""
    g = x.reshape(x.shape[0], num_groups, -1)
    var, mean = torch.var_mean(g, dim=-1, keepdim=True, correction=0)
    y = ((g - mean) * torch.rsqrt(var + eps)).reshape(x.shape)
    shape = (1, x.shape[1]) + (1,) * (x.ndim - 2)
    if weight is not None:
        y = y * weight.reshape(shape)
    return y + bias.reshape(shape) if bias is not None else y


class SideBySide:
    """``n`` copies of a network (built by ``make`` under seeds ``seed``..``seed + n - 1``) trained as one:
    their weights stacked (``torch.func.stack_module_state``), one ``vmap`` of ``functional_call`` for
    the forward and backward passes of all of them, one fused AdamW over the stacks (AdamW works
    element by element, so this is ``n`` independent AdamWs). Batches are (n, B, C, H, W)."""

    def __init__(self, make, n: int, device: str, seed: int = 0, lr: float = 1e-4) -> None:  # noqa: ANN001
        import copy

        from torch.func import stack_module_state

        nets = []
        for i in range(n):
            torch.manual_seed(seed + i)
            nets.append(make().to(device).train())
        self.params, self.buffers = stack_module_state(nets)
        self.base = copy.deepcopy(nets[0]).to("meta")
        self.device = device
        self.opt = torch.optim.AdamW(self.params.values(), lr=lr, fused=device == "cuda")

    def losses(self, x: torch.Tensor, t: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Each copy's mean squared error on its own slice of the batch, shape (n,)."""
        from torch.func import functional_call, vmap

        def one(p, b, x, t, target):  # noqa: ANN001, ANN202
            with torch.autocast(self.device, dtype=torch.bfloat16, enabled=self.device == "cuda"):
                pred = functional_call(self.base, (p, b), (x, t)).sample
            return (pred.float() - target).pow(2).mean()

        real, torch.nn.functional.group_norm = torch.nn.functional.group_norm, _group_norm
        try:
            return vmap(one, randomness="different")(self.params, self.buffers, x, t, target)
        finally:
            torch.nn.functional.group_norm = real

    def step(self, x: torch.Tensor, t: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        losses = self.losses(x, t, target)
        losses.sum().backward()  # each copy's gradient is its own loss's: the copies share nothing
        self.opt.step()
        self.opt.zero_grad(set_to_none=True)
        return losses.detach()


def side_by_side(args: argparse.Namespace, log=print) -> dict:
    """``--side-by-side`` copies of ``--sbs-preset`` in one process, against one copy in the bare loop."""
    from core.models.presets import build, flops_per_image

    device, size, batch = args.device, args.size, args.sbs_batch
    name, peak = _peak(device)

    def make() -> torch.nn.Module:
        return build(args.sbs_preset, 3, size)

    flops = flops_per_image(make(), 3, size)
    one, _ = _time_training(make(), batch, size, args.seconds, device)
    rows = {
        "1 alone": {
            "train_img_per_s": round(one, 1),
            "mfu": round(3 * flops * one / peak, 4) if peak else None,
        }
    }
    log(args.sbs_preset, "alone", json.dumps(rows["1 alone"]))
    for n in [int(v) for v in args.side_by_side.split(",")]:
        runs = SideBySide(make, n, device)
        x = torch.randn(n, batch, 3, size, size, device=device)
        t = torch.randint(0, 1000, (n, batch), device=device)
        for _ in range(3):
            runs.step(x, t, x)
        _sync(device)
        steps, t0 = 0, time.perf_counter()
        while time.perf_counter() - t0 < args.seconds or steps < 3:
            runs.step(x, t, x)
            steps += 1
            if steps % 5 == 0:
                _sync(device)
        _sync(device)
        ips = steps * n * batch / (time.perf_counter() - t0)
        rows[f"{n} side by side"] = {"train_img_per_s": round(ips, 1), "vs_one_alone": round(ips / one, 2),
                                     "mfu": round(3 * flops * ips / peak, 4) if peak else None}  # fmt: skip
        log(args.sbs_preset, n, json.dumps(rows[f"{n} side by side"]))
        del runs
        if device == "cuda":
            torch.cuda.empty_cache()
    return {"gpu": name, "preset": args.sbs_preset, "resolution": size, "batch_each": batch, "rows": rows}


def summarize(figures: dict) -> dict:
    out = {}
    for label, r in (figures.get("speed") or {}).get("rows", {}).items():
        mfu = f", MFU {r['mfu']:.1%}" if r.get("mfu") is not None else ""
        warm = f", warm-up {r['warmup_s']} s" if r.get("compile", "no") != "no" else ""
        size = (
            f" ({r['params_m']} M params, batch {r['batch']})"
            if "params_m" in r
            else f" (batch {r['batch']})"
        )
        out[f"{label}, compile {r.get('compile', 'no')}"] = f"{r['train_img_per_s']} img/s{mfu}{warm}{size}"
    t = (figures.get("speed") or {}).get("noisebloom_trainer")  # results written before issue 28
    if t:
        out["unet-gpu 32px, Noisebloom trainer"] = (
            f"{t['train_img_per_s_median_second_half']} img/s, MFU {t['mfu']:.1%}"
        )
    sbs = figures.get("side_by_side")
    if sbs:
        for label, r in sbs["rows"].items():
            ratio = f", {r['vs_one_alone']}x one alone" if "vs_one_alone" in r else ""
            out[f"{sbs['preset']} {label}"] = f"{r['train_img_per_s']} img/s{ratio}"
    for preset, r in (figures.get("smoke") or {}).items():
        out[f"smoke {preset}"] = (
            f"{r['steps_after_resume']} steps ({r['mixed_precision']}), GPU vs CPU samples differ by"
            f" {r['gpu_vs_cpu_mean_abs_diff_levels']} levels on average"
        )
    return out


TINY = {"presets": "unet-tiny,dit-tiny", "size": 16, "batch": 4, "seconds": 0.3, "trainer_steps": 20,
        "sbs_preset": "unet-tiny", "sbs_batch": 4, "side_by_side": "2,3"}  # fmt: skip
"""``--tiny``: tiny networks for a few seconds, to try every path of the script out on a CPU."""


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--smoke", action="store_true")
    p.add_argument("--speed", action="store_true")
    p.add_argument("--device", default="cuda", help="cuda (cpu only to try the script out)")
    p.add_argument("--presets", default="unet-gpu,dit-s,unet-laptop")
    p.add_argument("--size", type=int, default=32, help="side in px of --speed and --side-by-side")
    p.add_argument("--batch", type=int, default=256)
    p.add_argument("--seconds", type=float, default=6.0, help="timed seconds per network")
    p.add_argument("--trainer-steps", type=int, default=300)
    p.add_argument("--gpu-batch", choices=("fixed", "auto"), default="fixed",
                   help="the trainer's gpu_batch: fixed trains at --batch beside the bare loop; auto as a run "
                   "would (the batch that fills the GPU, reported)")  # fmt: skip
    p.add_argument("--compile", choices=("no", "yes", "max-autotune", "reduce-overhead"), default="no",
                   help="torch.compile mode of --speed's bare loop and trainer")  # fmt: skip
    p.add_argument("--side-by-side", metavar="N[,N...]", help="train N copies of --sbs-preset in one process")
    p.add_argument("--sbs-preset", default="pixel-small")
    p.add_argument("--sbs-batch", type=int, default=64, help="each copy's batch")
    p.add_argument(
        "--tiny", action="store_true", help="tiny networks for seconds: to try the script out on a CPU"
    )
    p.add_argument("--section", help="the result's section (default: what was run)")
    p.add_argument("--no-write", action="store_true")
    args = p.parse_args(argv)
    if args.tiny:
        for key, value in TINY.items():
            if key != "side_by_side" or args.side_by_side:
                setattr(args, key, value)
        if args.compile != "no":  # a compile of fwd and bwd takes about a minute on a 2-core CPU
            args.presets = "unet-tiny"
    if args.device == "cuda" and not torch.cuda.is_available():
        raise SystemExit("bench_gpu: no CUDA GPU here; run it on a GPU machine (or --device cpu to try it)")
    load0 = load_average()
    figures: dict = {}
    if args.smoke:
        figures["smoke"] = smoke(args.device)
    if args.speed:
        figures["speed"] = speed(args)
    if args.side_by_side:
        figures["side_by_side"] = side_by_side(args)
    print(json.dumps(figures, indent=1))
    if not args.no_write:
        section = args.section or "_".join(figures) if len(figures) == 1 or args.section else None
        print(write_result("gpu", figures, summary=summarize(figures), section=section, load_at_start=load0))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
