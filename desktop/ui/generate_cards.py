"""The Generate area's parts: its header (:class:`GenerateControls`) and its cards:
:class:`SettingsCard` (the sampling settings and the export), :class:`LiveCard` (the live view and
the timeline scrubber), :class:`ResultsCard` (the finished images or clips, to save) and
:class:`GalleryCard` (past generations). :mod:`desktop.ui.generate_area` lays them out.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QIcon, QImage, QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QListView,
    QListWidget,
    QListWidgetItem,
    QProgressBar,
    QSlider,
    QSpinBox,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from core.catalogue.samplers import (
    FEWSTEP_AUTO_STEPS,
    MAX_GUIDANCE,
    MAX_SEED,
    MAX_STEPS,
    SAMPLERS,
)
from core.media.grid import SHOW
from core.sampling.trajectory import Trajectory
from core.words import count
from desktop.model.app import AppModel
from desktop.model.demo import demo_model
from desktop.model.library import generation_title, thumbnail_source
from desktop.ui import dialogs, theme
from desktop.ui.clips import ClipPlayer, ClipView, clips_from_array
from desktop.ui.images import array_to_qimage, icon, thumbnail
from desktop.ui.seed_edit import SeedEdit
from desktop.ui.widgets import Card, button, label, row

SHOW_TITLES = {"x0": "Predicted x₀", "xt": "Noisy x_t", "both": "Both"}
IMAGE_EXPORT_FPS = 12
EXPORT_PURPOSE = "export"  # the file dialogs of exports start in the folder last exported to


class RateBox(QDoubleSpinBox):
    """A frame rate, shown without trailing zeros ("7.5 fps", "10 fps"): a clip's own rate is often
    fractional (30 fps taken every 4th frame plays at 7.5) and an export keeps it exactly."""

    def textFromValue(self, value: float) -> str:  # noqa: N802 - Qt
        return f"{value:g}"


def _guarded(app: AppModel, fn) -> None:  # noqa: ANN001
    """Run ``fn``; a ValueError (a request the model refuses) is reported in the window's words."""
    try:
        fn()
    except ValueError as e:
        app.report_error(str(e))


class GenerateControls(QWidget):
    """The area's header: its title, the step counter with its timing, the progress bar, Generate
    and Stop."""

    def __init__(self, app: AppModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.app = app
        self.gm = app.generation
        self.step_label = label("", "muted")
        self.progress = QProgressBar()
        self.progress.setTextVisible(False)
        self.progress.setFixedWidth(220)
        self.generate_btn = button("Generate", "generate", primary=True, tip="Generate (Ctrl+Return)")
        self.stop_btn = button("Stop", "stop", tip="Stop sampling (Esc)")
        self.generate_btn.clicked.connect(self.generate)
        self.stop_btn.clicked.connect(self.gm.stop)
        lay = QHBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(
            row(
                label("Generate", "title"),
                self.step_label,
                None,
                self.progress,
                self.generate_btn,
                self.stop_btn,
            )
        )

    def generate(self) -> None:
        _guarded(self.app, self.gm.generate)

    def show_state(self, state: str) -> None:
        live = state in ("submitted", "queued", "running", "paused")
        self.generate_btn.setEnabled(not live and bool(self.gm.model))
        self.stop_btn.setEnabled(live)
        if state in ("submitted", "queued"):
            self.step_label.setText("Waiting for the engine…")
            self.progress.setRange(0, 0)
        elif state == "cancelled":
            self.step_label.setText(f"Stopped at step {self.gm.i}")
            self.progress.setRange(0, 1)
            self.progress.setValue(0)

    def show_step(self, i: int, n: int) -> None:
        sps = self.gm.seconds_per_step()
        self.step_label.setText(f"Step {i} / {n}" + (f" · {sps * 1000:.0f} ms/step" if sps else ""))
        self.progress.setRange(0, max(1, n))
        self.progress.setValue(i)

    def show_scrubbed(self, traj: Trajectory, r: int) -> None:
        """ "Done · 20 steps · showing step 12", and for a branch where it branched from, so its
        own step count (the steps it drew) reads as such."""
        branch = self.gm.branched_from
        drew = count(traj.n_steps, "step") + (" drawn" if branch else "")
        at = f" · branched from step {branch}" if branch else ""
        self.step_label.setText(f"Done{at} · {drew} · showing step {traj.steps[r] + 1}")


class SettingsCard(Card):
    """The sampling settings (model, "Make it fast", sampler, steps, guidance, seed, count, live view)
    and the export of the recorded denoising, or of the finished clips, as videos."""

    model_chosen = Signal()  # a model was picked: the kind shown (clip or image) may have changed

    def __init__(self, app: AppModel, parent: QWidget | None = None) -> None:
        super().__init__("Settings", parent)
        self.app = app
        self.gm = app.generation
        form = QFormLayout()
        form.setLabelAlignment(Qt.AlignmentFlag.AlignRight)
        form.setVerticalSpacing(8)
        self.model = QComboBox()
        self.model.setPlaceholderText("train a model first")
        self.fast_btn = button("Make it fast", "run")
        self.fast_btn.clicked.connect(self._fast_clicked)
        self.fast_bar = QProgressBar()
        self.fast_bar.setTextVisible(False)
        self.fast_bar.setRange(0, 1000)
        self.fast_label = label("", "muted")
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
        fast = QWidget()  # the button, and under it the job's progress while it runs
        fl = QVBoxLayout(fast)
        fl.setContentsMargins(0, 0, 0, 0)
        fl.setSpacing(4)
        fl.addWidget(row(self.fast_btn, None))
        self.fast_progress = row(self.fast_bar, self.fast_label)
        self.fast_progress.layout().setStretch(0, 1)
        fl.addWidget(self.fast_progress)
        form.addRow("", fast)
        form.addRow("Sampler", self.sampler)
        form.addRow("Steps", row(self.steps_slider, self.steps, stretch_last=False))
        form.addRow("Guidance", self.guidance)
        form.addRow("Seed", row(self.seed, self.dice))
        form.addRow("Images", self.num)
        self.num_label = form.labelForField(self.num)
        form.addRow("Live view", self.show_combo)
        self.body.addLayout(form)
        self.export_label = label("EXPORT THE DENOISING", "section")
        self.body.addWidget(self.export_label)
        self.export_fmt = QComboBox()
        for f in ("mp4", "webm", "gif"):
            self.export_fmt.addItem(f.upper(), f)
        self.export_fps = RateBox()
        self.export_fps.setRange(1, 60)
        self.export_fps.setDecimals(2)
        self.export_fps.setValue(IMAGE_EXPORT_FPS)
        self.export_fps.setSuffix(" fps")
        self.export_scale = QSpinBox()
        self.export_scale.setRange(1, 16)
        self.export_scale.setValue(4)
        self.export_scale.setPrefix("×")
        self.export_btn = button("Export…", "export", tip="Write the recorded steps as a video (Ctrl+E)")
        self.export_btn.clicked.connect(self.export)
        app.jobs.changed.connect(self._job_changed)
        self.export_clips_btn = button(
            "Export clips…",
            "export",
            tip="Write the finished clips (the selected ones, or all) as one video each into a folder",
        )
        self.export_clips_btn.clicked.connect(self._export_clips)
        self.body.addWidget(row(self.export_fmt, self.export_fps, self.export_scale))
        self.body.addWidget(row(self.export_btn, self.export_clips_btn, None))
        self.body.addStretch(1)
        self.setMinimumWidth(280)
        self.setMaximumWidth(380)

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
        app.fast.changed.connect(self.show_fast)
        theme.on_change(self.retint)
        self.retint()
        self.show_fast()

    def retint(self, _theme: object = None) -> None:
        self.dice.setIcon(icon("dice"))

    def show_fast(self) -> None:
        """The "Make it fast" button, enabled for a trained flow model without a few-step map, and its
        progress while the engine distils one."""
        fast = self.app.fast
        reason = None if fast.live else self.gm.why_not_fast()
        self.fast_btn.setText("Stop making fast" if fast.live else "Make it fast")
        self.fast_btn.setEnabled(reason is None)
        self.fast_btn.setToolTip(
            f"Stop making {fast.model} fast: the model stays exactly as it was"
            if fast.live
            else reason
            or f"Distil this model into a few-step map (a few minutes): it then draws in 1 to "
            f"{FEWSTEP_AUTO_STEPS} steps, "
            "fast enough for the results to follow the seed and steps as you change them"
        )
        self.fast_progress.setVisible(fast.live)
        job = fast.job
        if fast.live and job is not None:
            frac = job.fraction
            self.fast_bar.setRange(0, 0 if frac is None else 1000)  # busy until the first progress
            self.fast_bar.setValue(int(1000 * (frac or 0)))
            done = f"{job.done:.0f} / {job.total:.0f} {job.unit}" if job.total else "starting"
            self.fast_label.setText(done)
            self.fast_label.setToolTip(job.describe())

    def _fast_clicked(self) -> None:
        if self.app.fast.live:
            self.app.fast.stop()
        else:
            _guarded(self.app, self.gm.make_fast)

    def show_kind(self, clip: bool) -> None:
        """Clip or image: what the count is called and whether the clips can be exported."""
        self.export_clips_btn.setVisible(clip)
        self.export_label.setText("EXPORT THE DENOISING OR THE CLIPS" if clip else "EXPORT THE DENOISING")
        self.num_label.setText("Clips" if self.gm.model_is_clip else "Images")

    def show_state(self, live: bool) -> None:
        busy = self.app.exporting(self.gm.sample_set)
        self.export_btn.setEnabled(bool(self.gm.sample_set) and not live and not busy)
        self.export_btn.setText("Exporting…" if busy else "Export…")
        self.export_clips_btn.setEnabled(bool(self.gm.sample_set) and self.gm.result_is_clip and not live)

    def load_config(self) -> None:
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
        self.guidance.setEnabled(self.gm.has_guide and not self.gm.guidance_locked)
        self.guidance.setToolTip(
            f"Locked at {self.gm.map_guidance:g}: the few-step map was made at this guidance weight and "
            "cannot sample at another. Choose another sampler to change it."
            if self.gm.guidance_locked
            else "Autoguidance: steer away from this model's earlier, worse self (0 turns it off); higher "
            f"is bolder and less varied. This model's own weight is {self.gm.model_guidance:g}: the one "
            "whose samples came nearest your pictures when it finished training. On a small folder "
            "guidance also makes near-copies of your pictures likelier: the Health check counts them."
            if self.gm.has_guide
            else "This model has no guide network (trained before Noisebloom kept one, or with "
            "guide_at 0): it samples unguided. Train it again to get autoguidance."
        )
        i = self.model.findData(self.gm.model)
        if i >= 0:
            self.model.setCurrentIndex(i)
        self._loading = False
        self.show_fast()

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
            self.export_fps.setValue(self.gm.fps if self.gm.model_is_clip else IMAGE_EXPORT_FPS)
        self.model_chosen.emit()

    def load_models(self) -> None:
        """List the library's models (and the built-in demo); keep the chosen one and its settings,
        else pick the first."""
        self._loading = True
        self.model.clear()
        for m in self.app.library.items["models"]:
            info = m.get("info") or {}
            clips = " · clips" if info.get("kind") == "clip" else ""
            fast = " · fast" if isinstance(info.get("fewstep"), dict) else ""
            self.model.addItem(
                f"{m.get('name') or m['id']} · {info.get('objective', '?')}{clips}{fast}", m["id"]
            )
        demo = demo_model()
        if demo is not None:
            self.model.addItem(f"Demo · blossoms (built in) · {demo[1].get('objective', '?')}", str(demo[0]))
        listed = [str(self.model.itemData(k)) for k in range(self.model.count())]
        preferred = self.gm.take_preferred(listed)
        i = self.model.findData(self.gm.model) if preferred is None else -1
        if i >= 0:  # the same model: its settings stay (new info reaches it through the library)
            self.model.setCurrentIndex(i)
        self._loading = False
        if i < 0 and self.model.count():
            self.model.setCurrentIndex(max(0, self.model.findData(preferred)) if preferred else 0)
            self._model_chosen()

    def select_model(self, model_id: str) -> None:
        i = self.model.findData(model_id)
        if i >= 0:
            self.model.setCurrentIndex(i)

    def export(self) -> None:
        """Ask where to write the denoising video (starting in the last export folder, else the home
        folder), then export it there; nothing is sent while an export of this result is running."""
        if not self.gm.sample_set:
            self.app.report_error("Nothing to export yet: generate first")
            return
        if self.app.exporting(self.gm.sample_set):
            return
        fmt = str(self.export_fmt.currentData())
        name = f"{self.gm.sample_set}-{self.gm.show}.{fmt}"
        out = dialogs.choose_save_path(
            self, EXPORT_PURPOSE, "Export the denoising as", name, f"{fmt.upper()} video (*.{fmt})"
        )
        if not out:
            return
        path = Path(out) if Path(out).suffix == f".{fmt}" else Path(f"{out}.{fmt}")
        dialogs.remember_folder(EXPORT_PURPOSE, path.parent)
        # The save dialog asked before choosing an existing file; a name that gains its suffix here
        # was not asked about, so that one question is asked now. Either way the engine asks nothing.
        replace = path.exists()
        if replace and path != Path(out) and not dialogs.confirm_replace(self, [path]):
            return
        self.gm.export(
            fmt,
            fps=self.export_fps.value(),
            scale=self.export_scale.value(),
            out=str(path.resolve()),
            overwrite=replace,
        )
        self.show_state(self.gm.live)

    def _job_changed(self, job_id: str) -> None:
        """An export started or ended: Export reads "Exporting…" and waits until it has."""
        job = self.app.jobs.jobs.get(job_id)
        if job is not None and job.kind == "export":
            self.show_state(self.gm.live)

    def _export_clips(self) -> None:
        folder = dialogs.choose_folder(self, EXPORT_PURPOSE, "Export the clips into")
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


class LiveCard(Card):
    """The live view of every denoising step (x_t, predicted x₀, or both; clips play on one clock)
    and, after a generation, the timeline scrubber with "Branch from this step"."""

    def __init__(self, app: AppModel, parent: QWidget | None = None) -> None:
        super().__init__("Live denoising", parent)
        self.app = app
        self.gm = app.generation
        self.xt_view = ClipView("x_t: the noisy image at each step")
        self.x0_view = ClipView("The model's guess of the clean image at each step appears here, live")
        self.player = ClipPlayer([self.xt_view, self.x0_view], parent=self)
        self.body.addWidget(row(self.xt_view, self.x0_view), 1)
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
            tip="Keep the steps up to here and draw the rest again: new noise, another sampler, "
            "step count or guidance (Ctrl+B)",
        )
        self.branch_btn.clicked.connect(self.branch)
        timeline = row(self.play_btn, self.scrub, self.scrub_label, self.branch_btn, stretch_last=False)
        timeline.layout().setStretch(1, 1)
        self.body.addWidget(timeline)
        self.scrub.valueChanged.connect(self.gm.scrub)
        theme.on_change(self.retint)
        self.retint()

    def retint(self, _theme: object = None) -> None:
        self._playing_changed(self.player.playing)

    def _playing_changed(self, playing: bool) -> None:
        self.play_btn.setIcon(icon("pause" if playing else "play"))
        self.play_btn.setToolTip("Pause the clips" if playing else "Play the clips")
        if self.play_btn.isChecked() != playing:
            self.play_btn.setChecked(playing)

    def branch(self) -> None:
        """Ask what the branch changes (:func:`dialogs.branch_options`), then branch with it."""
        if self.gm.trajectory is None or self.gm.live:
            return
        options = dialogs.branch_options(self, self.gm)
        if options is not None:
            _guarded(self.app, lambda: self.gm.branch(**options))

    def show_kind(self, clip: bool) -> None:
        """Clip or image: the play button, and the clip rate the views play at."""
        self.play_btn.setVisible(clip)
        self.player.set_fps(self.gm.fps)

    def show_state(self, live: bool) -> None:
        has_traj = self.gm.trajectory is not None and not live
        self.scrub.setEnabled(has_traj)
        self.branch_btn.setEnabled(has_traj)

    def clear_timeline(self) -> None:
        """A new generation starts: the last run's step ("step 8 / 8") is not shown beside its live steps."""
        self.scrub.blockSignals(True)
        self.scrub.setValue(0)
        self.scrub.blockSignals(False)
        self.scrub_label.setText("timeline: when this generation ends")

    def show_views(self) -> None:
        """Show the views the generation model's ``show`` asks for."""
        self.xt_view.setVisible(self.gm.show in ("xt", "both"))
        self.x0_view.setVisible(self.gm.show in ("x0", "both"))

    def show_step(self) -> None:
        show = self.gm.show
        frames = self.gm.live_frames()
        if show in ("xt", "both") and self.gm.xt:
            self.xt_view.set_filmstrips(self.gm.xt, frames, "x_t")
        if show in ("x0", "both") and self.gm.x0:
            self.x0_view.set_filmstrips(self.gm.x0, frames, "predicted x₀")

    def show_timeline(self, traj: Trajectory) -> None:
        """Set the scrubber over the recorded trajectory's steps, at the scrubbed row."""
        self.scrub.blockSignals(True)
        self.scrub.setRange(0, len(traj) - 1)
        self.scrub.setValue(self.gm.scrub_row)
        self.scrub.blockSignals(False)

    def show_row(self, traj: Trajectory, r: int) -> None:
        """Show the trajectory's recorded step ``r``."""
        if self.scrub.value() != r:
            self.scrub.setValue(r)
        self.xt_view.set_clips(clips_from_array(traj.frame(r, "xt")), "x_t")
        self.x0_view.set_clips(clips_from_array(traj.frame(r, "x0")), "predicted x₀")
        self.scrub_label.setText(f"step {traj.steps[r] + 1} / {traj.n_steps}")


class ResultsCard(Card):
    """The finished images or clips of the shown generation; the selected ones are what "Save
    selected…" saves and "Export clips…" exports."""

    def __init__(self, app: AppModel, parent: QWidget | None = None) -> None:
        super().__init__("Results · select to save", parent)
        self.app = app
        self.gm = app.generation
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
        self.save_btn.clicked.connect(self.save)
        line = row(self.results, self.save_btn, stretch_last=False)
        line.layout().setStretch(0, 1)
        self.body.addWidget(line)

    def show_state(self, live: bool) -> None:
        self.save_btn.setEnabled(self.gm.count() > 0 and not live)

    def show_result(self) -> None:
        """List the shown generation's finished images or clips (their first frames)."""
        traj = self.gm.trajectory
        self.results.clear()
        finals: list = []
        if traj is not None and traj.final is not None:
            finals = [array_to_qimage(np.asarray(f if f.ndim == 3 else f[0])) for f in traj.final]
        elif self.gm.images:
            finals = [QImage(p) for p in self.gm.images]
        for k, img in enumerate(finals):
            it = QListWidgetItem(
                QIcon(QPixmap.fromImage(img.scaled(72, 72, Qt.AspectRatioMode.KeepAspectRatio))), ""
            )
            it.setToolTip(f"{'clip' if traj is not None and traj.is_clip else 'image'} {k}")
            self.results.addItem(it)

    def _selection(self) -> None:
        self.gm.selected = {self.results.row(i) for i in self.results.selectedItems()}

    def save(self) -> None:
        folder = dialogs.choose_folder(self, "save", "Save the selected images into")
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
        self.app.info.emit(f"Saved {count(len(written), 'image')} to {folder}")
        return written


class GalleryCard(Card):
    """Thumbnails of past generations (the library's sample sets); a click opens one."""

    def __init__(self, app: AppModel, parent: QWidget | None = None) -> None:
        super().__init__("Gallery · past generations", parent)
        self.app = app
        self.gm = app.generation
        self.gallery = QListWidget()
        self.gallery.setViewMode(QListView.ViewMode.IconMode)
        self.gallery.setIconSize(QSize(64, 64))
        self.gallery.setFlow(QListView.Flow.LeftToRight)
        self.gallery.setWrapping(False)
        self.gallery.setFixedHeight(92)
        self.gallery.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.gallery.itemClicked.connect(self._open_gallery)
        self.body.addWidget(self.gallery)

    def load(self) -> None:
        """List the library's latest 60 sample sets."""
        self.gallery.clear()
        for s in self.app.library.items["sample_sets"][:60]:
            pm = thumbnail(thumbnail_source("sample_sets", s), 64)
            it = QListWidgetItem(QIcon(pm) if pm is not None else icon("generate"), "")
            it.setToolTip(f"{generation_title(s)}\n{s['id']}")
            it.setData(Qt.ItemDataRole.UserRole, s["id"])
            self.gallery.addItem(it)

    def _open_gallery(self, it: QListWidgetItem) -> None:
        item = self.app.library.get("sample_sets", it.data(Qt.ItemDataRole.UserRole))
        if item:
            self.gm.open_sample_set(item)
