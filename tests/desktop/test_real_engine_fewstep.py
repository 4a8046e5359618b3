"""The Generate area against the real engine process: a tiny flow model trained, made fast by the
``make_fast`` job (2 steps), then quick seed changes while the engine is busy: every superseded
request is cancelled and only the latest one's result is shown, with its two live steps and its
scrubber."""

from __future__ import annotations

import pytest

from desktop.engine_client import EngineClient
from desktop.model.app import AppModel
from desktop.model.generation import FOLLOW_MS
from desktop.ui.generate_area import GenerateArea
from tests.core.engine.conftest import make_folder

pytestmark = pytest.mark.slow

HELLO_MS = 120_000
JOB_MS = 300_000
TINY = {
    "preset": "unet-tiny",
    "objective": "flow",
    "batch_size": 4,
    "max_minutes": None,
    "max_steps": 4,
    "warmup": 2,
    "preview_every": 1000,
    "checkpoint_every": 1000,
    "val_every": 1000,
    "log_every": 1,
    "device": "cpu",
}


def _done(qtbot, app: AppModel, job: str, ms: int = JOB_MS) -> None:
    qtbot.waitUntil(lambda: not app.jobs.jobs[job].active, timeout=ms)
    assert app.jobs.jobs[job].state == "done", app.jobs.jobs[job].error


def test_a_model_made_fast_follows_quick_seed_changes_and_shows_only_the_latest(
    qapp, qtbot, tmp_path, monkeypatch
):
    monkeypatch.setenv("OMP_NUM_THREADS", "1")  # the engine inherits it: one core of the machine's
    client = EngineClient(tmp_path / "ws", auto_restart=False)
    app = AppModel(client)
    area = GenerateArea(app)
    qtbot.addWidget(area)
    gm, card = app.generation, area.settings_card
    sent: list[tuple[str, dict]] = []
    send = client.send

    def recording(cmd, args=None, **kw):  # noqa: ANN001, ANN202
        sent.append((cmd, dict(args or {})))
        return send(cmd, args, **kw)

    monkeypatch.setattr(client, "send", recording)
    try:
        with qtbot.waitSignal(client.hello_received, timeout=HELLO_MS):
            client.start()
        pics = make_folder(tmp_path / "blobs", n=16, size=16, broken=False)
        scan = app.submit("scan", {"sources": [str(pics)], "settings": {"resolution": 16}})
        _done(qtbot, app, scan)
        dataset = app.jobs.jobs[scan].results["dataset"]
        train = app.submit("train", {"dataset": dataset, "config": TINY})
        _done(qtbot, app, train)
        model = app.jobs.jobs[train].results["model"]
        qtbot.waitUntil(lambda: card.model.findData(model) >= 0, timeout=30_000)  # the library lists it
        card.select_model(model)
        assert gm.model == model
        assert card.fast_btn.isEnabled() and "fewstep" not in gm.samplers()

        fast = gm.make_fast(steps=2)
        assert card.fast_btn.text() == "Stop making fast"
        _done(qtbot, app, fast)
        qtbot.waitUntil(lambda: gm.has_map, timeout=30_000)  # the refreshed catalog row
        assert "fewstep" in [card.sampler.itemData(i) for i in range(card.sampler.count())]
        assert not card.fast_btn.isEnabled()

        # a long generation of someone else's keeps the engine busy, so the requests below queue
        busy = app.submit("sample", {"model": model, "config": {"num": 1, "steps": 900, "sampler": "unipc"}})
        qtbot.waitUntil(lambda: app.jobs.jobs[busy].state == "running", timeout=30_000)
        card.num.setValue(2)
        card.steps.setValue(2)  # the map becomes the sampler; this change samples by itself
        assert card.sampler.currentData() == "fewstep" and not card.guidance.isEnabled()
        qtbot.waitUntil(lambda: gm.job_id is not None, timeout=5 * FOLLOW_MS)
        requests = [gm.job_id]
        for seed in (11, 12, 13):
            card.seed.setValue(seed)
            qtbot.waitUntil(lambda: gm.job_id != requests[-1], timeout=5 * FOLLOW_MS)
            requests.append(gm.job_id)
        assert app.jobs.jobs[busy].state == "running"  # so every request but the latest was live
        app.control("cancel", busy)
        latest, stale = requests[-1], requests[:-1]
        qtbot.waitUntil(lambda: gm.state in ("done", "failed", "cancelled"), timeout=JOB_MS)
        assert gm.state == "done" and gm.job_id == latest, app.last_error

        cancels = [args["job"] for cmd, args in sent if cmd == "cancel"]
        assert set(stale) <= set(cancels) and latest not in cancels
        qtbot.waitUntil(lambda: all(not app.jobs.jobs[j].active for j in stale), timeout=30_000)
        assert all(app.jobs.jobs[j].state == "cancelled" for j in stale)
        assert app.last_error == ""

        shown = app.jobs.jobs[latest].results
        assert gm.sample_set == shown["sample_set"]
        qtbot.waitUntil(lambda: app.library.get("sample_sets", gm.sample_set) is not None, timeout=30_000)
        config = app.library.get("sample_sets", gm.sample_set)["config"]
        assert config["seed"] == 13 and config["steps"] == 2
        assert [i for i, _ in gm.arrivals][-1] == 2 and gm.n == 2  # the live view saw both steps
        assert gm.trajectory is not None and len(gm.trajectory) == 2
        assert area.live_card.scrub.isEnabled() and area.live_card.scrub.maximum() == 1
        area.live_card.scrub.setValue(0)
        assert area.live_card.scrub_label.text() == "step 1 / 2"
        assert area.results_card.results.count() == 2
    finally:
        client.shutdown()
