"""Benchmark: results that follow the slider (issue 25) — the window's round trip with a few-step model.

    .venv/bin/python benchmarks/bench_slider.py --model MODEL_DIR [--steps 1] [--num 16] [--moves 15]

MODEL_DIR is a model folder made fast (``noisebloom make-fast``; the fewstep benchmark leaves one
in ``/tmp/noisebloom-bench/quality/fewstep/fast_distil``). The real window's generation model drives
the real engine (``python -m core.engine``): after one warm-up generation, the seed is moved
``--moves`` times, each once the previous result is shown, and each round trip is timed from the
change (``set_config("seed", ...)``) to the new result shown (``result_changed``). The figure
includes the window's quiet period before it re-samples (``desktop.model.generation.FOLLOW_MS``),
reported beside it; a burst of rapid moves (one every 20 ms) then checks that only the latest is
shown and the stale ones are cancelled.

Writes ``benchmarks/results/slider.json`` through ``benchmarks.common.write_result``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.common import load_average, write_result  # noqa: E402


def spin(app, seconds: float, until) -> bool:  # noqa: ANN001
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        app.processEvents()
        if until():
            return True
        time.sleep(0.0005)
    return False


def measure(model_dir: Path, steps: int, num: int, moves: int) -> dict:
    from desktop.app import create_application
    from desktop.engine_client import EngineClient
    from desktop.model.app import AppModel
    from desktop.model.generation import FOLLOW_MS

    app = create_application()
    info = json.loads((model_dir / "noisebloom.json").read_text())
    with tempfile.TemporaryDirectory() as tmp:
        client = EngineClient(Path(tmp) / "ws")
        model = AppModel(client)
        errors: list[str] = []
        model.error.connect(errors.append)
        client.start()
        if not spin(app, 180, lambda: client.state == "ready"):
            raise SystemExit("the engine did not start within 180 s")
        gm = model.generation
        gm.set_model(str(model_dir), "flow", info)
        gm.set_config("num", num)
        gm.set_config("steps", steps)
        if gm.config["sampler"] != "fewstep":
            raise SystemExit(f"{model_dir}: the window did not choose the few-step sampler ({gm.config})")
        shown: list[float] = []
        gm.result_changed.connect(lambda: shown.append(time.monotonic()))
        gm.generate()  # warm-up: the engine loads the model
        if not spin(app, 120, lambda: bool(shown)):
            raise SystemExit(f"the warm-up generation did not finish: {errors}")
        trips = []
        for k in range(1, moves + 1):
            before = len(shown)
            t0 = time.monotonic()
            gm.set_config("seed", k)
            if not spin(app, 60, lambda b=before: len(shown) > b and gm.state == "done"):
                raise SystemExit(f"seed {k}: no result ({gm.state}, {errors})")
            trips.append(1000 * (shown[-1] - t0))
        before = len(shown)
        for k in range(100, 110):  # a drag: a move every 20 ms
            gm.set_config("seed", k)
            spin(app, 0.02, lambda: False)
        spin(app, 60, lambda: len(shown) > before and gm.state == "done" and gm.config["seed"] == 109)
        spin(app, 1.0, lambda: False)  # late events of stale jobs, if any, arrive here
        burst = {
            "results_shown": len(shown) - before,
            "superseded_jobs": len(gm.superseded),
            "errors": list(errors),
        }
        client.shutdown()
    return {
        "model": str(model_dir),
        "steps": steps,
        "num": num,
        "quiet_ms": FOLLOW_MS,
        "round_trip_ms": {
            "median": round(statistics.median(trips), 1),
            "max": round(max(trips), 1),
            "all": [round(t, 1) for t in trips],
        },
        "burst_of_10_moves": burst,
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", type=Path, required=True)
    ap.add_argument("--steps", type=int, default=1)
    ap.add_argument("--num", type=int, default=16)
    ap.add_argument("--moves", type=int, default=15)
    args = ap.parse_args()
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    load0 = load_average()
    f = measure(args.model, args.steps, args.num, args.moves)
    rt, b = f["round_trip_ms"], f["burst_of_10_moves"]
    summary = {
        f"seed change to {f['num']} pictures shown, {f['steps']} step: median / max ms": (
            f"{rt['median']} / {rt['max']} (of which {f['quiet_ms']} ms quiet before re-sampling)"
        ),
        "10 moves 20 ms apart: results shown, stale jobs cancelled": (
            f"{b['results_shown']}, {b['superseded_jobs']}"
            + (f" (errors: {b['errors']})" if b["errors"] else "")
        ),
    }
    path = write_result("slider", f, summary=summary, load_at_start=load0)
    print(path.read_text())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
