"""File dialogs and model folders (issue 26, items 16 and 17): every file dialog starts in the folder
last used for its purpose, else the home folder; Qt's own file dialog shows its toolbar icons in the
dark theme; "Open a model folder…" registers a model folder once and selects it, and a folder that
is not a model gets one line naming it and what is missing."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QSettings
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QFileDialog, QToolButton

from desktop.ui import dialogs, theme


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
