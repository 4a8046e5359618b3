"""The Data area's Statistics tab: the dataset in plain words, a small histogram of the pictures'
short sides (pyqtgraph, loaded when the tab is first shown, like the other plots), and what it means
for training. The words come from :mod:`desktop.model.dataset_facts`."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFormLayout, QScrollArea, QVBoxLayout, QWidget

from desktop.model import dataset_facts as F
from desktop.model.scan import ScanReport
from desktop.ui import theme
from desktop.ui.widgets import label


class StatsView(QScrollArea):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWidgetResizable(True)
        self.setFrameShape(QScrollArea.Shape.NoFrame)
        body = QWidget()
        lay = QVBoxLayout(body)
        lay.setContentsMargins(12, 12, 12, 12)
        lay.setSpacing(10)
        self.form = QFormLayout()
        self.form.setLabelAlignment(Qt.AlignmentFlag.AlignLeft)
        lay.addLayout(self.form)
        self.histogram_title = label("Short side of the pictures", "section")
        lay.addWidget(self.histogram_title)
        self.plot_holder = QVBoxLayout()
        lay.addLayout(self.plot_holder)
        self.advice_title = label("What it means for training", "section")
        lay.addWidget(self.advice_title)
        self.advice = label("", wrap=True)
        self.advice.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        lay.addWidget(self.advice)
        lay.addStretch(1)
        self.setWidget(body)
        self.plot = None  # pyqtgraph loads on first show
        self.bars: list[tuple[str, int, int | None]] = []
        self.resolution = 0

    def show_report(self, report: ScanReport) -> None:
        while self.form.rowCount():
            self.form.removeRow(0)
        for heading, text in F.facts(report):
            value = label(text, wrap=True)
            value.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            self.form.addRow(label(heading, "muted"), value)
        self.bars = F.short_side_histogram(report.pictures)
        self.resolution = int(report.settings.get("resolution") or 0)
        self.histogram_title.setVisible(len(self.bars) > 1)
        if self.plot is not None:
            self.plot.setVisible(len(self.bars) > 1)
        lines = F.advice(report)
        self.advice_title.setVisible(bool(lines))
        self.advice.setText("\n".join(f"• {x}" for x in lines))
        self._plot()

    def showEvent(self, e) -> None:  # noqa: N802, ANN001 - Qt
        self.ensure_plot()
        super().showEvent(e)

    def ensure_plot(self) -> None:
        if self.plot is not None:
            return
        import pyqtgraph as pg

        self.plot = pg.PlotWidget()
        self.plot.setFixedHeight(150)
        self.plot.setMouseEnabled(x=False, y=False)
        self.plot.hideButtons()
        self.plot.setMenuEnabled(False)
        self.plot.setLabel("left", "pictures")
        self.plot_holder.addWidget(self.plot)
        self.plot.setVisible(len(self.bars) > 1)
        self.retint()

    def retint(self, _theme: object = None) -> None:
        if self.plot is None:
            return
        theme.tint_plot(self.plot)
        self._plot()

    def _plot(self) -> None:
        """Bars of the short-side bins, in px; a bin under the training resolution in the second
        colour (those pictures were upscaled)."""
        if self.plot is None:
            return
        import pyqtgraph as pg

        t = theme.current()
        self.plot.clear()
        if not self.bars:
            return
        xs = list(range(len(self.bars)))
        res = self.resolution
        small = [bool(res) and hi is not None and hi <= res for _, _, hi in self.bars]
        brushes = [pg.mkBrush(t.accent2 if s else t.accent) for s in small]
        self.plot.addItem(
            pg.BarGraphItem(x=xs, height=[n for _, n, _ in self.bars], width=0.75, brushes=brushes, pen=None)
        )
        self.plot.getAxis("bottom").setTicks([[(x, f"{lab} px") for x, (lab, _, _) in enumerate(self.bars)]])
        self.plot.setXRange(-0.6, len(xs) - 0.4, padding=0)
        self.plot.setYRange(0, max(n for _, n, _ in self.bars) * 1.1, padding=0)
