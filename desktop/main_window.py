"""The main window: a library sidebar and the three work areas (Data, Train, Generate)."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QLabel,
    QListWidget,
    QMainWindow,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

AREAS = ("Data", "Train", "Generate")


class MainWindow(QMainWindow):
    def __init__(self) -> None:
        super().__init__()
        self.setWindowTitle("Noisebloom")
        self.resize(1200, 780)

        self.library = QListWidget()
        self.library.setObjectName("library")
        self.library.setMinimumWidth(220)

        self.areas = QTabWidget()
        self.areas.setDocumentMode(True)
        for name in AREAS:
            page = QWidget()
            layout = QVBoxLayout(page)
            label = QLabel(f"<h2>{name}</h2>")
            label.setAlignment(Qt.AlignmentFlag.AlignCenter)
            layout.addWidget(label)
            self.areas.addTab(page, name)

        splitter = QSplitter()
        splitter.addWidget(self.library)
        splitter.addWidget(self.areas)
        splitter.setStretchFactor(1, 1)
        self.setCentralWidget(splitter)
        self.statusBar().showMessage("Engine: not started")

        for i, _name in enumerate(AREAS):
            QShortcut(
                QKeySequence(f"Ctrl+{i + 1}"), self, activated=lambda i=i: self.areas.setCurrentIndex(i)
            )

    def show_area(self, name: str) -> None:
        self.areas.setCurrentIndex(AREAS.index(name))
