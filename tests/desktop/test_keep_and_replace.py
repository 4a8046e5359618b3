"""Nothing is lost or replaced without the person's say: quitting while training keeps or discards
the run as chosen (and waits for it), a cancel that kept a run says so, and exports and saves ask
before they replace files. Dialogs are answered through ``desktop.ui.dialogs.ask``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QTimer

from core.engine import protocol as P
from desktop.main_window import CANCEL_TRAINING_TIP
from desktop.scripted import trained
from desktop.ui import dialogs
from desktop.ui.images import array_to_qimage
from tests.desktop.test_clips import _clip_trajectory, clip_model


class Answers:
    """Stands in for ``dialogs.ask``: records each question, answers with the next key."""

    def __init__(self, *keys: str, then=None) -> None:  # noqa: ANN001 - a callable run after answering
        self.keys = list(keys)
        self.then = then
        self.asked: list[dict] = []

    def __call__(self, parent, title, text, choices, detail="", default=None):  # noqa: ANN001, ANN204
        self.asked.append({"title": title, "text": text, "labels": [c[1] for c in choices], "detail": detail})
        key = self.keys.pop(0)
        if self.then is not None:
            QTimer.singleShot(50, self.then)  # the engine answers while the window waits
        return key


def _training(window, client) -> str:  # noqa: ANN001
    window.app.use_dataset("ds1")
    job = window.app.training.start()
    client.run_job(job, "train", P.Metric(id=job, step=1, values={"loss": 1.0}))
    window.owns_client = True  # as when the window started the engine itself: quitting ends it
    return job


def _record_shutdown(window, client, monkeypatch) -> list:  # noqa: ANN001
    """What had happened when the window shut the engine down: training state, control commands."""
    seen: list = []
    real = client.shutdown

    def shutdown(wait_ms=None) -> None:  # noqa: ANN001
        controls = [(c.cmd, c.args) for c in client.sent if c.cmd in P.CONTROL_COMMANDS]
        seen.append((window.app.training.state, controls))
        real(wait_ms)

    monkeypatch.setattr(client, "shutdown", shutdown)
    return seen


def test_quit_while_training_keep_stops_the_run_and_waits_before_shutting_down(window, client, monkeypatch):
    job = _training(window, client)
    seen = _record_shutdown(window, client, monkeypatch)
    waiting: list[str] = []

    def engine_stops() -> None:
        waiting.append(window.message.text.text())
        client.push(
            P.Done(
                id=job,
                state="stopped",
                results=trained("r1", "m1"),
            )
        )

    answers = Answers("keep", then=engine_stops)
    monkeypatch.setattr(dialogs, "ask", answers)
    window.close()
    assert answers.asked == [
        {
            "title": "Training is running",
            "text": "A training run is in progress. What should happen to it?",
            "labels": ["Keep the run and quit", "Discard the run and quit", "Don't quit"],
            "detail": "Keep: the run stops after the current step and its model is saved; you can "
            "resume or extend it later from the library. Discard: the run and everything it saved "
            "are deleted.",
        }
    ]
    assert waiting == ["Stopping the run and saving the model…"]
    assert seen == [("stopped", [("stop", {"job": job})])]  # stopped first, then shut down
    assert not window.isVisible()


def test_quit_while_training_discard_cancels_with_discard_and_waits(window, client, monkeypatch):
    job = _training(window, client)
    seen = _record_shutdown(window, client, monkeypatch)

    def engine_discards() -> None:
        client.push(P.Error(id=job, message="train cancelled; run r1 deleted", state="cancelled"))

    monkeypatch.setattr(dialogs, "ask", Answers("discard", then=engine_discards))
    window.close()
    assert seen == [("cancelled", [("cancel", {"job": job, "discard": True})])]
    assert not window.isVisible()


def test_quit_while_training_dont_quit_leaves_the_run_training(window, client, monkeypatch):
    _training(window, client)
    seen = _record_shutdown(window, client, monkeypatch)
    monkeypatch.setattr(dialogs, "ask", Answers("stay"))
    window.close()
    assert window.isVisible() and window.app.training.state == "running"
    assert seen == [] and not [c for c in client.sent if c.cmd in P.CONTROL_COMMANDS]
    monkeypatch.setattr(dialogs, "ask", Answers(None))  # Esc on the box: the same
    window.close()
    assert window.isVisible() and seen == []
    window.owns_client = False  # the fixture's own close


def test_a_cancel_that_keeps_the_run_says_so_and_not_cancelled(window, client):
    window.app.use_dataset("ds1")
    window.show_area("Train")
    tm, ta = window.app.training, window.train_area
    job = tm.start()
    client.run_job(job, "train", P.Metric(id=job, step=40, values={"loss": 0.5}))
    assert window.job_cancel.toolTip() == CANCEL_TRAINING_TIP
    assert "stopped and kept, not deleted" in CANCEL_TRAINING_TIP
    engine_says = (
        "run r1 has a checkpoint: cancel stopped and kept it; delete it from the library to remove it"
    )
    client.replies["cancel"] = {"kept": True, "message": engine_says}
    window.job_cancel.click()
    assert client.last("cancel").args == {"job": job}  # a plain cancel never asks to discard
    client.push(P.Log(id=job, level="warning", message=engine_says))
    client.push(
        P.Done(
            id=job,
            state="stopped",
            results=trained("r1", "m1"),
        )
    )
    assert tm.state == "stopped" and tm.kept
    assert window.message.text.text() == (
        "Run r1 was stopped and kept, not deleted: it had saved a checkpoint, so you can resume or "
        "extend it from the library. To remove it, delete it from the library."
    )
    assert window.message.level == "info"
    assert ta.controls.state_label.text() == "Stopped and kept · model saved · run r1"
    assert "ancel" not in ta.controls.state_label.text() + window.message.text.text()
    assert ta.controls.extend_btn.isEnabled()  # a stopped run: it can go on


def test_an_export_refused_for_existing_files_asks_and_resends_only_on_replace(
    window, client, tmp_path, monkeypatch
):
    clip_model(window, client)
    ga = window.generate_area
    window.show_area("Generate")
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
    out = tmp_path / "out"
    existing = [str(out / f"ss-sample_{k:05d}.mp4") for k in range(3)]

    def refuse(export_id: str) -> None:
        client.push(
            P.Error(
                id=export_id,
                message=f"export: {existing[0]} already exists (and 2 more); pass overwrite to replace them",
                state="failed",
                data={"existing": existing},
            )
        )

    cancel = Answers("cancel")
    monkeypatch.setattr(dialogs, "ask", cancel)
    first = ga.export_clips_to(str(out))
    assert "overwrite" not in client.last("export").args
    refuse(first)
    assert [(a["title"], a["text"], a["labels"]) for a in cancel.asked] == [
        ("Replace existing files?", f"Replace 3 files in {out}?", ["Replace", "Cancel"])
    ]
    assert cancel.asked[0]["detail"] == (
        "ss-sample_00000.mp4, ss-sample_00001.mp4, ss-sample_00002.mp4 already exist. "
        "Replace overwrites; Cancel leaves the files as they are."
    )
    assert len(client.commands("export")) == 1  # Cancel: nothing sent again
    assert window.message.text.text() == "Nothing was exported: the existing files were left as they were"
    assert window.app.last_error == ""

    monkeypatch.setattr(dialogs, "ask", Answers("replace"))
    second = ga.export_clips_to(str(out))
    refuse(second)
    sent = client.commands("export")
    assert len(sent) == 3 and sent[-1].args == dict(sent[-2].args, overwrite=True)
    client.run_job(
        sent[-1].id,
        "export",
        P.Done(
            id=sent[-1].id,
            results=P.ExportDone(export="e1", path=str(out), what="clips", paths=existing).to_dict(),
        ),
    )
    assert window.message.text.text() == f"Exported 3 clips to {out}"


def _png(path: Path, level: int) -> str:
    array_to_qimage(np.full((4, 4, 3), level, np.uint8)).save(str(path))
    return str(path)


def test_save_selected_never_replaces_files_without_asking(window, client, tmp_path, monkeypatch):
    client.catalog["models"] = [{"id": "m1", "path": "/m1", "info": {"objective": "flow"}}]
    client.start()
    ga, gm = window.generate_area, window.app.generation
    ga.controls.generate_btn.click()
    job = client.last("sample").id
    (tmp_path / "ss").mkdir()
    pngs = [_png(tmp_path / "ss" / f"sample_{k}.png", 60 * (k + 1)) for k in range(2)]
    client.run_job(
        job,
        "sample",
        P.Done(id=job, results=P.SampleDone(sample_set="ss", out_dir=str(tmp_path), images=pngs).to_dict()),
    )
    out = tmp_path / "saved"
    answers = Answers("cancel", "replace")
    monkeypatch.setattr(dialogs, "ask", answers)
    assert [p.name for p in ga.save_to(str(out))] == ["ss-000.png", "ss-001.png"]
    assert answers.asked == []  # nothing was there: nothing to ask
    mine = out / "ss-000.png"
    mine.write_bytes(b"the person's own file")
    assert ga.save_to(str(out)) == []  # Cancel
    assert answers.asked[-1]["text"] == f"Replace 2 files in {out}?"
    assert mine.read_bytes() == b"the person's own file"
    assert window.message.text.text() == f"Nothing was saved: the files in {out} were left as they were"
    assert len(ga.save_to(str(out))) == 2  # Replace
    assert mine.read_bytes() == Path(pngs[0]).read_bytes()
    mine.write_bytes(b"again")
    with pytest.raises(FileExistsError, match="already exists"):  # the model refuses unless told
        gm.save_selected(out)
    assert mine.read_bytes() == b"again"


def test_the_replace_question_names_the_files_and_the_real_box_answers_with_a_key(qtbot):
    assert dialogs.replace_question(["/x/a.gif"]) == (
        "Replace a.gif in /x?",
        "a.gif already exists. Replace overwrites; Cancel leaves the files as they are.",
    )
    question, detail = dialogs.replace_question([f"/{d}/f{k}.png" for d in "ab" for k in range(4)])
    assert question == "Replace 8 files?"
    assert detail.startswith("/a/f0.png, /a/f1.png, /a/f2.png, /a/f3.png, /b/f0.png and 3 more already")
    from PySide6.QtWidgets import QApplication, QMessageBox

    def press(label: str) -> None:
        box = QApplication.activeModalWidget()
        assert isinstance(box, QMessageBox) and box.defaultButton().text() == "Cancel"
        next(b for b in box.buttons() if b.text() == label).click()

    QTimer.singleShot(0, lambda: press("Replace"))
    assert dialogs.confirm_replace(None, ["/x/a.gif"]) is True
    QTimer.singleShot(0, lambda: press("Cancel"))
    assert dialogs.confirm_replace(None, ["/x/a.gif"]) is False
