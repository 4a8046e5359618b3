"""benchmarks/bench_quality.py: one subcommand per module of benchmarks/quality/, and the result
file each command line writes (checked against the command lines stored in the result files)."""

from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

bench_quality = pytest.importorskip("benchmarks.bench_quality")
from benchmarks.quality import EXPERIMENTS  # noqa: E402

SUBCOMMANDS = [
    "per-minute",
    "steps",
    "guidance",
    "pool",
    "scarce",
    "verdict",
    "recipe",
    "posthoc",
    "sweep",
    "fewstep",
]


def test_every_experiment_is_a_subcommand_in_the_documented_order():
    assert [e.NAME for e in EXPERIMENTS] == SUBCOMMANDS
    for e in EXPERIMENTS:
        assert (
            callable(e.add_arguments) and callable(e.run) and callable(e.summary) and callable(e.result_key)
        )


@pytest.mark.parametrize(
    ("argv", "key"),
    [
        ("per-minute", "per_minute"),
        ("per-minute --only previous-defaults-unet-cpu", "per_minute_previous_defaults_unet_cpu"),
        ("steps --model m --part guided", "steps_guided"),
        ("guidance --model m", "guidance"),
        ("guidance --model m --bands 0.15,0.9 --name headline", "guidance_bands_headline"),
        ("guidance --model m --intervals 0.2,1", "guidance_intervals"),
        ("pool --name x --models m -- w=1.5", "pool_x"),
        ("scarce", "scarce"),
        ("scarce --sizes 50,200", "scarce_50_200"),
        ("verdict", "verdict"),
        ("recipe --name lr", "recipe_lr"),
        ("posthoc --name p", "posthoc_p"),
        ("sweep --plan p.json --name gpu", "sweep_gpu"),
        ("fewstep --model m", "fewstep"),
        ("fewstep --model m --part lr", "fewstep_lr"),
    ],
)
def test_each_command_line_names_its_result_file(argv, key):
    args = bench_quality.parser().parse_args(shlex.split(argv))
    assert next(e for e in EXPERIMENTS if e.NAME == args.section).result_key(args) == key


def _stored() -> list[Path]:
    return sorted((ROOT / "benchmarks" / "results").glob("quality_*.json"))


@pytest.mark.parametrize("path", _stored(), ids=lambda p: p.name)
def test_the_stored_summaries_are_what_the_experiments_write(path):
    data = json.loads(path.read_text())
    argv = shlex.split(data["command"].split("bench_quality.py", 1)[1])
    try:
        args = bench_quality.parser().parse_args(argv)
    except SystemExit:
        pytest.skip("written by an older command line")
    experiment = next(e for e in EXPERIMENTS if e.NAME == args.section)
    assert experiment.summary(data["figures"]) == data["summary"]
