"""The window's sidebar width and names, the Help pages and Quit after a dialog (issue 26)."""

from __future__ import annotations

from PySide6.QtCore import Qt, QUrl
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import QApplication

from desktop.main_window import SHORTCUTS
from desktop.ui import library_panel

LONG = "backyard birds photographed in the early morning light, second batch"


def _fill_library(window) -> None:
    window.app.library._set(
        "datasets", [{"id": "d1", "name": LONG, "kind": "image", "n_items": 9, "path": "/tmp/ws/datasets/d1"}]
    )


def test_the_sidebar_does_not_collapse_below_its_minimum(window, qtbot):
    window.resize(1200, 800)
    qtbot.wait(10)
    window.splitter.moveSplitter(50, 1)
    window.splitter.setSizes([50, 1150])
    qtbot.wait(10)
    assert window.library.width() >= library_panel.MIN_WIDTH
    assert window.splitter.sizes()[0] >= library_panel.MIN_WIDTH
    assert not window.splitter.isCollapsible(0)


def test_long_library_names_are_elided_and_whole_in_the_tooltip(window, qtbot):
    _fill_library(window)
    window.splitter.setSizes([50, 1150])
    node = window.library.find("datasets", "d1")
    assert node is not None
    assert window.library.tree.textElideMode() == Qt.TextElideMode.ElideRight
    tip = node.toolTip(0)
    assert node.text(0) in tip  # the title and subtitle as they are shown, unelided
    assert LONG in tip and "9 images" in tip
    assert "/tmp/ws/datasets/d1" in tip


def test_the_shortcuts_table_has_aligned_rows(window, qtbot):
    window.shortcuts_action.trigger()
    dlg = window.help_page
    qtbot.waitExposed(dlg)
    grid = dlg.grid
    assert grid.rowCount() == len(SHORTCUTS) and grid.columnCount() == 2
    keys = [grid.itemAtPosition(r, 0).widget() for r in range(len(SHORTCUTS))]
    actions = [grid.itemAtPosition(r, 1).widget() for r in range(len(SHORTCUTS))]
    assert [k.text() for k in keys] == [k for k, _ in SHORTCUTS]
    assert len({k.x() for k in keys}) == 1 and len({a.x() for a in actions}) == 1
    assert min(a.x() for a in actions) >= max(k.x() + k.sizeHint().width() for k in keys)
    for k, a in zip(keys, actions, strict=True):
        assert abs(k.geometry().center().y() - a.geometry().center().y()) <= 1
    dlg.close()


def test_ctrl_q_quits_after_the_shortcuts_dialog_closed(window, qtbot):
    window.activateWindow()
    qtbot.waitActive(window)
    window.shortcuts_action.trigger()
    qtbot.waitExposed(window.help_page)
    window.help_page.close()
    qtbot.wait(10)
    assert QApplication.activeModalWidget() is None
    assert QApplication.activeWindow() is window  # else no shortcut fires at all
    qa = window.quit_action
    assert qa.shortcutContext() == Qt.ShortcutContext.ApplicationShortcut
    assert "Ctrl+Q" in [s.toString() for s in qa.shortcuts()]
    qtbot.keyClick(window.library.tree, Qt.Key.Key_Q, Qt.KeyboardModifier.ControlModifier)
    assert not window.isVisible()


def test_help_has_how_it_works_and_open_workspace(window, qtbot, monkeypatch):
    titles = [a.text() for m in window.menuBar().actions() if m.text() == "&Help" for a in m.menu().actions()]
    assert "How Noisebloom works…" in titles and "Open workspace folder" in titles
    window.how_action.trigger()
    page = window.help_page
    qtbot.waitExposed(page)
    text = page.text.text()
    for words in ("Data", "Train", "Generate", "Objective", "Batch size", "Learning rate", "Seed", "/tmp/ws"):
        assert words in text
    page.close()
    opened: list[QUrl] = []
    monkeypatch.setattr(QDesktopServices, "openUrl", lambda url: opened.append(url) or True)
    window.workspace_action.trigger()
    assert opened == [QUrl.fromLocalFile("/tmp/ws")]


def test_the_replace_question_counts_with_thousands_separators():
    from desktop.ui.dialogs import replace_question

    question, _ = replace_question([f"/out/f{k}.png" for k in range(1200)])
    assert question == "Replace 1,200 files in /out?"
