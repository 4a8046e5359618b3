"""Selecting a run in the library shows that run's own settings, labelled as the starting point of a
new run, never the settings or the dataset that happened to be in the card before."""

from __future__ import annotations

from PySide6.QtWidgets import QApplication

RUN_CONFIG = {
    "preset": "unet-tiny",
    "objective": "eps",
    "schedule": "linear",
    "resolution": 48,
    "batch_size": 16,
    "lr": 0.0005,
    "device": "cpu",
    "max_steps": 1500,
    "max_minutes": 10.0,
    "warmup": 50,  # a trainer setting the card does not show
}


def _library(window, client, runs: list[dict]) -> None:  # noqa: ANN001
    client.catalog["datasets"] = [
        {"id": "bad", "name": "bad", "path": "/bad", "kind": "image", "n_items": 9, "settings": {}},
        {"id": "good", "name": "emoji", "path": "/good", "kind": "image", "n_items": 300, "settings": {}},
    ]
    client.catalog["runs"] = runs
    window.app.library.refresh()
    window.app.use_dataset("bad")  # the card shows another dataset and the default budget


def test_selecting_a_finished_run_shows_its_own_settings_as_a_starting_point(window, client):
    run = {
        "id": "r7",
        "name": "emoji",
        "status": "done",
        "steps": 1500,
        "path": "/r7",
        "dataset_id": "good",
        "config": RUN_CONFIG,
    }
    _library(window, client, [run])
    card = window.train_area.settings_card
    assert card.dataset.currentData() == "bad" and card.budget_minutes.isChecked()
    assert not card.from_run.isVisibleTo(window)
    window.app.library.select("runs", "r7")
    assert card.dataset.currentData() == "good"
    assert card.preset.currentData() == "unet-tiny" and card.objective.currentData() == "eps"
    assert card.schedule.currentData() == "linear" and card.resolution.currentData() == 48
    assert card.batch.value() == 16 and card.lr.value() == 0.0005 and card.device.currentData() == "cpu"
    assert card.budget_steps.isChecked() and card.budget_value.value() == 1500
    assert card.from_run.isVisibleTo(window)
    assert card.from_run.text().startswith(
        "The settings of run “emoji” (r7): Start trains a new run with them"
    )
    QApplication.processEvents()
    window.resize(1280, 800)
    window.train_area.grab().save("/tmp/train_run_settings.png")
    job = window.app.training.start()
    sent = client.last("train")
    assert sent.id == job and sent.args["dataset"] == "good"
    assert sent.args["config"]["max_steps"] == 1500 and sent.args["config"]["max_minutes"] is None
    assert "warmup" not in sent.args["config"]
    assert not card.from_run.isVisibleTo(window)  # a new run of its own now


def test_a_run_whose_dataset_is_gone_says_so_and_trains_on_nothing_else(window, client):
    run = {
        "id": "r8",
        "name": "old",
        "status": "done",
        "steps": 10,
        "path": "/r8",
        "dataset_id": "gone",
        "config": RUN_CONFIG,
    }
    _library(window, client, [run])
    said = []
    window.app.info.connect(said.append)
    window.app.library.select("runs", "r8")
    assert said == ["Run “old”: its dataset is no longer in the library; the settings show the rest"]
    assert (
        window.app.training.dataset_id is None
        and window.train_area.settings_card.dataset.currentIndex() == -1
    )


def _base_model(window, client, id_: str, name: str, *, preset: str, resolution: int) -> None:  # noqa: ANN001
    """The library with the two datasets and one eps / linear model to fine-tune."""
    _library(window, client, [])
    info = {"preset": preset, "objective": "eps", "schedule": "linear", "resolution": resolution}
    client.catalog["models"] = [{"id": id_, "name": name, "path": f"/{id_}", "run_id": None, "info": info}]
    window.app.library.refresh()


def test_a_fine_tune_shows_its_base_models_network_objective_and_schedule_and_keeps_them(window, client):
    _base_model(window, client, "m1", "cifar", preset="unet-tiny", resolution=16)
    card = window.train_area.settings_card
    assert card.preset.isEnabled() and card.objective.currentData() == "flow"
    window.app.training.setup_finetune("m1", "good")
    assert card.preset.currentData() == "unet-tiny" and card.objective.currentData() == "eps"
    assert card.schedule.currentData() == "linear" and card.resolution.currentData() == 16
    assert not card.preset.isEnabled() and not card.objective.isEnabled() and not card.schedule.isEnabled()
    assert "keeps its base model's network" in card.objective.toolTip()
    assert "keeps its base model's network" in card.preset.toolTip()
    assert card.base_label.text() == (
        "Fine-tune from model “cifar”: it keeps that model's network, objective and schedule"
    )
    window.resize(1280, 800)
    QApplication.processEvents()
    window.train_area.grab().save("/tmp/train_finetune_settings.png")
    window.app.training.start()
    sent = client.last("finetune").args
    assert (
        sent["model"] == "m1"
        and sent["config"]["objective"] == "eps"
        and sent["config"]["preset"] == "unet-tiny"
    )


def test_a_fine_tune_of_a_foreign_network_shows_no_preset_of_ours(window, client):
    _base_model(window, client, "m2", "ddpm-cifar10-32", preset="custom", resolution=32)
    window.app.training.setup_finetune("m2", "good")
    card = window.train_area.settings_card
    assert card.preset.currentIndex() == -1 and card.preset.currentText() == ""
    assert card.preset.placeholderText() == "the base model's network" and not card.preset.isEnabled()
    assert card.objective.currentData() == "eps" and card.resolution.currentData() == 32
