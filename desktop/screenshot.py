"""``noisebloom screenshot OUT_DIR``: every area of the app in both themes, offscreen, as PNGs.

Lets anyone see the app without a display (CI, reviews, the README). The window is driven by
scripted engine events (``desktop.scripted.ScriptedClient``) over a small synthetic workspace
written to a temporary folder: a prepared dataset of generated blossoms, a loss curve, preview
grids, a recorded denoising trajectory and a health check that found two copies. No engine and no torch run; the pictures show the
interface, not a trained model's output.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from core.engine import protocol as P

RES = 32


def blossoms(n: int, res: int = RES, seed: int = 0) -> np.ndarray:
    """``n`` synthetic flower-like RGB images (uint8 (n, res, res, 3)): petals around a centre."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:res, 0:res] / (res - 1) * 2 - 1
    out = np.empty((n, res, res, 3), np.uint8)
    for k in range(n):
        cx, cy = rng.uniform(-0.2, 0.2, 2)
        r = np.hypot(xx - cx, yy - cy)
        a = np.arctan2(yy - cy, xx - cx)
        petals = rng.integers(4, 8)
        edge = 0.55 + 0.25 * np.cos(petals * a + rng.uniform(0, 6.28))
        flower = np.clip((edge - r) * 8, 0, 1)
        centre = np.clip((0.18 - r) * 14, 0, 1)
        hue = rng.uniform(0, 1)
        col = np.array([0.5 + 0.5 * math.cos(6.28 * (hue + d)) for d in (0, 0.33, 0.67)])
        bg = np.array([0.10, 0.22, 0.12]) + 0.08 * rng.standard_normal(3)
        img = bg * (1 - flower[..., None]) + col * flower[..., None]
        img = img * (1 - centre[..., None]) + np.array([1.0, 0.82, 0.3]) * centre[..., None]
        out[k] = np.clip(img * 255, 0, 255).astype(np.uint8)
    return out


def _png_b64(a: np.ndarray) -> str:
    from PySide6.QtCore import QBuffer, QByteArray, QIODevice

    from desktop.ui.images import array_to_qimage

    ba = QByteArray()
    buf = QBuffer(ba)
    buf.open(QIODevice.OpenModeFlag.WriteOnly)
    array_to_qimage(a).save(buf, "PNG")
    return bytes(ba.toBase64().data()).decode("ascii")


def build_demo_workspace(root: Path) -> dict[str, object]:
    """Write the synthetic files the demo state points at; returns the catalog items."""
    from desktop.scripted import scan_report

    ds = root / "datasets" / "ds-flowers"
    ds.mkdir(parents=True)
    data = blossoms(48)
    data.tofile(ds / "data.u8")
    items = [f"/home/me/Pictures/garden/IMG_{4100 + k:04d}.jpg" for k in range(48)]
    (ds / "prepared.json").write_text(
        json.dumps(
            {
                "format": 1,
                "kind": "image",
                "shape": list(data.shape),
                "fps": None,
                "train": list(range(43)),
                "val": list(range(43, 48)),
                "flip": True,
                "items": items,
            }
        )
    )
    report = scan_report(
        "ds-flowers",
        items,
        rejected=[
            ("/home/me/Pictures/garden/IMG_4007.jpg", "truncated JPEG data; re-export or remove it"),
            ("/home/me/Pictures/garden/notes.txt", "not an image or video; skipped"),
            ("/home/me/Pictures/garden/thumb.png", "12x9 px is smaller than 32 px; use --small upscale"),
        ],
        duplicates=[("/home/me/Pictures/garden/IMG_4101 (1).jpg", "/home/me/Pictures/garden/IMG_4101.jpg")],
        near=[(items[7], items[8], 4)],
        stats={
            "images": 48,
            "resolution": "32 px",
            "crop": "center",
            "mean RGB": [0.41, 0.38, 0.29],
            "source sizes": "3024x4032 (41), 4032x3024 (7)",
            "scan time": "1.9 s",
        },
        dataset_dir=str(ds),
    )
    # a recorded trajectory: x_t from noise to the clean image, x0 sharpening
    ss = root / "samples" / "ss-demo"
    traj = ss / "trajectory"
    traj.mkdir(parents=True)
    n_steps, num = 30, 4
    clean = blossoms(num, seed=7).astype(np.float32) / 127.5 - 1
    noise = np.random.default_rng(1).standard_normal(clean.shape).astype(np.float32)
    xt, x0 = [], []
    for i in range(n_steps):
        abar = ((i + 1) / n_steps) ** 2
        xt.append(math.sqrt(abar) * clean + math.sqrt(1 - abar) * noise)
        blur = clean.copy()
        for _ in range(int((1 - abar) * 6)):
            blur = (
                blur + np.roll(blur, 1, 1) + np.roll(blur, -1, 1) + np.roll(blur, 1, 2) + np.roll(blur, -1, 2)
            ) / 5
        x0.append(blur * (0.4 + 0.6 * abar))

    def u8(x: list[np.ndarray] | np.ndarray) -> np.ndarray:
        return np.clip((np.asarray(x) + 1) * 127.5, 0, 255).round().astype(np.uint8)

    np.save(traj / "xt.npy", u8(xt))
    np.save(traj / "x0.npy", u8(x0))
    np.save(traj / "final.npy", u8(clean))
    (traj / "trajectory.json").write_text(
        json.dumps(
            {
                "format": 1,
                "n_steps": n_steps,
                "steps": list(range(n_steps)),
                "t": [0.0] * n_steps,
                "sigma": [0.0] * n_steps,
            }
        )
    )
    run = root / "runs" / "run-flowers"
    (run / "samples").mkdir(parents=True)
    from desktop.ui.images import array_to_qimage, tile

    tile([array_to_qimage(a) for a in blossoms(4, seed=3)]).save(str(run / "samples" / "step-2000.png"))
    return {
        "datasets": [
            {
                "id": "ds-flowers",
                "name": "garden",
                "kind": "image",
                "path": str(ds),
                "n_items": 48,
                "settings": {"resolution": RES, "crop": "center", "flip": True},
                "report": report,
            },
            {
                "id": "ds-clips",
                "name": "waves (clips)",
                "kind": "clip",
                "path": str(root / "none"),
                "n_items": 12,
                "report": {},
            },
        ],
        "runs": [
            {"id": "run-flowers", "name": "garden · eps", "status": "done", "steps": 2000, "path": str(run)},
            {
                "id": "run-old",
                "name": "garden · flow",
                "status": "interrupted",
                "steps": 640,
                "path": str(root / "runs" / "run-old"),
            },
        ],
        "models": [
            {
                "id": "model-flowers",
                "name": "garden",  # as the engine names a model: after its dataset
                "run_id": "run-flowers",
                "path": str(run / "model"),
                "info": {"objective": "eps", "preset": "pixel-small", "resolution": 32},
            }
        ],
        "sample_sets": [
            {
                "id": "ss-demo",
                "path": str(ss),
                "n_images": num,
                "model_id": "model-flowers",
                "config": {"sampler": "ddim", "steps": n_steps, "seed": 42},
            }
        ],
        "report": report,
        "trajectory": str(traj),
    }


def demo_window(root: Path, settings_path: Path):  # noqa: ANN201 - (MainWindow, ScriptedClient)
    """A main window in a believable mid-session state, driven by scripted events."""
    from PySide6.QtCore import QSettings

    from desktop.main_window import MainWindow
    from desktop.model.app import AppModel
    from desktop.scripted import ScriptedClient

    demo = build_demo_workspace(root)
    client = ScriptedClient()
    for what in ("datasets", "runs", "models", "sample_sets"):
        client.catalog[what] = demo[what]  # type: ignore[assignment]
    app = AppModel(client)
    settings = QSettings(str(settings_path), QSettings.Format.IniFormat)
    # the speed seen in an earlier run of the default preset, and the engine's measurement now
    settings.setValue(f"calibration/pixel-small/{RES}/auto", 118.0)
    client.estimate = {
        "img_per_s": 121.0,
        "params": 1_541_980,
        "peak_memory_bytes": 412 * 2**20,
        "seconds": None,
        "steps": int(10 * 60 * 121.0 / 32),
    }
    win = MainWindow(app, settings, start_engine=False)
    client.start(device="cpu (2 cores)", interrupted=[])

    # Data: a finished scan of a folder
    app.scan.sources = ["/home/me/Pictures/garden"]
    job = app.scan.start(["/home/me/Pictures/garden"])
    client.run_job(
        job,
        "scan",
        P.Progress(id=job, done=52, total=52, unit="files"),
        P.Done(
            id=job,
            results=P.ScanDone(
                dataset="ds-flowers", path=str(root / "datasets" / "ds-flowers"), report=demo["report"]
            ).to_dict(),
        ),
    )

    # Train: a run in progress with a loss curve and previews
    app.use_dataset("ds-flowers")
    tj = app.training.start()
    rng = np.random.default_rng(0)
    evs: list[P.Event] = []
    for step in range(0, 1240, 10):
        loss = 0.035 + 0.9 * math.exp(-step / 140) + 0.02 * math.exp(-step / 900) + abs(rng.normal(0, 0.012))
        evs.append(P.Metric(id=tj, step=step, values={"loss": loss, "img_per_s": 118.0}))
        if step % 200 == 0 and step:
            evs.append(P.Metric(id=tj, step=step, values={"val_loss": 0.04 + 0.8 * math.exp(-step / 150)}))
    evs.append(
        P.Preview(
            id=tj,
            step=1200,
            images=[_png_b64(a) for a in blossoms(16, seed=11)],
            caption="step 1200 · 16 fixed seeds · EMA",
        )
    )
    evs.append(P.Progress(id=tj, done=1240, total=2000, unit="steps", rate=3.7, eta_s=205))
    client.run_job(tj, "train", *evs)
    win.train_area.flush_estimate()  # the measurement's answer, not the debounce, shows

    # Generate: a finished sample, scrubbed to the middle
    gm = app.generation
    gm.set_model("model-flowers", "eps")
    gm.set_config("steps", 30)
    gm.set_config("seed", 42)
    sj = gm.generate()
    client.run_job(
        sj,
        "sample",
        P.Step(id=sj, i=30, n=30),
        P.Done(
            id=sj,
            results=P.SampleDone(
                sample_set="ss-demo",
                out_dir=str(Path(demo["trajectory"]).parent),
                trajectory=demo["trajectory"],
            ).to_dict(),
        ),
    )
    gm.scrub(17)

    # Health: a check of the model that found two copies of training pictures
    client.metrics["run-flowers"] = {"val_loss": heldout_demo_curve()}
    app.library.refresh("models")
    hj = app.health.check()
    client.run_job(
        hj,
        "evaluate",
        P.Progress(id=hj, done=103, total=103, unit="steps", message="done"),
        P.Done(id=hj, results=health_demo_result()),
    )
    return win, client


def heldout_demo_curve() -> list[list[float]]:
    """A held-out loss that falls, flattens and starts to creep up again."""
    return [
        [s, 0.045 + 0.8 * math.exp(-s / 150) + 0.006 * max(0, s - 1000) / 200] for s in range(100, 2001, 100)
    ]


def health_demo_result(num: int = 24, copies: int = 2) -> dict[str, object]:
    """The ``done`` results of an ``evaluate`` job: ``copies`` samples equal to training pictures."""
    import time

    train = blossoms(48)
    samples = blossoms(num, seed=21)
    rng = np.random.default_rng(5)
    pairs = []
    for i in range(num):
        rows = [int(r) for r in rng.choice(43, 3, replace=False)]
        copy = i < copies
        if copy:
            samples[i] = train[rows[0]]
        d1, d2 = (0.0, 4.1) if copy else (float(rng.uniform(2.5, 4.0)), float(rng.uniform(4.0, 5.0)))
        pairs.append(
            {
                "index": i,
                "sample": _png_b64(samples[i]),
                "nearest": [_png_b64(train[r]) for r in rows],
                "rows": rows,
                "d1": d1,
                "d2": d2,
                "ratio": d1 / d2,
                "memorized": copy,
            }
        )
    share = copies / num
    return {
        "model": "model-flowers",
        "dataset": "ds-flowers",
        "created": time.time() - 120,
        "num_samples": num,
        "sampler": "ddim",
        "steps": 50,
        "fd": 41.7,
        "fd_real": 12.9,
        "fd_noise": 388.0,
        "kid": 0.021,
        "kid_std": 0.004,
        "swd": {"swd": 6.4},
        "memorized_share": share,
        "memorized_count": copies,
        "ratio_threshold": 1 / 3,
        "verdict": {
            "label": "copying",
            "message": "copying your pictures — add data or stop earlier",
            "reason": f"{share:.0%} of the samples are near-copies of training pictures (more than 5%)",
        },
        "heldout_series": {"val_loss": heldout_demo_curve()},
        "pairs": pairs,
    }


def _first_run(app, path: Path, settings_path: Path) -> Path:  # noqa: ANN001 - QApplication
    """The window on first run: an empty library and the drop zone."""
    from PySide6.QtCore import QSettings

    from desktop.main_window import MainWindow
    from desktop.model.app import AppModel
    from desktop.scripted import ScriptedClient

    client = ScriptedClient()
    win = MainWindow(
        AppModel(client), QSettings(str(settings_path), QSettings.Format.IniFormat), start_engine=False
    )
    client.start(device="cpu (2 cores)")
    win.resize(1400, 880)
    win.show()
    for _ in range(3):
        app.processEvents()
    if not win.grab().save(str(path)):
        raise SystemExit(f"noisebloom screenshot: could not write {path}")
    win.close()
    win.deleteLater()
    return path


def main(argv: Sequence[str] = ()) -> int:
    parser = argparse.ArgumentParser(prog="noisebloom screenshot", description=__doc__.splitlines()[0])
    parser.add_argument("out_dir", type=Path, help="folder for the PNGs (created)")
    parser.add_argument("--themes", default="dark,light", help="comma-separated: dark, light (default both)")
    args = parser.parse_args(list(argv))
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

    from desktop.app import create_application
    from desktop.main_window import AREAS
    from desktop.ui import theme

    app = create_application()
    args.out_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    with tempfile.TemporaryDirectory(prefix="noisebloom-shot-") as tmp:
        for name in [t.strip() for t in args.themes.split(",") if t.strip()]:
            theme.apply_theme(app, name)
            written.append(
                _first_run(app, args.out_dir / f"first-run-{name}.png", Path(tmp) / f"{name}-0.ini")
            )
            window, client = demo_window(Path(tmp) / name, Path(tmp) / f"{name}.ini")
            window.resize(1400, 880)
            window.show()
            for area in AREAS:
                window.show_area(area)
                for _ in range(3):
                    app.processEvents()
                path = args.out_dir / f"{area.lower()}-{name}.png"
                if not window.grab().save(str(path)):
                    raise SystemExit(f"noisebloom screenshot: could not write {path}")
                written.append(path)
            # the window after the engine died: the message bar says so
            window.show_area("Generate")
            client.die("the engine crashed (killed by signal 9); restarting it")
            app.processEvents()
            path = args.out_dir / f"engine-error-{name}.png"
            window.grab().save(str(path))
            written.append(path)
            window.close()
            window.deleteLater()
            app.processEvents()
    for path in written:
        print(path)
    return 0
