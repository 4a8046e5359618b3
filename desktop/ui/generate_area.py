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
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QIcon, QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QListView,
    QListWidget,
    QListWidgetItem,
    QProgressBar,
    QSlider,
    QSpinBox,
    QSplitter,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from core.catalogue.samplers import DEFAULT_GUIDANCE, MAX_GUIDANCE, MAX_SEED, MAX_STEPS, SAMPLERS
from core.media.grid import SHOW
from desktop.model.app import AppModel
from desktop.model.demo import demo_model
from desktop.model.library import thumbnail_source
from desktop.ui import dialogs, theme
from desktop.ui.clips import ClipPlayer, ClipView, clips_from_array
from desktop.ui.images import array_to_qimage, icon, thumbnail
from desktop.ui.seed_edit import SeedEdit
from desktop.ui.widgets import button, card, label, row

SHOW_TITLES = {"x0": "Predicted x₀", "xt": "Noisy x_t", "both": "Both"}
IMAGE_EXPORT_FPS = 12


class GenerateArea(QWidget):
    def __init__(self, app: AppModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.app = app
        self.gm = app.generation
        outer = QVBoxLayout(self)
        outer.setContentsMargins(18, 14, 18, 14)
        outer.setSpacing(12)

        self.step_label = label("", "muted")
        self.progress = QProgressBar()
        self.progress.setTextVisible(False)
        self.progress.setFixedWidth(220)
        self.generate_btn = button("Generate", "generate", primary=True, tip="Generate (Ctrl+Return)")
        self.stop_btn = button("Stop", "stop", tip="Stop sampling (Esc)")
        self.generate_btn.clicked.connect(self._generate)
        self.stop_btn.clicked.connect(self.gm.stop)
        outer.addWidget(
            row(
                label("Generate", "title"),
                self.step_label,
                None,
                self.progress,
                self.generate_btn,
                self.stop_btn,
            )
        )

        body = QSplitter(Qt.Orientation.Horizontal)
        outer.addWidget(body, 1)

        # settings
        sc, sl = card("Settings")
        form = QFormLayout()
        form.setLabelAlignment(Qt.AlignmentFlag.AlignRight)
        form.setVerticalSpacing(8)
        self.model = QComboBox()
        self.model.setPlaceholderText("train a model first")
        self.sampler = QComboBox()
        self.steps_slider = QSlider(Qt.Orientation.Horizontal)
        self.steps_slider.setRange(1, MAX_STEPS)
        self.steps = QSpinBox()
        self.steps.setRange(1, MAX_STEPS)
        self.guidance = QDoubleSpinBox()
        self.guidance.setRange(0.0, MAX_GUIDANCE)
        self.guidance.setSingleStep(0.25)
        self.guidance.setDecimals(2)
        self.guidance.setSpecialValueText("off")  # shown at 0: no autoguidance
        self.seed = SeedEdit(MAX_SEED)  # a QSpinBox stops at 2**31 - 1
        self.dice = QToolButton()
        self.dice.setProperty("icon_name", "dice")
        self.dice.setToolTip("A random seed (Ctrl+R)")
        self.dice.clicked.connect(self.gm.roll_seed)
        self.num = QSpinBox()
        self.num.setRange(1, 64)
        self.show_combo = QComboBox()
        for s in SHOW:
            self.show_combo.addItem(SHOW_TITLES[s], s)
        self.show_combo.setCurrentIndex(SHOW.index(self.gm.show))
        form.addRow("Model", self.model)
        form.addRow("Sampler", self.sampler)
        form.addRow("Steps", row(self.steps_slider, self.steps, stretch_last=False))
        form.addRow("Guidance", self.guidance)
        form.addRow("Seed", row(self.seed, self.dice))
        form.addRow("Images", self.num)
        self.num_label = form.labelForField(self.num)
        form.addRow("Live view", self.show_combo)
        sl.addLayout(form)
        self.export_label = label("EXPORT THE DENOISING", "section")
        sl.addWidget(self.export_label)
        self.export_fmt = QComboBox()
        for f in ("mp4", "webm", "gif"):
            self.export_fmt.addItem(f.upper(), f)
        self.export_fps = QSpinBox()
        self.export_fps.setRange(1, 60)
        self.export_fps.setValue(IMAGE_EXPORT_FPS)
        self.export_fps.setSuffix(" fps")
        self.export_scale = QSpinBox()
        self.export_scale.setRange(1, 16)
        self.export_scale.setValue(4)
        self.export_scale.setPrefix("×")
        self.export_btn = button("Export…", "export", tip="Write the recorded steps as a video (Ctrl+E)")
        self.export_btn.clicked.connect(self._export)
        self.export_clips_btn = button(
            "Export clips…",
            "export",
            tip="Write the finished clips (the selected ones, or all) as one video each into a folder",
        )
        self.export_clips_btn.clicked.connect(self._export_clips)
        sl.addWidget(row(self.export_fmt, self.export_fps, self.export_scale))
        sl.addWidget(row(self.export_btn, self.export_clips_btn, None))
        sl.addStretch(1)
        sc.setMinimumWidth(280)
        sc.setMaximumWidth(380)
        body.addWidget(sc)

        # live view + timeline + results
        center = QWidget()
        cl = QVBoxLayout(center)
        cl.setContentsMargins(0, 0, 0, 0)
        cl.setSpacing(10)
        view_card, vl = card("Live denoising")
        self.xt_view = ClipView("x_t: the noisy image at each step")
        self.x0_view = ClipView("The model's guess of the clean image at each step appears here, live")
        self.player = ClipPlayer([self.xt_view, self.x0_view], parent=self)
        vl.addWidget(row(self.xt_view, self.x0_view), 1)
        self.play_btn = QToolButton()
        self.play_btn.setCheckable(True)
        self.play_btn.setChecked(True)
        self.play_btn.toggled.connect(self.player.set_playing)
        self.player.playing_changed.connect(self._playing_changed)
        self.scrub = QSlider(Qt.Orientation.Horizontal)
        self.scrub.setEnabled(False)
        self.scrub_label = label("timeline: after a generation", "muted")
        self.branch_btn = button(
            "Branch from this step",
            "branch",
            tip="Keep the steps up to here, continue with new noise (Ctrl+B)",
        )
        self.branch_btn.clicked.connect(self._branch)
        vl.addWidget(row(self.play_btn, self.scrub, self.scrub_label, self.branch_btn, stretch_last=False))
        vl.itemAt(vl.count() - 1).widget().layout().setStretch(1, 1)
        cl.addWidget(view_card, 1)

        res_card, rl = card("Results · select to save")
        self.results = QListWidget()
        self.results.setViewMode(QListView.ViewMode.IconMode)
        self.results.setIconSize(QSize(72, 72))
        self.results.setFlow(QListView.Flow.LeftToRight)
        self.results.setWrapping(False)
        self.results.setFixedHeight(96)
        self.results.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.results.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.results.itemSelectionChanged.connect(self._selection)
        self.save_btn = button(
            "Save selected…", "save", tip="Save the selected images as PNGs, clips as GIFs (Ctrl+S)"
        )
        self.save_btn.clicked.connect(self._save)
        rl.addWidget(row(self.results, self.save_btn, stretch_last=False))
        rl.itemAt(rl.count() - 1).widget().layout().setStretch(0, 1)
        cl.addWidget(res_card)

        gal_card, gl = card("Gallery · past generations")
        self.gallery = QListWidget()
        self.gallery.setViewMode(QListView.ViewMode.IconMode)
        self.gallery.setIconSize(QSize(64, 64))
        self.gallery.setFlow(QListView.Flow.LeftToRight)
        self.gallery.setWrapping(False)
        self.gallery.setFixedHeight(92)
        self.gallery.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.gallery.itemClicked.connect(self._open_gallery)
        gl.addWidget(self.gallery)
        cl.addWidget(gal_card)
        body.addWidget(center)
        body.setStretchFactor(1, 1)

        # wiring
        self._loading = False
        self.model.currentIndexChanged.connect(self._model_chosen)
        self.model.currentTextChanged.connect(self.model.setToolTip)  # the whole name, when clipped
        self.sampler.currentIndexChanged.connect(
            lambda: (
                not self._loading
                and self.sampler.currentData()
                and self.gm.set_config("sampler", self.sampler.currentData())
            )
        )
        self.steps_slider.valueChanged.connect(self.steps.setValue)
        self.steps.valueChanged.connect(self.steps_slider.setValue)
        self.steps.valueChanged.connect(lambda v: not self._loading and self.gm.set_config("steps", v))
        self.guidance.valueChanged.connect(
            lambda v: not self._loading and self.gm.set_config("guidance", round(float(v), 2))
        )
        self.seed.valueChanged.connect(lambda v: not self._loading and self.gm.set_config("seed", v))
        self.num.valueChanged.connect(lambda v: not self._loading and self.gm.set_config("num", v))
        self.show_combo.currentIndexChanged.connect(self._show_changed)
        self.scrub.valueChanged.connect(self.gm.scrub)
        self.gm.config_changed.connect(self._load_config)
        self.gm.state_changed.connect(self._state)
        self.gm.step_received.connect(self._step)
        self.gm.result_changed.connect(self._result)
        self.gm.scrub_changed.connect(self._scrubbed)
        app.library.changed.connect(self._library)
        app.library.selection_changed.connect(self._selected)
        theme.on_change(self.retint)
        self._load_config()
        self._state(self.gm.state)
        self._show_changed()
        self.retint()

    def retint(self, _theme: object = None) -> None:
        self.dice.setIcon(icon("dice"))
        self._playing_changed(self.player.playing)

    def _playing_changed(self, playing: bool) -> None:
        self.play_btn.setIcon(icon("pause" if playing else "play"))
        self.play_btn.setToolTip("Pause the clips" if playing else "Play the clips")
        if self.play_btn.isChecked() != playing:
            self.play_btn.setChecked(playing)

    def _kind_changed(self) -> None:
        """Clip or image: what the count is called, the play button, the clip rate."""
        clip = self.gm.result_is_clip if not self.gm.live and self.gm.trajectory else self.gm.model_is_clip
        self.play_btn.setVisible(clip)
        self.export_clips_btn.setVisible(clip)
        self.export_label.setText("EXPORT THE DENOISING OR THE CLIPS" if clip else "EXPORT THE DENOISING")
        self.num_label.setText("Clips" if self.gm.model_is_clip else "Images")
        self.player.set_fps(self.gm.fps)

    # --- settings --------------------------------------------------------------------------------
    def _load_config(self) -> None:
        self._loading = True
        c = self.gm.config
        self.sampler.clear()
        for s in self.gm.samplers():
            self.sampler.addItem(SAMPLERS[s].title, s)
        self.sampler.setCurrentIndex(max(0, self.sampler.findData(c["sampler"])))
        self.steps.setValue(int(c["steps"]))
        self.steps_slider.setValue(int(c["steps"]))
        self.seed.setValue(int(c["seed"]))
        self.num.setValue(int(c["num"]))
        self.guidance.setValue(float(c.get("guidance") or 0.0))
        self.guidance.setEnabled(self.gm.has_guide)
        self.guidance.setToolTip(
            "Autoguidance: steer away from this model's earlier, worse self (0 turns it off). "
            f"{DEFAULT_GUIDANCE:g} sharpens; higher is bolder and less varied. On a small folder it "
            "also makes near-copies of your pictures likelier: the Health check counts them."
            if self.gm.has_guide
            else "This model has no guide network (trained before Noisebloom kept one, or with "
            "guide_at 0): it samples unguided. Train it again to get autoguidance."
        )
        i = self.model.findData(self.gm.model)
        if i >= 0:
            self.model.setCurrentIndex(i)
        self._loading = False

    def _model_chosen(self) -> None:
        if self._loading or not self.model.currentData():
            return
        mid = self.model.currentData()
        info = (self.app.library.get("models", mid) or {}).get("info") or {}
        demo = demo_model()
        if demo is not None and mid == str(demo[0]):
            info = demo[1]
        self.gm.set_model(mid, info.get("objective"), info)
        if not self._loading:  # the export rate follows the kind of model: a clip's own fps
            self.export_fps.setValue(round(self.gm.fps) if self.gm.model_is_clip else IMAGE_EXPORT_FPS)
        self._kind_changed()

    def _library(self, what: str) -> None:
        if what == "models":
            self._loading = True
            self.model.clear()
            for m in self.app.library.items["models"]:
                info = m.get("info") or {}
                clips = " · clips" if info.get("kind") == "clip" else ""
                self.model.addItem(
                    f"{m.get('name') or m['id']} · {info.get('objective', '?')}{clips}", m["id"]
                )
            demo = demo_model()
            if demo is not None:
                self.model.addItem(
                    f"Demo · blossoms (built in) · {demo[1].get('objective', '?')}", str(demo[0])
                )
            self._loading = False
            i = self.model.findData(self.gm.model)
            if i >= 0:
                self.model.setCurrentIndex(i)
            elif self.model.count():
                self.model.setCurrentIndex(0)
                self._model_chosen()
        if what == "sample_sets":
            self.gallery.clear()
            for s in self.app.library.items["sample_sets"][:60]:
                pm = thumbnail(thumbnail_source("sample_sets", s), 64)
                it = QListWidgetItem(QIcon(pm) if pm is not None else icon("generate"), "")
                cfg = s.get("config") or {}
                it.setToolTip(
                    f"{s['id']}\n{cfg.get('sampler', '')} · {cfg.get('steps', '')} steps · seed {cfg.get('seed', '')}"
                )
                it.setData(Qt.ItemDataRole.UserRole, s["id"])
                self.gallery.addItem(it)
        self._state(self.gm.state)

    def _selected(self, what: str, id_: str) -> None:
        if what == "models":
            i = self.model.findData(id_)
            if i >= 0:
                self.model.setCurrentIndex(i)
            self.app.area_requested.emit("Generate")
        elif what == "sample_sets":
            item = self.app.library.get(what, id_)
            if item:
                self.gm.open_sample_set(item)
                self.app.area_requested.emit("Generate")

    def _open_gallery(self, it: QListWidgetItem) -> None:
        item = self.app.library.get("sample_sets", it.data(Qt.ItemDataRole.UserRole))
        if item:
            self.gm.open_sample_set(item)

    def _show_changed(self) -> None:
        self.gm.show = self.show_combo.currentData()
        self.xt_view.setVisible(self.gm.show in ("xt", "both"))
        self.x0_view.setVisible(self.gm.show in ("x0", "both"))

    # --- actions ---------------------------------------------------------------------------------
    def _guard(self, fn) -> None:  # noqa: ANN001
        try:
            fn()
        except ValueError as e:
            self.app.report_error(str(e))

    def _generate(self) -> None:
        self._guard(self.gm.generate)

    def _branch(self) -> None:
        self._guard(self.gm.branch)

    def _export(self) -> None:
        if (
            self.gm.export(
                self.export_fmt.currentData(), fps=self.export_fps.value(), scale=self.export_scale.value()
            )
            is None
        ):
            self.app.report_error("Nothing to export yet: generate first")

    def _export_clips(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Export the clips into")
        if folder:
            self.export_clips_to(folder)

    def export_clips_to(self, folder: str) -> str | None:
        """Export the finished clips (the selected ones, or all) into ``folder``; the job's id."""
        job = self.gm.export_clips(
            folder,
            self.export_fmt.currentData(),
            fps=self.export_fps.value(),
            scale=self.export_scale.value(),
        )
        if job is None:
            self.app.report_error("No clips to export yet: generate with a clip model first")
        return job

    def _save(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Save the selected images into")
        if folder:
            self.save_to(folder)

    def save_to(self, folder: str) -> list[Path]:
        """Save the selected results into ``folder``; files already there are replaced only when the
        person says Replace (nothing is saved otherwise)."""
        existing = self.gm.existing_saves(folder)
        if existing and not dialogs.confirm_replace(self, existing):
            self.app.info.emit(f"Nothing was saved: the files in {folder} were left as they were")
            return []
        try:
            written = self.gm.save_selected(folder, overwrite=bool(existing))
        except OSError as e:
            self.app.report_error(str(e))
            return []
        self.app.info.emit(f"Saved {len(written)} image(s) to {folder}")
        return written

    def _selection(self) -> None:
        self.gm.selected = {self.results.row(i) for i in self.results.selectedItems()}

    # --- observing -------------------------------------------------------------------------------
    def _state(self, state: str) -> None:
        live = state in ("submitted", "queued", "running", "paused")
        self.generate_btn.setEnabled(not live and bool(self.gm.model))
        self.stop_btn.setEnabled(live)
        has_traj = self.gm.trajectory is not None and not live
        self.scrub.setEnabled(has_traj)
        self.branch_btn.setEnabled(has_traj)
        self.export_btn.setEnabled(bool(self.gm.sample_set) and not live)
        self.export_clips_btn.setEnabled(bool(self.gm.sample_set) and self.gm.result_is_clip and not live)
        self.save_btn.setEnabled(self.gm.count() > 0 and not live)
        self._kind_changed()
        if state in ("submitted", "queued"):
            self.step_label.setText("Waiting for the engine…")
            self.progress.setRange(0, 0)
        elif state == "cancelled":
            self.step_label.setText(f"Stopped at step {self.gm.i}")
            self.progress.setRange(0, 1)
            self.progress.setValue(0)

    def _step(self, i: int, n: int) -> None:
        show = self.gm.show
        frames = self.gm.live_frames()
        if show in ("xt", "both") and self.gm.xt:
            self.xt_view.set_filmstrips(self.gm.xt, frames, "x_t")
        if show in ("x0", "both") and self.gm.x0:
            self.x0_view.set_filmstrips(self.gm.x0, frames, "predicted x₀")
        sps = self.gm.seconds_per_step()
        self.step_label.setText(f"Step {i} / {n}" + (f" · {sps * 1000:.0f} ms/step" if sps else ""))
        self.progress.setRange(0, max(1, n))
        self.progress.setValue(i)

    def _result(self) -> None:
        traj = self.gm.trajectory
        self.results.clear()
        finals: list = []
        if traj is not None and traj.final is not None:
            finals = [array_to_qimage(np.asarray(f if f.ndim == 3 else f[0])) for f in traj.final]
        elif self.gm.images:
            from PySide6.QtGui import QImage

            finals = [QImage(p) for p in self.gm.images]
        for k, img in enumerate(finals):
            it = QListWidgetItem(
                QIcon(QPixmap.fromImage(img.scaled(72, 72, Qt.AspectRatioMode.KeepAspectRatio))), ""
            )
            it.setToolTip(f"{'clip' if traj is not None and traj.is_clip else 'image'} {k}")
            self.results.addItem(it)
        if traj is not None:
            self.scrub.blockSignals(True)
            self.scrub.setRange(0, len(traj) - 1)
            self.scrub.setValue(self.gm.scrub_row)
            self.scrub.blockSignals(False)
            self._scrubbed(self.gm.scrub_row)
        self._state(self.gm.state)

    def _scrubbed(self, r: int) -> None:
        traj = self.gm.trajectory
        if traj is None:
            return
        if self.scrub.value() != r:
            self.scrub.setValue(r)
        self.xt_view.set_clips(clips_from_array(traj.frame(r, "xt")), "x_t")
        self.x0_view.set_clips(clips_from_array(traj.frame(r, "x0")), "predicted x₀")
        self.scrub_label.setText(f"step {traj.steps[r] + 1} / {traj.n_steps}")
        self.step_label.setText(f"Done · {traj.n_steps} steps · showing step {traj.steps[r] + 1}")
