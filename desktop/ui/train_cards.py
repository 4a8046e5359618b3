"""The Train area's parts: its header (:class:`TrainControls`), the banner that offers to resume an
interrupted run (:class:`InterruptedBanner`), and its cards: :class:`SettingsCard` (the settings and
the estimate), :class:`LossCard` (the live loss curve) and :class:`PreviewCard` (the fixed-seed
previews and their timelapse). :mod:`desktop.ui.train_area` lays them out.
"""

from __future__ import annotations

from PySide6.QtCore import QSettings, Qt, QTimer
from PySide6.QtWidgets import (
    QButtonGroup,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QProgressBar,
    QRadioButton,
    QSlider,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from core.catalogue.training import DEVICES, OBJECTIVES
from core.words import count
from desktop.model.app import AppModel
from desktop.model.training import (
    AUTO,
    KIND_WORDS,
    LIVE,
    PRESET_KINDS,
    PRESETS,
    RESOLUTIONS,
    preset_mismatch,
    smooth,
)
from desktop.ui import theme
from desktop.ui.clips import ClipPlayer, ClipView
from desktop.ui.widgets import Card, button, label, row

OBJECTIVE_TITLES = {
    "eps": "Noise (ε, DDPM)",
    "v": "Velocity (v)",
    "x0": "Clean image (x₀)",
    "flow": "Flow matching",
}


# Plain-words tooltips of the settings. The schedule's says why it is off under flow matching.
TIPS = {
    "dataset": "The pictures or clips the model learns from",
    "preset": "The size and kind of network: bigger learns more detail but trains slower",
    "objective": "What the network learns to predict at each step; flow matching is a good default",
    "schedule": "How quickly noise is added across the steps: cosine keeps more of the picture early on",
    "schedule_off": "Flow matching moves in a straight line from noise to picture, so it has no noise "
    "schedule: the schedule applies only to the noise, velocity and clean-image objectives",
    "budget": "When training ends: after a number of steps, or after a number of minutes",
    "budget_value": "How many steps or minutes to train for",
    "batch": "How many pictures each step learns from: larger is smoother but needs more memory",
    "lr": "How big a change each step makes: too large and training goes wild, too small and it crawls; "
    "leave it at the preset default unless you have a reason",
    "device": "Where training runs: Auto picks the graphics card when there is one",
    "fine_tune": "A fine-tune keeps its base model's network, objective and schedule: it continues "
    "that model on new pictures",
}


def _steps_suffix(n: int) -> str:
    """A spin box's suffix after ``n`` steps: " step" for 1, else " steps"."""
    return count(n, "step")[len(f"{n:,}") :]


def _guarded(app: AppModel, fn) -> None:  # noqa: ANN001
    """Run ``fn``; a ValueError (a setting the model refuses) is reported in the window's words."""
    try:
        fn()
    except ValueError as e:
        app.report_error(str(e))


STATE_TITLES = {
    "idle": "Ready",
    "submitted": "Starting…",
    "queued": "Waiting for the engine…",
    "running": "Training",
    "paused": "Paused",
    "stopping": "Stopping… saving the model",
    "done": "Finished",
    "stopped": "Stopped · model saved",
    "cancelled": "Cancelled",
    "failed": "Failed",
    "interrupted": "Interrupted",
}


class TrainControls(QWidget):
    """The area's header: its title, the run's state and progress, Start / Pause / Resume / Stop and
    Extend by N steps."""

    def __init__(self, app: AppModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.app = app
        self.tm = app.training
        self.state_label = label("Ready", "muted")
        self.progress = QProgressBar()
        self.progress.setTextVisible(False)
        self.progress.setFixedWidth(220)
        self.start_btn = button("Start", "play", primary=True, tip="Start training (Ctrl+Return)")
        self.pause_btn = button(
            "Pause", "pause", tip="Pause: compute stops, everything stays in memory (Space)"
        )
        self.resume_btn = button("Resume", "play", tip="Continue the paused run (Space)")
        self.stop_btn = button("Stop", "stop", tip="Finish the current step, save the model and end")
        self.extend_n = QSpinBox()
        self.extend_n.setRange(1, 1_000_000)
        self.extend_n.setValue(500)
        self.extend_n.setSuffix(" steps")
        self.extend_n.valueChanged.connect(lambda n: self.extend_n.setSuffix(_steps_suffix(n)))
        self.extend_n.setFixedWidth(110)
        self.extend_btn = button(
            "Extend by", "extend", tip="Continue the finished run for this many more steps"
        )
        self.start_btn.clicked.connect(self.start)
        self.pause_btn.clicked.connect(self.tm.pause)
        self.resume_btn.clicked.connect(self.tm.resume)
        self.stop_btn.clicked.connect(self.tm.stop)
        self.extend_btn.clicked.connect(lambda: _guarded(app, lambda: self.tm.extend(self.extend_n.value())))
        lay = QHBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(
            row(
                label("Train", "title"),
                self.state_label,
                None,
                self.progress,
                self.start_btn,
                self.pause_btn,
                self.resume_btn,
                self.stop_btn,
                self.extend_btn,
                self.extend_n,
            )
        )

    def start(self) -> None:
        _guarded(self.app, self.tm.start)

    def show_state(self, state: str) -> None:
        live = state in LIVE  # while stopping, Start waits for the run to end and Stop is done
        self.start_btn.setEnabled(not live)
        self.pause_btn.setVisible(state != "paused")
        self.pause_btn.setEnabled(state == "running")
        self.resume_btn.setVisible(state == "paused")
        self.stop_btn.setEnabled(live and state != "stopping")
        self.extend_btn.setEnabled(not live and bool(self.tm.run_id))
        title = STATE_TITLES.get(state, state)
        if state == "stopped" and self.tm.kept:  # a cancel that kept the run: it is not gone
            title = "Stopped and kept · model saved"
        self.state_label.setText(title + (f" · run {self.tm.run_id}" if self.tm.run_id else ""))

    def show_progress(self, done: float, total: float) -> None:
        if total:
            self.progress.setRange(0, 1000)
            self.progress.setValue(int(1000 * done / total))


class InterruptedBanner(Card):
    """Offers to resume the library's interrupted run, while no run is live."""

    def __init__(self, app: AppModel, parent: QWidget | None = None) -> None:
        super().__init__("", parent)
        self.app = app
        self.text = label("", wrap=True)
        self.resume_btn = button("Resume", "resume", primary=True)
        self.resume_btn.clicked.connect(self._resume)
        self.body.addWidget(row(self.text, None, self.resume_btn, stretch_last=False))
        self.hide()

    def _resume(self) -> None:
        runs = self.app.library.interrupted_runs()
        if runs:
            self.app.training.resume_run(runs[0]["id"])

    def update_for(self, live: bool) -> None:
        runs = self.app.library.interrupted_runs()
        if runs and not live:
            r = runs[0]
            self.text.setText(
                f"Run “{r.get('name') or r['id']}” was interrupted at step {r.get('steps', 0)}. "
                "Resume it from its last checkpoint?"
            )
            self.show()
        else:
            self.hide()


class SettingsCard(Card):
    """The run's settings (dataset, preset, objective, schedule, resolution, budget, batch, learning
    rate, device) and the ESTIMATE box under them: one forecast from the latest speed known."""

    def __init__(
        self, app: AppModel, settings: QSettings | None = None, parent: QWidget | None = None
    ) -> None:
        super().__init__("Settings", parent)
        self.app = app
        self.tm = app.training
        self.settings = settings
        form = QFormLayout()
        form.setLabelAlignment(Qt.AlignmentFlag.AlignRight)
        form.setVerticalSpacing(8)
        self.dataset = QComboBox()
        self.dataset.setPlaceholderText("drop a folder first")
        self.base_label = label("", "muted", wrap=True)
        self.preset = QComboBox()
        self.preset.setPlaceholderText("the base model's network")
        for p in PRESETS:
            self.preset.addItem(p, p)
        self.objective = QComboBox()
        for o in OBJECTIVES:
            self.objective.addItem(OBJECTIVE_TITLES[o], o)
        self.schedule = QComboBox()
        self.schedule.addItem("Cosine", "cosine")
        self.schedule.addItem("Linear", "linear")
        self.resolution = QComboBox()
        self.resolution.addItem("Auto", AUTO)  # its text says the size it picks (show_estimate)
        self.resolution.setToolTip(
            "Auto: the largest size (up to the dataset's) at which the budget reaches recognisable "
            "shapes on this machine's measured speed"
        )
        self.resolution.addItem("Dataset's", None)
        for r in RESOLUTIONS:
            self.resolution.addItem(f"{r} px", r)
        self.budget_steps = QRadioButton("Steps")
        self.budget_minutes = QRadioButton("Minutes")
        self.budget_group = QButtonGroup(self)
        self.budget_group.addButton(self.budget_steps)
        self.budget_group.addButton(self.budget_minutes)
        self.budget_value = QSpinBox()
        self.budget_value.setRange(1, 10_000_000)
        self.batch = QSpinBox()
        self.batch.setRange(1, 4096)
        self.lr = QDoubleSpinBox()
        self.lr.setDecimals(6)
        self.lr.setRange(0.0, 1.0)
        self.lr.setSpecialValueText("preset default")
        self.lr.setSingleStep(1e-4)
        self.device = QComboBox()
        for d in DEVICES:
            self.device.addItem(d, d)
        for w, tip in (
            (self.dataset, "dataset"),
            (self.preset, "preset"),
            (self.objective, "objective"),
            (self.schedule, "schedule"),
            (self.budget_steps, "budget"),
            (self.budget_minutes, "budget"),
            (self.budget_value, "budget_value"),
            (self.batch, "batch"),
            (self.lr, "lr"),
            (self.device, "device"),
        ):
            w.setToolTip(TIPS[tip])
        # Whose settings these are when a library run was selected: a starting point for a new run.
        self.from_run = label("", "muted", wrap=True)
        self.from_run.setObjectName("settings-from")
        self.body.addWidget(self.from_run)
        self.from_run.hide()
        self.body.addWidget(self.base_label)  # above the form: a wrapped label in a form row is clipped
        self.base_label.hide()
        form.addRow("Dataset", self.dataset)
        form.addRow("Preset", self.preset)
        form.addRow("Objective", self.objective)
        form.addRow("Schedule", self.schedule)
        form.addRow("Resolution", self.resolution)
        form.addRow("Budget", row(self.budget_steps, self.budget_minutes, None))
        form.addRow("", self.budget_value)
        form.addRow("Batch size", self.batch)
        form.addRow("Learning rate", self.lr)
        form.addRow("Device", self.device)
        self.body.addLayout(form)
        self.body.addWidget(label("ESTIMATE", "section"))
        # One forecast (``estimate``: steps, what they give, the fix for a too-short budget; warning
        # style then) from the latest speed known (core.training.forecast), and under it that speed:
        # the engine's measurement for the chosen settings (a few real training steps, with memory)
        # or the speed seen in training here (remembered per preset, resolution and device), whichever
        # came last (``measured``). The engine is asked again, debounced, only when something the
        # measurement depends on changes (TrainingModel.estimate_key), not on a library refresh. While a
        # measurement is pending the box says so once; a new budget only re-forecasts.
        self.estimate = label("", None, wrap=True)
        self.estimate.setObjectName("forecast")
        self.body.addWidget(self.estimate)
        self.measured = label("", "muted", wrap=True)
        self.measured.setObjectName("measured-estimate")
        self.body.addWidget(self.measured)
        self.engine_device = label("", "muted", wrap=True)
        self.body.addWidget(self.engine_device)
        self._estimate_seq = 0
        self._estimate_key: tuple | None = None  # what the last request was for
        self._measured: dict | None = None  # the last answer
        self._measured_budget: tuple | None = None  # the budget that answer's time figures are for
        self._measuring = False  # a request is out
        self._estimate_error = ""  # why the last request failed
        self._latest = "seen"  # which speed came last: "measured" (the engine's) or "seen" in training
        self._estimate_timer = QTimer(self, singleShot=True, interval=500)
        self._estimate_timer.timeout.connect(self._request_estimate)
        self.body.addStretch(1)
        self.setMinimumWidth(280)
        self.setMaximumWidth(380)

        self._loading = False
        for w, name in (
            (self.preset, "preset"),
            (self.objective, "objective"),
            (self.schedule, "schedule"),
            (self.resolution, "resolution"),
            (self.device, "device"),
        ):
            w.currentIndexChanged.connect(lambda _i, w=w, name=name: self._set(name, w.currentData()))
        self.batch.valueChanged.connect(lambda v: self._set("batch_size", v))
        self.lr.valueChanged.connect(lambda v: self._set("lr", v or None))
        self.objective.currentIndexChanged.connect(self._apply_objective)
        self._apply_objective()
        self.budget_value.valueChanged.connect(self._budget)
        self.budget_steps.toggled.connect(self._budget)
        self.dataset.currentIndexChanged.connect(self._dataset_chosen)

    # --- settings --------------------------------------------------------------------------------
    def _set(self, name: str, value: object) -> None:
        if not self._loading:
            self.tm.set_config(name, value)

    def _budget(self) -> None:
        if self._loading:
            return
        mode = "steps" if self.budget_steps.isChecked() else "minutes"
        self._budget_suffix()
        self.tm.set_budget(mode, self.budget_value.value())

    def _budget_suffix(self) -> None:
        """ "1 step", "2 steps" or "10 min" after the budget's number."""
        n = self.budget_value.value()
        self.budget_value.setSuffix(_steps_suffix(n) if self.budget_steps.isChecked() else " min")

    def load_config(self) -> None:
        """Show the training model's settings."""
        self._loading = True
        c = self.tm.config
        for w, name in (
            (self.preset, "preset"),
            (self.objective, "objective"),
            (self.schedule, "schedule"),
            (self.resolution, "resolution"),
            (self.device, "device"),
        ):
            value = c.get(name)
            i = w.findData(value) if value is not None else (1 if w is self.resolution else 0)
            if i >= 0:
                w.setCurrentIndex(i)
        self.batch.setValue(int(c.get("batch_size") or 1))
        self.lr.setValue(float(c.get("lr") or 0.0))
        by_minutes = c.get("max_minutes") is not None
        self.budget_minutes.setChecked(by_minutes)
        self.budget_steps.setChecked(not by_minutes)
        self.budget_value.setValue(int(c["max_minutes"] if by_minutes else c.get("max_steps") or 1000))
        self._budget_suffix()
        self.dataset.setCurrentIndex(self.dataset.findData(self.tm.dataset_id) if self.tm.dataset_id else -1)
        run = self.tm.settings_from
        if run:
            name = run.get("name") or run.get("id")
            self.from_run.setText(
                f"The settings of run “{name}” ({run.get('id')}): Start trains a new run with them; "
                "change any of them first if you like."
            )
        self.from_run.setVisible(bool(run))
        base = self.tm.base_model
        if base:
            name = (self.app.library.get("models", base) or {}).get("name") or base
            self.base_label.setText(
                f"Fine-tune from model “{name}”: it keeps that model's network, objective and schedule"
            )
        self.base_label.setVisible(bool(base))
        self._loading = False
        self._apply_kind()
        self._apply_base()
        self._estimate()

    def _apply_base(self) -> None:
        """A fine-tune keeps its base model's network, objective and schedule: those are off, saying why."""
        base = bool(self.tm.base_model)
        self.objective.setEnabled(not base)
        self.objective.setToolTip(TIPS["fine_tune" if base else "objective"])
        self.preset.setEnabled(not base)
        if base:
            self.preset.setToolTip(TIPS["fine_tune"])
            if "preset" not in self.tm.base_settings():  # a foreign network (a diffusers UNet): no preset
                self._loading = True
                self.preset.setCurrentIndex(-1)  # shows the placeholder, "the base model's network"
                self._loading = False
        self._apply_objective()

    def _apply_objective(self) -> None:
        """The schedule applies to the DDPM objectives only: off under flow matching, saying why;
        a fine-tune keeps its base model's."""
        flow = self.objective.currentData() == "flow"
        self.schedule.setEnabled(not flow and not self.tm.base_model)
        tip = "fine_tune" if self.tm.base_model else "schedule_off" if flow else "schedule"
        self.schedule.setToolTip(TIPS[tip])

    def _apply_kind(self) -> None:
        """Only the presets that can train on the dataset's kind are enabled; the others say why.
        A preset that does not fit is replaced by the default one for the kind."""
        kind = self.tm.dataset_kind()
        items = self.preset.model()
        for i in range(self.preset.count()):
            name = str(self.preset.itemData(i))
            why = preset_mismatch(name, kind)
            item = items.item(i)
            item.setEnabled(not why)
            item.setToolTip(why or f"a network for {KIND_WORDS[PRESET_KINDS[name]]}")
        self.preset.setToolTip(
            f"{TIPS['preset']}. This dataset holds {KIND_WORDS[kind]}: only networks for "
            f"{KIND_WORDS[kind]} can train on it"
            if kind in KIND_WORDS
            else TIPS["preset"]
        )
        self.tm.fit_preset()

    def _dataset_chosen(self) -> None:
        if not self._loading and self.dataset.currentData():
            self.tm.dataset_id = self.dataset.currentData()
            self._apply_kind()
            self._estimate()

    def load_datasets(self) -> None:
        """Fill the dataset list from the library, keeping the chosen one."""
        self._loading = True
        self.dataset.clear()
        for d in self.app.library.items["datasets"]:
            self.dataset.addItem(f"{d.get('name') or d['id']} · {d.get('n_items', '?')}", d["id"])
        i = self.dataset.findData(self.tm.dataset_id)
        self.dataset.setCurrentIndex(i if i >= 0 else (0 if self.dataset.count() else -1))
        if self.tm.dataset_id is None and self.dataset.count():
            self.tm.dataset_id = self.dataset.currentData()
        self._loading = False
        self._apply_kind()
        self._estimate()

    # --- the estimate ----------------------------------------------------------------------------
    def _estimate(self) -> None:
        if self.tm.dataset_id and self.tm.estimate_key() != self._estimate_key:
            self._estimate_timer.start()  # "measuring" shows from now, not only once the debounce is over
        self.show_estimate()

    def flush_estimate(self) -> None:
        """Ask for the pending measurement now rather than after the debounce."""
        if self._estimate_timer.isActive():
            self._estimate_timer.stop()
            self._request_estimate()

    def _request_estimate(self) -> None:
        key = self.tm.estimate_key()
        if key == self._estimate_key or not self.tm.dataset_id:
            self.show_estimate()  # changed and changed back within the debounce
            return
        self._estimate_key = key
        self._estimate_seq += 1
        seq, budget = self._estimate_seq, self.tm.budget()
        self._measuring, self._estimate_error = True, ""
        self.show_estimate()  # the last figure stays until the new one arrives
        self.app.client.send(
            "estimate",
            {"dataset": self.tm.dataset_id, "config": self.tm.estimate_config()},
            on_result=lambda data, seq=seq: self._got_estimate(seq, data, budget=budget),
            on_error=lambda ev, seq=seq: self._got_estimate(seq, None, getattr(ev, "message", str(ev))),
        )

    def _got_estimate(self, seq: int, data: dict | None, error: str = "", budget: tuple = ()) -> None:
        if seq != self._estimate_seq:  # an answer for settings that have since changed
            return
        self._measuring = False
        if data is None:
            self._estimate_key = None  # ask again on the next change or refresh
            self._measured, self._estimate_error = None, error or "the engine gave no reason"
        else:
            self._measured, self._measured_budget = dict(data), budget
            at = data.get("resolution") or self.tm.estimate_config().get("resolution")
            self.tm.measured_at = int(at) if at else self.tm.dataset_resolution()
            self.tm.note_speed(self.tm.measured_at, float(data.get("img_per_s") or 0.0))
            self._latest = "measured"
        self.show_estimate()

    def seen_speed(self, img_per_s: float) -> None:
        """A speed seen in the live run: remembered for the next estimate (unless the run has slowed
        down: a busy machine's speed would spoil the next forecast), and the forecast follows it."""
        if self.settings is not None and self.tm.slowdown() is None:
            self.settings.setValue(self.tm.calibration_key(), img_per_s)
        self.tm.note_speed(self.tm.run_resolution, img_per_s)  # the latest speed at the run's size
        self._latest = "seen"
        self.show_estimate()

    def show_estimate(self) -> None:
        """Fill the ESTIMATE box: the forecast from the latest speed, the speed it is from, and
        "measuring" once while a measurement is pending (never under a fresh one)."""
        pending = self._measuring or self._estimate_timer.isActive()
        self._remember_speeds()
        fc = self.tm.forecast()
        speed = self._speed_text()
        warning = bool(fc and fc.too_few)
        if self._estimate_error:  # the last speed still forecasts; this one failed
            speed = f"No estimate: {self._estimate_error}"
        if self.tm.live:  # the run's own figures replace the forecast: one estimate, the latest
            slow = self.tm.slowdown_text()
            text, warning = self.tm.run_text() + (f"\n{slow}" if slow else ""), bool(slow)
            at = f" at {self.tm.run_resolution} px" if self.tm.run_resolution else ""
            speed = f"Now: ≈ {self.tm.speed_now:.3g} {unit(self.tm)}{at}" if self.tm.speed_now else ""
        elif fc is not None:
            text = fc.text
            if pending:
                speed = (speed + " · " if speed else "") + "measuring again for the changed settings…"
        elif self._estimate_error:
            text = f"No estimate: {self._estimate_error}"
        elif pending:
            text = "Measuring speed and memory…"
        else:
            text = (
                "No measurement yet for this preset and resolution on this device: the speed shows after "
                "the first steps and is remembered for the next estimate."
            )
        self.estimate.setText(text)
        if self.estimate.property("role") != ("warning" if warning else None):
            self.estimate.setProperty("role", "warning" if warning else None)
            self.estimate.style().unpolish(self.estimate)
            self.estimate.style().polish(self.estimate)
        self.measured.setText(speed)
        self.measured.setVisible(bool(speed))
        auto = self.tm.auto_resolution()
        self.resolution.setItemText(0, f"Auto · {auto} px" if auto else "Auto")
        device = f"Engine device: {self.app.device}" if self.app.device else ""
        self.engine_device.setText(device)
        self.engine_device.setVisible(bool(device))

    def _remember_speeds(self) -> None:
        """Give the forecast the speeds seen in training here before, at each size, where nothing
        newer is known."""
        if self.settings is None:
            return
        for r in RESOLUTIONS:
            ips = float(self.settings.value(self.tm.calibration_key(r), 0.0) or 0.0)
            self.tm.note_speed(r, ips, if_unknown=True)

    def _speed_text(self) -> str:
        """The speed the forecast is from, the latest of the engine's measurement (with memory) and the
        speed seen in training here; "" when neither."""
        data = self._measured
        if data is not None and self._latest == "measured":
            mb = data["peak_memory_bytes"] / 2**20
            frames, _fps = self.tm.clip_format()
            each = f" of {count(frames, 'frame')}" if frames else ""
            at = f" at {self.tm.measured_at} px" if self.tm.measured_at else ""
            return (
                f"Measured now: {data['img_per_s']:.3g} {unit(self.tm)}{each}{at}, "
                f"training memory ≈ {mb:,.0f} MB ({count(data['params'], 'parameter')})"
            )
        speeds = self.tm.speeds()
        resolution = self.tm.resolved_resolution()
        if self._latest == "seen" and resolution in speeds:
            return f"Seen in training here: ≈ {speeds[resolution]:.3g} {unit(self.tm)} at {resolution} px"
        return ""


def unit(tm: object) -> str:
    """What the run's speed counts: clips or images a second."""
    return "clips/s" if tm.dataset_kind() == "clip" else "images/s"  # type: ignore[attr-defined]


class LossCard(Card):
    """The live loss curve (pyqtgraph, loaded on first show: raw, smoothed and held-out) with its
    latest figures; each speed the run reports goes to ``on_speed`` while the run is live."""

    def __init__(self, app: AppModel, on_speed, parent: QWidget | None = None) -> None:  # noqa: ANN001
        super().__init__("Loss", parent)
        self.tm = app.training
        self.on_speed = on_speed
        self.plot = None  # pyqtgraph loads on first use: it is a third of the window's start-up time
        self.plot_holder = QVBoxLayout()
        self.plot_holder.setContentsMargins(0, 0, 0, 0)
        self.smoothing = QSlider(Qt.Orientation.Horizontal)
        self.smoothing.setRange(0, 99)
        self.smoothing.setValue(90)
        self.smoothing.setFixedWidth(160)
        self.smoothing.valueChanged.connect(self.draw)
        self.loss_numbers = label("", "muted")
        self.body.addLayout(self.plot_holder, 1)
        self.body.addWidget(row(self.loss_numbers, None, label("Smoothing", "muted"), self.smoothing))
        theme.on_change(self.retint)

    def ensure_plot(self) -> None:
        if self.plot is not None:
            return
        import pyqtgraph as pg

        from desktop.ui.log_axis import log_axis

        self.plot = pg.PlotWidget(axisItems={"left": log_axis("left")})  # readable log-scale labels
        self.plot.setMinimumHeight(160)
        self.plot.showGrid(x=True, y=True, alpha=0.15)
        self.plot.setLabel("bottom", "step")
        self.plot.setLogMode(y=True)
        self.legend = self.plot.addLegend(offset=(-10, 10))
        self.raw_curve = self.plot.plot([], [], name="loss")
        self.smooth_curve = self.plot.plot([], [], name="smoothed")
        self.val_curve = self.plot.plot([], [], name="held-out", symbol="o", symbolSize=6)
        self.plot_holder.addWidget(self.plot)
        self.retint()
        self.draw()

    def showEvent(self, e) -> None:  # noqa: N802, ANN001 - Qt
        self.ensure_plot()
        super().showEvent(e)

    def retint(self, _theme: object = None) -> None:
        if self.plot is None:
            return
        import pyqtgraph as pg

        t = theme.current()
        theme.tint_plot(self.plot)
        self.raw_curve.setPen(pg.mkPen(t.muted, width=1))
        self.smooth_curve.setPen(pg.mkPen(t.accent, width=2.5))
        self.val_curve.setPen(pg.mkPen(t.accent2, width=2))
        self.val_curve.setSymbolBrush(t.accent2)
        self.val_curve.setSymbolPen(t.accent2)
        self.legend.setLabelTextColor(t.muted)

    def draw(self) -> None:
        """Draw the training model's series (and create the plot for the first one)."""
        if self.plot is None:
            if not self.tm.series:
                return
            self.ensure_plot()  # ensure_plot draws the series
            return
        s = self.tm.series
        if "loss" in s:
            steps, values = s["loss"]
            self.raw_curve.setData(steps, values)
            sm = smooth(values, self.smoothing.value() / 100)
            self.smooth_curve.setData(steps, sm)
            text = f"step {int(steps[-1])} · loss {values[-1]:.4g} · smoothed {sm[-1]:.4g}" if steps else ""
        else:
            self.raw_curve.setData([], [])
            self.smooth_curve.setData([], [])
            text = ""
        val_name = "val_loss" if "val_loss" in s else next((k for k in s if k.startswith("val_loss")), None)
        if val_name:
            vs, vv = s[val_name]
            self.val_curve.setData(vs, vv)
            if vv:
                text += f" · held-out {vv[-1]:.4g}"
        else:
            self.val_curve.setData([], [])
        if "img_per_s" in s and s["img_per_s"][1]:
            ips = s["img_per_s"][1][-1]
            text += f" · {ips:.3g} {unit(self.tm)}"
            if self.tm.live:
                self.on_speed(ips)
        self.loss_numbers.setText(text)


class PreviewCard(Card):
    """The fixed-seed preview grid as the model learns (played as filmstrips for a clip dataset), and
    the export of those previews over training as a timelapse video."""

    def __init__(self, app: AppModel, parent: QWidget | None = None) -> None:
        super().__init__("Previews · fixed seeds", parent)
        self.tm = app.training
        self.preview = ClipView("Previews of fixed seeds appear here as the model learns")
        self.preview_player = ClipPlayer([self.preview], parent=self)
        self.timelapse_fmt = QComboBox()
        for f in ("mp4", "webm", "gif"):
            self.timelapse_fmt.addItem(f.upper(), f)
        self.timelapse_btn = button("Export timelapse", "export", tip="The previews over training as a video")
        self.timelapse_btn.clicked.connect(lambda: self.tm.export_timelapse(self.timelapse_fmt.currentData()))
        self.body.addWidget(self.preview, 1)
        self.body.addWidget(row(None, self.timelapse_fmt, self.timelapse_btn))

    def show_preview(self) -> None:
        frames, fps = self.tm.clip_format()  # a clip dataset's previews are filmstrips of its frames
        self.preview_player.set_fps(fps)
        self.preview.set_filmstrips(
            self.tm.preview_images, frames, self.tm.preview_caption or f"step {self.tm.preview_step}"
        )

    def show_state(self, live: bool) -> None:
        self.timelapse_btn.setEnabled(bool(self.tm.run_id) and not live)
