"""Training speed under competition: which thread settings keep ``noisebloom train`` near its fair
share of the processor when another program runs beside it (issue 28, item 1).

For each thread setting (``auto``: the trainer's policy, :mod:`core.training.threads`;
``all_cores``: one intra-op thread per core, torch's default; ``one_thread``; ``passive``: all cores
with ``OMP_WAIT_POLICY=PASSIVE``) and each load (idle; one busy single-thread matrix-multiply
program, or ``busy2``: two of them, started a minute before so the load average shows them),
``noisebloom train`` runs for a fixed wall time on a folder of colour pictures at 32 and 64 px and
the steps it made are counted.
Each figure is the steps against ``all_cores`` on the idle machine in the same run. Writes
``benchmarks/results/train_threads.json``.

    .venv/bin/python benchmarks/bench_threads.py --data FOLDER --minutes 0.6
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.common import load_average, write_result  # noqa: E402

CORES = os.cpu_count() or 1
POLICIES = {
    "auto": {},
    "all_cores": {"OMP_NUM_THREADS": str(CORES)},
    "one_thread": {"OMP_NUM_THREADS": "1"},
    "passive": {"OMP_NUM_THREADS": str(CORES), "OMP_WAIT_POLICY": "PASSIVE"},
}
BURNER = "import numpy as np\na = np.random.rand(600, 600)\nwhile True:\n    a @ a\n"


def run_once(data: Path, resolution: int, minutes: float, env: dict[str, str], work: Path) -> int:
    out = work / f"run-{time.monotonic_ns()}"
    cmd = [sys.executable, "-m", "core.cli", "train", str(data), "--out", str(out), "--resolution",
           str(resolution), "--max-minutes", str(minutes), "--quiet", "--workspace", str(work / "ws")]  # fmt: skip
    r = subprocess.run(cmd, env={**os.environ, **env}, capture_output=True, text=True, cwd=ROOT, check=True)
    m = re.search(r"trained (\d+) steps", r.stdout)
    if not m:
        raise SystemExit(f"no step count in: {r.stdout[-500:]} {r.stderr[-500:]}")
    return int(m.group(1))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", required=True, type=Path, help="a folder of pictures")
    ap.add_argument("--minutes", type=float, default=0.6, help="wall-clock budget of each run")
    ap.add_argument("--resolutions", default="32,64")
    ap.add_argument("--policies", default=",".join(POLICIES))
    ap.add_argument("--warm", type=float, default=60.0, help="seconds the busy program runs first")
    ap.add_argument("--settle", type=float, default=0.5, help="idle runs wait for this 1-minute load")
    ap.add_argument("--loads", default="idle,busy", help="idle, busy (one program), busyN (N programs)")
    ap.add_argument("--section", help="write train_threads_SECTION.json")
    args = ap.parse_args()
    load0 = load_average()
    figures: dict[str, dict] = {}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for res in (int(r) for r in args.resolutions.split(",")):
            for load in args.loads.split(","):
                burners = []
                if load == "idle":  # the load average lags a program that just ended by a minute
                    t0 = time.monotonic()
                    while (load_average() or [0.0])[0] > args.settle and time.monotonic() - t0 < 180:
                        time.sleep(5)
                if load.startswith("busy"):  # busy: one program; busyN: N of them
                    env1 = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
                    for _ in range(int(load[4:] or 1)):
                        burners.append(subprocess.Popen([sys.executable, "-c", BURNER], env=env1))
                    time.sleep(args.warm)  # the load average catches up with the programs
                try:
                    for name in args.policies.split(","):
                        env = POLICIES[name]
                        steps = run_once(args.data, res, args.minutes, env, work)
                        figures.setdefault(f"{res}px", {}).setdefault(load, {})[name] = steps
                        print(res, load, name, steps, flush=True)
                finally:
                    for burner in burners:
                        burner.kill()
                        burner.wait()
    summary = {}
    for res, by_load in figures.items():
        ref = by_load.get("idle", {}).get("all_cores")
        if not ref:
            continue
        for load, by_policy in by_load.items():
            for name, steps in by_policy.items():
                summary[f"{res} {load} {name} (x idle all_cores)"] = round(steps / ref, 2)
    write_result(
        "train_threads",
        {"steps": figures, "minutes_per_run": args.minutes, "data": str(args.data)},
        summary=summary,
        load_at_start=load0,
        section=args.section,
        notes="steps in a fixed wall time (start-up included alike); busy = one single-thread matrix "
        "multiply beside the run, busyN = N of them",
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
