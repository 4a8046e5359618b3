"""A real engine subprocess end to end: scan, train, sample with step events, export; the job
lifecycle (pause, resume, stop, cancel, queueing, queries while busy); kill -9 and resume."""

from __future__ import annotations

import random
import sqlite3
import time

import imageio.v3 as iio
import pytest

from core.engine import protocol as P
from core.engine.client import EngineClient

TINY = {
    "preset": "unet-tiny",
    "objective": "flow",
    "batch_size": 4,
    "max_minutes": None,
    "warmup": 2,
    "preview_every": 5,
    "preview_seeds": [0, 1],
    "preview_steps": 2,
    "checkpoint_every": 5,
    "val_every": 5,
    "log_every": 1,
    "device": "cpu",
}
ENV = {"OMP_NUM_THREADS": "1"}


def integrity(ws) -> str:
    return sqlite3.connect(ws / "catalog.sqlite").execute("PRAGMA integrity_check").fetchone()[0]


@pytest.fixture(scope="module")
def ws(tmp_path_factory):
    return tmp_path_factory.mktemp("ws")


@pytest.fixture(scope="module")
def engine(ws):
    with EngineClient(ws, env=ENV) as eng:
        yield eng


@pytest.fixture(scope="module")
def dataset(engine, tmp_path_factory):
    from tests.core.engine.conftest import make_folder

    folder = make_folder(tmp_path_factory.mktemp("pics") / "blobs", n=16, size=16)
    done = engine.result(engine.send("scan", {"sources": [str(folder)], "settings": {"resolution": 16}}), 120)
    return done.dataset


def train(engine, dataset, steps, **over):
    return engine.send("train", {"dataset": dataset, "config": {**TINY, "max_steps": steps, **over}})


@pytest.fixture(scope="module")
def model(engine, dataset) -> str:
    """A model trained 4 steps, for the tests that sample one (none relies on another test's model)."""
    return engine.result(train(engine, dataset, 4), 300).model


def test_scan_train_sample_export_end_to_end(engine, dataset, ws):
    job = train(engine, dataset, 10, memorization_every=5)
    events = engine.events(job, timeout=300)
    assert events[-1].type == "done", events[-1]
    kinds = {e.type for e in events}
    assert {"progress", "metric", "preview"} <= kinds
    assert any("loss" in e.values for e in events if e.type == "metric")
    copying = [e.step for e in events if e.type == "metric" and "memorized_share" in e.values]
    assert copying == [5, 10]  # the copying check reaches the window as the held-out loss does
    done = P.TrainDone(**events[-1].results)  # exactly the typed result's fields
    run, model = done.run, done.model
    assert engine.request("get", {"what": "runs", "id": run})["item"]["status"] == "done"
    series = engine.request("metrics", {"run": run, "names": ["loss", "memorized_share"]})["series"]
    loss_steps = [s for s, _ in series["loss"]]
    assert loss_steps == sorted(loss_steps) and loss_steps[-1] == 10
    assert [s for s, _ in series["memorized_share"]] == [5, 10]

    info = engine.request("get", {"what": "models", "id": model})["item"]["info"]
    assert info["guide"]["trained_steps"] >= 1  # the run kept its autoguidance guide
    # guidance 0: the export below counts frames, a GIF merges equal consecutive ones, and a 10-step
    # model guided by its earlier self gave two equal steps here
    sjob = engine.send(
        "sample",
        {"model": model, "config": {"num": 2, "steps": 6, "sampler": "flow_euler", "seed": 3, "guidance": 0}},
    )
    sev = engine.events(sjob, timeout=120)
    assert sev[-1].type == "done", sev[-1]
    steps = [e for e in sev if e.type == "step"]
    assert steps and steps[-1].i == steps[-1].n == 6  # the last step is always delivered
    assert [e.i for e in steps] == sorted(e.i for e in steps) and len(steps[-1].x0) == 2
    sampled = P.SampleDone(**sev[-1].results)
    sample_set = sampled.sample_set
    assert len(sampled.images) == 2 and sampled.trajectory

    ejob = engine.send(
        "export", {"sample_set": sample_set, "format": "gif", "fps": 10, "scale": 2, "hold_s": 0}
    )
    path = engine.result(ejob, 120).path
    frames = iio.imread(path, index=None)
    assert frames.shape[0] == 6  # one frame per recorded step (hold_s=0)
    assert (
        frames.shape[1] >= 2 * 16 and frames.shape[2] > 1.5 * frames.shape[1]
    )  # 2x upscale, two side by side
    assert engine.request("list", {"what": "exports"})["items"][0]["path"] == path
    assert integrity(ws) == "ok"


def test_pause_resume_stop_and_queries_while_busy(engine, dataset, model, ws):
    job = train(engine, dataset, 10_000)
    second = engine.send(
        "sample", {"model": model, "config": {"num": 1, "steps": 2, "sampler": "flow_euler"}}
    )
    assert engine.wait(second, "accepted").position == 1  # queued behind the training job
    engine.wait(job, "metric", 120)
    assert engine.request("pause", {"job": job})["ok"]
    assert engine.wait(job, "state").state == "paused"
    # Queries are answered while a job is paused or running.
    assert any(r["status"] == "running" for r in engine.request("list", {"what": "runs"})["items"])
    time.sleep(0.3)  # a progress event throttled just before the pause may still be flushed
    progressed = [e for e in engine.all_events if e[1].id == job and e[1].type == "progress"]
    time.sleep(1.0)
    assert len([e for e in engine.all_events if e[1].id == job and e[1].type == "progress"]) == len(
        progressed
    )
    engine.request("resume", {"job": job})
    assert engine.wait(job, "state").state == "running"
    engine.wait(job, "metric", 60)
    engine.request("stop", {"job": job})
    done = engine.wait(job, "done", 120)
    assert done.state == "stopped" and 0 < done.results["steps"] < 10_000
    run = engine.request("get", {"what": "runs", "id": done.results["run"]})["item"]
    assert run["status"] == "stopped"
    assert engine.wait(second, "done", 120).results["images"]  # the queued job ran after
    assert integrity(ws) == "ok"


def test_cancel_at_random_moments_deletes_only_runs_without_a_checkpoint(engine, dataset, ws):
    rng = random.Random(7)
    runs_before = {r["id"] for r in engine.request("list", {"what": "runs"})["items"]}
    kept = set()
    for _ in range(3):
        job = train(engine, dataset, 10_000)
        engine.wait(job, "state", 60)  # queued
        time.sleep(rng.uniform(0.0, 2.0))
        answer = engine.request("cancel", {"job": job})
        end = engine.events(job, timeout=120)[-1]
        if answer.get("kept"):  # it had a checkpoint: stopped and kept, as stop does
            assert isinstance(end, P.Done) and end.state == "stopped", end
            run = engine.request("get", {"what": "runs", "id": end.results["run"]})["item"]
            assert (
                run["status"] == "stopped" and (ws / "runs" / run["id"] / "state" / "trainer.json").is_file()
            )
            kept.add(run["id"])
        else:
            assert isinstance(end, P.Error) and end.state == "cancelled", end
    runs_after = {r["id"] for r in engine.request("list", {"what": "runs"})["items"]}
    assert runs_after == runs_before | kept
    assert sorted(p.name for p in (ws / "runs").iterdir()) == sorted(runs_before | kept)
    assert integrity(ws) == "ok"


def test_cancel_keeps_a_checkpointed_run_and_discard_deletes_it(engine, dataset, ws):
    def past_first_checkpoint() -> tuple[str, str]:
        job = train(engine, dataset, 10_000)
        while True:  # checkpoints come every 5 steps
            ev = engine.next_event(job, 120)
            if ev.type == "progress" and ev.done >= 7:
                break
        runs = engine.request("list", {"what": "runs"})["items"]
        return job, next(r["id"] for r in runs if r["status"] == "running")

    job, kept = past_first_checkpoint()
    answer = engine.request("cancel", {"job": job})
    events = engine.events(job, timeout=120)
    assert answer["kept"] is True and "stopped and kept" in answer["message"]
    assert any(e.type == "log" and e.level == "warning" for e in events)
    assert isinstance(events[-1], P.Done) and events[-1].state == "stopped"
    assert engine.request("get", {"what": "runs", "id": kept})["item"]["status"] == "stopped"
    assert (ws / "runs" / kept / "state" / "trainer.json").is_file()

    job, discarded = past_first_checkpoint()
    answer = engine.request("cancel", {"job": job, "discard": True})
    end = engine.events(job, timeout=120)[-1]
    assert "kept" not in answer
    assert isinstance(end, P.Error) and end.state == "cancelled"
    assert discarded not in {r["id"] for r in engine.request("list", {"what": "runs"})["items"]}
    assert not (ws / "runs" / discarded).exists()
    assert (ws / "runs" / kept).is_dir()
    assert integrity(ws) == "ok"


def test_kill_minus_nine_mid_training_then_resume_to_completion(tmp_path):
    from tests.core.engine.conftest import make_folder

    ws = tmp_path / "ws"
    folder = make_folder(tmp_path / "pics", n=12, size=16)
    eng = EngineClient(ws, env=ENV)
    ds = eng.wait(eng.send("scan", {"sources": [str(folder)], "settings": {"resolution": 16}}), "done", 120)
    job = train(eng, ds.results["dataset"], 40)
    while True:  # wait until a checkpoint exists and training went past it
        ev = eng.next_event(job, 120)
        if ev.type == "progress" and ev.done >= 12:
            break
    run_id = eng.request("list", {"what": "runs"})["items"][0]["id"]
    eng.kill()
    assert integrity(ws) == "ok"

    eng = EngineClient(ws, env=ENV)
    try:
        assert eng.hello.interrupted == [run_id]
        assert eng.request("get", {"what": "runs", "id": run_id})["item"]["status"] == "interrupted"
        job = eng.send("resume_run", {"run": run_id})
        events = eng.events(job, timeout=300)
        assert events[-1].type == "done", events[-1]
        first_progress = next(e for e in events if e.type == "progress")
        assert 5 <= first_progress.done <= 16  # continued from a checkpoint, not from zero
        assert events[-1].results["steps"] == 40
        loss = eng.request("metrics", {"run": run_id, "names": ["loss"]})["series"]["loss"]
        steps = [s for s, _ in loss]
        assert steps == sorted(set(steps)) and steps[-1] == 40  # one point per step, no repeats
        assert eng.request("get", {"what": "runs", "id": run_id})["item"]["status"] == "done"
    finally:
        eng.close()
    assert integrity(ws) == "ok"


def test_make_fast_adds_a_few_step_map_that_sampling_then_picks(engine, dataset, ws):
    model = engine.result(train(engine, dataset, 4), 300).model
    bad = engine.send("make_fast", {"model": model, "route": "sideways"})
    error = engine.wait(bad, "error", 30)
    assert "make-fast.route" in error.message and "distil" in error.message
    job = engine.send("make_fast", {"model": model, "steps": 3, "device": "cpu"})
    done = P.MakeFastDone.from_dict(engine.wait(job, "done", 300).results)
    assert done.model == model and done.steps == 3 and len(done.levels) == 8 and done.guidance == 1.5
    assert any(e[1].type == "progress" for e in engine.all_events if e[1].id == job)
    row = engine.request("get", {"what": "models", "id": model})["item"]
    assert row["info"]["fewstep"]["levels"] == done.levels  # the window reads this to offer the sampler
    drawn = engine.send("sample", {"model": model, "config": {"num": 1, "steps": 2}})
    result = P.SampleDone.from_dict(engine.wait(drawn, "done", 120).results)
    sets = engine.request("get", {"what": "sample_sets", "id": result.sample_set})["item"]
    assert sets["config"]["steps"] == 2
    from core.media.png import read_png_params

    assert read_png_params(result.images[0])["sampler"] == "fewstep"


def test_a_time_budget_run_counts_seconds_with_its_steps_so_far_and_a_narrowing_total(engine, dataset):
    job = train(engine, dataset, None, max_minutes=0.08)  # about 5 s
    events = engine.events(job, timeout=300)
    assert events[-1].type == "done", events[-1]
    progress = [e for e in events if e.type == "progress"]
    assert progress and all(e.unit == "s" and e.total == pytest.approx(4.8) for e in progress)
    assert [e.done for e in progress] == sorted(e.done for e in progress)  # the bar follows the clock
    assert all(0 <= e.done <= e.total for e in progress)
    steps = [e.step for e in progress]
    assert steps == sorted(steps) and steps[-1] >= 1
    for e in progress:
        low, high = e.expected_steps
        assert e.step <= low <= high and f"{e.step:,} step" in e.message and "so far" in e.message
