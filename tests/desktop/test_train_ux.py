"""The Train area's feedback: Stop answers at once, and settings that do not apply say why."""

from __future__ import annotations

from core.engine import protocol as P
from desktop.scripted import trained


def _running(window, client) -> str:  # noqa: ANN001
    window.app.use_dataset("ds1")
    window.show_area("Train")
    job = window.app.training.start()
    client.run_job(job, "train", P.Metric(id=job, step=1, values={"loss": 1.0}))
    return job


def test_stop_says_stopping_at_once_and_holds_the_buttons_until_the_run_ends(window, client):
    job = _running(window, client)
    c = window.train_area.controls
    assert c.stop_btn.isEnabled() and c.pause_btn.isEnabled()
    c.stop_btn.click()
    assert [x.cmd for x in client.sent if x.cmd in P.CONTROL_COMMANDS] == ["stop"]
    assert c.state_label.text() == "Stopping… saving the model"  # before the engine answers
    assert not c.stop_btn.isEnabled() and not c.pause_btn.isEnabled()
    assert not c.start_btn.isEnabled() and not c.extend_btn.isEnabled()
    assert window.app.training.live
    client.push(P.State(id=job, state="running"))  # a late state from the engine: still stopping
    assert c.state_label.text() == "Stopping… saving the model" and not c.stop_btn.isEnabled()
    from PySide6.QtWidgets import QApplication

    QApplication.processEvents()
    window.train_area.grab().save("/tmp/train_stopping.png")
    client.push(P.Done(id=job, state="stopped", results=trained("r1", "m1")))
    assert c.state_label.text() == "Stopped · model saved · run r1"
    assert c.start_btn.isEnabled() and c.extend_btn.isEnabled() and not c.stop_btn.isEnabled()
    assert not window.app.training.live


def test_stop_twice_sends_one_stop_and_cancel_still_works_while_stopping(app_model, client):
    client.start()
    app_model.use_dataset("ds1")
    tm = app_model.training
    job = tm.start()
    client.run_job(job, "train")
    tm.stop()
    tm.stop()
    tm.cancel()
    assert [x.cmd for x in client.sent if x.cmd in P.CONTROL_COMMANDS] == ["stop", "cancel"]
    assert tm.state == "stopping"
    client.push(P.Error(id=job, message="train cancelled", state="cancelled"))
    assert tm.state == "cancelled" and not tm.live


def test_schedule_is_off_under_flow_matching_and_says_why(window):
    card = window.train_area.settings_card
    card.objective.setCurrentIndex(card.objective.findData("flow"))
    assert not card.schedule.isEnabled()
    assert "Flow matching" in card.schedule.toolTip() and "only" in card.schedule.toolTip()
    window.show_area("Train")
    window.train_area.grab().save("/tmp/train_settings.png")
    for objective in ("eps", "v", "x0"):
        card.objective.setCurrentIndex(card.objective.findData(objective))
        assert card.schedule.isEnabled(), objective
        assert "Flow matching" not in card.schedule.toolTip() and card.schedule.toolTip()
        assert window.app.training.config["objective"] == objective
    card.objective.setCurrentIndex(card.objective.findData("flow"))
    assert not card.schedule.isEnabled()


def test_every_setting_has_a_plain_words_tooltip(window):
    card = window.train_area.settings_card
    controls = {
        "dataset": card.dataset,
        "preset": card.preset,
        "objective": card.objective,
        "schedule": card.schedule,
        "resolution": card.resolution,
        "budget steps": card.budget_steps,
        "budget minutes": card.budget_minutes,
        "budget value": card.budget_value,
        "batch": card.batch,
        "learning rate": card.lr,
        "device": card.device,
    }
    empty = [name for name, w in controls.items() if not w.toolTip().strip()]
    assert empty == []


def test_step_counts_are_singular_for_one(window):
    card, controls = window.train_area.settings_card, window.train_area.controls
    controls.extend_n.setValue(1)
    assert controls.extend_n.text() == "1 step"
    controls.extend_n.setValue(1500)
    assert controls.extend_n.text().endswith(" steps")
    card.budget_steps.setChecked(True)
    card.budget_value.setValue(1)
    assert card.budget_value.text() == "1 step"
    assert window.app.training.config["max_steps"] == 1
    card.budget_value.setValue(2)
    assert card.budget_value.text() == "2 steps"
    card.budget_minutes.setChecked(True)
    assert card.budget_value.text() == "2 min"
