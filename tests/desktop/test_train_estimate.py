"""The Train area's estimate during a run: one line from the run's own progress (on a time budget the
bar follows the clock and the steps are "so far", with an expected total that only narrows), and a
plain warning when the run trains several times slower than measured."""

from __future__ import annotations

import os

from core.engine import protocol as P
from desktop.scripted import trained
from tests.desktop.test_train_forecast import _measure, _pics


def _timed(job: str, elapsed: float, step: int, low: int, high: int) -> P.Progress:
    return P.Progress(
        id=job,
        done=elapsed,
        total=300.0,
        unit="s",
        eta_s=300.0 - elapsed,
        message=f"{step:,} steps so far, about {low:,}–{high:,} in all",
        step=step,
        expected_steps=[low, high],
    )


def test_a_minutes_run_shows_its_own_steps_so_far_and_the_bar_follows_the_clock(window, client, qtbot):
    _pics(window, client, resolution=32)
    window.train_area.settings_card.budget_value.setValue(5)
    _measure(client, qtbot, img_per_s=100.0, resolution=32)
    card, bar = window.train_area.settings_card, window.train_area.controls.progress
    assert card.estimate.text().startswith("About ")  # before Start: the forecast
    job = window.app.training.start()
    assert card.estimate.text() == "This run: starting…"
    client.run_job(job, "train", _timed(job, 30.0, 120, 900, 1300))
    first = bar.value()
    assert card.estimate.text() == "This run: 120 steps so far, about 900–1,300 in all · 4 min 30 s left"
    assert "About " not in card.estimate.text() and "Measured now" not in card.measured.text()
    # the engine's step total shrinks as the speed settles: the bar still only moves on, with time
    client.push(_timed(job, 60.0, 200, 950, 1100))
    assert bar.value() > first == 100
    assert card.estimate.text() == "This run: 200 steps so far, about 950–1,100 in all · 4 min 00 s left"
    line = window.app.jobs.current().describe()
    assert line == "Training · 200 steps so far, about 950–1,100 in all · 4 min 00 s left"
    client.push(P.Metric(id=job, step=200, values={"loss": 0.4, "img_per_s": 95.0}))
    assert card.measured.text() == "Now: ≈ 95 images/s at 32 px"
    window.resize(1280, 800)
    window.train_area.grab().save("/tmp/train_run_estimate.png")
    client.push(P.Done(id=job, state="done", results=trained("r1", "m1")))
    assert card.estimate.text().startswith("About ")  # the forecast for the next run is back


def test_a_steps_run_says_its_step_of_the_total(window, client, qtbot):
    _pics(window, client, resolution=32)
    card = window.train_area.settings_card
    card.budget_steps.setChecked(True)
    card.budget_value.setValue(2000)
    job = window.app.training.start()
    client.run_job(job, "train", P.Progress(id=job, done=120, total=2000, unit="steps", rate=3.0, eta_s=626))
    assert card.estimate.text() == "This run: step 120 of 2,000 · 10 min 26 s left"


def test_a_run_that_collapses_says_so_plainly_and_is_not_remembered(window, client, qtbot, monkeypatch):
    _pics(window, client, resolution=32)
    _measure(client, qtbot, img_per_s=100.0, resolution=32)
    card, tm = window.train_area.settings_card, window.app.training
    job = tm.start()
    client.run_job(job, "train", P.Metric(id=job, step=10, values={"loss": 0.5, "img_per_s": 90.0}))
    assert tm.slowdown() is None and card.estimate.property("role") is None
    remembered = card.settings.value(tm.calibration_key())
    assert float(remembered) == 90.0
    monkeypatch.setattr(os, "getloadavg", lambda: (float((os.cpu_count() or 1) + 2), 0.0, 0.0))
    client.push(P.Metric(id=job, step=20, values={"loss": 0.5, "img_per_s": 20.0}))
    assert tm.slowdown() == 5.0
    assert card.estimate.text().endswith(
        "\nTraining is running 5x slower than measured (20 images/s now, 100 before): another program is "
        "using the processor."
    )
    assert card.estimate.property("role") == "warning"
    assert float(card.settings.value(tm.calibration_key())) == 90.0  # a busy machine's speed is not kept
    window.resize(1280, 800)
    window.train_area.grab().save("/tmp/train_run_slowdown.png")
    # nothing else is running: the window does not blame another program
    monkeypatch.setattr(os, "getloadavg", lambda: (0.5, 0.0, 0.0))
    assert tm.slowdown_text() == (
        "Training is running 5x slower than measured (20 images/s now, 100 before): the processor is busy "
        "or has slowed down "
        "(another program, power saving or heat)."
    )
    client.push(P.Metric(id=job, step=30, values={"loss": 0.5, "img_per_s": 80.0}))
    assert tm.slowdown() is None and "slower" not in card.estimate.text()
