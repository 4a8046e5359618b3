"""The main window: a library sidebar, the four work areas (Data, Train, Generate, Health), an inline
message bar, and a status bar with the engine's state, its device and the running job.

Folders and files dropped anywhere on the window start a scan (a drop on a model in the library,
or on the Train area while a model is selected, sets up a fine-tune instead). The layout (window
geometry, splitter, area, theme) is remembered with QSettings.

Quitting while a run trains asks what becomes of it: keep it (stopped and saved, resumable from the
library) or discard it (deleted), and waits for the engine to finish that before it shuts the
engine down. Before an export or a save replaces existing files the window asks (``dialogs``).
"""

from __future__ import annotations

from PySide6.QtCore import QByteArray, QEventLoop, QSettings, Qt, QTimer, QUrl
from PySide6.QtGui import (
    QAction,
    QActionGroup,
    QCloseEvent,
    QDesktopServices,
    QDragEnterEvent,
    QDropEvent,
    QKeySequence,
)
from PySide6.QtWidgets import (
    QApplication,
    QButtonGroup,
    QFrame,
    QLabel,
    QMainWindow,
    QMessageBox,
    QProgressBar,
    QSplitter,
    QStackedWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from desktop.engine_client import EngineClient
from desktop.model.app import AppModel
from desktop.ui import dialogs, theme
from desktop.ui.data_area import DataArea
from desktop.ui.generate_area import GenerateArea
from desktop.ui.health_area import HealthArea
from desktop.ui.images import app_icon, icon, svg_pixmap
from desktop.ui.library_panel import LibraryPanel, dropped_paths
from desktop.ui.train_area import TrainArea
from desktop.ui.widgets import MessageBar, label, retint, row

AREAS = ("Data", "Train", "Generate", "Health")
AREA_ICONS = {"Data": "data", "Train": "train", "Generate": "generate", "Health": "health"}
SHORTCUTS = (
    ("Ctrl+1 / Ctrl+2 / Ctrl+3 / Ctrl+4", "Data / Train / Generate / Health"),
    ("Ctrl+O", "Scan a folder"),
    ("Ctrl+Shift+M", "Open a model folder"),
    ("Ctrl+Return", "Start training, generate or check health (current area)"),
    ("Ctrl+P", "Pause or resume training"),
    ("Esc", "Stop the current job's live view / dismiss the message"),
    ("Ctrl+R", "Random seed"),
    ("Ctrl+B", "Branch from the scrubbed step"),
    ("Ctrl+E", "Export the denoising"),
    ("Ctrl+S", "Save the selected images"),
    ("F5", "Refresh the library"),
)
TRAINING_KINDS = ("train", "finetune", "resume_run")
CANCEL_TIP = "Cancel this job"
CANCEL_TRAINING_TIP = (
    "Cancel this run. Once it has saved a checkpoint it is stopped and kept, not deleted "
    "(delete it from the library to remove it); before that, nothing of it is kept."
)
QUIT_WAIT_MS = 300_000  # a stuck engine does not keep the window forever


class MainWindow(QMainWindow):
    def __init__(
        self,
        app_model: AppModel | None = None,
        settings: QSettings | None = None,
        *,
        start_engine: bool = True,
    ) -> None:
        super().__init__()
        self.settings = settings if settings is not None else QSettings()
        self.owns_client = app_model is None
        self._quitting = False  # waiting for the run to stop before quitting
        if app_model is None:
            app_model = AppModel(EngineClient())
        self.app = app_model
        self.setWindowTitle("Noisebloom")
        self.setWindowIcon(app_icon())
        self.resize(1320, 840)
        self.setAcceptDrops(True)

        # top bar: brand + area switcher + theme
        top = QFrame()
        top.setObjectName("topbar")
        logo = QLabel()
        logo.setPixmap(svg_pixmap("noisebloom", "#000", 26))
        self.mode_group = QButtonGroup(self)
        self.mode_buttons: dict[str, QToolButton] = {}
        for i, name in enumerate(AREAS):
            b = QToolButton()
            b.setText(name)
            b.setCheckable(True)
            b.setProperty("mode", True)
            b.setProperty("icon_name", AREA_ICONS[name])
            b.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
            b.setToolTip(f"{name} (Ctrl+{i + 1})")
            self.mode_group.addButton(b, i)
            self.mode_buttons[name] = b
        self.mode_group.idClicked.connect(self._set_area_index)
        self.theme_btn = QToolButton()
        self.theme_btn.setProperty("flat", True)
        self.theme_btn.setToolTip("Switch between light and dark")
        self.theme_btn.clicked.connect(self._toggle_theme)
        tl = row(logo, label("Noisebloom", "brand"), None, *self.mode_buttons.values(), None, self.theme_btn)
        tl.layout().setContentsMargins(14, 8, 14, 8)
        QVBoxLayout(top).addWidget(tl)
        top.layout().setContentsMargins(0, 0, 0, 0)

        # body
        self.library = LibraryPanel(self.app)
        self.message = MessageBar()
        self.data_area = DataArea(self.app)
        self.train_area = TrainArea(self.app, self.settings)
        self.generate_area = GenerateArea(self.app)
        self.health_area = HealthArea(self.app)
        self.areas = QStackedWidget()
        for w in (self.data_area, self.train_area, self.generate_area, self.health_area):
            self.areas.addWidget(w)
        right = QWidget()
        rl = QVBoxLayout(right)
        rl.setContentsMargins(12, 10, 0, 0)
        rl.setSpacing(0)
        rl.addWidget(self.areas, 1)
        self.message.float_over(right)  # over the page, not in its layout: a message never moves it
        self.splitter = QSplitter()
        self.splitter.setObjectName("main-splitter")
        self.splitter.addWidget(self.library)
        self.splitter.addWidget(right)
        self.splitter.setStretchFactor(1, 1)
        # dragging stops at the sidebar's minimum width (a restored state cannot undo this)
        self.splitter.setCollapsible(0, False)
        self.splitter.setCollapsible(1, False)
        self.splitter.setSizes([270, 1050])
        self.splitter.setHandleWidth(1)
        central = QWidget()
        central.setObjectName("central")
        cl = QVBoxLayout(central)
        cl.setContentsMargins(0, 0, 0, 0)
        cl.setSpacing(0)
        cl.addWidget(top)
        cl.addWidget(self.splitter, 1)
        self.setCentralWidget(central)

        # drop overlay
        self.overlay = QFrame(central)
        self.overlay.setObjectName("dropoverlay")
        ol = QVBoxLayout(self.overlay)
        self.overlay_text = label("Drop to scan into a dataset", "big")
        self.overlay_text.setAlignment(Qt.AlignmentFlag.AlignCenter)
        ol.addWidget(self.overlay_text)
        self.overlay.hide()
        self.overlay.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)

        # status bar
        self.engine_label = QLabel()
        self.engine_dot = QLabel()
        self.job_label = QLabel("")
        self.job_bar = QProgressBar()
        self.job_bar.setFixedWidth(160)
        self.job_bar.setTextVisible(False)
        self.job_cancel = QToolButton()
        self.job_cancel.setProperty("flat", True)
        self.job_cancel.setProperty("icon_name", "close")
        self.job_cancel.setToolTip(CANCEL_TIP)
        self.job_cancel.clicked.connect(self._cancel_current)
        sb = self.statusBar()
        sb.addWidget(self.engine_dot)
        sb.addWidget(self.engine_label)
        sb.addPermanentWidget(self.job_label)
        sb.addPermanentWidget(self.job_bar)
        sb.addPermanentWidget(self.job_cancel)
        self._job_widgets(False)

        self._build_menus()
        self.app.error.connect(lambda m: self.message.show_message(m, "error"))
        self.app.info.connect(lambda m: self.message.show_message(m, "info"))
        self.app.exported_to.connect(self._exported)
        self.app.engine_changed.connect(self._engine_changed)
        self.app.replace_asked.connect(self._ask_replace)
        self.app.area_requested.connect(self.show_area)
        self.app.jobs.changed.connect(self._job_changed)
        theme.on_change(self.retint)
        self._engine_changed(self.app.engine_state, self.app.device)
        self.restore_layout()
        if start_engine and hasattr(self.app.client, "start"):
            QTimer.singleShot(0, self.app.client.start)

    # --- menus and shortcuts ---------------------------------------------------------------------
    def _build_menus(self) -> None:
        mb = self.menuBar()
        f = mb.addMenu("&File")
        f.addAction("Scan a folder…", QKeySequence("Ctrl+O"), self.data_area.choose_folder)
        f.addAction("Scan files…", QKeySequence("Ctrl+Shift+O"), self.data_area.choose_files)
        self.open_model_action = f.addAction(
            "Open a model folder…", QKeySequence("Ctrl+Shift+M"), self.open_model_folder
        )
        f.addSeparator()
        # Ctrl+Q everywhere (StandardKey.Quit is empty on Windows), from any of the app's windows,
        # so it still quits once a dialog has closed and focus has not come back to this window
        self.quit_action = f.addAction("Quit", self.close)
        self.quit_action.setShortcuts(
            [QKeySequence("Ctrl+Q"), *QKeySequence.keyBindings(QKeySequence.StandardKey.Quit)]
        )
        self.quit_action.setShortcutContext(Qt.ShortcutContext.ApplicationShortcut)
        self.quit_action.setMenuRole(QAction.MenuRole.QuitRole)
        v = mb.addMenu("&View")
        for i, name in enumerate(AREAS):
            v.addAction(name, QKeySequence(f"Ctrl+{i + 1}"), lambda n=name: self.show_area(n))
        v.addSeparator()
        tm = v.addMenu("Theme")
        self.theme_actions = QActionGroup(self)
        for pref in ("system", "light", "dark"):
            a = QAction(pref.capitalize(), self, checkable=True)
            a.setData(pref)
            a.triggered.connect(lambda _=False, p=pref: self.set_theme(p))
            self.theme_actions.addAction(a)
            tm.addAction(a)
        v.addAction("Refresh library", QKeySequence("F5"), self.app.library.refresh)
        e = mb.addMenu("&Engine")
        e.addAction("Restart the engine", self._restart_engine)
        e.addAction("Cancel all jobs", self.app.cancel_all)
        h = mb.addMenu("&Help")
        self.how_action = h.addAction("How Noisebloom works…", self._show_how_it_works)
        self.shortcuts_action = h.addAction("Keyboard shortcuts", self._show_shortcuts)
        h.addSeparator()
        self.workspace_action = h.addAction("Open workspace folder", self._open_workspace)

        def act(seq: str, fn) -> None:  # noqa: ANN001
            a = QAction(self)
            a.setShortcut(QKeySequence(seq))
            a.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
            a.triggered.connect(fn)
            self.addAction(a)

        act("Ctrl+Return", self._primary_action)
        act("Ctrl+P", self.train_area.toggle_pause)
        act("Esc", self._escape)
        act("Ctrl+R", self.app.generation.roll_seed)
        act("Ctrl+B", self.generate_area._branch)
        act("Ctrl+E", self.generate_area._export)
        act("Ctrl+S", self.generate_area._save)

    def open_model_folder(self) -> None:
        """Ask for a model folder (or a training run's folder) and add it to the library, where it is."""
        folder = dialogs.choose_folder(self, "model", "Open a model folder")
        if folder:
            self.app.open_model_folder(folder)

    def _primary_action(self) -> None:
        if self.current_area() == "Train":
            self.train_area.controls.start()
        elif self.current_area() == "Generate":
            self.generate_area._generate()
        elif self.current_area() == "Health":
            self.health_area.check()
        else:
            self.data_area.choose_folder()

    def _exported(self, message: str, folder: str) -> None:
        """An export is written: say where, with "Open folder" beside it."""
        action = ("Open folder", lambda: QDesktopServices.openUrl(QUrl.fromLocalFile(folder)))
        self.message.show_message(message, "info", action)

    def _escape(self) -> None:
        if self.message.isVisible():
            self.message.hide()
        elif self.current_area() == "Generate" and self.app.generation.live:
            self.app.generation.stop()
        elif self.current_area() == "Health" and self.app.health.live:
            self.app.health.cancel()
        elif self.current_area() == "Data":
            self.app.scan.cancel()

    def _show_shortcuts(self) -> None:
        self._show_page(dialogs.shortcuts_dialog(self, SHORTCUTS))

    def _show_how_it_works(self) -> None:
        self._show_page(dialogs.how_it_works_dialog(self, self.app.workspace))

    def _show_page(self, dlg) -> None:  # noqa: ANN001
        """Show a Help page window-modal without blocking; it deletes itself when closed. Closing
        it makes this window active again: without a window manager to do that, no window is
        active and Qt fires no shortcut (Ctrl+Q did nothing)."""
        self.help_page = dlg
        dlg.finished.connect(self._reactivate)
        dlg.open()

    def _reactivate(self) -> None:
        self.raise_()
        self.activateWindow()

    def _open_workspace(self) -> None:
        if not self.app.workspace:
            self.message.show_message("The workspace is known once the engine has started.", "info")
            return
        QDesktopServices.openUrl(QUrl.fromLocalFile(self.app.workspace))

    def _restart_engine(self) -> None:
        if hasattr(self.app.client, "restart"):
            self.app.client.restart()

    # --- areas -----------------------------------------------------------------------------------
    def show_area(self, name: str) -> None:
        self._set_area_index(AREAS.index(name))

    def _set_area_index(self, i: int) -> None:
        self.areas.setCurrentIndex(i)
        self.mode_buttons[AREAS[i]].setChecked(True)

    def current_area(self) -> str:
        return AREAS[self.areas.currentIndex()]

    # --- theme -----------------------------------------------------------------------------------
    def set_theme(self, pref: str) -> None:
        self.settings.setValue("theme", pref)
        apply = QApplication.instance()
        theme.apply_theme(apply, pref)  # type: ignore[arg-type]

    def _toggle_theme(self) -> None:
        self.set_theme("light" if theme.current().dark else "dark")

    def retint(self, _theme: object = None) -> None:
        retint(self)
        t = theme.current()
        self.theme_btn.setIcon(icon("sun" if t.dark else "moon"))
        pref = str(self.settings.value("theme", "system"))
        for a in self.theme_actions.actions():
            a.setChecked(a.data() == pref)
        self.library.retint()
        self.data_area.retint()
        self._engine_changed(self.app.engine_state, self.app.device)
        if self.message.isVisible():
            self.message.restyle()

    # --- status ----------------------------------------------------------------------------------
    def _engine_changed(self, state: str, device: str) -> None:
        t = theme.current()
        color = {"ready": t.ok, "starting": t.accent, "dead": t.danger, "failed": t.danger}.get(
            state, t.muted
        )
        self.engine_dot.setPixmap(icon("engine", color).pixmap(16, 16))
        words = {
            "ready": "Engine ready",
            "starting": "Engine starting…",
            "dead": "Engine stopped — restarting",
            "failed": "Engine stopped — see the message, then Engine > Restart",
            "stopped": "Engine not running",
        }.get(state, f"Engine {state}")
        self.engine_label.setText(f"{words} · {device}" if device and state == "ready" else words)
        self.engine_label.setToolTip(f"workspace: {self.app.workspace}" if self.app.workspace else "")

    def _job_widgets(self, visible: bool) -> None:
        for w in (self.job_label, self.job_bar, self.job_cancel):
            w.setVisible(visible)

    def _job_changed(self, _id: str) -> None:
        job = self.app.jobs.current()
        if job is None:
            self._job_widgets(False)
            return
        self._job_widgets(True)
        self.job_label.setText(job.describe())
        self.job_cancel.setToolTip(CANCEL_TRAINING_TIP if job.kind in TRAINING_KINDS else CANCEL_TIP)
        frac = job.fraction
        if frac is None:
            self.job_bar.setRange(0, 0)
        else:
            self.job_bar.setRange(0, 1000)
            self.job_bar.setValue(int(frac * 1000))

    def _cancel_current(self) -> None:
        job = self.app.jobs.current()
        if job is not None:
            self.app.control("cancel", job.id)

    def _ask_replace(self, job_id: str, paths: list[str]) -> None:
        """An export was refused because its files exist: replace them only if the person says so."""
        if dialogs.confirm_replace(self, paths):
            self.app.replace_existing(job_id)
        else:
            self.app.keep_existing(job_id)

    # --- drag and drop anywhere ------------------------------------------------------------------
    def dragEnterEvent(self, e: QDragEnterEvent) -> None:  # noqa: N802 - Qt
        if dropped_paths(e):
            e.acceptProposedAction()
            self.overlay.setGeometry(self.centralWidget().rect().adjusted(12, 12, -12, -12))
            self.overlay.raise_()
            self.overlay.show()
        else:
            e.ignore()

    def dragLeaveEvent(self, e) -> None:  # noqa: N802, ANN001 - Qt
        self.overlay.hide()

    def dropEvent(self, e: QDropEvent) -> None:  # noqa: N802 - Qt
        self.overlay.hide()
        paths = dropped_paths(e)
        if paths:
            self.app.scan_paths(paths)
            e.acceptProposedAction()

    # --- layout memory ---------------------------------------------------------------------------
    def restore_layout(self) -> None:
        self._shown_once = False
        s = self.settings
        geo = s.value("window/geometry")
        if isinstance(geo, QByteArray) and not geo.isEmpty():
            self.restoreGeometry(geo)
        split = s.value("window/splitter")
        if isinstance(split, QByteArray) and not split.isEmpty():
            self.splitter.restoreState(split)
        area = str(s.value("window/area", "Data"))
        self.show_area(area if area in AREAS else "Data")
        self.retint()

    def showEvent(self, e) -> None:  # noqa: N802, ANN001 - Qt
        super().showEvent(e)
        if not self._shown_once:  # the splitter again, now that the restored geometry is in place
            self._shown_once = True
            side = int(self.settings.value("window/sidebar", 0) or 0)
            if side > 0:
                self.splitter.setSizes([side, max(1, self.splitter.width() - side)])

    def save_layout(self) -> None:
        s = self.settings
        s.setValue("window/geometry", self.saveGeometry())
        s.setValue("window/splitter", self.splitter.saveState())
        s.setValue("window/sidebar", self.splitter.sizes()[0])
        s.setValue("window/area", self.current_area())
        s.sync()

    def closeEvent(self, e: QCloseEvent) -> None:  # noqa: N802 - Qt
        if self._quitting:  # already waiting for the run to stop: one quit at a time
            e.ignore()
            return
        if self.owns_client and self.app.training.live and not self._confirm_quit_while_training():
            e.ignore()
            return
        self.save_layout()
        if self.owns_client and hasattr(self.app.client, "shutdown"):
            self.message.show_message("Closing the engine…", "info")
            self.app.client.shutdown()
        super().closeEvent(e)

    def _confirm_quit_while_training(self) -> bool:
        """Quitting ends the engine: ask whether the running run is kept (stopped, saved, resumable
        from the library) or discarded (deleted), do that, and wait for it; False to stay open."""
        choice = dialogs.ask(
            self,
            "Training is running",
            "A training run is in progress. What should happen to it?",
            [
                ("keep", "Keep the run and quit", QMessageBox.ButtonRole.AcceptRole),
                ("discard", "Discard the run and quit", QMessageBox.ButtonRole.DestructiveRole),
                ("stay", "Don't quit", QMessageBox.ButtonRole.RejectRole),
            ],
            "Keep: the run stops after the current step and its model is saved; you can resume or "
            "extend it later from the library. Discard: the run and everything it saved are deleted.",
        )
        tm = self.app.training
        if choice == "keep":
            tm.stop()
            self._wait_for_training("Stopping the run and saving the model…")
        elif choice == "discard":
            tm.cancel(discard=True)
            self._wait_for_training("Discarding the run…")
        return choice in ("keep", "discard")

    def _wait_for_training(self, message: str) -> None:
        """Serve events until the training job has ended (or QUIT_WAIT_MS passed)."""
        tm = self.app.training
        if not tm.live:
            return
        self.message.show_message(message, "info")
        self._quitting = True
        loop = QEventLoop()
        timer = QTimer(loop, singleShot=True, interval=QUIT_WAIT_MS)
        timer.timeout.connect(loop.quit)

        def ended(_state: str) -> None:
            if not tm.live:
                loop.quit()

        tm.state_changed.connect(ended)
        timer.start()
        try:
            if tm.live:
                loop.exec()
        finally:
            tm.state_changed.disconnect(ended)
            self._quitting = False
