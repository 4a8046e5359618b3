"""The window against the real engine process (``python -m core.engine``) with tiny settings:
start-up, a drop scanned by the engine, training with a live loss curve and pause / resume /
stop, ten sampling steps arriving in order, scrubbing, a GIF export, and recovery after the
engine is killed. One engine per module: starting it imports torch (seconds on this CPU)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from PySide6.QtWidgets import QFileDialog

from desktop.engine_client import EngineClient
from desktop.model.app import AppModel
from tests.desktop.conftest import delete_now
from tests.desktop.test_main_window import drop_files

pytestmark = pytest.mark.slow

HELLO_MS = 120_000
JOB_MS = 180_000


@pytest.fixture(scope="module")
def engine_window(qapp, tmp_path_factory):
    from PySide6.QtCore import QSettings

    from desktop.main_window import MainWindow

    ws = tmp_path_factory.mktemp("ws")
    client = EngineClient(ws)
    app = AppModel(client)
    settings = QSettings(str(ws / "gui.ini"), QSettings.Format.IniFormat)
    win = MainWindow(app, settings, start_engine=False)
    win.show()
    yield win, client, ws
    client.auto_restart = False
    client.shutdown()
    delete_now(win)


def _wait(qtbot, cond, ms=JOB_MS):
    qtbot.waitUntil(cond, timeout=ms)


def test_the_status_bar_shows_the_engine_and_its_device(engine_window, qtbot):
    win, client, ws = engine_window
    with qtbot.waitSignal(client.hello_received, timeout=HELLO_MS):
        client.start()
    assert win.engine_label.text() == f"Engine ready · {client.device}"
    assert client.device.startswith(("cpu", "cuda", "mps"))
    assert win.app.workspace == str(ws)


def _pictures(folder: Path, n: int = 12) -> Path:
    folder.mkdir()
    rng = np.random.default_rng(0)
    for k in range(n):
        Image.fromarray(rng.integers(0, 255, (24, 24, 3), dtype=np.uint8)).save(folder / f"p{k:02d}.png")
    (folder / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    return folder


def test_a_dropped_folder_is_scanned_by_the_engine(engine_window, qtbot, tmp_path):
    win, client, _ = engine_window
    win.app.scan.set_setting("resolution", 16)
    drop_files(win, [_pictures(tmp_path / "pics")])
    scan = win.app.scan
    _wait(
        qtbot,
        lambda: scan.state in ("failed", "cancelled") or (scan.state == "done" and scan.dataset is not None),
    )
    da = win.data_area
    assert win.app.scan.state == "done", win.message.text.text()
    assert da.grid.count() == 12
    reasons = [da.rejected.item(r, 0).text() for r in range(da.rejected.rowCount())]
    assert any(r.endswith("broken.jpg") for r in reasons)


def test_a_folder_with_nothing_usable_shows_every_rejected_file(engine_window, qtbot, tmp_path):
    win, client, _ = engine_window
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "a.jpg").write_bytes(b"\xff\xd8\xff\xe0 truncated")
    (bad / "notes.txt").write_text("not a picture")
    good = win.app.scan.dataset
    drop_files(win, [bad])
    scan = win.app.scan
    _wait(qtbot, lambda: scan.state in ("failed", "done", "cancelled"))
    assert scan.state == "failed"
    da = win.data_area
    assert da.stack.currentIndex() == 2
    names = {Path(da.rejected.item(r, 0).text()).name for r in range(da.rejected.rowCount())}
    assert "a.jpg" in names
    assert win.message.isVisible() and "\n" not in win.message.text.text()
    win.app.scan.dataset = good  # the next tests train on the first scan


def test_training_streams_the_loss_then_pauses_resumes_and_stops(engine_window, qtbot):
    win, client, _ = engine_window
    tm = win.app.training
    tm.dataset_id = win.app.scan.dataset["id"]
    for k, v in {
        "preset": "unet-tiny",
        "batch_size": 4,
        "preview_every": 2,
        "val_every": 4,
        "log_every": 1,
        "checkpoint_every": 1000,
        "preview_steps": 2,
    }.items():
        tm.set_config(k, v)
    tm.set_budget("steps", 400)
    win.show_area("Train")
    win.train_area.controls.start_btn.click()
    _wait(qtbot, lambda: len(tm.series.get("loss", ([], []))[0]) >= 3 and bool(tm.preview_images))
    assert not win.train_area.previews.preview.image.isNull()
    xs, _ = win.train_area.loss.smooth_curve.getData()
    assert len(xs) >= 3 and list(xs) == sorted(xs)
    win.train_area.controls.pause_btn.click()
    _wait(qtbot, lambda: tm.state == "paused", 30_000)
    win.train_area.controls.resume_btn.click()
    _wait(qtbot, lambda: tm.state == "running", 30_000)
    win.train_area.controls.stop_btn.click()
    _wait(qtbot, lambda: tm.state in ("stopped", "done", "failed"))
    assert tm.state == "stopped", win.message.text.text()
    assert tm.run_id
    _wait(qtbot, lambda: bool(win.app.library.items["models"]), 30_000)


def test_ten_steps_arrive_in_order_then_scrub_and_export_a_gif(engine_window, qtbot, monkeypatch, tmp_path):
    win, client, ws = engine_window
    chosen = tmp_path / "my exports" / "denoising.gif"
    chosen.parent.mkdir()
    monkeypatch.setattr(QFileDialog, "getSaveFileName", staticmethod(lambda *a, **k: (str(chosen), "")))
    gm = win.app.generation
    ga = win.generate_area
    win.show_area("Generate")
    _wait(qtbot, lambda: gm.model is not None, 30_000)
    ga.settings_card.steps.setValue(10)
    ga.settings_card.num.setValue(2)
    ga.controls.generate_btn.click()
    _wait(qtbot, lambda: gm.state in ("done", "failed"))
    assert gm.state == "done", win.message.text.text()
    order = [i for i, _ in gm.arrivals]
    assert order == sorted(order) and order[-1] == 10  # throttled to 10/s, the last always sent
    assert gm.trajectory is not None and len(gm.trajectory) == 10
    ga.live_card.scrub.setValue(2)
    assert ga.live_card.scrub_label.text() == "step 3 / 10"
    ga.settings_card.export_fmt.setCurrentIndex(ga.settings_card.export_fmt.findData("gif"))
    with qtbot.waitSignal(gm.exported, timeout=JOB_MS) as exported:
        ga.settings_card.export_btn.click()
    gif = Path(exported.args[0])
    assert gif == chosen
    assert gif.read_bytes()[:6] in (b"GIF89a", b"GIF87a")


def test_killing_the_engine_shows_an_error_and_the_app_recovers(engine_window, qtbot):
    win, client, _ = engine_window
    if client.state != "ready":
        with qtbot.waitSignal(client.hello_received, timeout=HELLO_MS):
            client.start()
    with qtbot.waitSignal(client.died, timeout=10_000):
        client.kill()
    assert win.message.isVisible() and "restarting" in win.message.text.text()
    assert win.engine_label.text().startswith("Engine stopped")
    with qtbot.waitSignal(client.hello_received, timeout=HELLO_MS):
        pass
    assert win.engine_label.text().startswith("Engine ready")
    got = []
    client.send("list", {"what": "datasets"}, on_result=got.append)
    qtbot.waitUntil(lambda: bool(got), timeout=10_000)
    assert got[0]["items"], "the catalog survives the crash"
