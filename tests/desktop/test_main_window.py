"""The window driven by scripted engine events: drops, areas, errors, engine death, layout, themes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent, QPalette
from PySide6.QtWidgets import QApplication

from core.engine import protocol as P
from desktop.model.training import DEFAULT_CONFIG
from desktop.scripted import scan_report, trained
from desktop.ui import dialogs
from tests.desktop.conftest import delete_now

ROOT = Path(__file__).resolve().parents[2]
BATCH = DEFAULT_CONFIG["batch_size"]  # the window's default batch: what its estimates divide by


def drop_files(widget, paths, pos=None) -> None:
    """What the platform sends when files are dropped on ``widget``."""
    md = QMimeData()
    md.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    pos = pos or widget.rect().center()
    actions = Qt.DropAction.CopyAction
    enter = QDragEnterEvent(pos, actions, md, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(widget, enter)
    drop = QDropEvent(QPointF(pos), actions, md, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(widget, drop)


def prepared_dataset(folder: Path, n: int = 6, res: int = 8, kind: str = "image") -> np.ndarray:
    folder.mkdir(parents=True)
    shape = (n, res, res, 3) if kind == "image" else (n, 4, res, res, 3)
    data = np.random.default_rng(0).integers(0, 255, shape, dtype=np.uint8)
    data.tofile(folder / "data.u8")
    (folder / "prepared.json").write_text(
        json.dumps(
            {"format": 1, "kind": kind, "shape": list(shape), "items": [f"/p/{k}.png" for k in range(n)]}
        )
    )
    return data


def test_dropping_folders_anywhere_on_the_window_starts_a_scan(window, client, tmp_path):
    window.show_area("Generate")
    a, b = tmp_path / "holiday", tmp_path / "clip.mp4"
    a.mkdir()
    b.write_bytes(b"")
    drop_files(window.generate_area.live_card.x0_view, [a, b])  # a widget that does not take drops itself
    cmd = client.last("scan")
    assert cmd.args["sources"] == [str(a), str(b)]
    assert window.current_area() == "Data"
    assert window.data_area.stack.currentIndex() == 1  # the scanning page with its progress bar


def test_scan_result_shows_thumbnails_rejections_and_duplicates(window, client, tmp_path):
    prepared_dataset(tmp_path / "ds1")
    client.catalog["datasets"] = [{"id": "ds1", "path": str(tmp_path / "ds1"), "kind": "image", "n_items": 6}]
    drop_files(window, [tmp_path])
    job = client.last("scan").id
    client.run_job(job, "scan", P.Progress(id=job, done=4, total=8, unit="files"))
    assert window.data_area.scan_bar.value() == 500
    report = scan_report(
        "ds1",
        [f"/p/{k}.png" for k in range(6)],
        rejected=[
            ("/p/bad.jpg", "truncated JPEG data; re-export or remove it"),
            ("/p/notes.txt", "not an image or video"),
        ],
        duplicates=[("/p/6.png", "/p/0.png")],
    )
    client.push(
        P.Done(id=job, results=P.ScanDone(dataset="ds1", path="/ws/datasets/ds1", report=report).to_dict())
    )
    da = window.data_area
    assert da.stack.currentIndex() == 2
    assert da.grid.count() == 6
    assert [da.rejected.item(r, 1).text() for r in range(da.rejected.rowCount())] == [
        "truncated JPEG data; re-export or remove it",
        "not an image or video",
    ]
    assert da.duplicates.item(0, 1).text() == "/p/0.png"
    assert da.summary.text() == "6 images ready"
    da.train_btn.click()
    assert window.current_area() == "Train"
    assert window.app.training.dataset_id == "ds1"


def test_a_broken_folder_shows_its_rejection_list_and_the_error(window, client):
    drop_files(window, ["/nowhere/broken"])
    job = client.last("scan").id
    report = {"accepted": [], "rejected": [{"path": "/nowhere/broken/a.jpg", "reason": "cannot be decoded"}]}
    client.run_job(
        job,
        "scan",
        P.Error(
            id=job,
            message="broken: nothing usable (1 file rejected); see the list",
            state="failed",
            data={"report": report},
        ),
    )
    da = window.data_area
    assert da.stack.currentIndex() == 2
    assert da.summary.text() == "Nothing usable in what was dropped"
    assert da.tabs.currentIndex() == 1
    assert da.rejected.item(0, 0).text() == "/nowhere/broken/a.jpg"
    assert da.rejected.item(0, 1).text() == "cannot be decoded"
    assert window.message.isVisible()
    # the window's words from the report, not the engine's (worded for the command line)
    assert (
        window.message.text.text()
        == "Nothing to train on: cannot be decoded; the Rejected tab lists every file"
    )


def test_clip_thumbnails_in_view_play_and_stop_when_hidden(window, client, tmp_path, qtbot):
    data = prepared_dataset(tmp_path / "clips", n=2, kind="clip")
    client.catalog["datasets"] = [{"id": "c", "path": str(tmp_path / "clips"), "kind": "clip", "n_items": 2}]
    client.start()
    window.app.library.select("datasets", "c")
    grid = window.data_area.grid
    assert grid.count() == 2 and grid.reader.frames == 4
    assert grid.timer.isActive() and len(grid.visible_items()) == 2
    first = grid.item(1).icon().pixmap(8, 8).toImage()
    grid._advance()
    assert grid.frame == 1
    second = grid.item(1).icon().pixmap(8, 8).toImage()
    assert first != second
    assert not np.array_equal(data[1, 0], data[1, 1])
    window.show_area("Generate")
    assert not grid.timer.isActive()


def test_dropping_a_folder_on_a_model_sets_up_a_finetune(window, client, tmp_path):
    client.catalog["models"] = [{"id": "m1", "name": "flowers", "path": "/m1", "info": {"objective": "eps"}}]
    client.catalog["datasets"] = [{"id": "ds9", "path": str(tmp_path), "kind": "image", "n_items": 3}]
    client.start()
    node = window.library.find("models", "m1")
    tree = window.library.tree
    pos = tree.visualItemRect(node).center()
    drop_files(tree.viewport(), [tmp_path], pos)
    job = client.last("scan").id
    client.run_job(
        job,
        "scan",
        P.Done(
            id=job,
            results=P.ScanDone(
                dataset="ds9", path="/ws/datasets/ds9", report=scan_report("ds9", [])
            ).to_dict(),
        ),
    )
    assert window.app.training.base_model == "m1"
    assert window.app.training.dataset_id == "ds9"
    assert window.current_area() == "Train"
    window.train_area.controls.start_btn.click()
    assert client.last("finetune").args["model"] == "m1"
    assert client.last("finetune").args["dataset"] == "ds9"


def test_training_view_updates_and_controls_follow_the_state(window, client):
    window.app.use_dataset("ds1")
    ta = window.train_area
    window.show_area("Train")
    ta.controls.start_btn.click()
    job = client.last("train").id
    assert not ta.controls.start_btn.isEnabled()
    from desktop.screenshot import _png_b64

    client.run_job(
        job,
        "train",
        *[P.Metric(id=job, step=s, values={"loss": 1.0 / s}) for s in range(1, 6)],
        P.Preview(id=job, step=5, images=[_png_b64(np.full((8, 8, 3), 200, np.uint8))] * 4),
    )
    xs, ys = ta.loss.smooth_curve.getData()
    assert list(xs) == [1, 2, 3, 4, 5]
    assert not ta.previews.preview.image.isNull() and ta.previews.preview.image.width() > 8  # a 2x2 tile
    assert ta.controls.pause_btn.isEnabled()
    ta.controls.pause_btn.click()
    client.push(P.State(id=job, state="paused"))
    assert ta.controls.resume_btn.isVisibleTo(window) and not ta.controls.pause_btn.isVisibleTo(window)
    ta.controls.resume_btn.click()
    client.push(P.State(id=job, state="running"))
    ta.controls.stop_btn.click()
    assert [c.cmd for c in client.sent if c.cmd in P.CONTROL_COMMANDS] == ["pause", "resume", "stop"]
    client.push(
        P.Done(
            id=job,
            state="stopped",
            results=trained("r1", "m1"),
        )
    )
    assert ta.controls.start_btn.isEnabled() and ta.controls.extend_btn.isEnabled()
    ta.controls.extend_n.setValue(250)
    ta.controls.extend_btn.click()
    assert client.last("resume_run").args == {"run": "r1", "extra_steps": 250}


def test_interrupted_runs_offer_resume(window, client):
    client.catalog["runs"] = [{"id": "r9", "name": "old", "status": "interrupted", "steps": 40}]
    client.start(interrupted=["r9"])
    window.show_area("Train")
    ta = window.train_area
    assert ta.interrupted.isVisibleTo(window)
    assert "step 40" in ta.interrupted.text.text()
    ta.interrupted.resume_btn.click()
    assert client.last("resume_run").args == {"run": "r9"}


def test_generate_shows_each_step_then_scrubs_the_recording(window, client, tmp_path, monkeypatch):
    from desktop.screenshot import _png_b64

    client.catalog["models"] = [{"id": "m1", "path": "/m1", "info": {"objective": "eps"}}]
    client.start()
    ga = window.generate_area
    ga.settings_card.steps.setValue(10)
    ga.controls.generate_btn.click()
    job = client.last("sample").id
    assert client.last("sample").args["config"]["steps"] == 10
    seen = []
    window.app.generation.step_received.connect(lambda i, n: seen.append(ga.controls.step_label.text()))
    frames = [_png_b64(np.full((4, 4, 3), 20 * i, np.uint8)) for i in range(1, 11)]
    client.run_job(
        job,
        "sample",
        *[P.Step(id=job, i=i, n=10, xt=[frames[i - 1]], x0=[frames[i - 1]]) for i in range(1, 11)],
    )
    assert [s.split(" ·")[0] for s in seen] == [f"Step {i} / 10" for i in range(1, 11)]
    assert ga.live_card.x0_view.image.pixelColor(0, 0).red() == 200
    traj = tmp_path / "ss" / "trajectory"
    traj.mkdir(parents=True)
    x = np.stack([np.full((1, 4, 4, 3), 10 * r, np.uint8) for r in range(10)])
    for name in ("xt", "x0"):
        np.save(traj / f"{name}.npy", x)
    np.save(traj / "final.npy", x[-1])
    (traj / "trajectory.json").write_text(json.dumps({"n_steps": 10, "steps": list(range(10))}))
    client.push(
        P.Done(
            id=job,
            results=P.SampleDone(sample_set="ss", out_dir=str(traj.parent), trajectory=str(traj)).to_dict(),
        )
    )
    assert ga.live_card.scrub.isEnabled() and ga.live_card.scrub.maximum() == 9
    ga.live_card.scrub.setValue(4)
    assert ga.live_card.x0_view.image.pixelColor(0, 0).red() == 40
    assert ga.live_card.scrub_label.text() == "step 5 / 10"
    asked = []
    monkeypatch.setattr(dialogs, "branch_options", lambda parent, gm: asked.append(gm) or {"seed": 7})
    ga.live_card.branch_btn.click()
    assert asked and client.last("branch").args == {"sample_set": "ss", "step": 4, "seed": 7}
    assert ga.results_card.results.count() == 1


def test_stop_cancels_the_running_generation(window, client):
    client.catalog["models"] = [{"id": "m1", "path": "/m1", "info": {"objective": "flow"}}]
    client.start()
    ga = window.generate_area
    assert ga.settings_card.sampler.currentData() == "unipc"  # a flow model gets flow samplers, UniPC first
    ga.controls.generate_btn.click()
    job = client.last("sample").id
    client.run_job(job, "sample", P.Step(id=job, i=1, n=50))
    assert ga.controls.stop_btn.isEnabled()
    ga.controls.stop_btn.click()
    assert client.last("cancel").args == {"job": job}


def test_engine_death_is_shown_and_the_status_bar_follows_the_engine(window, client):
    assert window.engine_label.text() == "Engine ready · cpu (2 cores)"
    client.die("the engine crashed (signal 9); restarting it")
    assert window.message.isVisible()
    assert window.message.text.text() == "the engine crashed (signal 9); restarting it"
    assert window.engine_label.text().startswith("Engine stopped")
    client.start(device="cuda:0 (NVIDIA H100)")
    assert window.engine_label.text() == "Engine ready · cuda:0 (NVIDIA H100)"


def test_an_engine_that_cannot_start_shows_why_and_is_not_restarted(qtbot, settings):
    from desktop.engine_client import RESTART_DELAY_MS, EngineClient
    from desktop.main_window import MainWindow
    from desktop.model.app import AppModel
    from tests.desktop.test_engine_client import FAKE, LOCKED

    client = EngineClient(command=[*FAKE, "--fatal", LOCKED])
    starts: list[str] = []
    client.state_changed.connect(lambda s: s == "starting" and starts.append(s))
    win = MainWindow(AppModel(client), settings, start_engine=False)
    win.show()
    with qtbot.waitSignal(client.died, timeout=10_000):
        client.start()
    qtbot.wait(3 * RESTART_DELAY_MS)
    assert starts == ["starting"] and client.state == "failed"
    assert win.message.isVisible() and win.message.level == "error"
    assert win.message.text.text() == (
        f"The engine could not start: {LOCKED}. Once that is fixed, use Engine > Restart"
    )
    assert win.engine_label.text() == "Engine stopped — see the message, then Engine > Restart"
    delete_now(win)


def test_status_bar_shows_the_running_job_and_cancels_it(window, client):
    job = window.app.scan_paths(["/x"])
    client.run_job(job, "scan", P.Progress(id=job, done=5, total=20, unit="files", rate=2.5, eta_s=6))
    assert window.job_label.isVisibleTo(window)
    assert window.job_label.text() == "Scanning · 5/20 files · 2.5 files/s · 6 s left"
    window.job_cancel.click()
    assert client.last("cancel").args == {"job": job}
    client.push(P.Error(id=job, message="scan cancelled", state="cancelled"))
    assert not window.job_label.isVisibleTo(window)


def test_layout_and_theme_are_remembered(app_model, client, settings):
    from desktop.main_window import MainWindow
    from desktop.ui import theme

    win = MainWindow(app_model, settings, start_engine=False)
    win.show()
    win.show_area("Generate")
    win.splitter.setSizes([333, 900])
    win.set_theme("light")
    assert QApplication.instance().palette().color(QPalette.ColorRole.Window).name() == theme.LIGHT.bg
    win.close()
    again = MainWindow(app_model, settings, start_engine=False)
    again.resize(1320, 840)  # the offscreen screen is smaller than a desktop; geometry is clamped to it
    again.show()
    assert again.current_area() == "Generate"
    assert again.splitter.sizes()[0] == 333
    assert settings.value("theme") == "light"
    again.set_theme("dark")
    assert QApplication.instance().palette().color(QPalette.ColorRole.Window).name() == theme.DARK.bg
    delete_now(win, again)


def test_keyboard_shortcuts_switch_areas(window, qtbot):
    qtbot.keyClick(window, Qt.Key.Key_3, Qt.KeyboardModifier.ControlModifier)
    assert window.current_area() == "Generate"
    qtbot.keyClick(window, Qt.Key.Key_2, Qt.KeyboardModifier.ControlModifier)
    assert window.current_area() == "Train"


def test_screenshot_command_saves_every_area(tmp_path):
    r = subprocess.run(
        [sys.executable, "-m", "desktop", "screenshot", str(tmp_path), "--themes", "light"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env=dict(os.environ, QT_QPA_PLATFORM="offscreen"),
    )
    assert r.returncode == 0, r.stderr
    names = sorted(p.name for p in tmp_path.glob("*.png"))
    assert names == [
        "data-light.png",
        "engine-error-light.png",
        "first-run-light.png",
        "generate-light.png",
        "health-light.png",
        "train-light.png",
    ]
    assert all(p.stat().st_size > 10_000 for p in tmp_path.glob("*.png"))


def test_the_window_never_loads_torch():
    code = (
        "import sys; from desktop.app import create_application; app = create_application();"
        "from desktop.main_window import MainWindow; from desktop.model.app import AppModel;"
        "from desktop.scripted import ScriptedClient; import desktop.engine_client;"
        "w = MainWindow(AppModel(ScriptedClient()), start_engine=False); w.show(); app.processEvents();"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'diffusers', 'accelerate')))"
    )
    r = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env=dict(os.environ, QT_QPA_PLATFORM="offscreen"),
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip().splitlines()[-1] == "[]"


def test_changing_the_settings_after_a_scan_offers_a_rescan_of_the_same_folders(window, client):
    client.catalog["datasets"] = [
        {
            "id": "d",
            "path": "/none",
            "kind": "image",
            "n_items": 3,
            "sources": ["/pics"],
            "settings": {"resolution": 64, "crop": "letterbox", "flip": True},
            "report": {},
        }
    ]
    client.start()
    window.app.library.select("datasets", "d")
    da = window.data_area
    assert (da.resolution.currentData(), da.crop.currentData(), da.flip.isChecked()) == (
        64,
        "letterbox",
        True,
    )
    assert not da.rescan_btn.isVisibleTo(window)
    da.resolution.setCurrentIndex(da.resolution.findData(16))
    assert da.rescan_btn.isVisibleTo(window)
    da.rescan_btn.click()
    assert client.last("scan").args == {
        "sources": ["/pics"],
        "settings": {"resolution": 16, "crop": "letterbox", "flip": True},
    }


def test_the_demo_pictures_are_one_click_away_on_first_run(window, client):
    from desktop.model.demo import demo_dataset

    da = window.data_area
    assert da.stack.currentIndex() == 0 and da.demo_btn.isVisibleTo(window)
    da.demo_btn.click()
    assert client.last("scan").args["sources"] == [str(demo_dataset())]
    assert len(list(demo_dataset().glob("*.png"))) == 256


def test_the_estimate_asks_the_engine_and_shows_speed_memory_and_time(window, client, qtbot):
    window.app.use_dataset("ds1")
    window.show_area("Train")
    ta = window.train_area
    qtbot.waitUntil(lambda: bool(client.commands("estimate")), timeout=3000)
    first = client.last("estimate")
    assert first.args["dataset"] == "ds1" and first.args["config"]["preset"]
    ta.settings_card.batch.setValue(
        int(ta.settings_card.batch.value()) + 1
    )  # a changed setting asks again; the old answer is dropped
    qtbot.waitUntil(lambda: client.last("estimate").id != first.id, timeout=3000)
    client.push(
        P.Result(
            id=first.id,
            data={"img_per_s": 1.0, "params": 1, "peak_memory_bytes": 1, "seconds": 1, "steps": None},
        )
    )
    assert "Measured now" not in ta.settings_card.measured.text()
    client.push(
        P.Result(
            id=client.last("estimate").id,
            data={
                "img_per_s": 42.0,
                "params": 72113,
                "peak_memory_bytes": 300 * 2**20,
                "resolution": 32,
                "seconds": None,
                "steps": 3600,
            },
        )
    )
    text = ta.settings_card.measured.text()
    assert "42 images/s at 32 px" in text and "300 MB" in text and "72,113 parameters" in text
    # one forecast from that measurement, for the batch the window sends
    steps = int(10 * 60 * 42.0 / (BATCH + 1))
    assert ta.settings_card.estimate.text().startswith(
        f"About {steps:,} steps in 10 min at 32 px: rough colours and blobs"
    )


def test_the_estimate_is_kept_over_library_refreshes_and_asked_again_only_for_what_changes_it(
    window, client, qtbot
):
    client.catalog["datasets"] = [
        {"id": "ds1", "name": "pics", "path": "/ds1", "kind": "image", "n_items": 6}
    ]
    window.app.library.refresh()
    window.app.use_dataset("ds1")
    window.show_area("Train")
    ta = window.train_area
    qtbot.waitUntil(lambda: bool(client.commands("estimate")), timeout=3000)
    assert ta.settings_card.estimate.text() == "Measuring speed and memory…"
    answer = {
        "img_per_s": 42.0,
        "params": 72113,
        "peak_memory_bytes": 2**20,
        "resolution": 32,
        "seconds": None,
        "steps": 393,
    }
    client.push(P.Result(id=client.last("estimate").id, data=answer))
    shown = ta.settings_card.measured.text()
    assert "42 images/s" in shown and "About 393 steps in 10 min" in ta.settings_card.estimate.text()

    def quiet() -> None:  # past the debounce: nothing was asked, the figure stays
        assert not ta.settings_card._estimate_timer.isActive()
        qtbot.wait(600)
        assert len(client.commands("estimate")) == 1

    # a finished job refreshes the whole library (datasets included): no new measurement
    job = window.app.submit("export", {"sample_set": "ss"})
    client.run_job(job, "export", P.Done(id=job, results=P.ExportDone(export="e1", path="/x.gif").to_dict()))
    window.app.library.refresh()
    quiet()
    assert ta.settings_card.measured.text() == shown
    # nor for settings the measurement does not depend on; a new budget only rescales it
    ta.settings_card.objective.setCurrentIndex(ta.settings_card.objective.findData("eps"))
    ta.settings_card.budget_value.setValue(20)
    quiet()
    assert f"About {int(20 * 60 * 42.0 / BATCH):,} steps in 20 min" in ta.settings_card.estimate.text()
    # a new batch size asks again; the last figure stays on show until the answer
    ta.settings_card.batch.setValue(16)
    qtbot.waitUntil(lambda: len(client.commands("estimate")) == 2, timeout=3000)
    assert client.last("estimate").args["config"]["batch_size"] == 16
    assert (
        "42 images/s" in ta.settings_card.measured.text()
        and "measuring again" in ta.settings_card.measured.text()
    )
    client.push(P.Result(id=client.last("estimate").id, data=dict(answer, img_per_s=30.0, steps=2250)))
    assert (
        "30 images/s" in ta.settings_card.measured.text()
        and "About 2,250 steps" in ta.settings_card.estimate.text()
    )
    assert "measuring again" not in ta.settings_card.measured.text()


def _estimate_box(ta) -> str:  # noqa: ANN001
    """The ESTIMATE box as a person reads it: its shown lines, in order."""
    return "\n".join(
        w.text()
        for w in (ta.settings_card.estimate, ta.settings_card.measured, ta.settings_card.engine_device)
        if not w.isHidden()
    )


def _pics_at_16(window, client) -> None:  # noqa: ANN001
    client.catalog["datasets"] = [
        {
            "id": "ds1",
            "name": "pics",
            "path": "/ds1",
            "kind": "image",
            "n_items": 6,
            "settings": {"resolution": 16},
        }
    ]
    window.app.library.refresh()
    window.app.use_dataset("ds1")
    window.show_area("Train")


ANSWER = {
    "img_per_s": 42.0,
    "params": 72113,
    "peak_memory_bytes": 2**20,
    "resolution": 16,
    "seconds": None,
    "steps": 393,
}


def test_the_estimate_says_measuring_alone_when_there_is_no_figure_and_never_under_one(window, client, qtbot):
    _pics_at_16(window, client)
    ta = window.train_area
    # asked (after the debounce) and measuring: one line says so, no "no measurement yet" beside it
    assert _estimate_box(ta) == "Measuring speed and memory…\nEngine device: cpu (2 cores)"
    qtbot.waitUntil(lambda: bool(client.commands("estimate")), timeout=3000)
    assert _estimate_box(ta) == "Measuring speed and memory…\nEngine device: cpu (2 cores)"
    client.push(P.Result(id=client.last("estimate").id, data=ANSWER))
    box = _estimate_box(ta)
    assert box.startswith("About 393 steps in 10 min at 16 px") and "\nMeasured now: 42 images/s" in box
    assert "easuring" not in box and "No measurement yet" not in box
    # measuring again for a changed setting: said once, on the last figure's line
    ta.settings_card.batch.setValue(16)
    assert _estimate_box(ta).count("easuring") == 1 and "42 images/s" in _estimate_box(ta)
    qtbot.waitUntil(lambda: len(client.commands("estimate")) == 2, timeout=3000)
    assert _estimate_box(ta).count("easuring") == 1 and "measuring again" in ta.settings_card.measured.text()
    client.push(P.Error(id=client.last("estimate").id, message="estimate: out of memory"))
    assert "No estimate: estimate: out of memory" in _estimate_box(ta) and "easuring" not in _estimate_box(ta)


def test_the_estimate_says_measuring_next_to_the_speed_seen_in_training(window, client, settings, qtbot):
    # the speed remembered for the dataset's size forecasts until a newer figure comes
    settings.setValue("calibration/pixel-small/16/auto", 50.0)
    _pics_at_16(window, client)
    ta = window.train_area
    qtbot.waitUntil(lambda: bool(client.commands("estimate")), timeout=3000)
    seen = f"About {int(10 * 60 * 50 / BATCH):,} steps in 10 min at 16 px"
    speed = "Seen in training here: ≈ 50 images/s at 16 px"
    box = _estimate_box(ta)
    assert box.startswith(seen) and f"\n{speed} · measuring again for the changed settings…\n" in box
    # the engine's measurement is the latest: one forecast from it, not two figures
    client.push(P.Result(id=client.last("estimate").id, data=ANSWER))
    box = _estimate_box(ta)
    assert box.startswith("About 393 steps in 10 min at 16 px") and "\nMeasured now: 42 images/s" in box
    assert "Seen in training" not in box and "easuring" not in box
    # a step budget: the forecast is rescaled, no new measurement
    ta.settings_card.budget_steps.setChecked(True)
    ta.settings_card.budget_value.setValue(600)
    assert ta.settings_card.estimate.text() == "600 steps at 16 px, about 20 min: rough colours and blobs."
    assert "easuring" not in _estimate_box(ta) and len(client.commands("estimate")) == 1
    # a training run remembers its speed for these settings, and the box follows it
    job = window.app.training.start()
    client.run_job(job, "train", P.Metric(id=job, step=10, values={"loss": 0.5, "img_per_s": 64.0}))
    assert float(settings.value("calibration/pixel-small/16/auto")) == 64.0
    assert ta.settings_card.measured.text() == "Now: ≈ 64 images/s at 16 px"  # the run's own line
    client.push(P.Done(id=job, state="done", results=trained("r1", "m1")))
    assert ta.settings_card.measured.text() == "Seen in training here: ≈ 64 images/s at 16 px"


def test_the_built_in_demo_model_is_offered_in_generate_on_first_run(window, client):
    from desktop.model.demo import demo_model

    folder, info = demo_model()
    assert info["objective"] == "flow" and (folder / "COMMAND.txt").is_file()
    assert all(p.suffix != ".bin" for p in folder.rglob("*"))  # safetensors only
    window.app.library.refresh("models")
    ga = window.generate_area
    assert ga.settings_card.model.findData(str(folder)) >= 0
    window.show_area("Generate")
    assert ga.settings_card.model.currentData() == str(folder)  # nothing else to pick on first run


def test_generate_starts_at_the_engines_default_steps(window, client):
    from core.catalogue.samplers import DEFAULT_STEPS

    client.catalog["models"] = [{"id": "m", "path": "/m", "info": {"objective": "flow"}}]
    client.start()
    ga = window.generate_area
    ga.settings_card.model.setCurrentIndex(ga.settings_card.model.findData("m"))
    assert ga.settings_card.steps.value() == ga.settings_card.steps_slider.value() == DEFAULT_STEPS
    ga.controls.generate_btn.click()
    assert client.last("sample").args["config"]["steps"] == DEFAULT_STEPS


def test_guidance_follows_the_model_and_travels_with_generate(window, client):
    from core.catalogue.samplers import DEFAULT_GUIDANCE

    client.catalog["models"] = [
        {"id": "plain", "path": "/plain", "info": {"objective": "flow"}},
        {"id": "guided", "path": "/guided", "info": {"objective": "flow", "guide": {"trained_steps": 500}}},
    ]
    client.start()
    ga = window.generate_area
    ga.settings_card.model.setCurrentIndex(ga.settings_card.model.findData("guided"))
    assert ga.settings_card.guidance.isEnabled() and ga.settings_card.guidance.value() == DEFAULT_GUIDANCE
    ga.settings_card.guidance.setValue(1.5)
    ga.controls.generate_btn.click()
    assert client.last("sample").args["config"]["guidance"] == 1.5
    ga.settings_card.model.setCurrentIndex(ga.settings_card.model.findData("plain"))
    assert (
        not ga.settings_card.guidance.isEnabled()
        and ga.settings_card.guidance.value() == 0.0
        and ga.settings_card.guidance.text() == "off"
    )
    assert "no guide network" in ga.settings_card.guidance.toolTip()
    assert window.app.generation.config["guidance"] == 0.0  # what the next Generate sends
