"""Benchmark: the GUI's responsiveness (issue 7) — window start-up time and event-loop latency.

    .venv/bin/python benchmarks/bench_gui.py [--train-s 20] [--sample-steps 200] [--runs 3]

1. Start-up: (with, for reference, a bare QApplication + QLabel child measured the same way, the
   floor that Python + Qt alone cost on this machine at this moment) a fresh ``python`` process builds the app exactly as ``noisebloom`` does
   (QApplication, theme, MainWindow with its engine client, ``show()``) and prints when the
   window's first paint has happened; the time is measured by this process from ``Popen`` (so it
   includes the interpreter and every import). The child also reports whether torch was loaded.
2. Event-loop latency: in this process, the real window drives the real engine
   (``python -m core.engine``) while a QTimer fires every 5 ms; each firing's lateness beyond its
   interval is one sample (a blocked event loop shows as large lateness). Phases: idle with the
   engine ready; while a training run streams loss and previews; while sampling streams every
   step (x_t and x0 previews, throttled by the engine to 10 a second) into the live view.
   When a job cannot run (an area of the core not ready), the phase records the error instead.

Writes ``benchmarks/results/gui.json`` through ``benchmarks.common.write_result`` (date, machine,
commit, command, summary, figures).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.common import load_average, write_result  # noqa: E402

PROBE_MS = 5

STARTUP_CHILD = r"""
import sys
from desktop.app import create_application, open_window
app = create_application()
from PySide6.QtCore import QEvent, QObject, QSettings, QTimer


class Painted(QObject):
    done = False

    def eventFilter(self, obj, ev):
        if ev.type() == QEvent.Type.Paint and not self.done:
            self.done = True
            QTimer.singleShot(0, report)
        return False


def report():
    heavy = sorted(m for m in sys.modules if m.split(".")[0] in ("torch", "diffusers", "accelerate"))
    print("SHOWN", "torch" if heavy else "no-torch", flush=True)
    win.close()
    app.quit()


painted = Painted()
app.installEventFilter(painted)
win = open_window(app, QSettings(sys.argv[1], QSettings.Format.IniFormat))
app.exec()
"""


BARE_QT_CHILD = r"""
from PySide6.QtWidgets import QApplication, QLabel
app = QApplication([])
w = QLabel("x")
w.show()
app.processEvents()
print("SHOWN no-torch", flush=True)
"""


def percentile(xs: list[float], q: float) -> float:
    s = sorted(xs)
    return s[min(len(s) - 1, int(round(q / 100 * (len(s) - 1))))]


def summary(lateness_ms: list[float]) -> dict[str, float | int]:
    if not lateness_ms:
        return {"samples": 0}
    return {
        "samples": len(lateness_ms),
        "p50_ms": round(percentile(lateness_ms, 50), 2),
        "p99_ms": round(percentile(lateness_ms, 99), 2),
        "max_ms": round(max(lateness_ms), 2),
        "mean_ms": round(statistics.fmean(lateness_ms), 2),
    }


def measure_startup(runs: int, child: str = STARTUP_CHILD) -> dict[str, object]:
    times, torch_flags = [], []
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(
            os.environ,
            QT_QPA_PLATFORM=os.environ.get("QT_QPA_PLATFORM", "offscreen"),
            NOISEBLOOM_HOME=str(Path(tmp) / "ws"),
        )
        for k in range(runs):
            t0 = time.perf_counter()
            p = subprocess.Popen(
                [sys.executable, "-c", child, str(Path(tmp) / f"s{k}.ini")],
                cwd=ROOT,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                text=True,
            )
            assert p.stdout is not None
            for line in p.stdout:
                if line.startswith("SHOWN"):
                    times.append(time.perf_counter() - t0)
                    torch_flags.append(line.split()[1])
                    break
            p.wait(timeout=60)
    return {
        "runs_s": [round(t, 3) for t in times],
        "median_s": round(statistics.median(times), 3),
        "max_s": round(max(times), 3),
        "gui_process_loaded_torch": any(f == "torch" for f in torch_flags),
    }


class Probe:
    """A QTimer every PROBE_MS; lateness of each firing beyond the interval, in ms."""

    def __init__(self) -> None:
        from PySide6.QtCore import Qt, QTimer

        self.samples: list[float] = []
        self.last = time.perf_counter()
        self.timer = QTimer()
        self.timer.setTimerType(Qt.TimerType.PreciseTimer)
        self.timer.setInterval(PROBE_MS)
        self.timer.timeout.connect(self._tick)

    def _tick(self) -> None:
        now = time.perf_counter()
        self.samples.append(max(0.0, (now - self.last) * 1000 - PROBE_MS))
        self.last = now

    def start(self) -> None:
        self.samples = []
        self.last = time.perf_counter()
        self.timer.start()

    def stop(self) -> list[float]:
        self.timer.stop()
        return self.samples


def spin(app, seconds: float, until=None) -> bool:  # noqa: ANN001
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        app.processEvents()
        if until is not None and until():
            return True
        time.sleep(0.001)
    return until is None


def measure_latency(train_s: float, sample_steps: int) -> dict[str, object]:
    import numpy as np
    from PIL import Image
    from PySide6.QtCore import QSettings

    from desktop.app import create_application, install_theme
    from desktop.engine_client import EngineClient
    from desktop.main_window import MainWindow
    from desktop.model.app import AppModel

    app = create_application()
    out: dict[str, object] = {}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        settings = QSettings(str(tmp / "gui.ini"), QSettings.Format.IniFormat)
        install_theme(app, settings)
        client = EngineClient(tmp / "ws")
        model = AppModel(client)
        win = MainWindow(model, settings, start_engine=False)
        win.show()
        client.start()
        if not spin(app, 180, lambda: client.state == "ready"):
            raise SystemExit("the engine did not start within 180 s")
        probe = Probe()
        errors: list[str] = []
        model.error.connect(errors.append)

        probe.start()
        spin(app, 5)
        out["idle"] = summary(probe.stop())

        pics = tmp / "pics"
        pics.mkdir()
        rng = np.random.default_rng(0)
        for k in range(64):
            Image.fromarray(rng.integers(0, 255, (48, 48, 3), dtype=np.uint8)).save(pics / f"p{k}.png")
        model.scan.set_setting("resolution", 32)
        probe.start()
        model.scan_paths([str(pics)])
        spin(
            app,
            300,
            lambda: (
                model.scan.state in ("done", "failed", "cancelled")
                and (model.scan.state != "done" or model.scan.dataset is not None)
            ),
        )
        out["scan"] = {
            **summary(probe.stop()),
            "state": model.scan.state,
            "error": errors[-1] if errors else None,
        }

        if model.scan.state == "done":
            tm = model.training
            tm.dataset_id = model.scan.dataset["id"]
            for k, v in {
                "preset": "unet-cpu",
                "batch_size": 16,
                "preview_every": 20,
                "val_every": 50,
                "log_every": 1,
            }.items():
                tm.set_config(k, v)
            tm.set_budget("minutes", max(1.0, train_s / 60 + 1))
            win.show_area("Train")
            errors.clear()
            tm.start()
            spin(
                app,
                300,
                lambda: tm.state == "running" and bool(tm.series.get("loss")) or tm.state == "failed",
            )
            probe.start()
            spin(app, train_s, lambda: tm.state not in ("running", "paused"))
            lat = probe.stop()
            n_metric = len(tm.series.get("loss", ([], []))[0])
            tm.stop()
            spin(app, 300, lambda: tm.state not in ("submitted", "queued", "running", "paused"))
            out["train"] = {
                **summary(lat),
                "loss_points_during_run": n_metric,
                "previews": len(tm.timelapse),
                "state": tm.state,
                "error": errors[-1] if errors else None,
            }
        else:
            out["train"] = {"skipped": "no dataset (the scan failed)"}

        models = model.library.items.get("models") or []
        spin(app, 10, lambda: bool(model.library.items.get("models")))
        models = model.library.items.get("models") or []
        if models:
            gm = model.generation
            gm.set_model(models[0]["id"], (models[0].get("info") or {}).get("objective"))
            gm.set_config("steps", sample_steps)
            gm.set_config("num", 4)
            win.show_area("Generate")
            errors.clear()
            probe.start()
            gm.generate()
            spin(app, 600, lambda: gm.state in ("done", "failed", "cancelled"))
            lat = probe.stop()
            out["sample"] = {
                **summary(lat),
                "steps": sample_steps,
                "step_events_shown": len(gm.arrivals),
                "state": gm.state,
                "error": errors[-1] if errors else None,
            }
        else:
            out["sample"] = {"skipped": "no model (training did not produce one)"}
        win.close()
        client.shutdown()
    return out


def summarize(figures: dict) -> dict:
    """The README table's rows for one run's figures."""
    start, bare = figures["startup"], figures["startup_bare_qt_label_for_reference"]
    out: dict[str, object] = {
        "window start-up median / max s": f"{start['median_s']} / {start['max_s']}",
        "bare Qt label start-up median s (floor)": bare["median_s"],
        "GUI process loaded torch": start["gui_process_loaded_torch"],
    }
    for phase, f in figures.get("event_loop_latency", {}).items():
        key = f"event-loop lateness {phase}: p99 / max ms"
        if "p99_ms" in f:
            out[key] = f"{f['p99_ms']} / {f['max_ms']}" + (
                f" ({f['state']}: {f['error']})" if f.get("error") else ""
            )
        else:
            out[key] = f.get("skipped") or f.get("error") or f"no samples ({f.get('state')})"
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--train-s", type=float, default=20.0)
    ap.add_argument("--sample-steps", type=int, default=100)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--startup-only", action="store_true", help="skip the event-loop latency phases")
    args = ap.parse_args()
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from desktop.engine_client import default_engine_command

    load0 = load_average()
    figures: dict[str, object] = {
        "probe_interval_ms": PROBE_MS,
        "engine_command": default_engine_command(),
        "startup": measure_startup(args.runs),
        "startup_bare_qt_label_for_reference": measure_startup(args.runs, BARE_QT_CHILD),
    }
    if not args.startup_only:
        figures["event_loop_latency"] = measure_latency(args.train_s, args.sample_steps)
    path = write_result(
        "gui",
        figures,
        summary=summarize(figures),
        load_at_start=load0,
        machine_extra={"qt_platform": os.environ.get("QT_QPA_PLATFORM")},
        notes=f"lateness: how late a {PROBE_MS} ms QTimer fires, beyond its interval",
    )
    print(path.read_text())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
