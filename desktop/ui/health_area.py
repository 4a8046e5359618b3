"""The Health area: is the model learning, copying the pictures, or not learning at all?

A verdict in plain language with the reason, the held-out loss over training (pyqtgraph, loaded on
first show as in the Train area), the memorised share as a big figure with its rule in one line, and
each sample beside its three nearest training pictures, copies first and framed. "Check" runs the
engine's ``evaluate`` job (progress and cancel here and in the status bar); the last check of each
model is kept by the engine and shown without a re-run. Above it all, while a run trains, a line with
its latest copying check, framed red as a warning once samples start to copy the pictures.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import (
    QComboBox,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QScrollArea,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from core.words import count
from desktop.model.app import AppModel
from desktop.model.health import copying_words, share_text
from desktop.ui import theme
from desktop.ui.images import decode_png, svg_pixmap
from desktop.ui.widgets import button, card, label, row

SAMPLE_PX = 72
NEAREST_PX = 56

INTRO = (
    "The check draws {num} pictures from the model and compares them with your pictures: how close they "
    "come to real ones, whether the model still improves on pictures it never trained on, and whether "
    "any sample is a copy of a training picture. {time}"
)


def _time_hint(device: str) -> str:
    if device.startswith(("cuda", "mps")):
        return "It takes a few seconds on the GPU."
    return "It takes about a minute on a CPU (longer for large models)."


def _ago(seconds: float) -> str:
    minutes = int(max(0.0, seconds) // 60)
    if minutes < 1:
        return "just now"
    if minutes < 120:
        return f"{minutes} min ago"
    if minutes < 48 * 60:
        return f"{minutes // 60} h ago"
    return f"{minutes // (24 * 60)} days ago"


def _fmt(v: Any, digits: int = 3) -> str:
    return f"{v:.{digits}g}" if isinstance(v, (int, float)) and v == v else "n/a"


class PixelThumb(QLabel):
    """A small picture scaled up without smoothing (16-64 px samples stay sharp)."""

    def __init__(self, b64: str, size: int, tip: str = "") -> None:
        super().__init__()
        self.image = img = decode_png(b64)
        if not img.isNull():
            scaled = img.scaled(
                size, size, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.FastTransformation
            )
            self.setPixmap(QPixmap.fromImage(scaled))
        self.setFixedSize(size, size)
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setToolTip(tip)


class PairView(QFrame):
    """One sample, then its nearest training pictures; a copy gets a red frame and a "copy" tag."""

    def __init__(self, pair: dict[str, Any]) -> None:
        super().__init__()
        self.setObjectName("pair")
        self.memorized = bool(pair.get("memorized"))
        self.setProperty("copy", self.memorized)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(8, 8, 8, 6)
        lay.setSpacing(4)
        pics = QHBoxLayout()
        pics.setSpacing(4)
        pics.addWidget(PixelThumb(str(pair.get("sample", "")), SAMPLE_PX, "the sample"))
        sep = QFrame()
        sep.setFixedWidth(6)
        pics.addWidget(sep)
        rows = list(pair.get("rows") or [])
        for k, b64 in enumerate(pair.get("nearest") or []):
            tip = f"nearest training picture {k + 1}" + (f" (dataset row {rows[k]})" if k < len(rows) else "")
            pics.addWidget(PixelThumb(str(b64), NEAREST_PX, tip), 0, Qt.AlignmentFlag.AlignBottom)
        pics.addStretch(1)
        lay.addLayout(pics)
        ratio = pair.get("ratio")
        caption = label(f"d₁/d₂ {ratio:.2f}" if isinstance(ratio, (int, float)) else "d₁/d₂ n/a", "muted")
        caption.setToolTip(
            "distance to the nearest training picture over the distance to the second nearest; "
            "under 1/3 counts as a copy"
        )
        bottom = [caption, None]
        if self.memorized:
            self.tag = QLabel("copy")
            self.tag.setObjectName("copytag")
            bottom.append(self.tag)
        lay.addWidget(row(*bottom))


class PairGrid(QWidget):
    """Pair views in as many columns as fit, re-flowed when the width changes."""

    def __init__(self) -> None:
        super().__init__()
        self.grid = QGridLayout(self)
        self.grid.setContentsMargins(0, 0, 12, 0)  # room for the scroll bar
        self.grid.setSpacing(10)
        self.views: list[PairView] = []
        self._columns = 0

    def set_pairs(self, pairs: list[dict[str, Any]]) -> None:
        for v in self.views:
            v.setParent(None)
            v.deleteLater()
        self.views = [PairView(p) for p in pairs]
        self._columns = 0
        self._reflow()

    def _reflow(self) -> None:
        if not self.views:
            return
        width = self.views[0].sizeHint().width()
        room = self.width() - 12 + self.grid.spacing()
        cols = max(1, room // (width + self.grid.spacing()))
        if cols == self._columns:
            return
        self._columns = cols
        for v in self.views:
            self.grid.removeWidget(v)
        for k, v in enumerate(self.views):
            self.grid.addWidget(v, k // cols, k % cols, Qt.AlignmentFlag.AlignTop)
        for c in range(self.grid.columnCount()):
            self.grid.setColumnStretch(c, 1 if c < cols else 0)
        self.grid.setRowStretch(self.grid.rowCount(), 1)

    def resizeEvent(self, e) -> None:  # noqa: N802, ANN001 - Qt
        super().resizeEvent(e)
        self._reflow()


class HealthArea(QWidget):
    def __init__(self, app: AppModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.app = app
        self.hm = app.health
        outer = QVBoxLayout(self)
        outer.setContentsMargins(18, 14, 18, 14)
        outer.setSpacing(12)

        self.model = QComboBox()
        self.model.setMinimumWidth(240)
        self.model.setPlaceholderText("train a model first")
        self.status = label("", "muted")
        self.progress = QProgressBar()
        self.progress.setTextVisible(False)
        self.progress.setFixedWidth(200)
        self.check_btn = button(
            "Check", "health", primary=True, tip="Sample the model and measure it against its pictures"
        )
        self.cancel_btn = button("Cancel", "stop", tip="Cancel the check (Esc)")
        self.check_btn.clicked.connect(self.check)
        self.cancel_btn.clicked.connect(self.hm.cancel)
        outer.addWidget(
            row(
                label("Health", "title"),
                self.model,
                self.status,
                None,
                self.progress,
                self.check_btn,
                self.cancel_btn,
            )
        )

        # the training's copying check, above both pages: a first run has no model to choose yet
        self.copies = QFrame()
        self.copies.setObjectName("verdict")  # the verdict banner's frame; state "copying" edges it red
        copies_row = QHBoxLayout(self.copies)
        copies_row.setContentsMargins(12, 8, 12, 8)
        self.copies_icon = QLabel()
        self.copies_icon.setFixedSize(20, 20)
        self.copies_text = label("", None, wrap=True)
        copies_row.addWidget(self.copies_icon, 0, Qt.AlignmentFlag.AlignTop)
        copies_row.addWidget(self.copies_text, 1)
        outer.addWidget(self.copies)

        self.pages = QStackedWidget()
        outer.addWidget(self.pages, 1)
        self.pages.addWidget(self._empty_page())
        self.pages.addWidget(self._body())

        self._loading = False
        self.model.currentIndexChanged.connect(self._model_chosen)
        app.library.changed.connect(self._library)
        app.library.selection_changed.connect(self._selected)
        self.hm.state_changed.connect(self._state)
        self.hm.progress_changed.connect(self._progress)
        self.hm.result_changed.connect(self._result)
        self.hm.curve_changed.connect(self._plot)
        self.hm.training_copies_changed.connect(self._training_copies)
        app.engine_changed.connect(lambda *_: self._verdict())  # the time hint follows the device
        theme.on_change(self.retint)
        self._library("models")
        self._state(self.hm.state)
        self._result()
        self.retint()

    # --- building ----------------------------------------------------------------------------------
    def _empty_page(self) -> QWidget:
        page = QWidget()
        lay = QVBoxLayout(page)
        lay.addStretch(1)
        self.empty_icon = QLabel()
        self.empty_icon.setAlignment(Qt.AlignmentFlag.AlignCenter)
        lay.addWidget(self.empty_icon)
        title = label("No model to check yet", "big")
        title.setAlignment(Qt.AlignmentFlag.AlignCenter)
        lay.addWidget(title)
        self.empty_text = label(
            "Train a model on your pictures first. Then this page tells you whether it is learning, "
            "copying your pictures, or not learning at all.",
            "muted",
            wrap=True,
        )
        self.empty_text.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty_text.setFixedWidth(460)
        lay.addWidget(row(None, self.empty_text, None))  # no alignment flag: it would clip the wrapped text
        go = button("Go to Train", "train")
        go.clicked.connect(lambda: self.app.area_requested.emit("Train"))
        lay.addWidget(go, 0, Qt.AlignmentFlag.AlignHCenter)
        lay.addStretch(2)
        return page

    def _body(self) -> QWidget:
        body = QWidget()
        bl = QVBoxLayout(body)
        bl.setContentsMargins(0, 0, 0, 0)
        bl.setSpacing(12)

        # the verdict banner
        self.banner = QFrame()
        self.banner.setObjectName("verdict")
        vl = QHBoxLayout(self.banner)
        vl.setContentsMargins(16, 12, 16, 12)
        vl.setSpacing(14)
        self.verdict_icon = QLabel()
        self.verdict_icon.setFixedSize(30, 30)
        vl.addWidget(self.verdict_icon, 0, Qt.AlignmentFlag.AlignTop)
        texts = QVBoxLayout()
        texts.setSpacing(4)
        self.verdict_text = label("", "big", wrap=True)
        self.verdict_reason = label("", "muted", wrap=True)
        texts.addWidget(self.verdict_text)
        texts.addWidget(self.verdict_reason)
        vl.addLayout(texts, 1)
        bl.addWidget(self.banner)

        # the curve and the copies side by side
        mid = QHBoxLayout()
        mid.setSpacing(12)
        loss_card, ll = card("Held-out loss over training")
        self.plot = None  # pyqtgraph loads on first show
        self.plot_holder = QVBoxLayout()
        self.plot_holder.setContentsMargins(0, 0, 0, 0)
        ll.addLayout(self.plot_holder, 1)
        self.curve_text = label("", "muted", wrap=True)
        ll.addWidget(self.curve_text)
        mid.addWidget(loss_card, 3)
        copy_card, cl = card("Copies of your pictures")
        self.share = label("—", "figure")
        self.share_line = label("", None, wrap=True)
        self.rule_line = label(
            "A sample counts as a copy when its nearest training picture is less than a third as far "
            "away as the second nearest (Gu et al. 2023).",
            "muted",
            wrap=True,
        )
        self.figures = label("", "muted", wrap=True)
        self.figures.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        for w in (self.share, self.share_line, self.rule_line, self.figures):
            cl.addWidget(w)
        cl.addStretch(1)
        copy_card.setMinimumWidth(300)
        mid.addWidget(copy_card, 2)
        midw = QWidget()
        midw.setLayout(mid)
        mid.setContentsMargins(0, 0, 0, 0)
        midw.setFixedHeight(250)
        bl.addWidget(midw)

        # samples beside their nearest training pictures
        grid_card, gl = card("Samples beside their nearest training pictures · copies first")
        self.pairs = PairGrid()
        self.pairs_hint = label("", "muted", wrap=True)
        gl.addWidget(self.pairs_hint)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setWidget(self.pairs)
        scroll.viewport().setAutoFillBackground(False)
        self.pairs.setAutoFillBackground(False)
        gl.addWidget(scroll, 1)
        bl.addWidget(grid_card, 1)
        return body

    def ensure_plot(self) -> None:
        if self.plot is not None:
            return
        import pyqtgraph as pg

        self.plot = pg.PlotWidget()
        self.plot.setMinimumHeight(120)
        self.plot.showGrid(x=True, y=True, alpha=0.15)
        self.plot.setLabel("bottom", "step")
        self.val_curve = self.plot.plot([], [], name="held-out", symbol="o", symbolSize=6)
        self.best = self.plot.plot([], [], symbol="o", symbolSize=11, pen=None)
        self.plot_holder.addWidget(self.plot)
        self.retint()
        self._plot()

    def showEvent(self, e) -> None:  # noqa: N802, ANN001 - Qt
        self.ensure_plot()
        super().showEvent(e)

    def retint(self, _theme: object = None) -> None:
        t = theme.current()
        self.empty_icon.setPixmap(svg_pixmap("health", t.muted, 56))
        self._verdict()
        self._training_copies()
        for v in self.pairs.views:  # re-polish the property-styled frames
            v.style().unpolish(v)
            v.style().polish(v)
        if self.plot is None:
            return
        import pyqtgraph as pg

        theme.tint_plot(self.plot)
        self.val_curve.setPen(pg.mkPen(t.accent2, width=2))
        self.val_curve.setSymbolBrush(t.accent2)
        self.val_curve.setSymbolPen(t.accent2)
        self.best.setSymbolBrush(None)
        self.best.setSymbolPen(pg.mkPen(t.ok, width=2))

    # --- model choice ------------------------------------------------------------------------------
    def _library(self, what: str) -> None:
        if what != "models":
            return
        models = self.app.library.items["models"]
        self._loading = True
        self.model.clear()
        for m in models:
            info = m.get("info") or {}
            self.model.addItem(str(m.get("name") or m["id"]), m["id"])
            extra = " · ".join(str(x) for x in (m["id"], info.get("objective"), info.get("preset")) if x)
            self.model.setItemData(self.model.count() - 1, extra, Qt.ItemDataRole.ToolTipRole)
        self._loading = False
        self.pages.setCurrentIndex(1 if models else 0)
        self.model.setVisible(bool(models))
        want = self.hm.model or self.app.library.selected_model()
        i = self.model.findData(want) if want else -1
        if i < 0 and self.model.count():
            i = 0  # the latest model
        if i >= 0:
            self.model.setCurrentIndex(i)
            self._model_chosen()
        else:
            self.hm.set_model(None)
        self._buttons()

    def _selected(self, what: str, id_: str) -> None:
        if what == "models":
            i = self.model.findData(id_)
            if i >= 0:
                self.model.setCurrentIndex(i)

    def _model_chosen(self) -> None:
        if self._loading or not self.model.currentData():
            return
        mid = str(self.model.currentData())
        if mid == self.hm.model:
            self.hm.refresh_curve()  # the library changed: a run may have logged more
        self.hm.set_model(mid)

    # --- actions -----------------------------------------------------------------------------------
    def check(self) -> None:
        try:
            self.hm.check()
        except ValueError as e:
            self.app.report_error(str(e))

    def _buttons(self) -> None:
        live = self.hm.live
        self.check_btn.setEnabled(not live and bool(self.hm.model))
        self.check_btn.setVisible(self.model.count() > 0)
        self.check_btn.setText("Check again" if self.hm.result and not live else "Check")
        self.cancel_btn.setVisible(live)
        self.progress.setVisible(live)
        self.model.setEnabled(not live)

    def _state(self, state: str) -> None:
        self._buttons()
        if state in ("submitted", "queued"):
            self.status.setText("waiting for the engine…")
            self.progress.setRange(0, 0)
        elif state == "cancelled":
            self.status.setText("check cancelled")
        elif state == "failed":
            self.status.setText("check failed · see the message above")
        elif not self.hm.live:
            self._checked_when()

    def _progress(self) -> None:
        hm = self.hm
        if hm.total:
            self.progress.setRange(0, 1000)
            self.progress.setValue(int(1000 * min(1.0, hm.done / hm.total)))
        if hm.live and hm.message:
            self.status.setText(hm.message)

    def _checked_when(self) -> None:
        import time

        created = self.hm.result.created if self.hm.result else None
        if isinstance(created, (int, float)):
            self.status.setText(f"checked {_ago(time.time() - created)}")
        else:
            self.status.setText("")

    # --- the result --------------------------------------------------------------------------------
    def _verdict(self) -> None:
        t = theme.current()
        v = self.hm.verdict()
        if v is None:
            state, text = "unchecked", "Not checked yet"
            reason = INTRO.format(num=self.hm.num, time=_time_hint(self.app.device))
            color, icon_name = t.accent, "info"
        else:
            state = v.get("label", "")
            text = v.get("message", "")
            first = text[:1].upper() + text[1:]
            text = {"learning": "Learning"}.get(state, first)
            reason = v.get("reason", "")
            colors = {
                "learning": t.ok,
                "copying": t.danger,
                "not_learning": t.accent2,
                "too_little": t.accent2,
            }
            color = colors.get(state, t.muted)
            icon_name = "health" if state == "learning" else "warning"
        self.banner.setProperty("state", state)
        self.banner.style().unpolish(self.banner)
        self.banner.style().polish(self.banner)
        self.verdict_icon.setPixmap(svg_pixmap(icon_name, color, 30))
        self.verdict_text.setText(text)
        self.verdict_reason.setText(reason)

    def _result(self) -> None:
        r = self.hm.result
        self._verdict()
        self._buttons()
        if not self.hm.live:
            self._checked_when()
        if not r:
            self.share.setText("—")
            self.share_line.setText("of the samples copy a training picture, once checked")
            self.figures.setText("")
            self.pairs.set_pairs([])
            self.pairs_hint.setText(
                "After a check, each sample appears here beside the three training pictures nearest to it; "
                "copies come first, framed in red."
            )
            self.pairs_hint.show()
            return
        share, n, copies = float(r.memorized_share), int(r.num_samples), int(r.memorized_count)
        self.share.setText(share_text(share))
        self.share_line.setText(
            f"{copies} of {count(n, 'sample')} {'copies' if copies == 1 else 'copy'} a training picture"
        )
        bits = []
        if r.fd is not None:
            bits.append(f"FD {_fmt(r.fd)} (real pictures {_fmt(r.fd_real)}, noise {_fmt(r.fd_noise)})")
        if r.kid is not None:
            bits.append(f"KID {_fmt(r.kid)}")
        swd = r.swd
        if isinstance(swd, dict) and swd.get("swd") is not None:
            bits.append(f"SWD×1e3 {_fmt(swd['swd'])}")
        steps = f" {count(int(r.steps), 'step')}" if r.steps else ""
        sampler = f"{count(n, 'sample')}, {r.sampler or ''}{steps}".strip()
        if r.guidance:
            sampler += f", autoguidance {r.guidance:g}"
        self.figures.setText(" · ".join(bits) + (f"\n{sampler}" if bits else sampler))
        pairs = self.hm.pairs()
        self.pairs.set_pairs(pairs)
        self.pairs_hint.setVisible(not pairs)
        self.pairs_hint.setText("This check found no training pictures to compare with.")

    def _training_copies(self) -> None:
        """The training's latest copying check in one line; past the threshold, the warning."""
        copies = self.hm.training_copies()
        self.copies.setVisible(copies is not None)
        if copies is None:
            return
        text, warn = copying_words(copies)
        t = theme.current()
        self.copies.setProperty("state", "copying" if warn else "")
        self.copies.style().unpolish(self.copies)
        self.copies.style().polish(self.copies)
        self.copies_icon.setPixmap(
            svg_pixmap("warning" if warn else "info", t.danger if warn else t.muted, 20)
        )
        self.copies_text.setText(text)

    def _plot(self) -> None:
        series = self.hm.series.get("val_loss") or []
        if not series:
            self.curve_text.setText(
                "The run logged no held-out loss yet (it does every few hundred steps while training)."
                if self.hm.model
                else ""
            )
        else:
            steps = [s for s, _ in series]
            values = [v for _, v in series]
            k = min(range(len(values)), key=values.__getitem__)
            text = f"lowest {values[k]:.4g} at step {int(steps[k])} · latest {values[-1]:.4g} at step {int(steps[-1])}"
            if k < len(values) - 1 and values[-1] > values[k] * 1.1:
                text += " · rising: the model has started to learn your pictures by heart"
            self.curve_text.setText(text)
        if self.plot is None:
            return
        if series:
            self.val_curve.setData(steps, values)
            self.best.setData([steps[k]], [values[k]])
        else:
            self.val_curve.setData([], [])
            self.best.setData([], [])

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt
        return QSize(1000, 760)
