"""The Generate area offers the engine's own samplers, bounds and seeds (core.catalogue.samplers),
with no copies of them in the window."""

from __future__ import annotations

from PySide6.QtCore import Qt

from core.catalogue.samplers import MAX_SEED, MAX_STEPS, SAMPLERS, samplers_for


def test_the_seed_field_holds_every_seed_the_engine_takes_and_it_travels_with_generate(window, client, qtbot):
    client.catalog["models"] = [{"id": "m", "path": "/m", "info": {"objective": "flow"}}]
    client.start()
    ga = window.generate_area
    ga.settings_card.model.setCurrentIndex(ga.settings_card.model.findData("m"))
    ga.settings_card.seed.selectAll()
    qtbot.keyClicks(ga.settings_card.seed, str(MAX_SEED - 1))
    qtbot.keyClick(ga.settings_card.seed, Qt.Key.Key_Up)
    assert ga.settings_card.seed.value() == MAX_SEED and window.app.generation.config["seed"] == MAX_SEED
    qtbot.keyClicks(ga.settings_card.seed, "9")  # one digit more would pass the bound: refused
    assert ga.settings_card.seed.text() == str(MAX_SEED)
    ga.controls.generate_btn.click()
    assert client.last("sample").args["config"]["seed"] == MAX_SEED
    for _ in range(20):
        assert 0 <= window.app.generation.roll_seed() <= MAX_SEED
        assert ga.settings_card.seed.value() == window.app.generation.config["seed"]


def test_a_branch_from_the_last_seed_wraps_to_zero(app_model, client):
    gm = app_model.generation
    gm.sample_set, gm.config["seed"] = "ss", MAX_SEED
    gm.trajectory = type("T", (), {"steps": [0, 1]})()
    gm.branch(row=1)
    assert client.last("branch").args == {"sample_set": "ss", "step": 1, "seed": 0}


def test_the_steps_and_samplers_are_the_catalogues(window, client):
    client.catalog["models"] = [{"id": "m", "path": "/m", "info": {"objective": "flow"}}]
    client.start()
    ga = window.generate_area
    ga.settings_card.model.setCurrentIndex(ga.settings_card.model.findData("m"))
    assert ga.settings_card.steps.maximum() == ga.settings_card.steps_slider.maximum() == MAX_STEPS
    offered = [ga.settings_card.sampler.itemData(i) for i in range(ga.settings_card.sampler.count())]
    assert tuple(offered) == samplers_for("flow")
    assert [ga.settings_card.sampler.itemText(i) for i in range(ga.settings_card.sampler.count())] == [
        SAMPLERS[s].title for s in offered
    ]
