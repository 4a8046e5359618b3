"""The Data area after a scan: whole rejection reasons in the window's own words, the buttons that
fix what the window can fix (videos in a picture folder as frames or as a clip dataset, pictures
over the size limit), and the Statistics tab in plain words with a histogram of picture sizes.

The first tests feed the window a report made by the real scanner in this process (through the
scripted engine); the last ones drive the real engine process and press the buttons."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from core.data.scan import scan_folder
from core.data.settings import DatasetSettings
from core.engine import protocol as P
from core.media.video import write_video
from desktop.engine_client import EngineClient
from desktop.model import dataset_facts as F
from desktop.model.app import AppModel
from desktop.model.scan import ScanReport
from tests.desktop.conftest import delete_now

HELLO_MS = 120_000
JOB_MS = 180_000


def _png_declaring(path: Path, width: int, height: int) -> Path:
    """A PNG whose header declares width x height, with almost no pixel data."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 64)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b""))
    return path


def _folder(root: Path, *, video: bool = True, huge: bool = False, broken: bool = False) -> Path:
    """Four pictures of different sizes, and optionally a 12-frame video, a picture declaring
    240 MP and a broken JPEG."""
    folder = root / "holiday"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for k, (w, h) in enumerate([(40, 30), (64, 64), (90, 120), (200, 150)]):
        Image.fromarray(rng.integers(0, 255, (h, w, 3), dtype=np.uint8)).save(folder / f"p{k}.png")
    if video:
        write_video(rng.integers(0, 255, (12, 24, 32, 3), dtype=np.uint8), folder / "beach.mp4", fps=8)
    if huge:
        _png_declaring(folder / "panorama.png", 30_000, 8_000)
    if broken:
        (folder / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    return folder


def _show(window, client, folder: Path, tmp_path: Path, **settings) -> None:
    """Scan ``folder`` with the real scanner here and let the window receive its report."""
    result = scan_folder(
        folder, DatasetSettings(resolution=16, workers=1, **settings), cache_root=tmp_path / "datasets"
    )
    window.app.scan_paths([str(folder)])
    job = client.last("scan").id
    client.run_job(job, "scan")
    done = P.ScanDone(dataset=result.dataset_id, path=str(result.dataset_dir), report=result.to_dict())
    client.push(P.Done(id=job, results=done.to_dict()))


def _rows(table) -> list[tuple[str, str]]:
    return [(table.item(r, 0).text(), table.item(r, 1).text()) for r in range(table.rowCount())]


def test_each_rejection_is_shown_whole_with_the_windows_own_remedy(window, client, tmp_path):
    _show(window, client, _folder(tmp_path, huge=True, broken=True), tmp_path)
    da = window.data_area
    rows = dict((Path(p).name, why) for p, why in _rows(da.rejected))
    assert set(rows) == {"beach.mp4", "panorama.png", "broken.jpg"}
    assert rows["beach.mp4"].startswith("holiday/beach.mp4: is a video, and this is an image dataset")
    assert "“Use the videos' frames as pictures”" in rows["beach.mp4"]
    assert "declares 30000x8000 pixels (240 MP), over the 100 MP budget" in rows["panorama.png"]
    assert "“Allow pictures up to 1,000 MP”" in rows["panorama.png"]
    assert "re-export it or remove it" in rows["broken.jpg"]  # no code: the reason as it is
    for why in rows.values():
        assert "--" not in why and "pixel_budget" not in why  # no command-line advice in the window
    for r in range(da.rejected.rowCount()):  # the whole text in both cells' tooltips, rows wrap
        path, why = da.rejected.item(r, 0).text(), da.rejected.item(r, 1).text()
        assert da.rejected.item(r, 0).toolTip() == da.rejected.item(r, 1).toolTip() == f"{path}\n{why}"
    assert da.rejected.wordWrap()
    assert not da.remedies.isHidden()
    assert not da.remedy_rows["videos"].isHidden() and not da.remedy_rows["large"].isHidden()
    assert da.remedy_rows["small"].isHidden()
    assert da.videos_text.text().startswith("1 video left out")
    assert da.large_text.text().startswith("1 picture over the 100 MP size limit")
    assert da.large_btn.text() == "Allow pictures up to 1,000 MP"


def test_the_buttons_scan_again_with_the_remedy_and_keep_it_for_these_sources(window, client, tmp_path):
    folder = _folder(tmp_path, huge=True)
    _show(window, client, folder, tmp_path)
    da = window.data_area
    da.frames_btn.click()
    cmd = client.last("scan")
    assert cmd.args["sources"] == [str(folder)]
    assert cmd.args["settings"]["as_frames"] is True and cmd.args["settings"]["dataset_kind"] == "image"
    _show(window, client, folder, tmp_path, as_frames=True)
    da.large_btn.click()
    settings = client.last("scan").args["settings"]
    assert settings["pixel_budget"] == 1_000_000_000 and settings["as_frames"] is True  # both remedies
    window.app.scan_paths([str(tmp_path)])  # other sources: no remedies carried over
    assert "as_frames" not in client.last("scan").args["settings"]


def test_make_a_clip_dataset_scans_the_rejected_videos_alone_as_clips(window, client, tmp_path):
    _show(window, client, _folder(tmp_path), tmp_path)
    window.data_area.clips_btn.click()
    cmd = client.last("scan")
    assert [Path(s).name for s in cmd.args["sources"]] == ["beach.mp4"]
    assert cmd.args["settings"]["dataset_kind"] == "clip"
    assert cmd.args["name"] == "clips from holiday"


def test_no_remedy_bar_when_nothing_rejected_can_be_fixed_here(window, client, tmp_path):
    _show(window, client, _folder(tmp_path, video=False, broken=True), tmp_path)
    assert window.data_area.remedies.isHidden()


def test_the_statistics_tab_says_sizes_counts_and_what_they_mean_in_words(window, client, tmp_path):
    _show(window, client, _folder(tmp_path, broken=True), tmp_path)
    st = window.data_area.stats
    form = st.form
    shown = {
        form.itemAt(r, form.ItemRole.LabelRole).widget().text(): form.itemAt(r, form.ItemRole.FieldRole)
        .widget()
        .text()
        for r in range(form.rowCount())
    }
    assert shown["Files"] == "4 files accepted, 2 rejected"
    assert shown["Sizes"] == "smallest 40 × 30 px, median 77 × 92 px, largest 200 × 150 px"
    assert shown["Shapes"] == "2 landscape, 1 square, 1 portrait"
    assert shown["Colour"] == "all in colour" and shown["Formats"] == "4 PNG"
    assert shown["Stored"] == "4 pictures of 16 × 16 px"
    assert "Clips" not in shown and "Videos" not in shown
    text = " ".join(shown.values()) + st.advice.text()
    assert "_" not in text and "fps" not in text and ": ," not in text  # no raw keys, no empty values
    assert "4 pictures is a small set" in st.advice.text()
    assert [(label, n) for label, n, _ in st.bars] == [
        ("16–31", 1),
        ("32–63", 0),
        ("64–127", 2),
        ("128–255", 1),
    ]
    window.data_area.tabs.setCurrentWidget(st)
    assert st.plot is not None and st.plot.isVisibleTo(st)  # drawn once the tab is shown


def test_a_clip_report_tells_clips_frames_and_fps_with_plurals(tmp_path):
    folder = tmp_path / "v"
    folder.mkdir()
    rng = np.random.default_rng(1)
    write_video(rng.integers(0, 255, (12, 24, 32, 3), dtype=np.uint8), folder / "a.mp4", fps=8)
    result = scan_folder(folder, DatasetSettings(resolution=16, workers=1), cache_root=tmp_path / "ds")
    report = ScanReport.from_dict(result.to_dict())
    shown = dict(F.facts(report))
    assert shown["Files"] == "1 video accepted, 0 rejected"
    assert shown["Clips"] == "1 clip of 8 frames at 8 fps cut from 1 video (1.5 s in all)"
    assert shown["Stored"] == "1 clip of 16 × 16 px"
    assert any(
        line.startswith("Each clip shows 1.0 s of motion (8 frames at 8 fps)") for line in F.advice(report)
    )


def test_advice_suggests_a_resolution_for_small_pictures_and_letterbox_for_wide_ones(tmp_path):
    folder = tmp_path / "w"
    folder.mkdir()
    for k in range(3):
        Image.new("RGB", (60, 20), (k * 40, 90, 200)).save(folder / f"w{k}.png")
    result = scan_folder(
        folder,
        DatasetSettings(resolution=32, small_policy="upscale", workers=1),
        cache_root=tmp_path / "ds",
    )
    lines = F.advice(ScanReport.from_dict(result.to_dict()))
    assert "Most pictures are smaller than 32 px (median short side 20 px)" in lines[1]
    assert "3 pictures of 3 are far from square" in lines[2]


# --- the real engine -------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def engine_window(qapp, tmp_path_factory):
    from PySide6.QtCore import QSettings

    from desktop.main_window import MainWindow

    ws = tmp_path_factory.mktemp("ws")
    client = EngineClient(ws)
    app = AppModel(client)
    win = MainWindow(app, QSettings(str(ws / "gui.ini"), QSettings.Format.IniFormat), start_engine=False)
    win.show()
    yield win
    client.auto_restart = False
    client.shutdown()
    delete_now(win)


def _scanned(qtbot, win) -> None:
    scan = win.app.scan
    qtbot.waitUntil(
        lambda: scan.state in ("failed", "cancelled") or (scan.state == "done" and scan.dataset is not None),
        timeout=JOB_MS,
    )
    assert scan.state == "done", win.message.text.text()


@pytest.mark.slow
def test_the_video_buttons_work_against_the_real_engine(engine_window, qtbot, tmp_path):
    win = engine_window
    with qtbot.waitSignal(win.app.client.hello_received, timeout=HELLO_MS):
        win.app.client.start()
    win.app.scan.set_setting("resolution", 16)
    folder = _folder(tmp_path)
    win.app.scan_paths([str(folder)])
    _scanned(qtbot, win)
    da = win.data_area
    assert da.summary.text() == "4 images ready"
    assert not da.remedy_rows["videos"].isHidden()

    da.clips_btn.click()
    _scanned(qtbot, win)
    assert win.app.scan.report.kind == "clip" and win.app.scan.dataset["kind"] == "clip"
    assert da.summary.text() == "1 clip ready"
    assert da.remedies.isHidden() and da.rejected.rowCount() == 0

    win.app.scan_paths([str(folder)])
    _scanned(qtbot, win)
    da.frames_btn.click()
    _scanned(qtbot, win)
    rep = win.app.scan.report
    assert rep.kind == "image" and not rep.rejected and da.remedies.isHidden()
    assert rep.rows == 4 + 3  # the pictures and the video's frames 0, 4 and 8 (2 a second at 8 fps)
    assert da.grid.count() == 7


@pytest.mark.slow
def test_allow_larger_pictures_includes_a_picture_over_the_limit_with_the_real_engine(
    engine_window, qtbot, tmp_path
):
    win = engine_window
    if win.app.client.state != "ready":
        with qtbot.waitSignal(win.app.client.hello_received, timeout=HELLO_MS):
            win.app.client.start()
    folder = _folder(tmp_path, video=False)
    Image.new("RGB", (1200, 1000), (30, 120, 200)).save(folder / "big.png")
    win.app.scan.set_setting("resolution", 16)
    win.app.scan.start([str(folder)], options={"pixel_budget": 1_000_000})
    _scanned(qtbot, win)
    da = win.data_area
    assert [Path(p).name for p, _ in win.app.scan.report.rejected] == ["big.png"]
    assert da.large_btn.text() == "Allow pictures up to 10 MP" and not da.remedy_rows["large"].isHidden()
    da.large_btn.click()
    _scanned(qtbot, win)
    assert not win.app.scan.report.rejected and win.app.scan.report.rows == 5
    assert da.remedies.isHidden()
