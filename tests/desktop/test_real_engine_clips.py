"""Clips in the window against the real engine process, kept tiny (2 s videos at 16 px, a few steps):
a dropped folder of videos becomes a clip dataset, told in the window's words; the Train area
measures the clip network with its frames and Auto picks a size; a tiny clip model's clips play in
the live view while they denoise and after, on the player's own timer, and export as MP4, WebM and
GIF at the clip's frame rate (decoded back here). One engine for the module."""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QSettings

from desktop.engine_client import EngineClient
from desktop.model.app import AppModel
from tests.desktop.conftest import delete_now
from tests.desktop.test_main_window import drop_files

pytestmark = pytest.mark.slow

HELLO_MS = 120_000
JOB_MS = 300_000
FPS = 10  # the videos' rate; clips take every frame, so the clips play at it too
T = 8  # frames per clip, the scan's default
SHOTS = Path(os.environ.get("NOISEBLOOM_SHOTS", "/tmp/clipsui"))
# what would be command-line advice in a message: a flag, a shell command, the CLI's name
COMMAND_LINE = re.compile(r"(?<![\w-])--\w|ffmpeg -i|chmod|noisebloom \w|quarantine\.json")


def _video(path: Path, seconds: float, seed: int) -> Path:
    """A square moving over noise at FPS, 32x32 px, written with imageio-ffmpeg."""
    import imageio.v3 as iio

    n = int(seconds * FPS)
    rng = np.random.default_rng(seed)
    frames = (rng.random((n, 32, 32, 3)) * 60).astype(np.uint8)
    for i in range(n):
        frames[i, 8:16, i % 24 : i % 24 + 8] = 255
    iio.imwrite(path, frames, fps=FPS, extension=path.suffix)
    return path


def _unknown_codec(path: Path) -> Path:
    """An AVI whose codec no decoder knows."""
    import cv2

    w = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), FPS, (32, 24))
    for i in range(12):
        w.write(np.full((24, 32, 3), i * 20, np.uint8))
    w.release()
    path.write_bytes(path.read_bytes().replace(b"MJPG", b"ZQZQ"))
    return path


@pytest.fixture(scope="module")
def engine_window(qapp, tmp_path_factory):
    from desktop.main_window import MainWindow

    ws = tmp_path_factory.mktemp("ws")
    client = EngineClient(ws)
    app = AppModel(client)
    settings = QSettings(str(ws / "gui.ini"), QSettings.Format.IniFormat)
    win = MainWindow(app, settings, start_engine=False)
    win.resize(1280, 800)
    win.show()
    yield win, client, ws
    client.auto_restart = False
    client.shutdown()
    delete_now(win)


def _started(qtbot, client: EngineClient) -> None:
    if client.state != "ready":
        with qtbot.waitSignal(client.hello_received, timeout=HELLO_MS):
            client.start()


def _scanned(qtbot, win) -> None:
    scan = win.app.scan
    qtbot.waitUntil(
        lambda: scan.state in ("failed", "cancelled") or (scan.state == "done" and scan.dataset is not None),
        timeout=JOB_MS,
    )


def _shown_texts(win) -> list[str]:
    """Every message the Data area and the message bar show after a scan."""
    da = win.data_area
    texts = [da.summary.text(), da.summary_sub.text(), win.message.text.text()]
    texts += [da.rejected.item(r, 1).text() for r in range(da.rejected.rowCount())]
    texts += [w.text() for w in (da.videos_text, da.large_text, da.small_text) if w.isVisibleTo(da)]
    return texts


def test_a_dropped_video_folder_becomes_a_clip_dataset_in_the_windows_words(engine_window, qtbot, tmp_path):
    win, client, _ = engine_window
    _started(qtbot, client)
    folder = tmp_path / "footage"
    folder.mkdir()
    _video(folder / "walk.mp4", 2.0, seed=1)
    _video(folder / "wave.mp4", 2.0, seed=2)
    _video(folder / "blink.mp4", 0.4, seed=3)  # 4 frames: too short for a clip of 8
    _unknown_codec(folder / "odd.avi")
    win.app.scan.set_setting("resolution", 16)
    drop_files(win, [folder])
    _scanned(qtbot, win)
    scan, da = win.app.scan, win.data_area
    assert scan.state == "done", win.message.text.text()
    # 20 frames each give two clips of 8 frames; the short video and the odd codec are refused
    assert scan.report.kind == "clip" and da.summary.text() == "4 clips ready"
    assert da.grid.count() == 4 and da.grid.reader.kind == "clip" and da.grid.reader.frames == T
    reasons = {Path(da.rejected.item(r, 0).text()).name: da.rejected.item(r, 1).text() for r in range(2)}
    assert reasons["blink.mp4"].endswith("press “Make clips of 4 frames” above, or use a longer video")
    assert "'ZQZQ'" in reasons["odd.avi"] and "video editor or converter" in reasons["odd.avi"]
    assert not [t for t in _shown_texts(win) if COMMAND_LINE.search(t)]
    SHOTS.mkdir(parents=True, exist_ok=True)
    da.tabs.setCurrentIndex(1)
    win.grab().save(str(SHOTS / "data-rejected.png"))
    da.tabs.setCurrentIndex(0)
    win.grab().save(str(SHOTS / "data-clips.png"))


def test_a_video_folder_with_nothing_usable_says_why_in_the_windows_words(engine_window, qtbot, tmp_path):
    win, client, _ = engine_window
    good = win.app.scan.dataset
    folder = tmp_path / "unusable"
    folder.mkdir()
    _video(folder / "blink.mp4", 0.4, seed=3)
    _video(folder / "nod.mp4", 0.5, seed=4)
    _unknown_codec(folder / "odd.avi")
    drop_files(win, [folder])
    _scanned(qtbot, win)
    assert win.app.scan.state == "failed"
    message = win.message.text.text()
    assert message.startswith("Nothing to train on: unusable/") and "(2 files like this)" in message
    assert "press “Make clips of 4 frames” above" in message
    assert not [t for t in _shown_texts(win) if COMMAND_LINE.search(t)]
    # the button scans again with clips of 4 frames: the short videos give one each
    da = win.data_area
    assert da.short_text.text() == "2 videos shorter than a clip of 8 frames" and da.shorter_btn.isVisibleTo(
        da
    )
    da.grab().save(str(SHOTS / "data-too-short.png"))
    da.shorter_btn.click()
    _scanned(qtbot, win)
    assert win.app.scan.state == "done", win.message.text.text()
    assert da.summary.text() == "2 clips ready" and da.grid.reader.frames == 4
    assert da.remedy_rows["short"].isHidden()
    win.app.scan.dataset = good
    win.app.use_dataset(str(good["id"]))


def test_train_measures_the_clip_network_with_its_frames_and_auto_picks_a_size(engine_window, qtbot):
    win, client, _ = engine_window
    tm, card = win.app.training, win.train_area.settings_card
    win.show_area("Train")
    qtbot.waitUntil(lambda: tm.dataset_kind() == "clip", timeout=30_000)
    assert str(tm.config["preset"]).startswith("clip-")  # a clip dataset offers the clip networks
    tm.set_config("preset", "clip-tiny")
    tm.set_config("batch_size", 2)
    card.flush_estimate()
    qtbot.waitUntil(lambda: card.measured.text().startswith("Measured now"), timeout=JOB_MS)
    assert re.match(rf"Measured now: [\d.]+ clips/s of {T} frames at 16 px", card.measured.text())
    assert card.resolution.itemText(0) == "Auto · 16 px" and tm.resolved_resolution() == 16
    assert " steps " in card.estimate.text() and "16 px" in card.estimate.text()
    for k, v in {
        "max_minutes": None,
        "max_steps": 4,
        "warmup": 2,
        "preview_every": 1000,
        "val_every": 1000,
        "checkpoint_every": 1000,
        "log_every": 1,
    }.items():
        tm.set_config(k, v)
    win.train_area.controls.start_btn.click()
    assert tm.train_config()["resolution"] == 16
    qtbot.waitUntil(lambda: tm.state in ("done", "stopped", "failed"), timeout=JOB_MS)
    assert tm.state == "done", win.message.text.text()
    qtbot.waitUntil(lambda: bool(win.app.library.items["models"]), timeout=30_000)


def test_generated_clips_play_while_they_denoise_and_after_and_export_at_their_rate(
    engine_window, qtbot, tmp_path
):
    import imageio.v3 as iio

    win, client, _ = engine_window
    gm, ga = win.app.generation, win.generate_area
    win.show_area("Generate")
    qtbot.waitUntil(lambda: gm.model is not None and gm.model_is_clip, timeout=30_000)
    assert gm.fps == pytest.approx(FPS)
    live = ga.live_card
    seen_while_live: list[int] = []  # the frames of each step's clips, as they arrive
    live.x0_view.clips_changed.connect(lambda: gm.live and seen_while_live.append(live.x0_view.frames))
    ga.settings_card.steps.setValue(4)
    ga.settings_card.num.setValue(2)
    ga.controls.generate_btn.click()
    qtbot.waitUntil(lambda: gm.state in ("done", "failed"), timeout=JOB_MS)
    assert gm.state == "done", win.message.text.text()
    assert seen_while_live and set(seen_while_live) == {T}
    # after: the finished clips loop on the player's timer at the clip's rate
    player = live.player
    assert live.x0_view.frames == T and player.timer.isActive()
    assert player.timer.interval() == round(1000 / FPS)
    shown = []
    for _ in range(T + 1):
        with qtbot.waitSignal(player.frame_changed, timeout=2_000) as tick:
            pass
        shown.append(tick.args[0])
    assert shown == [(shown[0] + k) % T for k in range(T + 1)]  # every frame in turn, then round again
    win.grab().save(str(SHOTS / "generate-playing.png"))
    # export: one click per format, each clip at the clip's rate with all its frames
    card = ga.settings_card
    assert card.export_fps.value() == pytest.approx(FPS)
    for fmt in ("mp4", "webm", "gif"):
        out = tmp_path / fmt
        card.export_fmt.setCurrentIndex(card.export_fmt.findData(fmt))
        with qtbot.waitSignal(gm.exported, timeout=JOB_MS):
            assert card.export_clips_to(str(out))
        files = sorted(out.glob(f"*.{fmt}"))
        assert len(files) == 2, files
        frames = iio.imread(files[0], index=None)
        assert frames.shape[0] == T and frames.shape[1:3] == (16 * card.export_scale.value(),) * 2
        meta = iio.immeta(files[0], plugin="pillow" if fmt == "gif" else "FFMPEG")
        fps = 1000 / meta["duration"] if fmt == "gif" else meta["fps"]
        assert fps == pytest.approx(FPS, rel=0.01), (fmt, meta)
