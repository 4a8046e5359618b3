"""The Health area driven by scripted engine events: a model and its dataset, a check with progress
and cancel, the verdict, the memorised share, copies framed first, the kept result, the empty state."""

from __future__ import annotations

import json

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel

from core.engine import protocol as P
from desktop.screenshot import _png_b64, blossoms
from desktop.ui.health_area import PixelThumb

CURVE = [[100, 0.5], [200, 0.2], [300, 0.12], [400, 0.13]]


def _library(client, tmp_path, evaluation=None) -> np.ndarray:
    """A dataset of 8 pictures, the run that trained on it and its model; returns the pictures."""
    train = blossoms(8, res=16)
    client.catalog["datasets"] = [
        {"id": "ds-a", "name": "garden", "kind": "image", "path": str(tmp_path / "ds"), "n_items": 8}
    ]
    client.catalog["runs"] = [
        {"id": "run-a", "name": "garden", "status": "done", "steps": 400, "path": str(tmp_path / "run")}
    ]
    model = {"id": "model-a", "name": "garden · flow", "run_id": "run-a", "path": str(tmp_path / "run" / "model"),
             "info": {"objective": "flow", "preset": "unet-tiny", "resolution": 16}}  # fmt: skip
    if evaluation is not None:
        model["evaluation"] = evaluation
    client.catalog["models"] = [model]
    client.metrics["run-a"] = {"val_loss": CURVE}
    return train


def _results(train: np.ndarray) -> dict:
    """An evaluate job's results: sample 0 is new, sample 1 *is* training picture 3 (flagged)."""
    new = blossoms(1, res=16, seed=99)[0]
    pair = lambda i, img, rows, d1, d2, copy: {  # noqa: E731
        "index": i, "sample": _png_b64(img), "nearest": [_png_b64(train[r]) for r in rows], "rows": rows,
        "d1": d1, "d2": d2, "ratio": d1 / d2, "memorized": copy,
    }  # fmt: skip
    return {
        "model": "model-a",
        "dataset": "ds-a",
        "created": 0.0,
        "num_samples": 2,
        "sampler": "flow_euler",
        "steps": 20,
        "guidance": 0.75,
        "fd": 40.0,
        "fd_real": 10.0,
        "fd_noise": 300.0,
        "kid": 0.02,
        "swd": {"swd": 5.0},
        "memorized_share": 0.5,
        "memorized_count": 1,
        "ratio_threshold": 1 / 3,
        "verdict": {
            "label": "copying",
            "message": "copying your pictures — add data or stop earlier",
            "reason": "50% of the samples are near-copies of training pictures (more than 5%)",
        },
        "heldout_series": {"val_loss": CURVE},
        "pairs": [pair(0, new, [1, 2, 4], 3.0, 3.5, False), pair(1, train[3], [3, 0, 5], 0.0, 2.9, True)],
    }


def test_a_check_of_a_model_and_its_dataset_shows_the_verdict_the_share_and_the_copy_first(
    window, client, tmp_path
):
    train = _library(client, tmp_path)
    window.app.library.refresh()
    window.show_area("Health")
    area, hm = window.health_area, window.app.health
    assert area.pages.currentIndex() == 1 and area.model.currentData() == "model-a"
    assert hm.model == "model-a"
    # before the first check: what the check does, and the run's held-out curve already
    assert area.verdict_text.text() == "Not checked yet"
    assert "draws 32 pictures" in area.verdict_reason.text() and "minute" in area.verdict_reason.text()
    xs, ys = area.val_curve.getData()
    assert list(xs) == [100, 200, 300, 400] and list(ys) == [0.5, 0.2, 0.12, 0.13]
    assert "lowest 0.12 at step 300" in area.curve_text.text()

    area.check_btn.click()
    job = client.last("evaluate")
    assert job.args == {"model": "model-a", "num": 32}
    client.run_job(job.id, "evaluate", P.Progress(id=job.id, done=30, total=67, message="sampling 32 images"))
    assert area.progress.isVisibleTo(window) and area.cancel_btn.isVisibleTo(window)
    assert area.progress.value() == int(1000 * 30 / 67) and area.status.text() == "sampling 32 images"
    assert window.job_label.text().startswith("Checking health · 30/67 steps")
    assert not area.check_btn.isEnabled()

    client.push(P.Done(id=job.id, results=_results(train)))
    assert not area.progress.isVisibleTo(window) and area.check_btn.isEnabled()
    assert area.verdict_text.text() == "Copying your pictures — add data or stop earlier"
    assert area.verdict_reason.text().startswith("50% of the samples are near-copies")
    assert area.banner.property("state") == "copying"
    assert area.share.text() == "50.0%"  # as `noisebloom evaluate` prints it
    assert area.share_line.text() == "1 of 2 samples copies a training picture"
    assert "a third as far" in area.rule_line.text()
    assert "FD 40 (real pictures 10, noise 300)" in area.figures.text()
    assert "2 samples, flow_euler 20 steps, autoguidance 0.75" in area.figures.text()
    # the copy comes first, framed and tagged, beside the training picture it copies
    views = area.pairs.views
    assert [v.memorized for v in views] == [True, False]
    assert views[0].property("copy") is True and views[0].tag.text() == "copy"
    assert not views[1].findChildren(QLabel, "copytag")
    thumbs = views[0].findChildren(PixelThumb)
    assert len(thumbs) == 4 and not thumbs[0].pixmap().isNull()
    assert thumbs[0].image == thumbs[1].image != thumbs[2].image  # the sample, then its original


def test_the_last_check_is_shown_without_a_rerun_and_cancel_sends_the_job(window, client, tmp_path):
    train = _library(client, tmp_path)
    kept = tmp_path / "model-a.json"
    kept.write_text(json.dumps(_results(train)))
    client.catalog["models"][0]["evaluation"] = {"path": str(kept)}
    window.app.library.refresh()
    window.show_area("Health")
    area = window.health_area
    assert area.verdict_text.text().startswith("Copying your pictures")
    assert area.share.text() == "50.0%" and len(area.pairs.views) == 2
    assert area.check_btn.text() == "Check again" and not client.commands("evaluate")

    area.check()
    job = client.last("evaluate")
    client.run_job(job.id, "evaluate")
    area.cancel_btn.click()
    assert client.last("cancel").args == {"job": job.id}
    client.push(P.Error(id=job.id, message="evaluate cancelled", state="cancelled"))
    assert area.status.text() == "check cancelled" and area.share.text() == "50.0%"
    assert not window.message.isVisible() or window.message.level == "info"


def test_a_failed_check_is_one_line_in_the_message_bar(window, client, tmp_path):
    _library(client, tmp_path)
    window.app.library.refresh()
    window.show_area("Health")
    window.health_area.check()
    job = client.last("evaluate")
    message = (
        "evaluate: this model has no training run in the workspace to take its dataset from; pass the dataset"
    )
    client.push(P.Error(id=job.id, message=message, state="failed"))
    assert window.message.isVisible() and window.message.text.text() == message
    assert window.health_area.check_btn.isEnabled()


def test_with_no_model_the_area_says_to_train_one(window, client, qtbot):
    window.show_area("Health")
    area = window.health_area
    assert area.pages.currentIndex() == 0 and not area.check_btn.isVisibleTo(window)
    texts = " ".join(w.text() for w in area.pages.widget(0).findChildren(QLabel))
    assert "No model to check yet" in texts and "Train a model" in texts
    window._primary_action()  # Ctrl+Return in the Health area: nothing to check, one line says why
    assert window.message.isVisible() and "choose a model first" in window.message.text.text()
    qtbot.keyClick(window, Qt.Key.Key_1, Qt.KeyboardModifier.ControlModifier)
    qtbot.keyClick(window, Qt.Key.Key_4, Qt.KeyboardModifier.ControlModifier)
    assert window.current_area() == "Health"


def _copying(job: str, step: int, count: int) -> P.Metric:
    """A training's copying check as the trainer reports it: ``count`` of 32 samples copy a picture."""
    return P.Metric(
        id=job,
        step=step,
        values={"memorized_share": count / 32, "memorized_count": count, "memorized_checked": 32},
    )


def test_while_a_first_run_trains_its_copying_check_is_a_line_and_past_the_threshold_a_warning(
    window, client
):
    window.show_area("Health")
    area = window.health_area
    assert not area.copies.isVisibleTo(window)  # no check yet: nothing to say
    window.app.use_dataset("ds-a")
    job = window.app.training.start()
    client.run_job(job, "train", P.Metric(id=job, step=10, values={"loss": 0.9}), _copying(job, 250, 1))
    assert area.pages.currentIndex() == 0  # no model yet: the line shows above the empty page
    assert area.copies.isVisibleTo(window) and area.copies.property("state") == ""
    assert area.copies_text.text() == (
        "Training, step 250: 1 of 32 test samples (3.1%) matches one of your pictures; a warning shows above 5%."
    )

    client.push(_copying(job, 500, 4))  # 12.5%: past the 5% at which a check says "copying"
    assert area.copies.property("state") == "copying"
    assert area.copies_text.text() == (
        "Samples are starting to copy your pictures: at step 500, 4 of 32 test samples (12.5%) match one of "
        "your pictures. Stop now, or add pictures."
    )

    client.push(_copying(job, 750, 0))
    assert area.copies.property("state") == ""
    assert (
        "no test sample copies your pictures (highest so far 12.5%, at step 500)" in area.copies_text.text()
    )
    window.app.training.start()  # a new run starts with no check
    assert not area.copies.isVisibleTo(window)


def test_the_copying_warning_starts_just_past_the_checks_copying_share():
    from desktop.model.health import COPY_WARNING_SHARE, copying_words

    def words(share: float) -> tuple[str, bool]:
        copies = {"step": 250, "share": share, "count": round(share * 100), "checked": 100, "highest": share,
                  "highest_step": 250, "live": False}  # fmt: skip
        return copying_words(copies)

    assert COPY_WARNING_SHARE == 0.05
    assert words(0.05) == (
        "Last training, step 250: 5 of 100 test samples (5.0%) match one of your pictures; a warning shows above 5%.",
        False,
    )
    assert words(0.06)[1] and words(0.06)[0].startswith("Samples are starting to copy your pictures")
