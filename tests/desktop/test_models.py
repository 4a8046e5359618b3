"""UI state without widgets: scripted protocol events in, observable state and sent commands out."""

from __future__ import annotations

import json

import numpy as np
import pytest

from core.engine import protocol as P
from core.words import format_duration
from desktop.model.jobs import JobInfo
from desktop.model.scan import ScanReport
from desktop.model.training import smooth
from desktop.scripted import scan_report, trained


def test_scan_sends_sources_and_settings_and_follows_progress(app_model, client):
    client.start()
    app_model.scan.set_setting("resolution", 16)
    app_model.scan.set_setting("flip", True)
    job = app_model.scan_paths(["/photos/a", "/photos/b.jpg"])
    cmd = client.last("scan")
    assert cmd.id == job
    assert cmd.args["sources"] == ["/photos/a", "/photos/b.jpg"]
    assert cmd.args["settings"] == {"resolution": 16, "crop": "center", "flip": True}
    client.run_job(job, "scan", P.Progress(id=job, done=3, total=10, unit="files", message="IMG_3.jpg"))
    assert app_model.scan.state == "running"
    assert app_model.scan.progress == (3, 10, "IMG_3.jpg")
    assert app_model.jobs.jobs[job].fraction == pytest.approx(0.3)


def test_scan_done_holds_the_report_and_fetches_the_dataset(app_model, client):
    client.start()
    client.catalog["datasets"] = [{"id": "ds1", "path": "/ws/datasets/ds1", "kind": "image", "n_items": 2}]
    job = app_model.scan_paths(["/photos"])
    report = scan_report(
        "ds1",
        ["/photos/a.png", "/photos/b.png"],
        rejected=[("/photos/c.jpg", "truncated JPEG data; re-export or remove it")],
        duplicates=[("/photos/d.png", "/photos/a.png")],
        stats={"images": 2},
    )
    done = P.ScanDone(dataset="ds1", path="/ws/datasets/ds1", report=report)
    client.run_job(job, "scan", P.Done(id=job, results=done.to_dict()))
    rep = app_model.scan.report
    assert rep.accepted == ["/photos/a.png", "/photos/b.png"]
    assert rep.rejected == [("/photos/c.jpg", "truncated JPEG data; re-export or remove it")]
    assert rep.duplicates == [("/photos/d.png", "/photos/a.png")]
    assert rep.dataset_id == "ds1"
    assert client.last("get").args == {"what": "datasets", "id": "ds1"}
    assert app_model.scan.dataset["path"] == "/ws/datasets/ds1"
    assert rep.dataset_dir == "/ws/datasets/ds1"
    assert app_model.training.dataset_id == "ds1"  # Start trains on what was just scanned


def test_scan_report_reads_what_the_scan_writes():
    report = scan_report(
        "ds2",
        ["/a/x.png"],
        rejected=[("/a/y.png", "too small")],
        near=[("/a/x.png", "/a/z.png", 3)],
        stats={"n": 1},
    )
    rep = ScanReport.from_dict(report)
    assert rep.accepted == ["/a/x.png"]
    assert rep.rejected == [("/a/y.png", "too small")]
    assert rep.near_duplicates == [("/a/x.png", "/a/z.png (3 bits apart)")]
    assert rep.stats == {"n": 1} and rep.dataset_id == "ds2" and rep.dataset_dir == "/ws/datasets/ds2"
    assert ScanReport.from_dict({}).accepted == []  # a report older than a field reads it as empty


def test_training_start_sends_dataset_and_config_then_curve_and_previews_follow(app_model, client):
    client.start()
    app_model.use_dataset("ds1")
    app_model.training.set_config("resolution", 16)
    app_model.training.set_budget("minutes", 2)
    job = app_model.training.start()
    cmd = client.last("train")
    assert cmd.args["dataset"] == "ds1"
    assert cmd.args["config"]["resolution"] == 16
    assert cmd.args["config"]["max_minutes"] == 2 and cmd.args["config"]["max_steps"] is None
    assert "lr" not in cmd.args["config"]  # the preset's default
    client.run_job(
        job,
        "train",
        P.Metric(id=job, step=1, values={"loss": 1.0}),
        P.Metric(id=job, step=2, values={"loss": 0.5, "val_loss": 0.7}),
        P.Preview(id=job, step=2, images=["AAAA", "BBBB"], caption="step 2"),
    )
    steps, values = app_model.training.series["loss"]
    assert steps == [1.0, 2.0] and values == [1.0, 0.5]
    assert app_model.training.series["val_loss"] == ([2.0], [0.7])
    assert app_model.training.preview_images == ["AAAA", "BBBB"]
    assert [s for s, _ in app_model.training.timelapse] == [2]


def test_training_controls_send_the_job_id_and_extend_resumes_the_run(app_model, client):
    client.start()
    app_model.use_dataset("ds1")
    job = app_model.training.start()
    client.run_job(job, "train")
    app_model.training.pause()
    client.push(P.State(id=job, state="paused"))
    app_model.training.resume()
    client.push(P.State(id=job, state="running"))
    app_model.training.stop()
    assert [(c.cmd, c.args["job"]) for c in client.sent if c.cmd in P.CONTROL_COMMANDS] == [
        ("pause", job),
        ("resume", job),
        ("stop", job),
    ]
    client.push(
        P.Done(
            id=job,
            state="stopped",
            results=trained("run-7", "m-7"),
        )
    )
    assert app_model.training.state == "stopped"
    assert app_model.training.run_id == "run-7"
    app_model.training.extend(300)
    assert client.last("resume_run").args == {"run": "run-7", "extra_steps": 300}


def test_training_without_a_dataset_says_what_to_do(app_model):
    with pytest.raises(ValueError, match="choose a dataset"):
        app_model.training.start()


def test_smoothing_is_debiased_and_zero_weight_is_raw():
    assert smooth([3.0, 1.0, 2.0], 0.0) == [3.0, 1.0, 2.0]
    assert smooth([2.0, 2.0, 2.0], 0.9) == pytest.approx([2.0, 2.0, 2.0])
    s = smooth([1.0, 0.0], 0.5)
    assert s[0] == pytest.approx(1.0) and 0.0 < s[1] < 1.0


def _write_trajectory(folder, n_steps=10, num=2, res=8):
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    xt = rng.integers(0, 255, (n_steps, num, res, res, 3), dtype=np.uint8)
    x0 = rng.integers(0, 255, (n_steps, num, res, res, 3), dtype=np.uint8)
    np.save(folder / "xt.npy", xt)
    np.save(folder / "x0.npy", x0)
    np.save(folder / "final.npy", x0[-1])
    (folder / "trajectory.json").write_text(
        json.dumps({"format": 1, "n_steps": n_steps, "steps": list(range(n_steps))})
    )
    return xt, x0


def test_ten_steps_arrive_in_order_then_the_trajectory_opens_for_scrubbing(app_model, client, tmp_path):
    client.start()
    gm = app_model.generation
    gm.set_model("m1", "eps")
    gm.set_config("steps", 10)
    job = gm.generate()
    assert client.last("sample").args == {
        "model": "m1",
        "config": {"sampler": "ddim", "steps": 10, "seed": 0, "num": 4, "guidance": 0.0, "trajectory": True},
    }
    client.run_job(
        job, "sample", *[P.Step(id=job, i=i, n=10, xt=[f"t{i}"], x0=[f"z{i}"]) for i in range(1, 11)]
    )
    assert [i for i, _ in gm.arrivals] == list(range(1, 11))
    assert gm.x0 == ["z10"] and gm.xt == ["t10"]
    xt, x0 = _write_trajectory(tmp_path / "ss1" / "trajectory")
    client.push(
        P.Done(
            id=job,
            results=P.SampleDone(
                sample_set="ss1",
                out_dir=str(tmp_path / "ss1"),
                trajectory=str(tmp_path / "ss1" / "trajectory"),
            ).to_dict(),
        )
    )
    assert gm.sample_set == "ss1"
    assert len(gm.trajectory) == 10 and gm.scrub_row == 9
    gm.scrub(3)
    assert np.array_equal(gm.trajectory.frame(gm.scrub_row, "xt"), xt[3])
    assert np.array_equal(gm.trajectory.frame(gm.scrub_row, "x0"), x0[3])
    gm.branch()
    assert client.last("branch").args == {"sample_set": "ss1", "step": 3, "seed": 1}
    gm.export("gif", fps=8, scale=2)
    assert client.last("export").args == {
        "sample_set": "ss1",
        "format": "gif",
        "show": "both",
        "fps": 8.0,
        "scale": 2,
    }


def test_save_selected_writes_the_chosen_final_images(app_model, client, tmp_path, qapp):
    from PySide6.QtGui import QImage

    gm = app_model.generation
    _, x0 = _write_trajectory(tmp_path / "ss" / "trajectory", num=3)
    gm.open_sample_set({"id": "ss", "path": str(tmp_path / "ss")})
    gm.selected = {1}
    written = gm.save_selected(tmp_path / "out")
    assert [p.name for p in written] == ["ss-001.png"]
    img = QImage(str(written[0])).convertToFormat(QImage.Format.Format_RGB888)
    assert (img.width(), img.height()) == (8, 8)
    assert img.pixelColor(2, 5).red() == int(x0[-1][1][5, 2, 0])


def test_an_error_event_becomes_one_line_in_the_window(app_model, client, qtbot):
    client.start()
    app_model.use_dataset("ds1")
    job = app_model.training.start()
    with qtbot.waitSignal(app_model.error) as sig:
        client.push(
            P.Error(
                id=job,
                message="train.resolution: 7 is not a multiple of 8;\n use 16..256",
                detail="Traceback ...",
                state="failed",
            )
        )
    assert sig.args == ["train.resolution: 7 is not a multiple of 8; use 16..256"]
    assert app_model.training.state == "failed"


def test_a_cancelled_job_is_not_reported_as_an_error(app_model, client, qtbot):
    client.start()
    job = app_model.scan_paths(["/x"])
    with qtbot.assertNotEmitted(app_model.error):
        client.push(P.Error(id=job, message="scan cancelled", state="cancelled"))
    assert app_model.scan.state == "cancelled"


def test_job_line_reads_like_a_sentence():
    j = JobInfo("c1", "train", state="running", done=120, total=2000, unit="steps", rate=3.1, eta_s=606)
    assert j.describe() == "Training · 120/2000 steps · 3.1 steps/s · 10 min 06 s left"
    assert format_duration(59) == "59 s" and format_duration(7300) == "2 h 01 min"
    timed = JobInfo("f1", "make_fast", state="running", done=59.91, total=180, unit="s", rate=1.0, eta_s=120)
    assert timed.describe() == "Making fast · 60/180 s · 2 min 00 s left"


def test_hello_lists_the_library_and_remembers_interrupted_runs(app_model, client):
    client.catalog["runs"] = [{"id": "r1", "status": "interrupted", "steps": 40}]
    client.start(interrupted=["r1"])
    assert {c.args["what"] for c in client.commands("list")} == {"datasets", "runs", "models", "sample_sets"}
    assert [r["id"] for r in app_model.library.interrupted_runs()] == ["r1"]
    assert app_model.device == "cpu (2 cores)"
