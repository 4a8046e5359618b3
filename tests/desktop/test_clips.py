"""Clips in the window: the live view plays the forming clip, the scrubber plays the clip at the
chosen step, the finished clips play with a play / pause toggle, Train offers only the presets
that fit a clip dataset and its previews play. Steps and previews are encoded exactly as the
engine sends them (``core.engine.jobs``: one filmstrip PNG per clip)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PySide6.QtGui import QImage

from core.engine import protocol as P
from core.engine.jobs.common import png_b64, preview_image
from desktop.ui.clips import filmstrip_frames, split_filmstrip
from desktop.ui.images import array_to_qimage

T, RES = 4, 8
CLIP_INFO = {
    "objective": "flow",
    "kind": "clip",
    "frames": T,
    "fps": 5,
    "resolution": RES,
    "preset": "clip-tiny",
}


def moving_squares(n: int = 2, frames: int = T, res: int = RES, level: int = 255) -> np.ndarray:
    """(n, frames, res, res, 3) uint8: a 2 px square moving one pixel right per frame, one row per clip."""
    out = np.zeros((n, frames, res, res, 3), np.uint8)
    for k in range(n):
        for f in range(frames):
            out[k, f, 2 * k : 2 * k + 2, f : f + 2] = level
    return out


def steps_of(clips: np.ndarray) -> list[str]:
    """What a ``step`` event carries for these clips: one base64 filmstrip PNG per clip."""
    return [png_b64(preview_image(c)) for c in clips]


def frames_over_ticks(view, player, ticks: int) -> list[QImage]:
    shown = []
    for _ in range(ticks):
        shown.append(view.image.copy())
        player.tick()
    return shown


def clip_model(window, client) -> None:
    client.catalog["models"] = [{"id": "mc", "name": "squares", "path": "/mc", "info": dict(CLIP_INFO)}]
    client.start()
    window.app.library.select("models", "mc")  # as a click in the library does


def test_a_filmstrip_cuts_back_into_its_frames():
    clip = moving_squares(1)[0]
    strip = array_to_qimage(preview_image(clip))
    assert (strip.width(), strip.height()) == (T * RES, RES)
    frames = split_filmstrip(strip, T)
    assert [f.size().toTuple() for f in frames] == [(RES, RES)] * T
    assert frames == [array_to_qimage(f) for f in clip]
    assert filmstrip_frames(strip) == T  # square frames: the count follows from the shape
    still = array_to_qimage(clip[0])
    assert split_filmstrip(still) == [still] and filmstrip_frames(still) == 1


def test_live_clip_steps_play_both_views_in_sync_with_period_t(window, client, qtbot):
    clip_model(window, client)
    ga = window.generate_area
    window.show_area("Generate")
    assert ga.settings_card.model.currentData() == "mc" and ga.settings_card.num_label.text() == "Clips"
    assert ga.settings_card.export_fps.value() == 5  # exports default to the clip's own rate
    ga.controls.generate_btn.click()
    job = client.last("sample").id
    clips = moving_squares()
    client.run_job(job, "sample", P.Step(id=job, i=1, n=10, xt=steps_of(255 - clips), x0=steps_of(clips)))
    assert ga.live_card.play_btn.isVisibleTo(window)
    assert ga.live_card.x0_view.frames == T and ga.live_card.xt_view.frames == T
    assert ga.live_card.player.timer.isActive()
    assert ga.live_card.player.timer.interval() == 200  # the model's 5 fps
    shown = frames_over_ticks(ga.live_card.x0_view, ga.live_card.player, 2 * T)
    assert all(shown[k] != shown[k + 1] for k in range(2 * T - 1))  # it moves on every tick
    assert all(shown[k] == shown[k + T] for k in range(T))  # and loops after T frames
    assert ga.live_card.xt_view.frame == ga.live_card.x0_view.frame  # x_t and x0 show the same moment
    assert ga.live_card.x0_view.caption == "predicted x₀ · frame 1 / 4"
    # the next step replaces the frames but keeps the clock: no jump back to frame 1
    ga.live_card.player.tick()
    client.push(P.Step(id=job, i=2, n=10, xt=steps_of(clips), x0=steps_of(clips // 2)))
    assert ga.live_card.x0_view.frame == 1
    # the new step's frame 1: square at column 1
    assert ga.live_card.x0_view.image.pixelColor(1, 0).red() == 127
    assert ga.live_card.x0_view.image.pixelColor(0, 0).red() == 0
    # the real timer drives it too
    before = ga.live_card.x0_view.frame
    qtbot.waitUntil(lambda: ga.live_card.x0_view.frame != before, timeout=2000)


def test_the_clip_stops_playing_while_its_view_is_hidden(window, client):
    clip_model(window, client)
    ga = window.generate_area
    window.show_area("Generate")
    ga.controls.generate_btn.click()
    job = client.last("sample").id
    client.run_job(job, "sample", P.Step(id=job, i=1, n=4, x0=steps_of(moving_squares())))
    assert ga.live_card.player.timer.isActive()
    window.show_area("Train")
    assert not ga.live_card.player.timer.isActive()
    window.show_area("Generate")
    assert ga.live_card.player.timer.isActive()
    # the x0 view hides; x_t has no clip yet
    ga.settings_card.show_combo.setCurrentIndex(ga.settings_card.show_combo.findData("xt"))
    assert not ga.live_card.player.timer.isActive()


def _clip_trajectory(folder: Path, rows: int = 5, num: int = 2) -> tuple[Path, np.ndarray]:
    """(rows, num, T, RES, RES, 3): recorded step r has brightness 40 * (r + 1) in a moving square."""
    traj = folder / "trajectory"
    traj.mkdir(parents=True)
    x0 = np.stack([moving_squares(num, level=40 * (r + 1)) for r in range(rows)])
    np.save(traj / "x0.npy", x0)
    np.save(traj / "xt.npy", 255 - x0)
    np.save(traj / "final.npy", x0[-1])
    (traj / "trajectory.json").write_text(json.dumps({"n_steps": rows, "steps": list(range(rows))}))
    for k in range(num):
        (folder / f"sample_{k:05d}.gif").write_bytes(b"GIF89a" + bytes([k]))
    return traj, x0


def test_scrubbing_a_clip_trajectory_plays_the_clip_at_that_step(window, client, tmp_path):
    clip_model(window, client)
    ga = window.generate_area
    window.show_area("Generate")
    ga.controls.generate_btn.click()
    job = client.last("sample").id
    traj, x0 = _clip_trajectory(tmp_path / "ss")
    gifs = [str(tmp_path / "ss" / f"sample_{k:05d}.gif") for k in range(2)]
    client.run_job(
        job,
        "sample",
        P.Done(
            id=job,
            results=P.SampleDone(
                sample_set="ss", out_dir=str(traj.parent), trajectory=str(traj), images=gifs
            ).to_dict(),
        ),
    )
    assert ga.live_card.scrub.isEnabled() and ga.live_card.scrub.maximum() == 4
    # the finished clips play
    assert ga.live_card.play_btn.isVisibleTo(window) and ga.live_card.player.timer.isActive()
    ga.live_card.scrub.setValue(2)
    assert ga.live_card.scrub_label.text() == "step 3 / 5"
    assert ga.live_card.x0_view.frames == T
    f0 = ga.live_card.x0_view.frame
    for k in range(T + 1):
        f = (f0 + k) % T
        # clip 0's square sits at column f of frame f, at recorded step 2's brightness
        assert ga.live_card.x0_view.image.pixelColor(f, 0).red() == 120, (k, f)
        assert ga.live_card.x0_view.image.pixelColor((f + 2) % RES, 0).red() == 0
        ga.live_card.player.tick()
    # pause: the clock stops and scrubbing shows the same frame of another step
    ga.live_card.play_btn.click()
    assert not ga.live_card.player.playing and not ga.live_card.player.timer.isActive()
    frame = ga.live_card.x0_view.frame
    ga.live_card.scrub.setValue(4)
    assert ga.live_card.x0_view.frame == frame
    assert ga.live_card.x0_view.image.pixelColor(frame, 0).red() == 200
    ga.live_card.play_btn.click()
    assert ga.live_card.player.timer.isActive()
    # saving a clip result copies the clips the engine wrote (GIFs), not a broken still
    written = window.app.generation.save_selected(tmp_path / "out")
    assert [p.suffix for p in written] == [".gif", ".gif"]
    assert written[1].read_bytes() == b"GIF89a\x01"


def _datasets(client, tmp_path) -> None:
    from tests.desktop.test_main_window import prepared_dataset

    prepared_dataset(tmp_path / "clips", n=3, kind="clip")
    meta = json.loads((tmp_path / "clips" / "prepared.json").read_text())
    (tmp_path / "clips" / "prepared.json").write_text(json.dumps(dict(meta, fps=6.0)))
    prepared_dataset(tmp_path / "pics", n=3)
    client.catalog["datasets"] = [
        {"id": "dc", "name": "squares", "path": str(tmp_path / "clips"), "kind": "clip", "n_items": 3},
        {"id": "di", "name": "pictures", "path": str(tmp_path / "pics"), "kind": "image", "n_items": 3},
    ]
    client.start()


def _enabled_presets(ta) -> list[str]:
    items = ta.settings_card.preset.model()
    return [
        ta.settings_card.preset.itemData(i)
        for i in range(ta.settings_card.preset.count())
        if items.item(i).isEnabled()
    ]


def test_train_offers_only_the_presets_that_fit_the_dataset(window, client, tmp_path):
    _datasets(client, tmp_path)
    window.show_area("Train")
    ta = window.train_area
    ta.settings_card.dataset.setCurrentIndex(ta.settings_card.dataset.findData("dc"))
    assert _enabled_presets(ta) == ["clip-tiny", "clip-cpu"]
    assert (
        ta.settings_card.preset.currentData() == "clip-cpu"
        and window.app.training.config["preset"] == "clip-cpu"
    )
    assert ta.settings_card.batch.value() == 8  # clips of T frames: the clip default, not 64
    why = ta.settings_card.preset.model().item(ta.settings_card.preset.findData("unet-cpu")).toolTip()
    assert (
        why == "unet-cpu is a network for images and this dataset holds clips: choose clip-tiny or clip-cpu"
    )
    assert "only networks for clips" in ta.settings_card.preset.toolTip()
    ta.settings_card.dataset.setCurrentIndex(ta.settings_card.dataset.findData("di"))
    assert "clip-cpu" not in _enabled_presets(ta) and "unet-tiny" in _enabled_presets(ta)
    assert ta.settings_card.preset.currentData() == "pixel-small" and ta.settings_card.batch.value() == 64
    # a mismatch forced past the list is refused with the reason, and nothing is sent
    window.app.training.config["preset"] = "clip-tiny"
    ta.controls.start_btn.click()
    assert not client.commands("train")
    assert window.app.last_error.startswith("clip-tiny is a network for clips and this dataset holds images")


def test_a_clip_dataset_estimate_counts_clips_and_its_previews_play(window, client, tmp_path, qtbot):
    _datasets(client, tmp_path)
    window.app.use_dataset("dc")
    window.show_area("Train")
    ta = window.train_area
    qtbot.waitUntil(lambda: bool(client.commands("estimate")), timeout=3000)
    est = client.last("estimate")
    assert est.args["config"]["preset"] == "clip-cpu"
    client.push(
        P.Result(
            id=est.id,
            data={
                "img_per_s": 3.5,
                "params": 629540,
                "peak_memory_bytes": 2**27,
                "seconds": 60,
                "steps": None,
            },
        )
    )
    assert ta.settings_card.measured.text().startswith(
        "Measured now: 3.5 clips/s of 4 frames, training memory ≈ 128 MB"
    )
    ta.controls.start_btn.click()
    job = client.last("train").id
    assert client.last("train").args["config"]["preset"] == "clip-cpu"
    clips = moving_squares(4)
    client.run_job(job, "train", P.Preview(id=job, step=10, images=steps_of(clips), caption="step 10"))
    assert ta.previews.preview.frames == T and ta.previews.preview_player.timer.isActive()
    assert ta.previews.preview_player.timer.interval() == round(1000 / 6)  # the dataset's fps
    shown = frames_over_ticks(ta.previews.preview, ta.previews.preview_player, 2 * T)
    assert all(shown[k] != shown[k + 1] for k in range(2 * T - 1))
    assert all(shown[k] == shown[k + T] for k in range(T))
    assert ta.previews.preview.caption.startswith("step 10 · frame")


def test_a_clip_speed_seen_here_is_remembered_for_its_frame_count(window, client, tmp_path):
    _datasets(client, tmp_path)
    window.app.use_dataset("dc")
    window.show_area("Train")
    tm, card = window.app.training, window.train_area.settings_card
    assert tm.calibration_key(16) == f"calibration/clip-cpu/16/auto/{T}f"
    card.settings.setValue("calibration/clip-cpu/16/auto/16f", 50.0)  # clips of another length
    card.show_estimate()
    assert 16 not in tm.speeds()
    card.settings.setValue(f"calibration/clip-cpu/16/auto/{T}f", 3.0)
    card.show_estimate()
    assert tm.speeds()[16] == 3.0


def test_a_finetune_of_an_image_model_on_clips_is_refused_with_the_reason(window, client, tmp_path):
    client.catalog["models"] = [{"id": "m1", "path": "/m1", "info": {"objective": "flow", "kind": "image"}}]
    _datasets(client, tmp_path)
    window.app.training.setup_finetune("m1", "dc")
    window.train_area.controls.start_btn.click()
    assert not client.commands("finetune")
    assert window.app.last_error.startswith("model m1 makes images and this dataset holds clips")


def test_large_steps_decode_off_the_gui_thread_and_the_newest_wins(window, client, qtbot, monkeypatch):
    import desktop.ui.clips as clips_ui

    monkeypatch.setattr(clips_ui, "SYNC_LIMIT", 0)  # every payload counts as large
    clip_model(window, client)
    ga = window.generate_area
    window.show_area("Generate")
    ga.settings_card.show_combo.setCurrentIndex(ga.settings_card.show_combo.findData("x0"))
    ga.controls.generate_btn.click()
    job = client.last("sample").id
    clips = moving_squares()
    client.run_job(job, "sample", P.Step(id=job, i=1, n=10, x0=steps_of(clips // 4)))
    # returned at once; the picture comes later
    assert ga.live_card.x0_view.decoding and ga.live_card.x0_view.frames == 0
    for i, level in ((2, 2), (3, 1)):  # arrive while the first is decoding: only the newest is kept
        client.push(P.Step(id=job, i=i, n=10, x0=steps_of(clips // level)))
    qtbot.waitUntil(
        lambda: not ga.live_card.x0_view.decoding and ga.live_card.x0_view.frames == T, timeout=5000
    )
    f = ga.live_card.x0_view.frame
    assert ga.live_card.x0_view.image.pixelColor(f, 0).red() == 255  # step 3's clip, at the clock's frame
    assert ga.live_card.player.timer.isActive()


def test_export_clips_asks_for_a_folder_and_exports_the_selected_clips(
    window, client, tmp_path, monkeypatch, qtbot
):
    from PySide6.QtWidgets import QFileDialog

    clip_model(window, client)
    ga = window.generate_area
    window.show_area("Generate")
    assert ga.settings_card.export_clips_btn.isVisibleTo(window)
    assert not ga.settings_card.export_clips_btn.isEnabled()  # nothing yet
    ga.controls.generate_btn.click()
    job = client.last("sample").id
    traj, _ = _clip_trajectory(tmp_path / "ss", num=3)
    client.run_job(
        job,
        "sample",
        P.Done(
            id=job,
            results=P.SampleDone(sample_set="ss", out_dir=str(traj.parent), trajectory=str(traj)).to_dict(),
        ),
    )
    assert ga.settings_card.export_clips_btn.isEnabled()
    asked: list[str] = []

    def dialog(parent, title, *rest):  # noqa: ANN001, ANN202 - QFileDialog's signature
        asked.append(title)
        return answer

    monkeypatch.setattr(QFileDialog, "getExistingDirectory", staticmethod(dialog))
    answer = ""  # the person cancels the dialog: nothing is sent
    ga.settings_card.export_clips_btn.click()
    assert asked == ["Export the clips into"] and not client.commands("export")
    answer = str(tmp_path / "out")
    ga.results_card.results.item(2).setSelected(True)
    ga.results_card.results.item(0).setSelected(True)
    ga.settings_card.export_fmt.setCurrentIndex(ga.settings_card.export_fmt.findData("webm"))
    ga.settings_card.export_clips_btn.click()
    cmd = client.last("export")
    assert cmd.args == {
        "sample_set": "ss",
        "what": "clips",
        "format": "webm",
        "out": answer,
        "indices": [0, 2],
        "fps": 5.0,  # the clip's own rate, as the export rate defaults to for a clip model
        "scale": 4,
    }
    paths = [f"{answer}/ss-sample_0000{k}.webm" for k in (0, 2)]
    with qtbot.waitSignal(window.app.generation.exported) as sig:
        client.run_job(
            cmd.id,
            "export",
            P.Done(
                id=cmd.id, results=P.ExportDone(export="e1", path=answer, what="clips", paths=paths).to_dict()
            ),
        )
    assert sig.args == [answer]
    # none selected: all of them; the denoising export stays one video (the engine plays the clip)
    ga.results_card.results.clearSelection()
    ga.export_clips_to(answer)
    assert "indices" not in client.last("export").args
    video = str(tmp_path / "denoising.mp4")
    monkeypatch.setattr(QFileDialog, "getSaveFileName", staticmethod(lambda *a, **k: (video, "")))
    ga.settings_card.export_btn.click()
    assert "what" not in client.last("export").args and client.last("export").args["sample_set"] == "ss"


def test_a_clip_at_a_fractional_rate_exports_at_that_rate(window, client, tmp_path):
    info = dict(CLIP_INFO, fps=7.5)  # 30 fps footage taken every 4th frame
    client.catalog["models"] = [{"id": "mc", "name": "squares", "path": "/mc", "info": info}]
    client.start()
    window.app.library.select("models", "mc")
    ga = window.generate_area
    window.show_area("Generate")
    card = ga.settings_card
    assert card.export_fps.value() == 7.5 and card.export_fps.text() == "7.5 fps"
    ga.controls.generate_btn.click()
    job = client.last("sample").id
    traj, _ = _clip_trajectory(tmp_path / "ss", num=2)
    done = P.SampleDone(sample_set="ss", out_dir=str(traj.parent), trajectory=str(traj))
    client.run_job(job, "sample", P.Done(id=job, results=done.to_dict()))
    ga.export_clips_to(str(tmp_path / "out"))
    assert client.last("export").args["fps"] == 7.5


def test_export_clips_is_offered_only_for_clips(window, client):
    client.catalog["models"] = [{"id": "mi", "path": "/mi", "info": {"objective": "flow", "kind": "image"}}]
    client.start()
    window.app.library.select("models", "mi")
    ga = window.generate_area
    window.show_area("Generate")
    assert ga.settings_card.model.currentData() == "mi"
    assert not ga.settings_card.export_clips_btn.isVisibleTo(window)
    assert ga.export_clips_to("/anywhere") is None and not client.commands("export")
    assert window.app.last_error.startswith("No clips to export yet")
