"""The Train area's forecast before Start: one line from the latest measured speed, a warning with
the fix for a too-short budget, and Auto resolved to a size before the engine is asked to train."""

from __future__ import annotations

from core.engine import protocol as P
from desktop.model.training import DEFAULT_CONFIG

BATCH = DEFAULT_CONFIG["batch_size"]


def _pics(window, client, resolution: int = 64) -> None:  # noqa: ANN001
    client.catalog["datasets"] = [
        {
            "id": "ds1",
            "name": "emoji",
            "path": "/ds1",
            "kind": "image",
            "n_items": 300,
            "settings": {"resolution": resolution},
        }
    ]
    window.app.library.refresh()
    window.app.use_dataset("ds1")
    window.show_area("Train")


def _measure(client, qtbot, img_per_s: float, resolution: int = 64) -> None:  # noqa: ANN001
    qtbot.waitUntil(lambda: bool(client.commands("estimate")), timeout=3000)
    answer = {
        "img_per_s": img_per_s,
        "params": 72113,
        "peak_memory_bytes": 300 * 2**20,
        "resolution": resolution,
        "seconds": None,
        "steps": None,
    }
    client.push(P.Result(id=client.last("estimate").id, data=answer))


def test_a_too_short_budget_is_a_warning_that_says_what_would_work(window, client, qtbot):
    _pics(window, client)
    ta = window.train_area
    assert ta.settings_card.resolution.currentData() == "auto"  # Auto is the default
    ta.settings_card.budget_value.setValue(5)
    # about 70 steps in 5 minutes at 64 px: the busy machine of issue 23
    _measure(client, qtbot, img_per_s=70 * BATCH / 300)
    # Auto measures at the dataset's size, and with 5 minutes nothing reaches 1,000 steps: the smallest
    assert client.last("estimate").args["config"]["resolution"] is None
    assert ta.settings_card.resolution.currentText() == "Auto · 32 px"
    assert ta.settings_card.estimate.text() == (
        "About 280 steps in 5 min at 32 px: too few steps to learn anything — give it about 6 min."
    )
    assert ta.settings_card.estimate.property("role") == "warning"
    assert ta.settings_card.measured.text().startswith("Measured now: 14.9 images/s at 64 px")
    ta.settings_card.resolution.setCurrentIndex(ta.settings_card.resolution.findData(64))
    assert ta.settings_card.estimate.text() == (
        "About 70 steps in 5 min at 64 px: too few steps to learn anything — give it about 25 min."
    )
    window.resize(1280, 800)
    ta.grab().save("/tmp/train_forecast_short.png")
    # a budget long enough: plain style, what to expect
    ta.settings_card.resolution.setCurrentIndex(ta.settings_card.resolution.findData("auto"))
    ta.settings_card.budget_value.setValue(40)
    assert ta.settings_card.estimate.text() == (
        "About 2,240 steps in 40 min at 32 px: recognisable shapes. 48 px would need about 1 h 30 min."
    )
    assert ta.settings_card.estimate.property("role") is None


def test_auto_follows_the_measured_speed_and_start_sends_the_size_it_chose(window, client, qtbot):
    _pics(window, client)
    ta = window.train_area
    _measure(client, qtbot, img_per_s=200.0)  # 10 min at 64 px: 1,875 steps
    assert ta.settings_card.resolution.currentText() == "Auto · 64 px"
    assert ta.settings_card.estimate.text() == "About 1,875 steps in 10 min at 64 px: recognisable shapes."
    window.resize(1280, 800)
    ta.grab().save("/tmp/train_forecast_normal.png")
    job = window.app.training.start()
    assert client.last("train").id == job and client.last("train").args["config"]["resolution"] == 64
    # a slow speed seen in the run moves Auto down for the next Start
    client.run_job(job, "train", P.Metric(id=job, step=10, values={"loss": 0.5, "img_per_s": 30.0}))
    assert ta.settings_card.resolution.currentText() == "Auto · 32 px"
