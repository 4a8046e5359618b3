"""A model made fast in the Generate area, against scripted engine events: the few-step sampler is
offered and becomes the default at low steps, its guidance is locked, the results follow the seed
and steps (debounced, the latest request wins, a superseded job's events are ignored), and "Make it
fast" runs the engine's make_fast job and shows its progress."""

from __future__ import annotations

from core.catalogue.samplers import DEFAULT_GUIDANCE, FEWSTEP_AUTO_STEPS, samplers_for
from core.engine import protocol as P
from desktop.model.generation import FOLLOW_MS

MAP = {"levels": [1.0, 0.875, 0.75, 0.625, 0.5, 0.375, 0.25, 0.125], "guidance": 1.0, "route": "distil"}
FAST = {"objective": "flow", "guide": {"trained_steps": 10}, "fewstep": MAP}
PLAIN = {"objective": "flow", "guide": {"trained_steps": 10}}


def sampled(sample_set: str) -> dict:
    return P.SampleDone(sample_set=sample_set, out_dir=f"/ws/samples/{sample_set}").to_dict()


def test_a_model_with_a_map_gets_the_few_step_sampler_at_low_steps_and_loses_it_without(app_model):
    gm = app_model.generation
    gm.set_model("fast", "flow", FAST)
    assert gm.samplers() == samplers_for("flow", fewstep=True) and "fewstep" in gm.samplers()
    assert gm.config["sampler"] == "unipc"  # 20 steps: the multistep default
    assert gm.config["guidance"] == DEFAULT_GUIDANCE and not gm.guidance_locked
    gm.set_config("steps", FEWSTEP_AUTO_STEPS)
    assert gm.config["sampler"] == "fewstep" and gm.config["guidance"] == MAP["guidance"]
    assert gm.guidance_locked
    gm.set_config("steps", FEWSTEP_AUTO_STEPS + 1)
    assert gm.config["sampler"] == "unipc" and gm.config["guidance"] == DEFAULT_GUIDANCE  # given back
    gm.set_config("steps", 2)
    gm.set_model("plain", "flow", PLAIN)
    assert "fewstep" not in gm.samplers() and gm.samplers() == samplers_for("flow")
    assert gm.config["sampler"] == "unipc" and gm.config["guidance"] == DEFAULT_GUIDANCE
    gm.set_model("fast", "flow", FAST)  # chosen at 2 steps: the map at once
    assert gm.config["sampler"] == "fewstep" and gm.config["guidance"] == MAP["guidance"]


def test_a_sampler_the_person_picked_is_kept_when_the_steps_move(app_model):
    gm = app_model.generation
    gm.set_model("fast", "flow", FAST)
    gm.set_config("sampler", "flow_euler")
    gm.set_config("steps", 3)
    assert gm.config["sampler"] == "flow_euler" and not gm.guidance_locked
    gm.set_config("sampler", "fewstep")  # the automatic choice at 3 steps: automatic again
    assert gm.sampler_auto and gm.guidance_locked
    gm.set_config("steps", 12)
    assert gm.config["sampler"] == "unipc"
    gm.set_config("sampler", "fewstep")  # more steps than the map has: down to what it does by default
    assert gm.config["steps"] == FEWSTEP_AUTO_STEPS and gm.config["guidance"] == MAP["guidance"]


def test_the_locked_guidance_is_refused_in_the_model_and_disabled_with_a_reason_in_the_window(window, client):
    client.catalog["models"] = [{"id": "fast", "path": "/ws/fast", "info": FAST}]
    client.start()
    card = window.generate_area.settings_card
    card.model.setCurrentIndex(card.model.findData("fast"))
    assert "fast" in card.model.currentText()
    card.steps.setValue(2)
    assert card.sampler.currentData() == "fewstep" and card.sampler.currentText() == "Few-step"
    assert not card.guidance.isEnabled() and card.guidance.value() == MAP["guidance"]
    assert "Locked at 1" in card.guidance.toolTip() and "another sampler" in card.guidance.toolTip()
    try:
        window.app.generation.set_config("guidance", 2.0)
    except ValueError as e:
        assert "guidance 1" in str(e)
    else:
        raise AssertionError("a guidance other than the map's was taken")
    card.sampler.setCurrentIndex(card.sampler.findData("unipc"))
    assert card.guidance.isEnabled() and card.guidance.value() == DEFAULT_GUIDANCE


def test_few_step_results_follow_the_seed_and_the_latest_request_wins(app_model, client, qtbot):
    gm = app_model.generation
    gm.set_model("fast", "flow", FAST)
    gm.set_config("steps", 2)
    qtbot.waitUntil(lambda: len(client.commands("sample")) == 1, timeout=2000)  # the steps change
    first = client.last("sample")
    assert first.args["config"]["sampler"] == "fewstep" and first.args["config"]["steps"] == 2
    assert first.args["config"]["guidance"] == MAP["guidance"]
    client.run_job(first.id, "sample", P.Step(id=first.id, i=1, n=2))
    for seed in (1, 2, 3):  # quicker than the quiet: one request, with the last seed
        gm.set_config("seed", seed)
    assert len(client.commands("sample")) == 1
    qtbot.waitUntil(lambda: len(client.commands("sample")) == 2, timeout=2000)
    latest = client.last("sample")
    assert latest.args["config"]["seed"] == 3
    assert [c.args for c in client.commands("cancel")] == [{"job": first.id}]
    assert gm.job_id == latest.id and first.id in gm.superseded
    infos, errors = [], []
    app_model.info.connect(infos.append)
    app_model.error.connect(errors.append)
    client.run_job(latest.id, "sample", P.Step(id=latest.id, i=1, n=2))
    client.push(P.Step(id=first.id, i=2, n=2, x0=["stale"]))  # the stale job still talks: ignored
    assert gm.i == 1 and not gm.x0 and gm.state == "running"
    client.push(P.Error(id=first.id, message="sample cancelled", state="cancelled"))
    client.push(P.Done(id=latest.id, results=sampled("latest")))
    assert gm.sample_set == "latest" and gm.state == "done"
    assert not errors and not any("cancelled" in m for m in infos)
    qtbot.wait(2 * FOLLOW_MS)
    assert len(client.commands("sample")) == 2  # nothing changed since: no more requests


def test_a_cancel_of_a_job_that_ended_meanwhile_is_no_error(app_model, client, qtbot):
    gm = app_model.generation
    gm.set_model("fast", "flow", FAST)
    gm.set_config("steps", 1)
    qtbot.waitUntil(lambda: len(client.commands("sample")) == 1, timeout=2000)
    job = client.last("sample").id
    client.run_job(job, "sample")
    client.answer_queries = False  # the engine answers the cancel after the job ended
    gm.set_config("seed", 7)
    qtbot.waitUntil(lambda: len(client.commands("sample")) == 2, timeout=2000)
    client.push(P.Done(id=job, results=sampled("stale")))  # it ended before the cancel arrived
    cancel = client.last("cancel")
    client.push(P.Error(id=cancel.id, message=f"cancel: job {job} has already ended (done)"))
    assert app_model.last_error == "" and gm.sample_set is None and gm.state == "submitted"
    assert not gm.superseded


def test_multistep_samplers_do_not_resample_by_themselves(app_model, client, qtbot):
    gm = app_model.generation
    gm.set_model("fast", "flow", FAST)
    gm.set_config("seed", 5)
    gm.set_config("steps", 8)
    qtbot.wait(2 * FOLLOW_MS)
    assert not client.commands("sample")


def test_make_it_fast_runs_the_job_shows_progress_and_offers_the_map_when_done(window, client, qtbot):
    client.catalog["models"] = [{"id": "m", "name": "my icons", "path": "/ws/m", "info": dict(PLAIN)}]
    infos: list[str] = []
    window.app.info.connect(infos.append)
    client.start()
    window.show_area("Generate")
    ga = window.generate_area
    card, gm = ga.settings_card, window.app.generation
    card.model.setCurrentIndex(card.model.findData("m"))
    assert card.fast_btn.isEnabled() and "few-step map" in card.fast_btn.toolTip()
    assert not card.fast_bar.isVisible()
    card.fast_btn.click()
    cmd = client.last("make_fast")
    assert cmd.args == {"model": "m"}  # the engine's default budget
    client.run_job(cmd.id, "make_fast", P.Progress(id=cmd.id, done=45, total=180, unit="s", message="pool"))
    assert card.fast_bar.isVisible() and card.fast_bar.value() == 250
    assert card.fast_label.text() == "45 / 180 s"
    assert card.fast_btn.text() == "Stop making fast" and "stays exactly as it was" in card.fast_btn.toolTip()
    assert "Making fast" in window.app.jobs.jobs[cmd.id].describe()
    client.catalog["models"][0]["info"] = dict(PLAIN, fewstep=MAP)  # what the job wrote to the row
    done = P.MakeFastDone(model_dir="/ws/m", steps=500, seconds=180.0, levels=MAP["levels"], guidance=1.0)
    client.push(P.Done(id=cmd.id, results=done.to_dict()))
    assert gm.has_map and "fewstep" in [card.sampler.itemData(i) for i in range(card.sampler.count())]
    assert any(m.startswith("my icons is fast now") for m in infos)
    assert not card.fast_bar.isVisible()
    assert not card.fast_btn.isEnabled() and "fast already" in card.fast_btn.toolTip()
    card.steps.setValue(FEWSTEP_AUTO_STEPS)
    assert card.sampler.currentData() == "fewstep" and not card.guidance.isEnabled()


def test_stop_making_fast_cancels_the_job_and_the_model_stays_as_it_was(window, client):
    client.catalog["models"] = [{"id": "m", "path": "/ws/m", "info": dict(PLAIN)}]
    client.start()
    window.show_area("Generate")
    card, gm = window.generate_area.settings_card, window.app.generation
    card.model.setCurrentIndex(card.model.findData("m"))
    card.fast_btn.click()
    cmd = client.last("make_fast")
    client.run_job(cmd.id, "make_fast", P.Progress(id=cmd.id, done=10, total=180, unit="s", message="pool"))
    card.fast_btn.click()
    assert [c.args for c in client.commands("cancel")] == [{"job": cmd.id}]
    client.push(P.Error(id=cmd.id, message="make_fast cancelled", state="cancelled"))
    assert card.fast_btn.text() == "Make it fast" and card.fast_btn.isEnabled()
    assert not card.fast_bar.isVisible() and not gm.has_map


def test_make_it_fast_is_off_for_ddpm_models_and_the_built_in_demo(window, client):
    client.catalog["models"] = [{"id": "e", "path": "/ws/e", "info": {"objective": "eps"}}]
    client.start()
    card, gm = window.generate_area.settings_card, window.app.generation
    card.model.setCurrentIndex(card.model.findData("e"))
    assert not card.fast_btn.isEnabled() and "flow-matching" in card.fast_btn.toolTip()
    gm.set_model("/somewhere/demo/model", "flow", PLAIN)  # a folder outside the catalog
    assert not card.fast_btn.isEnabled() and "demo" in card.fast_btn.toolTip()


def test_a_library_refresh_keeps_the_settings_and_the_pending_re_sample(window, client, qtbot):
    client.catalog["models"] = [
        {"id": "plain", "path": "/ws/plain", "info": PLAIN},
        {"id": "fast", "path": "/ws/fast", "info": FAST},
    ]
    client.start()
    card, gm = window.generate_area.settings_card, window.app.generation
    card.model.setCurrentIndex(card.model.findData("plain"))
    card.guidance.setValue(3.0)
    window.app.library.refresh()  # as after every finished job
    assert gm.model == "plain" and gm.config["guidance"] == 3.0
    card.model.setCurrentIndex(card.model.findData("fast"))
    card.steps.setValue(2)
    qtbot.waitUntil(lambda: len(client.commands("sample")) == 1, timeout=2000)
    card.seed.setValue(9)
    window.app.library.refresh()  # a generation ended meanwhile: the seed's re-sample still comes
    qtbot.waitUntil(lambda: len(client.commands("sample")) == 2, timeout=2000)
    assert client.last("sample").args["config"]["seed"] == 9
