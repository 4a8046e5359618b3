"""The Generate area: model, sampler, steps, seed and count; the live view of every denoising step
(x_t, predicted x0, or both) with step counter and timing; afterwards a timeline scrubber over the
recorded trajectory, "Branch from this step", saving selected images, exporting the denoising as
MP4 / WebM / GIF, and a gallery of past generations.

For a clip model the denoising export plays the clip while it denoises (the engine picks that for a
clip trajectory), and "Export clips…" asks for a folder and writes the finished clips (the selected
ones, or all) as one MP4 / WebM / GIF each at the chosen rate (by default the clip's own fps).
Neither that export nor "Save selected…" replaces files already in the folder without asking.

For a clip model every view plays: each arriving step's filmstrips are cut into the T frames of
each clip and one clock (:class:`desktop.ui.clips.ClipPlayer`) cycles x_t and x0 together at the
model's fps while they denoise, at the scrubbed step, and for the finished clips (play / pause).

The header and the cards are :mod:`desktop.ui.generate_cards`; this module lays them out and
routes the generation model's and the library's signals to them.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QSplitter, QVBoxLayout, QWidget

from desktop.model.app import AppModel
from desktop.ui.generate_cards import GalleryCard, GenerateControls, LiveCard, ResultsCard, SettingsCard


class GenerateArea(QWidget):
    """The Generate area: the header, the settings card beside the live, results and gallery cards;
    it routes the generation model's and the library's signals to the cards."""

    def __init__(self, app: AppModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.app = app
        self.gm = app.generation
        outer = QVBoxLayout(self)
        outer.setContentsMargins(18, 14, 18, 14)
        outer.setSpacing(12)
        self.controls = GenerateControls(app)
        self.settings_card = SettingsCard(app)
        self.live_card = LiveCard(app)
        self.results_card = ResultsCard(app)
        self.gallery_card = GalleryCard(app)
        outer.addWidget(self.controls)
        body = QSplitter(Qt.Orientation.Horizontal)
        outer.addWidget(body, 1)
        body.addWidget(self.settings_card)
        center = QWidget()  # live view + timeline, results, gallery
        cl = QVBoxLayout(center)
        cl.setContentsMargins(0, 0, 0, 0)
        cl.setSpacing(10)
        cl.addWidget(self.live_card, 1)
        cl.addWidget(self.results_card)
        cl.addWidget(self.gallery_card)
        body.addWidget(center)
        body.setStretchFactor(1, 1)

        self.settings_card.model_chosen.connect(self._kind_changed)
        self.settings_card.show_combo.currentIndexChanged.connect(self._show_changed)
        self.gm.config_changed.connect(self.settings_card.load_config)
        self.gm.state_changed.connect(self._state)
        self.gm.step_received.connect(self._step)
        self.gm.result_changed.connect(self._result)
        self.gm.scrub_changed.connect(self._scrubbed)
        app.library.changed.connect(self._library)
        app.library.selection_changed.connect(self._selected)
        self.settings_card.load_config()
        self._state(self.gm.state)
        self._show_changed()

    # --- what the window calls (shortcuts, Ctrl+Return) and tests ------------------------------
    def _generate(self) -> None:
        self.controls.generate()

    def _branch(self) -> None:
        self.live_card.branch()

    def _export(self) -> None:
        self.settings_card.export()

    def _save(self) -> None:
        self.results_card.save()

    def save_to(self, folder: str) -> list[Path]:
        """Save the selected results into ``folder`` (see :meth:`ResultsCard.save_to`)."""
        return self.results_card.save_to(folder)

    def export_clips_to(self, folder: str) -> str | None:
        """Export the finished clips into ``folder``; the job's id (see :meth:`SettingsCard.export_clips_to`)."""
        return self.settings_card.export_clips_to(folder)

    # --- wiring ----------------------------------------------------------------------------------
    def _kind_changed(self) -> None:
        """Clip or image: what the count is called, the play button, the clip rate."""
        clip = self.gm.result_is_clip if not self.gm.live and self.gm.trajectory else self.gm.model_is_clip
        self.live_card.show_kind(clip)
        self.settings_card.show_kind(clip)

    def _show_changed(self) -> None:
        self.gm.show = self.settings_card.show_combo.currentData()
        self.live_card.show_views()

    def _library(self, what: str) -> None:
        if what == "models":
            self.settings_card.load_models()
        if what == "sample_sets":
            self.gallery_card.load()
        self._state(self.gm.state)

    def _selected(self, what: str, id_: str) -> None:
        if what == "models":
            self.settings_card.select_model(id_)
            self.app.area_requested.emit("Generate")
        elif what == "sample_sets":
            item = self.app.library.get(what, id_)
            if item:
                self.gm.open_sample_set(item)
                self.app.area_requested.emit("Generate")

    def _state(self, state: str) -> None:
        live = state in ("submitted", "queued", "running", "paused")
        if state in ("submitted", "queued"):
            self.live_card.clear_timeline()
        self.controls.show_state(state)
        self.live_card.show_state(live)
        self.settings_card.show_state(live)
        self.results_card.show_state(live)
        self._kind_changed()

    def _step(self, i: int, n: int) -> None:
        self.live_card.show_step()
        self.controls.show_step(i, n)

    def _result(self) -> None:
        self.results_card.show_result()
        traj = self.gm.trajectory
        if traj is not None:
            self.live_card.show_timeline(traj)
            self._scrubbed(self.gm.scrub_row)
        self._state(self.gm.state)

    def _scrubbed(self, r: int) -> None:
        traj = self.gm.trajectory
        if traj is None:
            return
        self.live_card.show_row(traj, r)
        self.controls.show_scrubbed(traj, r)
