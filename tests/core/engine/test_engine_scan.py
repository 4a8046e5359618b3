"""Scan jobs through a real engine process."""

from __future__ import annotations

import pytest

from core.engine import protocol as P
from core.engine.client import EngineClient


@pytest.fixture(scope="module")
def engine(tmp_path_factory):
    with EngineClient(tmp_path_factory.mktemp("ws")) as eng:
        yield eng


def test_scan_reports_progress_accepts_good_files_and_quarantines_the_broken_one(engine, image_folder):
    job = engine.send("scan", {"sources": [str(image_folder)], "settings": {"resolution": 16}})
    events = engine.events(job)
    types = [e.type for e in events]
    assert types[:3] == ["accepted", "state", "state"] and types[-1] == "done", types
    assert "progress" in types
    done = events[-1]
    report = done.results["report"]
    assert len(report["accepted"]) == 24
    [rej] = report["rejected"]
    assert rej["path"].endswith("broken.jpg") and rej["reason"]
    datasets = engine.request("list", {"what": "datasets"})["items"]
    assert [d["id"] for d in datasets] == [done.results["dataset"]]
    assert datasets[0]["n_items"] == 24


def test_a_folder_of_only_broken_files_fails_with_its_rejection_list(engine, tmp_path):
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "a.png").write_bytes(b"")
    (bad / "b.png").write_text("just text")
    job = engine.send("scan", {"sources": [str(bad)], "settings": {"resolution": 16}})
    err = engine.events(job)[-1]
    assert isinstance(err, P.Error) and err.state == "failed"
    assert "nothing to train on" in err.message
    assert sorted(r["path"].rsplit("/", 1)[-1] for r in err.data["report"]["rejected"]) == ["a.png", "b.png"]
    assert engine.alive


def test_estimate_measures_speed_and_memory_before_training(engine, image_folder):
    ds = engine.wait(
        engine.send("scan", {"sources": [str(image_folder)], "settings": {"resolution": 16}}), "done"
    )
    small = engine.request(
        "estimate",
        {
            "dataset": ds.results["dataset"],
            "config": {"preset": "unet-tiny", "batch_size": 4, "max_steps": 100, "max_minutes": None},
        },
        120,
    )
    big = engine.request(
        "estimate",
        {
            "dataset": ds.results["dataset"],
            "config": {"preset": "unet-tiny", "batch_size": 32, "max_minutes": 2},
        },
        120,
    )
    assert small["img_per_s"] > 0 and small["params"] > 1000
    assert small["seconds"] == pytest.approx(100 * 4 / small["img_per_s"]) and small["steps"] is None
    assert big["steps"] > 0 and big["seconds"] is None
    # Parameters cost the same; activations grow with the batch.
    assert big["param_bytes"] == small["param_bytes"] == small["params"] * 4 * 5
    assert big["activation_bytes"] == pytest.approx(8 * small["activation_bytes"], rel=0.05)
    assert big["peak_memory_bytes"] > small["peak_memory_bytes"]
