"""Issue 26's Generate-area items against the scripted engine: the model just trained is chosen."""

from __future__ import annotations

from core.catalogue.samplers import DEFAULT_GUIDANCE
from core.engine import protocol as P
from desktop.model.library import item_subtitle
from desktop.model.scan import ScanReport
from desktop.scripted import trained


def _model(mid: str, name: str) -> dict:
    return {"id": mid, "name": name, "path": f"/ws/runs/{mid}/model", "info": {"objective": "flow"}}


def test_the_model_just_trained_becomes_the_one_generate_uses(window, client):
    client.catalog["models"] = [_model("m0", "older")]
    window.app.library.refresh("models")
    card = window.generate_area.settings_card
    card.select_model("m0")
    assert window.app.generation.model == "m0"
    window.app.use_dataset("ds1")
    window.show_area("Train")
    window.train_area.controls.start_btn.click()
    job = client.last("train").id
    client.run_job(job, "train")
    client.catalog["models"] = [_model("m1", "just trained"), _model("m0", "older")]  # newest first
    client.push(P.Done(id=job, state="done", results=trained("r1", "m1")))
    assert window.app.generation.model == "m1"
    assert card.model.currentData() == "m1" and card.model.currentIndex() == 0
    assert window.current_area() == "Train"  # chosen in Generate, without taking the person there
    window.app.library.refresh("models")  # a later refresh keeps it (the preference is used once)
    card.select_model("m0")
    window.app.library.refresh("models")
    assert window.app.generation.model == "m0"


def test_counts_read_in_the_singular_and_plural():
    assert item_subtitle("runs", {"status": "done", "steps": 1}) == "done · 1 step"
    assert item_subtitle("runs", {"status": "done", "steps": 2814}) == "done · 2,814 steps"
    assert item_subtitle("datasets", {"n_items": 1, "kind": "image"}) == "1 image"
    assert item_subtitle("datasets", {"n_items": 9, "kind": "clip"}) == "9 clips"
    near = ScanReport.from_dict({"near_duplicates": [{"a": "a.png", "b": "b.png", "distance": 1}]})
    assert near.near_duplicates == [("a.png", "b.png (1 bit apart)")]


def test_a_new_generation_does_not_show_the_last_runs_step(window, client, tmp_path):
    import json

    import numpy as np

    client.catalog["models"] = [_model("m1", "mine")]
    client.start()
    ga = window.generate_area
    ga.settings_card.steps.setValue(8)
    ga.controls.generate_btn.click()
    job = client.last("sample").id
    client.run_job(job, "sample")
    traj = tmp_path / "ss" / "trajectory"
    traj.mkdir(parents=True)
    x = np.stack([np.full((1, 4, 4, 3), 10 * r, np.uint8) for r in range(8)])
    for name in ("xt", "x0"):
        np.save(traj / f"{name}.npy", x)
    np.save(traj / "final.npy", x[-1])
    (traj / "trajectory.json").write_text(json.dumps({"n_steps": 8, "steps": list(range(8))}))
    results = P.SampleDone(sample_set="ss", out_dir=str(traj.parent), trajectory=str(traj)).to_dict()
    client.push(P.Done(id=job, results=results))
    assert ga.live_card.scrub_label.text() == "step 8 / 8"
    ga.controls.generate_btn.click()
    client.run_job(client.last("sample").id, "sample")
    assert ga.live_card.scrub_label.text() == "timeline: when this generation ends"
    assert not ga.live_card.scrub.isEnabled() and ga.live_card.scrub.value() == 0


def test_export_asks_where_remembers_the_folder_and_never_sends_twice(window, client, tmp_path, monkeypatch):
    from PySide6.QtWidgets import QFileDialog

    client.catalog["models"] = [_model("m1", "mine")]
    client.start()
    ga = window.generate_area
    ga.controls.generate_btn.click()
    job = client.last("sample").id
    client.run_job(job, "sample")
    client.push(P.Done(id=job, results=P.SampleDone(sample_set="ss", out_dir=str(tmp_path)).to_dict()))
    asked: list[str] = []
    answer = {"path": ""}

    def dialog(parent, title, start, *rest):  # noqa: ANN001, ANN202 - QFileDialog's signature
        asked.append(start)
        return answer["path"], ""

    monkeypatch.setattr(QFileDialog, "getSaveFileName", staticmethod(dialog))
    fmt = ga.settings_card.export_fmt.currentData()
    ga.settings_card.export_btn.click()  # cancelled: nothing is sent
    assert not client.commands("export") and asked[0].endswith(f"ss-{window.app.generation.show}.{fmt}")
    (tmp_path / "mine").mkdir()  # where the export writes (a dialog starts only in a folder that exists)
    answer["path"] = str(tmp_path / "mine" / "walk")  # no suffix: the format's is added
    ga.settings_card.export_btn.click()
    export = client.last("export")
    assert export.args["out"] == str(tmp_path / "mine" / f"walk.{fmt}")
    client.push(P.Accepted(id=export.id, job=export.id, kind="export"))
    assert not ga.settings_card.export_btn.isEnabled() and ga.settings_card.export_btn.text() == "Exporting…"
    ga.settings_card.export()  # Ctrl+E while it runs: not sent twice
    assert len(client.commands("export")) == 1
    client.push(P.Done(id=export.id, results=P.ExportDone(export="e1", path=export.args["out"]).to_dict()))
    assert ga.settings_card.export_btn.isEnabled() and ga.settings_card.export_btn.text() == "Export…"
    ga.settings_card.export_btn.click()  # the dialog starts in the folder last exported to
    assert asked[-1].startswith(str(tmp_path / "mine"))


def test_generations_are_named_by_model_sampler_steps_seed_and_time(window, client):
    import time

    from desktop.model.library import generation_title, item_title

    made = time.mktime((2026, 12, 4, 14, 2, 0, 0, 0, -1))
    client.catalog["models"] = [_model("m1", "digits")]
    client.catalog["sample_sets"] = [
        {
            "id": "samples-1",
            "model_id": "m1",
            "config": {"sampler": "unipc", "steps": 20, "seed": 7},
            "created": made,
        },
        {
            "id": "samples-2",
            "model_id": "m1",
            "config": {"sampler": "fewstep", "steps": 1, "seed": 8},
            "created": made,
        },
    ]
    client.start()
    one, two = window.app.library.items["sample_sets"]
    assert generation_title(one).startswith(
        "digits · UniPC"
    ) and "20 steps · seed 7 · 04 Dec 14:02" in item_title("sample_sets", one)
    assert "1 step · seed 8" in generation_title(two)
    tips = [window.generate_area.gallery_card.gallery.item(k).toolTip() for k in range(2)]
    assert tips[0].startswith(generation_title(one)) and tips[0] != tips[1]


def test_the_window_samples_a_model_with_its_own_weight(app_model):
    gm = app_model.generation
    gm.set_model("colour", "flow", {"objective": "flow", "guide": {"trained_steps": 10, "weight": 0.0}})
    assert gm.config["guidance"] == 0.0 and gm.has_guide and gm.model_guidance == 0.0
    gm.set_model("digits", "flow", {"objective": "flow", "guide": {"trained_steps": 10}})
    assert gm.config["guidance"] == DEFAULT_GUIDANCE
