"""The digit-quality benchmarks behind ``benchmarks/bench_quality.py``: one module per experiment.

Each experiment module has ``NAME`` (its subcommand), ``add_arguments(parser)``, ``run(args)`` (the
figures), ``summary(figures)`` (the README's headline lines) and ``result_key(args)`` (the result
file is ``benchmarks/results/quality_<key>.json``). :mod:`benchmarks.quality.shared` holds what
several of them use: training a recipe, sampling and judging, the guidance overrides, ad-hoc
networks. ``EXPERIMENTS`` lists them in the order the command line shows them.
"""

from __future__ import annotations

from benchmarks.quality import (
    fewstep,
    guidance,
    per_minute,
    pool,
    posthoc,
    recipe,
    scarce,
    steps,
    sweep,
    verdict,
)

EXPERIMENTS = (per_minute, steps, guidance, pool, scarce, verdict, recipe, posthoc, sweep, fewstep)
