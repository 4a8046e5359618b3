"""Sampling benchmark: Noisebloom's loop against diffusers' own DDPMPipeline / DDIMPipeline loop.

Same UNet (a preset, random weights: speed does not depend on training), same batch, same device,
in one process. For each case (1,000 DDPM steps, 50 DDIM, 10 DPM-Solver++ 2M, 8 flow-Euler) three
variants run in alternating rounds so that load from other jobs on a shared machine hits them
alike: diffusers' pipeline ``__call__`` (progress bar off, ``output_type="np"``), Noisebloom's
``sample()`` with no listener, and ``sample()`` with a preview listener that turns every step's
predicted x0 into uint8 (what the engine's live preview does). DPM-Solver++ and flow-Euler have no
pipeline of their own for an unconditional UNet: the baseline is DDPMPipeline with that scheduler,
which is how a diffusers user runs them. The order of the three rotates every round. Figures:
median wall seconds per run and per step; the ratios to diffusers as the median over rounds of the
ratio *within* a round (paired, so that a machine that speeds up or slows down between rounds does
not bias them), both in wall time and in process CPU time (one torch thread: CPU time is what the
loop itself consumed, which other processes on a shared machine disturb much less); and the loop's
own cost per step (wall time minus the time spent inside the
network, timed by a wrapper around it), which a busy shared CPU disturbs far less than the wall
time. From the last come the two overheads that load disturbs least: the listener's (what the loop
with a preview listener spends outside the network beyond the loop without one) and the loop's
against diffusers', each as a share of a whole step (median over rounds).
Results: ``benchmarks/results/sample.json``.

    .venv/bin/python benchmarks/bench_sample.py                       # unet-cpu, 32 px RGB, batch 4, 3 rounds
    .venv/bin/python benchmarks/bench_sample.py --preset unet-tiny --resolution 16 --channels 1 --rounds 2 --threads 1
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from functools import partial
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.common import write_result  # noqa: E402
from core.sampling.trajectory import tensor_to_uint8  # noqa: E402

CASES = (  # name, sampler, steps, objective, diffusers pipeline
    ("ddpm_1000", "ddpm", 1000, "eps", "DDPMPipeline"),
    ("ddim_50", "ddim", 50, "eps", "DDIMPipeline"),
    ("dpmpp_2m_10", "dpmpp_2m", 10, "eps", "DDPMPipeline+DPMSolverMultistepScheduler"),
    ("flow_euler_8", "flow_euler", 8, "flow", "DDPMPipeline+FlowMatchEulerDiscreteScheduler"),
)


def _run_pipeline(pipe, batch: int, steps: int, kw: dict) -> None:
    import torch

    with torch.inference_mode():
        pipe(
            batch_size=batch,
            generator=torch.Generator().manual_seed(0),
            num_inference_steps=steps,
            output_type="np",
            **kw,
        )


def timed(network):
    """Wrap ``network`` so that the seconds spent inside it add up in ``.seconds``.

    Subtracting them from a run's wall time leaves the loop's own cost (scheduler, noise, callback,
    bookkeeping), which a busy shared CPU disturbs much less than it disturbs the convolutions.
    """
    import torch

    class Timed(torch.nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner
            self.config = inner.config
            self.seconds = 0.0

        @property
        def dtype(self):
            return self.inner.dtype

        @property
        def device(self):
            return self.inner.device

        def forward(self, x, t):
            t0 = time.perf_counter()
            out = self.inner(x, t)
            self.seconds += time.perf_counter() - t0
            return out

    return Timed(network)


def overhead(loop_ms: dict, times: dict, steps: int, a: str, b: str) -> float:
    """Median over rounds of (a's loop ms per step outside the network - b's) / b's whole ms per step."""
    return statistics.median(
        (p - q) / (1000 * w / steps) for p, q, w in zip(loop_ms[a], loop_ms[b], times[b], strict=True)
    )


def _preview(counter: dict, info) -> None:
    """The engine's live preview: the step's predicted x0 to uint8."""
    tensor_to_uint8(info.x0)
    counter["n"] += 1


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--preset", default="unet-cpu")
    ap.add_argument("--resolution", type=int, default=32)
    ap.add_argument("--channels", type=int, default=3)
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    ap.add_argument("--cases", default=",".join(c[0] for c in CASES))
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args()

    import torch
    from diffusers import (
        DDIMPipeline,
        DDIMScheduler,
        DDPMPipeline,
        DPMSolverMultistepScheduler,
        FlowMatchEulerDiscreteScheduler,
    )

    from core.diffusion.schedules import make_scheduler
    from core.models.folder import LoadedModel
    from core.models.presets import build
    from core.sampling.config import SampleConfig
    from core.sampling.sample import sample

    if args.threads:
        torch.set_num_threads(args.threads)
        os.environ["OMP_NUM_THREADS"] = str(args.threads)  # fixed: the trainer's thread policy leaves it
    torch.manual_seed(0)
    unet = timed(build(args.preset, args.channels, args.resolution).eval())
    info = {"resolution": args.resolution, "channels": args.channels, "kind": "image"}
    wanted = set(args.cases.split(","))
    figures: dict[str, dict] = {}
    summary: dict[str, object] = {}

    for name, sampler, steps, objective, baseline_name in CASES:
        if name not in wanted:
            continue
        scheduler = make_scheduler(objective, "linear")
        model = LoadedModel(unet, dict(scheduler.config), objective, info, Path(args.preset))
        cfg = SampleConfig(sampler=sampler, steps=steps, num=args.batch, batch_size=args.batch, device="cpu")
        if sampler == "ddim":
            pipe = DDIMPipeline(unet=unet, scheduler=DDIMScheduler.from_config(scheduler.config))
        elif sampler == "dpmpp_2m":
            sched = DPMSolverMultistepScheduler.from_config(
                scheduler.config, algorithm_type="dpmsolver++", solver_order=2
            )
            pipe = DDPMPipeline(unet=unet, scheduler=sched)
        elif sampler == "flow_euler":
            pipe = DDPMPipeline(
                unet=unet, scheduler=FlowMatchEulerDiscreteScheduler.from_config(scheduler.config)
            )
        else:
            pipe = DDPMPipeline(unet=unet, scheduler=scheduler)
        pipe.set_progress_bar_config(disable=True)

        previews = {"n": 0}
        kw = {"eta": 0.0} if sampler == "ddim" else {}
        variants = {
            "diffusers": partial(_run_pipeline, pipe, args.batch, steps, kw),
            "noisebloom": partial(sample, model, cfg),
            "noisebloom_preview": partial(sample, model, cfg, callback=partial(_preview, previews)),
        }
        run_diffusers, run_ours = variants["diffusers"], variants["noisebloom"]
        if steps <= 50:  # warm-up (allocator, first-call overheads); 1,000 steps amortise it anyway
            run_diffusers(), run_ours()
        times: dict[str, list[float]] = {k: [] for k in variants}
        cpu: dict[str, list[float]] = {k: [] for k in variants}  # process CPU seconds (one thread)
        loop_ms: dict[str, list[float]] = {k: [] for k in variants}  # wall minus network, per step
        for r in range(args.rounds):
            order = list(variants)
            order = order[r % 3 :] + order[: r % 3]  # rotate: each variant runs first, second, third
            for key in order:
                unet.seconds = 0.0
                c0, t0 = time.process_time(), time.perf_counter()
                variants[key]()
                times[key].append(time.perf_counter() - t0)
                cpu[key].append(time.process_time() - c0)
                loop_ms[key].append(1000 * (times[key][-1] - unet.seconds) / steps)
            print(
                f"{name} round {r + 1}: "
                + ", ".join(f"{k} {times[k][-1]:.2f}s (cpu {cpu[k][-1]:.2f}s)" for k in variants),
                flush=True,
            )
        assert previews["n"] == args.rounds * steps, previews
        med = {k: statistics.median(v) for k, v in times.items()}

        def paired(a: str, b: str, series: dict[str, list[float]]) -> float:
            """Median over rounds of a/b within the same round: drift between rounds cancels out."""
            return statistics.median(x / y for x, y in zip(series[a], series[b], strict=True))

        figures[name] = {
            "sampler": sampler,
            "steps": steps,
            "objective": objective,
            "baseline": baseline_name,
            "seconds": times,
            "cpu_seconds": cpu,
            "median_s": med,
            "ms_per_step": {k: 1000 * v / steps for k, v in med.items()},
            "ratio_noisebloom_vs_diffusers": paired("noisebloom", "diffusers", times),
            "ratio_preview_vs_diffusers": paired("noisebloom_preview", "diffusers", times),
            "ratio_preview_vs_no_listener": paired("noisebloom_preview", "noisebloom", times),
            "cpu_ratio_noisebloom_vs_diffusers": paired("noisebloom", "diffusers", cpu),
            "cpu_ratio_preview_vs_diffusers": paired("noisebloom_preview", "diffusers", cpu),
            "cpu_ratio_preview_vs_no_listener": paired("noisebloom_preview", "noisebloom", cpu),
            # what the loop adds outside the network, as a fraction of a whole step, per round:
            # robust to load, which mostly slows the convolutions (the listener's own cost is the
            # difference between the two Noisebloom variants; the loop's, against diffusers')
            "listener_overhead_fraction": overhead(loop_ms, times, steps, "noisebloom_preview", "noisebloom"),
            "loop_overhead_vs_diffusers_fraction": overhead(loop_ms, times, steps, "noisebloom", "diffusers"),
            "loop_ms_per_step_outside_network": loop_ms,
            "median_loop_ms_per_step": {k: statistics.median(v) for k, v in loop_ms.items()},
        }
        summary[f"{name} diffusers s"] = round(med["diffusers"], 3)
        summary[f"{name} noisebloom s"] = round(med["noisebloom"], 3)
        summary[f"{name} with preview s"] = round(med["noisebloom_preview"], 3)
        summary[f"{name} ratio"] = round(figures[name]["ratio_noisebloom_vs_diffusers"], 3)
        summary[f"{name} preview ratio"] = round(figures[name]["ratio_preview_vs_diffusers"], 3)
        summary[f"{name} listener overhead % of a step"] = round(
            100 * figures[name]["listener_overhead_fraction"], 2
        )
        summary[f"{name} loop overhead vs diffusers % of a step"] = round(
            100 * figures[name]["loop_overhead_vs_diffusers_fraction"], 2
        )
        summary[f"{name} cpu ratio / with preview"] = (
            f"{figures[name]['cpu_ratio_noisebloom_vs_diffusers']:.3f}"
            f" / {figures[name]['cpu_ratio_preview_vs_diffusers']:.3f}"
        )
        print(
            f"{name}: "
            + ", ".join(f"{k} {v:.3f}s" for k, v in med.items())
            + f"; ratio {figures[name]['ratio_noisebloom_vs_diffusers']:.3f},"
            f" with preview {figures[name]['ratio_preview_vs_diffusers']:.3f};"
            " loop ms/step outside the network: "
            + ", ".join(f"{k} {v:.3f}" for k, v in figures[name]["median_loop_ms_per_step"].items()),
            flush=True,
        )

    figures["setup"] = {
        "preset": args.preset,
        "resolution": args.resolution,
        "channels": args.channels,
        "batch": args.batch,
        "rounds": args.rounds,
        "threads": torch.get_num_threads(),
    }
    if not args.no_write:
        path = write_result(
            "sample",
            figures,
            summary=summary,
            notes="ratio = median over rounds of Noisebloom / diffusers within the same round (wall time; cpu ratio: process CPU time, which other processes on a shared machine disturb less)",
        )
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
