"""File dialogs and model folders (issue 26, items 16 and 17): every file dialog starts in the folder
last used for its purpose, else the home folder; Qt's own file dialog shows its toolbar icons in the
dark theme; "Open a model folder…" registers a model folder once and selects it, and a folder that
is not a model gets one line naming it and what is missing."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QSettings
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QFileDialog, QToolButton

from core.engine import protocol as P
from desktop.ui import dialogs, theme
from desktop.ui.library_panel import ROLE


@pytest.fixture
def asked(monkeypatch):
    """QFileDialog's static functions answered at once; each call's start folder is recorded."""
    calls: list[tuple[str, str]] = []
    answer = {"folder": "", "files": [], "save": ""}

    def folder(parent, title, start="", *rest):  # noqa: ANN001, ANN202 - QFileDialog's signature
        calls.append((title, start))
        return answer["folder"]

    def files(parent, title, start="", *rest):  # noqa: ANN001, ANN202
        calls.append((title, start))
        return answer["files"], ""

    def save(parent, title, start="", *rest):  # noqa: ANN001, ANN202
        calls.append((title, start))
        return answer["save"], ""

    monkeypatch.setattr(QFileDialog, "getExistingDirectory", staticmethod(folder))
    monkeypatch.setattr(QFileDialog, "getOpenFileNames", staticmethod(files))
    monkeypatch.setattr(QFileDialog, "getSaveFileName", staticmethod(save))
    return calls, answer


def test_a_file_dialog_starts_at_home_then_in_the_last_folder_of_its_purpose(
    window, asked, tmp_path, monkeypatch
):
    calls, answer = asked
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setattr(dialogs.QStandardPaths, "writableLocation", staticmethod(lambda _loc: str(home)))
    monkeypatch.chdir(tmp_path)  # the program's own folder is never where a dialog opens
    window.data_area.choose_folder()  # cancelled
    assert calls[-1] == ("Choose a folder of pictures or clips", str(home))
    pictures = tmp_path / "pictures"
    pictures.mkdir()
    answer["folder"] = str(pictures)
    window.data_area.choose_folder()
    window.data_area.choose_folder()
    assert calls[-1][1] == str(pictures)
    answer["files"] = [str(pictures / "a.png")]
    window.data_area.choose_files()  # the same purpose (scanning): the same folder
    assert calls[-1] == ("Choose pictures or videos", str(pictures))
    window.generate_area.results_card.save()  # another purpose: home until it is used
    assert calls[-1] == ("Save the selected images into", str(home))
    QSettings().setValue(dialogs.folder_key("save"), str(tmp_path / "gone"))  # deleted since: home
    window.generate_area.results_card.save()
    assert calls[-1][1] == str(home)


def test_the_file_dialog_toolbar_icons_are_visible_in_the_dark_theme(qapp, qtbot, tmp_path):
    theme.apply_theme(qapp, "dark")
    dlg = QFileDialog(None, "Choose a folder", str(tmp_path))
    dlg.setOption(QFileDialog.Option.DontUseNativeDialog)
    qtbot.addWidget(dlg)
    dlg.show()
    qtbot.wait(100)
    up = dlg.findChild(QToolButton, "toParentButton")
    image = up.grab().toImage()
    background = QColor(theme.DARK.surface2).lightnessF()
    light = sum(
        QColor(image.pixel(x, y)).lightnessF() > background + 0.4
        for x in range(image.width())
        for y in range(image.height())
    )
    assert light >= 30, f"the up arrow shows {light} light pixels"  # a 16 px arrow, not a dot or black


def _model_row(model_id: str, name: str, path: str) -> dict:
    info = {"objective": "flow", "preset": "unet-tiny", "resolution": 16, "kind": "image"}
    return {"id": model_id, "name": name, "path": path, "info": info, "run_id": None, "created": 1.0}


def test_open_a_model_folder_adds_it_once_and_selects_it(window, client, asked, tmp_path):
    calls, answer = asked
    folder = tmp_path / "elsewhere" / "pond" / "model"
    folder.mkdir(parents=True)
    answer["folder"] = str(folder)
    window.open_model_action.trigger()
    assert calls[-1][0] == "Open a model folder"
    sent = client.last("add_model")
    assert sent.args == {"path": str(folder)}
    client.catalog["models"] = [_model_row("m-pond", "pond", str(folder))]  # what the engine registered
    client.push(P.Result(id=sent.id, data=P.ModelAdded("m-pond", True, "pond", str(folder)).to_dict()))
    assert window.app.library.selected == ("models", "m-pond")
    node = window.library.tree.currentItem()
    assert node is not None and node.data(0, ROLE) == ("models", "m-pond")
    assert window.current_area() == "Generate"
    assert window.generate_area.settings_card.model.currentData() == "m-pond"
    assert window.app.generation.model == "m-pond"
    assert window.message.text.text() == f"Added pond ({folder})"
    window.open_model_action.trigger()  # the same folder again: the engine finds it, nothing is added
    again = client.last("add_model")
    assert again.id != sent.id and calls[-1][1] == str(folder)  # the dialog starts where it was
    client.push(P.Result(id=again.id, data=P.ModelAdded("m-pond", False, "pond", str(folder)).to_dict()))
    assert len(window.app.library.items["models"]) == 1
    assert window.message.text.text() == f"Already in the library: pond ({folder})"


def test_a_folder_that_is_not_a_model_gets_one_line(window, client, asked, tmp_path):
    _, answer = asked
    answer["folder"] = str(tmp_path / "pictures")
    window.open_model_folder()
    sent = client.last("add_model")
    line = (
        f"{tmp_path / 'pictures'}: not a model folder (no model_index.json); "
        "choose a folder that holds model_index.json, or a training run's folder"
    )
    client.push(P.Error(id=sent.id, message=line))
    assert window.message.text.text() == line and "\n" not in window.message.text.text()
    assert window.app.library.selected is None
