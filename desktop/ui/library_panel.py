"""The library sidebar: datasets, runs, models and past generations, each with a thumbnail.

Clicking an entry opens it in its area; a folder dropped on a model sets up a fine-tune from that
model; the context menu resumes interrupted runs and deletes entries (through the engine).
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QFrame, QMenu, QTreeWidget, QTreeWidgetItem, QVBoxLayout, QWidget

from desktop.model.app import AppModel
from desktop.model.library import WHATS, item_subtitle, item_title, thumbnail_source
from desktop.ui import theme
from desktop.ui.images import icon, thumbnail
from desktop.ui.widgets import label

SECTION_TITLES = {"datasets": "Datasets", "runs": "Runs", "models": "Models", "sample_sets": "Generations"}
SECTION_ICONS = {"datasets": "dataset", "runs": "run", "models": "model", "sample_sets": "generate"}
ROLE = Qt.ItemDataRole.UserRole
MIN_WIDTH = 180  # the splitter cannot squeeze the sidebar below this: names stay readable


def dropped_paths(event: QDropEvent | QDragEnterEvent) -> list[str]:
    md = event.mimeData()
    if not md.hasUrls():
        return []
    return [u.toLocalFile() for u in md.urls() if u.isLocalFile() and u.toLocalFile()]


class LibraryTree(QTreeWidget):
    folder_dropped_on = Signal(str, str, list)  # what, id, paths

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setAcceptDrops(True)

    def dragEnterEvent(self, e: QDragEnterEvent) -> None:  # noqa: N802 - Qt
        if dropped_paths(e):
            e.acceptProposedAction()
        else:
            e.ignore()

    def dragMoveEvent(self, e) -> None:  # noqa: N802, ANN001 - Qt
        item = self.itemAt(e.position().toPoint())
        self.setCurrentItem(item) if item is not None and item.data(0, ROLE) else None
        e.acceptProposedAction()

    def dropEvent(self, e: QDropEvent) -> None:  # noqa: N802 - Qt
        paths = dropped_paths(e)
        item = self.itemAt(e.position().toPoint())
        data = item.data(0, ROLE) if item is not None else None
        what, id_ = data or ("", "")
        self.folder_dropped_on.emit(what, id_, paths)
        e.acceptProposedAction()


class LibraryPanel(QFrame):
    def __init__(self, app: AppModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.app = app
        self.setObjectName("sidebar")
        self.setMinimumWidth(MIN_WIDTH)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(10, 12, 6, 8)
        lay.setSpacing(6)
        lay.addWidget(label("LIBRARY", "section"))
        self.tree = LibraryTree()
        self.tree.setObjectName("library")
        self.tree.setHeaderHidden(True)
        self.tree.setIconSize(QSize(40, 40))
        self.tree.setIndentation(8)
        self.tree.setRootIsDecorated(False)
        # long names end in "…" at the panel's width, with no sideways scrolling; the tooltip
        # carries the whole name
        self.tree.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.tree.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.tree.header().setStretchLastSection(True)
        self.tree.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.tree.customContextMenuRequested.connect(self._menu)
        self.tree.itemClicked.connect(self._clicked)
        self.tree.folder_dropped_on.connect(self._dropped)
        lay.addWidget(self.tree, 1)
        self.sections: dict[str, QTreeWidgetItem] = {}
        for what in WHATS:
            sec = QTreeWidgetItem([SECTION_TITLES[what]])
            sec.setFlags(Qt.ItemFlag.ItemIsEnabled)
            f = sec.font(0)
            f.setBold(True)
            f.setPointSizeF(f.pointSizeF() * 0.9)
            sec.setFont(0, f)
            sec.setSizeHint(0, QSize(0, 30))
            self.tree.addTopLevelItem(sec)
            sec.setExpanded(True)
            self.sections[what] = sec
        self._thumbs: dict[tuple[str, str], Any] = {}
        app.library.changed.connect(self.rebuild)
        app.library.selection_changed.connect(self.show_selected)
        self.retint()

    def retint(self) -> None:
        for what in WHATS:
            self.rebuild(what)

    def rebuild(self, what: str) -> None:
        sec = self.sections[what]
        sec.takeChildren()
        items = self.app.library.items.get(what, [])
        for it in items:
            text = f"{item_title(what, it)}\n{item_subtitle(what, it)}"
            node = QTreeWidgetItem([text])
            node.setData(0, ROLE, (what, it.get("id", "")))
            path = it.get("path", "")
            node.setToolTip(0, f"{text}\n{path}" if path else text)
            key = (what, str(it.get("id")))
            if key not in self._thumbs or self._thumbs[key] is None:
                self._thumbs[key] = thumbnail(thumbnail_source(what, it), 80)
            pm = self._thumbs[key]
            node.setIcon(0, icon(SECTION_ICONS[what], theme.current().muted) if pm is None else pm)
            sec.addChild(node)
        sec.setText(0, f"{SECTION_TITLES[what]}  {len(items)}")
        selected = self.app.library.selected
        if selected is not None and selected[0] == what:
            self.show_selected(*selected)

    def show_selected(self, what: str, id_: str) -> None:
        """The library's selection, highlighted and scrolled into view (also when chosen elsewhere)."""
        node = self.find(what, id_)
        if node is not None and self.tree.currentItem() is not node:
            self.tree.setCurrentItem(node)
            self.tree.scrollToItem(node)

    def find(self, what: str, id_: str) -> QTreeWidgetItem | None:
        sec = self.sections[what]
        for k in range(sec.childCount()):
            if sec.child(k).data(0, ROLE) == (what, id_):
                return sec.child(k)
        return None

    def _clicked(self, node: QTreeWidgetItem) -> None:
        data = node.data(0, ROLE)
        if data:
            self.app.library.select(*data)

    def _dropped(self, what: str, id_: str, paths: list[str]) -> None:
        if not paths:
            return
        if what == "models":
            self.app.finetune_from_drop(id_, paths)
        else:
            self.app.scan_paths(paths)

    def _menu(self, pos) -> None:  # noqa: ANN001
        node = self.tree.itemAt(pos)
        data = node.data(0, ROLE) if node is not None else None
        menu = QMenu(self)
        menu.addAction(icon("refresh"), "Refresh", self.app.library.refresh)
        if data:
            what, id_ = data
            item = self.app.library.get(what, id_) or {}
            menu.addAction("Open", lambda: self.app.library.select(what, id_))
            resumable = item.get("status") in ("interrupted", "stopped", "done", "failed")
            if what == "runs" and resumable and item.get("dataset_id"):  # a CLI run has none to continue on
                menu.addAction(icon("resume"), "Resume training", lambda: self.app.training.resume_run(id_))
            menu.addSeparator()
            menu.addAction(
                icon("close"), f"Delete {SECTION_TITLES[what][:-1].lower()}", lambda: self._delete(what, id_)
            )
        menu.popup(self.tree.viewport().mapToGlobal(pos))

    def _delete(self, what: str, id_: str) -> None:
        self.app.client.send(
            "delete",
            {"what": what, "id": id_},
            on_result=lambda d: self.app.library.refresh(what),
            on_error=lambda e: self.app.report_error(e.message),
        )
