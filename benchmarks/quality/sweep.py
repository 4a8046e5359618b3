"""Many recipes at fixed step budgets, ``--parallel`` processes at once (meant for a GPU).

Quality per step does not depend on the device, so a GPU can tell in minutes what each recipe
reaches in the number of steps a CPU makes in 10 minutes (``steps`` of each run, from that
recipe's CPU images/s); the CPU run of the winner then confirms it (``per-minute``). The plan is
a JSON file: ``{"common": {FIELD: VALUE}, "runs": [{"name", "steps", "arch"?, "set"?, "sample"?,
"note"?}]}``; each run is ``bench_quality.py recipe`` in its own process.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from benchmarks.quality import shared
from benchmarks.quality.shared import judged_line

NAME = "sweep"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--plan", required=True, help="JSON plan (see sweep's docstring)")
    p.add_argument("--name", required=True, help="names the result file: quality_sweep_NAME.json")
    p.add_argument("--parallel", type=int, default=4)
    p.add_argument("--threads-each", type=int, default=2)
    p.add_argument("--samples", type=int, default=500)
    p.add_argument("--sample", default=":8")


def run(args: argparse.Namespace) -> dict:
    plan = json.loads(Path(args.plan).read_text())
    common = plan.get("common", {})
    work = args.work / "sweep" / args.name
    work.mkdir(parents=True, exist_ok=True)
    pending = list(plan["runs"])
    running: list[tuple[dict, subprocess.Popen, Path, Any]] = []
    rows: dict[str, Any] = {}

    def launch(run: dict) -> None:
        out = work / f"{run['name']}.json"
        out.unlink(missing_ok=True)
        sets = {**common, **run.get("set", {}), "max_minutes": None, "max_steps": run["steps"]}
        cmd = [sys.executable, str(shared.SCRIPT), "--device", shared.DEVICE, "--threads", str(args.threads_each),
               "--no-write", "--json-out", str(out), "--work", str(work), "recipe", "--name", run["name"],
               "--samples", str(args.samples), "--sample", run.get("sample", args.sample)]  # fmt: skip
        for k, v in sets.items():
            cmd += ["--set", f"{k}={json.dumps(v)}"]
        if run.get("arch"):
            cmd += ["--arch", run["arch"]]
        log = open(work / f"{run['name']}.log", "w")  # noqa: SIM115 - closed when the process ends
        running.append((run, subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT), out, log))

    while pending or running:
        while pending and len(running) < args.parallel:
            launch(pending.pop(0))
        time.sleep(1.0)
        for item in list(running):
            run, proc, out, log = item
            if proc.poll() is None:
                continue
            running.remove(item)
            log.close()
            row: dict[str, Any] = {"steps": run["steps"], "arch": run.get("arch"), "set": run.get("set", {})}
            if run.get("note"):
                row["note"] = run["note"]
            if proc.returncode == 0 and out.is_file():
                got = json.loads(out.read_text())["row"]
                row.update({k: v for k, v in got.items() if isinstance(v, dict) and "fd" in v})
                row["train_seconds"] = got["train_seconds"]
                row["val_loss"] = got.get("val_loss")
            else:
                tail = (work / f"{run['name']}.log").read_text().strip().splitlines()[-1:] or ["no output"]
                row["failed"] = f"exit {proc.returncode}: {tail[0]}"
            rows[run["name"]] = row
            print(run["name"], json.dumps(row), flush=True)
    return {"plan": plan, "device": shared.DEVICE, "samples": args.samples, "rows": rows}


def summary(f: dict) -> dict:
    out = {}
    for name, r in f["rows"].items():
        scored = [(k, v) for k, v in r.items() if isinstance(v, dict) and "fd" in v]
        out[name] = (
            "; ".join(f"{k}: {judged_line(v)}" for k, v in scored) + f"; {r['steps']} steps"
            if scored
            else r.get("failed", "no figures")
        )
    return out


def result_key(args: argparse.Namespace) -> str:
    return f"sweep_{args.name}"
