"""Branching and exporting from the Generate area against the real engine (issue 26, items 8 and
9): the branch options and what they say, the step recorded as the scrubber shows it, a new seed
that changes the result, an export notice that floats (the page does not move) with "Open folder",
and one question before replacing a file. A tiny untrained DDPM model keeps every job well under
a second; one engine serves the module (starting it imports torch)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QSettings
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import QFileDialog

from desktop.engine_client import EngineClient
from desktop.model.app import AppModel
from desktop.model.library import generation_title
from desktop.ui import dialogs
from tests.desktop.conftest import delete_now

HELLO_MS = 120_000
JOB_MS = 120_000


@pytest.fixture(scope="module")
def engine_window(qapp, tmp_path_factory):
    from diffusers import DDPMPipeline

    from desktop.main_window import MainWindow
    from tests.core.sampling.conftest import scheduler_for, tiny_unet

    ws = tmp_path_factory.mktemp("ws")
    model = tmp_path_factory.mktemp("models") / "tiny-ddpm"
    DDPMPipeline(unet=tiny_unet(1), scheduler=scheduler_for("eps")).save_pretrained(
        model, safe_serialization=True
    )
    client = EngineClient(ws)
    app = AppModel(client)
    settings = QSettings(str(ws / "gui.ini"), QSettings.Format.IniFormat)
    win = MainWindow(app, settings, start_engine=False)
    win.resize(1280, 820)
    win.show()
    client.start()
    yield win, client, model
    client.auto_restart = False
    client.shutdown()
    delete_now(win)


def _generate(win, qtbot, model: Path, sampler: str, steps: int = 6) -> None:
    gm = win.app.generation
    qtbot.waitUntil(lambda: win.app.engine_state == "ready", timeout=HELLO_MS)
    win.show_area("Generate")
    gm.set_model(str(model), "eps", {"objective": "eps"})
    for name, value in (("steps", steps), ("num", 1), ("seed", 5)):
        gm.set_config(name, value)
    gm.set_config("sampler", sampler)
    gm.generate()
    qtbot.waitUntil(lambda: gm.state in ("done", "failed"), timeout=JOB_MS)
    assert gm.state == "done", win.message.text.text()


def _branch_dialog(win, monkeypatch, change) -> list[dialogs.BranchDialog]:
    """Answer the branch options with the real dialog, after ``change(dialog)``."""
    shown = []

    def answer(parent, gm):
        dlg = dialogs.BranchDialog(parent, gm)
        shown.append(dlg)
        change(dlg)
        return dlg.choice() if dlg.run.isEnabled() else None

    monkeypatch.setattr(dialogs, "branch_options", answer)
    return shown


def test_the_branch_records_the_step_the_scrubber_shows_and_a_new_seed_changes_it(
    engine_window, qtbot, monkeypatch
):
    win, _client, model = engine_window
    gm, live = win.app.generation, win.generate_area.live_card
    _generate(win, qtbot, model, "ddpm")
    parent_final = np.array(gm.trajectory.final)
    live.scrub.setValue(3)
    assert live.scrub_label.text() == "step 4 / 6"
    shown = _branch_dialog(win, monkeypatch, lambda dlg: dlg.seed.setValue(99))
    live.branch_btn.click()
    assert shown and shown[0].note.isHidden() and "step 4" in shown[0].intro.text()
    qtbot.waitUntil(lambda: gm.state in ("done", "failed") and gm.kind == "branch", timeout=JOB_MS)
    assert gm.state == "done", win.message.text.text()
    assert gm.branched_from == 4
    header = win.generate_area.controls.step_label.text()
    assert header.startswith("Done · branched from step 4 · ") and " drawn · showing step " in header
    win.app.library.refresh()
    qtbot.waitUntil(lambda: any(s["id"] == gm.sample_set for s in win.app.library.items["sample_sets"]))
    row = win.app.library.get("sample_sets", gm.sample_set)
    assert row["config"]["branch_step"] == 4 and row["config"]["seed"] == 99
    assert "branch from step 4" in generation_title(row)
    assert np.abs(np.array(gm.trajectory.final, int) - parent_final).mean() > 3  # new noise, new image


def test_a_deterministic_sampler_with_nothing_changed_says_it_reproduces_the_original(
    engine_window, qtbot, monkeypatch, tmp_path
):
    win, _client, model = engine_window
    gm, live = win.app.generation, win.generate_area.live_card
    _generate(win, qtbot, model, "ddim")  # eta 0: no noise after the start
    live.scrub.setValue(2)
    sent = []
    monkeypatch.setattr(gm, "_submit", lambda kind, args: sent.append(args) or "job")
    shown = _branch_dialog(win, monkeypatch, lambda dlg: None)
    live.branch_btn.click()
    dlg = shown[0]
    assert not dlg.note.isHidden() and dlg.note.text().startswith("This will reproduce the original exactly")
    assert not dlg.run.isEnabled() and not dlg.seed.isEnabled() and not sent
    dlg.show()
    out = Path("/tmp/branch-ux")
    out.mkdir(exist_ok=True)
    dlg.grab().save(str(out / "branch-options-deterministic.png"))
    dlg.sampler.setCurrentIndex(dlg.sampler.findData("euler"))  # another sampler makes something new
    assert dlg.note.isHidden() and dlg.run.isEnabled() and dlg.steps.isEnabled()
    dlg.steps.setValue(8)
    dlg.grab().save(str(out / "branch-options-euler.png"))
    assert gm.branch_same_as_parent(**dlg.choice()) is None
    gm.branch(**dlg.choice())
    assert sent[-1]["sampler"] == "euler" and sent[-1]["steps"] == 8 and sent[-1]["step"] == 2
    dlg.close()


def test_the_export_notice_floats_offers_open_folder_and_replacing_is_asked_once(
    engine_window, qtbot, monkeypatch, tmp_path
):
    win, _client, model = engine_window
    gm, card = win.app.generation, win.generate_area.settings_card
    _generate(win, qtbot, model, "ddpm", steps=4)
    chosen = tmp_path / "exports" / "denoising.gif"
    chosen.parent.mkdir()
    chosen.write_bytes(b"old")  # the save dialog asked "Replace?" and the person said yes
    monkeypatch.setattr(QFileDialog, "getSaveFileName", staticmethod(lambda *a, **k: (str(chosen), "")))
    asked = []
    monkeypatch.setattr(dialogs, "ask", lambda *a, **k: asked.append(a) or "replace")
    opened = []
    monkeypatch.setattr(QDesktopServices, "openUrl", lambda url: opened.append(url) or True)
    card.export_fmt.setCurrentIndex(card.export_fmt.findData("gif"))
    area = win.areas
    before = (
        area.geometry(),
        win.generate_area.geometry(),
        card.export_btn.mapTo(win, card.export_btn.pos()),
    )
    replace_asked = []
    win.app.replace_asked.connect(lambda *a: replace_asked.append(a))
    with qtbot.waitSignal(gm.exported, timeout=JOB_MS):
        card.export_btn.click()
        assert card.export_btn.text() == "Exporting…" and not card.export_btn.isEnabled()
        card.export_btn.click()  # a second click while it runs writes nothing more
    qtbot.wait(50)
    assert not asked and not replace_asked  # the save dialog's question was the only one
    assert chosen.read_bytes()[:6] in (b"GIF89a", b"GIF87a")
    msg = win.message
    assert msg.isVisible() and msg.text.text() == f"Exported {chosen}"
    assert msg.action.isVisible() and msg.action.text() == "Open folder"
    after = (area.geometry(), win.generate_area.geometry(), card.export_btn.mapTo(win, card.export_btn.pos()))
    assert after == before  # the notice floats over the page: nothing under the pointer moved
    assert msg.parentWidget() is area.parentWidget()  # over the page, beside it in no layout
    win.grab().save("/tmp/branch-ux/export-notice.png")
    msg.action.click()
    assert [u.toLocalFile() for u in opened] == [str(chosen.parent)] and not msg.isVisible()
    assert len([j for j in win.app.jobs.jobs.values() if j.kind == "export"]) == 1
