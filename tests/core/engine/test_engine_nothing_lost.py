"""Nothing a person made is lost through the engine: a closed stdin or ``shutdown`` keeps a running
training (checkpointed, resumable), one engine per workspace, no input kills the engine, every job
argument is bounded before ``accepted``, outputs are never replaced unasked. Real processes."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from core.engine import protocol as P
from core.engine.client import EngineClient
from tests.core.engine.test_engine_jobs import ENV, TINY


def _dataset(eng: EngineClient, tmp_path: Path) -> str:
    from tests.core.engine.conftest import make_folder

    folder = make_folder(tmp_path / "pics", n=12, size=16)
    done = eng.wait(eng.send("scan", {"sources": [str(folder)], "settings": {"resolution": 16}}), "done", 120)
    return done.results["dataset"]


def _train_past_checkpoint(eng: EngineClient, dataset: str, steps: int = 40) -> tuple[str, str]:
    job = eng.send("train", {"dataset": dataset, "config": {**TINY, "max_steps": steps}})
    while True:  # checkpoints every 5 steps
        ev = eng.next_event(job, 120)
        if ev.type == "progress" and ev.done >= 7:
            break
    run = next(r for r in eng.request("list", {"what": "runs"})["items"] if r["status"] == "running")
    return job, run["id"]


def _tiny_model(path: Path) -> Path:
    from core.models.folder import save_model_folder
    from tests.core.sampling.conftest import tiny_unet

    save_model_folder(tiny_unet(), "eps", {"preset": "test", "resolution": 16, "channels": 1}, path)
    return path


def _catalog_run(ws: Path, run_id: str) -> dict:
    db = sqlite3.connect(ws / "catalog.sqlite")
    db.row_factory = sqlite3.Row
    return dict(db.execute("SELECT * FROM runs WHERE id = ?", (run_id,)).fetchone())


def _resume_to_the_end(ws: Path, run_id: str, steps: int) -> None:
    with EngineClient(ws, env=ENV) as eng:
        events = eng.events(eng.send("resume_run", {"run": run_id}), timeout=300)
        assert events[-1].type == "done", events[-1]
        assert events[-1].results["steps"] == steps
        loss = eng.request("metrics", {"run": run_id, "names": ["loss"]})["series"]["loss"]
        assert [s for s, _ in loss] == list(range(1, steps + 1))  # every step once, none lost


@pytest.mark.parametrize("how", ["eof", "shutdown"])
def test_closing_the_engine_mid_training_keeps_the_run_and_it_resumes(tmp_path, how):
    ws = tmp_path / "ws"
    eng = EngineClient(ws, env=ENV)
    _, run_id = _train_past_checkpoint(eng, _dataset(eng, tmp_path))
    if how == "shutdown":
        eng.send("shutdown")
    eng.proc.stdin.close()  # the window closed (or crashed): stdin ends
    assert eng.proc.wait(timeout=120) == 0
    row = _catalog_run(ws, run_id)
    assert row["status"] == "interrupted"
    assert (ws / "runs" / run_id / "state" / "trainer.json").is_file()
    assert (ws / "runs" / run_id / "model" / "model_index.json").is_file()
    _resume_to_the_end(ws, run_id, 40)


def test_a_second_engine_on_the_workspace_refuses_and_the_first_run_is_untouched(tmp_path):
    ws = tmp_path / "ws"
    with EngineClient(ws, env=ENV) as first:
        job, run_id = _train_past_checkpoint(first, _dataset(first, tmp_path), steps=30)
        second = EngineClient(ws, env=ENV)
        refusal = second.hello  # the first line it wrote: an error, never a hello
        assert isinstance(refusal, P.Error) and refusal.data == {"fatal": True}
        assert f"process {first.proc.pid}" in refusal.message and "\n" not in refusal.message
        assert second.proc.wait(timeout=60) == 3
        assert first.wait(job, "done", 300).results["steps"] == 30
        assert first.request("get", {"what": "runs", "id": run_id})["item"]["status"] == "done"
        loss = first.request("metrics", {"run": run_id, "names": ["loss"]})["series"]["loss"]
        assert [s for s, _ in loss] == list(range(1, 31))
    with EngineClient(ws, env=ENV) as again:  # the lock went with the first engine
        assert isinstance(again.hello, P.Hello)


def test_inputs_that_used_to_kill_the_engine_get_errors_and_it_keeps_serving(tmp_path):
    eng = EngineClient(tmp_path / "ws", env={"PYTHONIOENCODING": "utf-8:strict"})
    try:
        killers = [
            "[" * 100_000,  # RecursionError in json.loads
            '{"id": "k2", "cmd": "list", "args": {"what": ' + "9" * 5000 + "}}",  # int digit limit
            '{"id": "k3", "cmd": "get", "args": {"what": "runs", "id": ["a"]}}',  # unhashable id
            '{"id": "k4", "cmd": "train", "args": {"dataset": "d", "config": [1]}}',
            '{"id": "k5", "cmd": "list", "args": {"what": NaN}}',
        ]
        for line in killers:
            eng.send_raw(line)
        eng.proc.stdin.flush()
        eng.proc.stdin.buffer.write(b'{"id": "k6", "cmd": "hello", "args": {}, "x": "\xff\xfe"}\n')
        eng.proc.stdin.buffer.write(b'{"id": "k7", "pad": "' + b"x" * (P.MAX_LINE_BYTES + 10) + b'"}\n')
        eng.proc.stdin.buffer.flush()
        nested = eng.next_event(None, 30)
        assert isinstance(nested, P.Error) and "nested too deeply" in nested.message
        digits = eng.next_event(None, 30)
        assert isinstance(digits, P.Error) and "5000 digits" in digits.message
        bad_id = eng.next_event("k3", 30)
        assert isinstance(bad_id, P.Error) and "argument 'id'" in bad_id.message
        bad_config = eng.next_event("k4", 30)
        assert isinstance(bad_config, P.Error) and "'config'" in bad_config.message
        assert "TypeError" not in bad_config.message
        assert isinstance(eng.next_event(None, 30), P.Error)  # NaN
        assert isinstance(eng.next_event("k6", 30), P.Result)  # the bad bytes were replaced, not fatal
        too_long = eng.next_event(None, 30)
        assert isinstance(too_long, P.Error) and "longer than" in too_long.message
        assert eng.alive
        err = eng.next_event(eng.send("get", {"what": "runs", "id": "nope"}), 30)
        assert isinstance(err, P.Error) and "no run 'nope'" in err.message
        assert eng.request("hello")["protocol"] == P.PROTOCOL_VERSION
        assert eng.bad_lines == []
    finally:
        eng.close()


def test_every_numeric_argument_is_bounded_before_the_job_is_accepted(tmp_path):
    with EngineClient(tmp_path / "ws", env=ENV) as eng:
        ds = _dataset(eng, tmp_path)
        model = str(_tiny_model(tmp_path / "model"))
        refused = [
            ("train", {"dataset": ds, "config": {"batch_size": 10**6}}, "batch_size"),
            ("train", {"dataset": ds, "config": {"max_minutes": 10**9}}, "max_minutes"),
            ("train", {"dataset": ds, "config": {"lr": 5.0}}, "lr"),
            ("train", {"dataset": ds, "config": {"resolution": 100_000}}, "resolution"),
            ("train", {"dataset": ds, "config": {"seed": -1}}, "seed"),
            ("sample", {"model": model, "config": {"num": 10**6}}, "num"),
            ("sample", {"model": model, "config": {"steps": 10**6}}, "steps"),
            ("sample", {"model": model, "config": {"batch_size": 10**6}}, "batch_size"),
            ("evaluate", {"model": model, "dataset": ds, "num": 10**9}, "num"),
            ("scan", {"sources": [str(tmp_path)], "settings": {"resolution": 10**5}}, "resolution"),
            ("scan", {"sources": [str(tmp_path)], "settings": {"clip_frames": 10**6}}, "clip_frames"),
            ("resume_run", {"run": "r", "extra_steps": 10**12}, "run"),
            ("branch", {"sample_set": "s", "step": -3}, "step"),
        ]
        for cmd, args, field in refused:
            cid = eng.send(cmd, args)
            first = eng.next_event(cid, 60)
            assert isinstance(first, P.Error), (cmd, args, first)  # no accepted, no queued before it
            assert field in first.message and "\n" not in first.message, first.message


def test_exports_refuse_to_replace_files_unless_asked_and_paths_are_absolute(tmp_path):
    with EngineClient(tmp_path / "ws", env=ENV) as eng:
        model = str(_tiny_model(tmp_path / "model"))
        done = eng.wait(eng.send("sample", {"model": model, "config": {"num": 2, "steps": 2}}), "done", 120)
        row = eng.request("get", {"what": "sample_sets", "id": done.results["sample_set"]})["item"]
        assert Path(row["model_path"]).is_absolute() and Path(row["path"]).is_absolute()
        keep = tmp_path / "mine.gif"
        keep.write_bytes(b"the person's own file")
        args = {"sample_set": done.results["sample_set"], "format": "gif", "out": str(keep)}
        refusal = eng.next_event(eng.send("export", args), 60)
        assert isinstance(refusal, P.Error) and refusal.data == {"existing": [str(keep)]}
        assert str(keep) in refusal.message and '"overwrite": true' in refusal.message
        assert keep.read_bytes() == b"the person's own file"
        relative = eng.next_event(eng.send("export", {**args, "out": "video.gif"}), 60)
        assert isinstance(relative, P.Error) and "relative path" in relative.message
        replaced = eng.wait(eng.send("export", {**args, "overwrite": True}), "done", 120)
        assert replaced.results["path"] == str(keep) and keep.read_bytes()[:3] == b"GIF"


def test_an_engine_started_on_a_full_disk_says_so_and_exits(small_disk):
    mount, fill = small_disk
    fill()
    ws = mount / "ws"
    proc = subprocess.run(
        [sys.executable, "-m", "core.engine", "--workspace", str(ws)],
        input="",
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 3
    lines = proc.stdout.splitlines()
    assert len(lines) == 1
    event = P.event_from_json(lines[0])
    assert isinstance(event, P.Error) and event.data == {"fatal": True}
    assert "disk full" in event.message and "\n" not in event.message
    assert "Traceback" not in proc.stderr
    catalog = ws / "catalog.sqlite"
    assert not catalog.exists() or catalog.stat().st_size > 0  # no empty catalog left to trip over


def test_sampling_onto_a_disk_that_fills_up_is_one_line_and_leaves_no_folder(small_disk, tmp_path):
    mount, fill = small_disk
    model = str(_tiny_model(tmp_path / "model"))
    with EngineClient(mount / "ws", env=ENV) as eng:
        fill()
        end = eng.events(eng.send("sample", {"model": model, "config": {"num": 4, "steps": 2}}), timeout=120)[
            -1
        ]
        assert isinstance(end, P.Error) and end.state == "failed"
        assert end.message.startswith(f"disk full in {mount / 'ws' / 'samples'}"), end.message
        assert "\n" not in end.message and "Traceback" not in end.message
        assert list((mount / "ws" / "samples").iterdir()) == []
        assert eng.request("list", {"what": "sample_sets"})["items"] == []
        assert eng.alive


def test_protocol_bounds_are_documented():
    doc = P.__doc__ or ""
    for name in ("MAX_LINE_BYTES", "MAX_NESTING", "MAX_INT_DIGITS"):
        assert name in doc, name
    assert json.loads('{"a": 1}')  # the bounds do not change ordinary parsing
    assert (
        P.Command.from_json('{"id": "x", "cmd": "list", "args": {"what": "runs", "n": 1.5}}').args["n"] == 1.5
    )
