"""Runs and model folders in the workspace's library (issue 26, item 17): ``noisebloom train --out``
anywhere lists its run and model in the workspace's catalog, and the engine's ``add_model``
registers a model folder where it is, once."""

from __future__ import annotations

import io
import json

from core.cli import main
from core.engine import protocol as P
from core.engine.server import Engine
from core.workspace import lock
from core.workspace.catalog import Catalog
from tests.core.metrics.conftest import tiny_unet

TINY = ["--preset", "unet-tiny", "--batch-size", "4", "--device", "cpu", "--quiet", "--preview-every", "0",
        "--val-every", "0", "--memorization-every", "0", "--max-steps", "1"]  # fmt: skip


def test_a_cli_run_outside_the_workspace_is_listed_in_its_catalog_once(tmp_path, data_dir, capsys):
    ws = tmp_path / "ws"
    ws.mkdir()  # the workspace exists (the app made it)
    run = tmp_path / "elsewhere" / "digits"
    args = ["train", str(data_dir), "--out", str(run), "--workspace", str(ws), *TINY]
    assert main(args) == 0, capsys.readouterr().err
    assert main([*args, "--overwrite"]) == 0, capsys.readouterr().err  # the same run folder again
    catalog = Catalog(ws)
    try:
        runs, models = catalog.list("runs"), catalog.list("models")
    finally:
        catalog.close()
    assert [(r["name"], r["path"], r["status"], r["steps"]) for r in runs] == [
        ("digits", str(run.resolve()), "done", 1)
    ]
    assert [(m["name"], m["path"], m["run_id"]) for m in models] == [
        ("digits", str((run / "model").resolve()), runs[0]["id"])
    ]
    assert models[0]["info"]["preset"] == "unet-tiny" and runs[0]["config"]["max_steps"] == 1


def test_a_cli_run_lists_nothing_where_there_is_no_workspace(tmp_path, data_dir, capsys):
    ws = tmp_path / "no-workspace"
    args = ["train", str(data_dir), "--out", str(tmp_path / "run"), "--workspace", str(ws), *TINY]
    assert main(args) == 0, capsys.readouterr().err
    assert not ws.exists()


def _answer(engine: Engine, out: io.StringIO, cid: str, args: dict) -> P.Event:
    engine.handle_line(P.Command(id=cid, cmd="add_model", args=args).to_json())
    return next(ev for ev in map(P.event_from_json, out.getvalue().splitlines()) if ev.id == cid)


def test_add_model_registers_a_diffusers_folder_where_it_is_once(tmp_path):
    from diffusers import DDPMPipeline, DDPMScheduler

    run = tmp_path / "outside" / "pond"
    DDPMPipeline(unet=tiny_unet(), scheduler=DDPMScheduler()).save_pretrained(
        run / "model", safe_serialization=True
    )
    (tmp_path / "pictures").mkdir()
    root = tmp_path / "ws"
    out = io.StringIO()
    engine = Engine(root, out)
    try:
        first = _answer(engine, out, "a1", {"path": str(run / "model")})
        again = _answer(engine, out, "a2", {"path": str(run)})  # its run folder: the same model
        wrong = _answer(engine, out, "a3", {"path": str(tmp_path / "pictures")})
        rows = engine.catalog.list("models")
    finally:
        engine.catalog.close()
        lock.release(root)
    added = P.ModelAdded.from_dict(first.data)
    assert added.added and added.name == "pond" and added.path == str((run / "model").resolve())
    assert P.ModelAdded.from_dict(again.data) == P.ModelAdded(added.model, False, "pond", added.path)
    assert [(r["id"], r["path"], r["info"]["objective"]) for r in rows] == [(added.model, added.path, "eps")]
    assert isinstance(wrong, P.Error)
    assert wrong.message.startswith(
        f"{(tmp_path / 'pictures').resolve()}: not a model folder (no model_index.json)"
    )
    assert list((run / "model").iterdir())  # nothing moved
    assert json.loads((run / "model" / "model_index.json").read_text())["unet"][1] == "UNet2DModel"


def test_a_cli_run_without_a_library_dataset_is_refused_resume_with_the_way_that_works(
    tmp_path, data_dir, capsys
):
    ws = tmp_path / "ws"
    ws.mkdir()
    args = ["train", str(data_dir), "--out", str(tmp_path / "run"), "--workspace", str(ws), *TINY]
    assert main(args) == 0, capsys.readouterr().err
    out = io.StringIO()
    engine = Engine(ws, out)
    try:
        run_id = engine.catalog.list("runs")[0]["id"]
        engine.handle_line(P.Command(id="r1", cmd="resume_run", args={"run": run_id}).to_json())
        answer = next(ev for ev in map(P.event_from_json, out.getvalue().splitlines()) if ev.id == "r1")
    finally:
        engine.catalog.close()
        lock.release(ws)
    assert isinstance(answer, P.Error)
    assert answer.message.startswith(f"resume_run: run {run_id!r} has no dataset in the library")
    assert "drop a folder on the model" in answer.message
