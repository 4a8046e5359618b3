"""Optimizer cost per training step: AdamW against Muon (``core.training.optim``), on a preset.

    python benchmarks/bench_optim.py [--preset pixel-small] [--threads 2] [--rounds 12] [--chunk 10]

Each optimizer trains its own copy of the network (batch 32 of random 32 px images, flow-like
MSE, gradient clipping and diffusers' EMA, as the trainer's step does). The copies run in
alternating chunks of ``--chunk`` steps, so load from other jobs hits all of them alike; the first
round is a warm-up. ``muon-per-matrix`` is Muon orthogonalising one matrix at a time (the
implementation before matrices of one shape were stacked into one batched product), kept here as
the reference for that change. Writes ``benchmarks/results/optim.json``; the ratio of each to AdamW
is measured in the same run.
"""

from __future__ import annotations

import argparse
import copy
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from benchmarks.common import load_average, write_result  # noqa: E402
from core.models.presets import build  # noqa: E402
from core.training.optim import MuonAdamW, make_optimizer  # noqa: E402


class PerMatrixMuon(MuonAdamW):
    """Muon's half one matrix at a time (the reference; the update is the same)."""

    def _muon(self, params, lr, momentum):
        for p in params:  # a stack of one per call: no batching across matrices
            super()._muon([p], lr, momentum)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--preset", default="pixel-small")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=12, help="timed rounds (after one warm-up round)")
    ap.add_argument("--chunk", type=int, default=10, help="steps per optimizer per round")
    ap.add_argument("--batch-size", type=int, default=32)
    args = ap.parse_args()
    load0 = load_average()
    torch.set_num_threads(args.threads)
    os.environ["OMP_NUM_THREADS"] = str(args.threads)  # fixed: the trainer's thread policy leaves it
    from diffusers.training_utils import EMAModel

    torch.manual_seed(0)
    base = build(args.preset, 1, 32)
    runs = {}
    for name in ("adamw", "muon", "muon-per-matrix"):
        net = copy.deepcopy(base)
        kw = {"lr": 1e-3, "betas": (0.9, 0.99), "weight_decay": 0.0}
        opt = (
            PerMatrixMuon(net.parameters(), **kw)
            if name == "muon-per-matrix"
            else make_optimizer(name, net.parameters(), **kw)
        )
        ema = EMAModel(net.parameters(), decay=0.999, use_ema_warmup=True, power=0.85, foreach=True)
        runs[name] = {"net": net, "opt": opt, "ema": ema, "seconds": 0.0, "steps": 0}
    g = torch.Generator().manual_seed(1)
    x = torch.randn(args.batch_size, 1, 32, 32, generator=g)
    t = torch.rand(args.batch_size, generator=g) * 1000
    for rnd in range(args.rounds + 1):
        for run in runs.values():
            net, opt, ema = run["net"], run["opt"], run["ema"]
            t0 = time.perf_counter()
            for _ in range(args.chunk):
                (net(x, t).sample - x).pow(2).mean().backward()
                torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
                opt.step()
                opt.zero_grad(set_to_none=True)
                ema.step(net.parameters())
            if rnd:
                run["seconds"] += time.perf_counter() - t0
                run["steps"] += args.chunk
    rate = {name: run["steps"] / run["seconds"] for name, run in runs.items()}
    figures = {
        name: {
            "steps_per_s": round(r, 3),
            "ms_per_step": round(1000 / r, 1),
            "vs_adamw": round(r / rate["adamw"], 3),
        }
        for name, r in rate.items()
    }
    figures["setup"] = {"preset": args.preset, "batch": args.batch_size, "px": 32, "threads": args.threads}
    summary = {
        f"{name} steps/s ({args.preset}, batch {args.batch_size}, {args.threads} threads)": (
            f"{rate[name]:.2f} ({rate[name] / rate['adamw']:.2f}x AdamW)"
        )
        for name in rate
    }
    path = write_result("optim", figures, summary=summary, load_at_start=load0)
    for line in summary.items():
        print(*line, sep=": ")
    print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
