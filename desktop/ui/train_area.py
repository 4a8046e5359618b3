"""The Train area: settings with an estimate, Start / Pause / Resume / Stop / Extend, the live loss
curve (pyqtgraph; raw, smoothed and held-out) and the fixed-seed preview grid as the model learns.

A folder dropped here while a model is selected in the library sets up a fine-tune from it.

The preset list follows the dataset: for a clip dataset only the clip presets can be picked (an
image network cannot train on clips, nor a clip network on images; the others say so in their
tooltip), the estimate counts clips, and the fixed-seed previews play.

A cancel (from the status bar or the Engine menu) that the engine answered by keeping the run ends
as "Stopped and kept": the run is still in the library, resumable, until it is deleted there.

The header, the banner and the cards are :mod:`desktop.ui.train_cards`; this module lays them out
and routes the training model's signals to them.
"""

from __future__ import annotations

from PySide6.QtCore import QSettings, Qt
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QSplitter, QVBoxLayout, QWidget

from desktop.model.app import AppModel
from desktop.model.training import LIVE
from desktop.ui.library_panel import dropped_paths
from desktop.ui.train_cards import InterruptedBanner, LossCard, PreviewCard, SettingsCard, TrainControls


class TrainArea(QWidget):
    """The Train area: the header, the interrupted-run banner, the settings card beside the loss and
    preview cards; it routes the training model's signals to the cards."""

    def __init__(
        self, app: AppModel, settings: QSettings | None = None, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.app = app
        self.tm = app.training
        self.setAcceptDrops(True)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(18, 14, 18, 14)
        outer.setSpacing(12)
        self.controls = TrainControls(app)
        self.interrupted = InterruptedBanner(app)
        self.settings_card = SettingsCard(app, settings)
        self.loss = LossCard(app, on_speed=self.settings_card.seen_speed)
        self.previews = PreviewCard(app)
        outer.addWidget(self.controls)
        outer.addWidget(self.interrupted)
        body = QSplitter(Qt.Orientation.Horizontal)
        outer.addWidget(body, 1)
        body.addWidget(self.settings_card)
        right = QSplitter(Qt.Orientation.Vertical)
        right.addWidget(self.loss)
        right.addWidget(self.previews)
        right.setSizes([300, 300])
        body.addWidget(right)
        body.setStretchFactor(1, 1)

        self.tm.config_changed.connect(self.settings_card.load_config)
        self.tm.state_changed.connect(self._state)
        self.tm.metrics_changed.connect(self.loss.draw)
        self.tm.preview_changed.connect(self.previews.show_preview)
        self.tm.progress_changed.connect(self.controls.show_progress)
        self.tm.progress_changed.connect(lambda *_: self.settings_card.show_estimate())
        app.library.changed.connect(self._library)
        app.library.selection_changed.connect(self._selected)
        self.settings_card.load_config()
        self._state(self.tm.state)

    def flush_estimate(self) -> None:
        self.settings_card.flush_estimate()

    def toggle_pause(self) -> None:
        if self.tm.state == "paused":
            self.tm.resume()
        elif self.tm.state == "running":
            self.tm.pause()

    def _library(self, what: str) -> None:
        if what == "datasets":
            self.settings_card.load_datasets()
        if what == "runs":
            self.interrupted.update_for(self.tm.live)

    def _selected(self, what: str, id_: str) -> None:
        if what == "runs":
            run = self.app.library.get("runs", id_) or {}
            if self.tm.live:  # the live run keeps the area; the library selection waits
                return
            missing = self.tm.load_run_settings(run)
            if missing:
                self.app.info.emit(f"Run “{run.get('name') or id_}”: {missing}; the settings show the rest")
            self.tm.run_id = id_
            self.tm.kept = False
            self.tm.reset_series()
            self.tm.state = run.get("status", "done")
            self.app.client.send("metrics", {"run": id_}, on_result=self.tm._got_history)
            self._state(self.tm.state)
            self.app.area_requested.emit("Train")

    def _state(self, state: str) -> None:
        live = state in LIVE
        self.controls.show_state(state)
        self.settings_card.show_estimate()  # the run's own line while live, the forecast after
        self.previews.show_state(live)
        self.interrupted.update_for(live or self.tm.live)

    # --- drops: fine-tune ------------------------------------------------------------------------
    def dragEnterEvent(self, e: QDragEnterEvent) -> None:  # noqa: N802 - Qt
        e.acceptProposedAction() if dropped_paths(e) else e.ignore()

    def dropEvent(self, e: QDropEvent) -> None:  # noqa: N802 - Qt
        paths = dropped_paths(e)
        model = self.app.library.selected_model() or self.tm.base_model
        if paths and model:
            self.app.finetune_from_drop(model, paths)
        elif paths:
            self.app.scan_paths(paths)
        e.acceptProposedAction()
