"""The Data area: drop or pick folders / files, watch the scan, then inspect the dataset.

Empty state: a drop zone with the scan settings (resolution, crop policy, flip). While the
engine scans: a progress bar and Cancel. Afterwards: the accepted items as a thumbnail grid read
from the prepared uint8 cache, the rejected files with their whole reasons, the duplicates, and the
statistics in words. Rejections the window can fix itself (videos in a picture dataset, pictures
over the size limit or under the resolution) get buttons above the tabs that scan again with
the fix (``ScanModel.rescan``).

The clips in view play, all together, at the dataset's fps: a grid of still first frames would
look like a folder of pictures, and waiting for the pointer to rest on each hid the motion that is
the whole point of a clip dataset. Only the thumbnails inside the viewport are redrawn (a few dozen
32-64 px frames from the memory-mapped cache per tick), and the timer stops whenever the grid is
hidden (another area or tab, a minimised window).
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSize, Qt, QTimer
from PySide6.QtGui import QIcon, QImageReader, QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QFrame,
    QHeaderView,
    QListView,
    QListWidget,
    QListWidgetItem,
    QProgressBar,
    QStackedWidget,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from core.data import result as R
from core.words import count
from desktop.model.app import AppModel
from desktop.model.demo import demo_dataset
from desktop.model.scan import (
    CROPS,
    UPSCALE_SMALL,
    VIDEOS_AS_CLIPS,
    VIDEOS_AS_FRAMES,
    ScanReport,
    allow_large_label,
    shorter_clips,
    shorter_clips_label,
)
from desktop.ui import dialogs
from desktop.ui.data_stats import StatsView
from desktop.ui.images import PreparedReader, icon
from desktop.ui.widgets import button, card, label, row

RESOLUTIONS = (16, 24, 32, 48, 64, 96, 128, 192, 256)
THUMB = 72
MAX_THUMBS = 600


class ClipGrid(QListWidget):
    """Thumbnails of the accepted items; the clips in view play their frames in sync."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setViewMode(QListView.ViewMode.IconMode)
        self.setIconSize(QSize(THUMB, THUMB))
        self.setGridSize(QSize(THUMB + 14, THUMB + 14))
        self.setResizeMode(QListView.ResizeMode.Adjust)
        self.setMovement(QListView.Movement.Static)
        self.setUniformItemSizes(True)
        self.reader: PreparedReader | None = None
        self.frame = 0
        self.timer = QTimer(self, interval=125, timeout=self._advance)

    @property
    def plays(self) -> bool:
        return self.reader is not None and self.reader.kind == "clip" and self.reader.frames > 1

    def load(self, reader: PreparedReader | None, paths: list[str]) -> None:
        self.clear()
        self.reader, self.frame = reader, 0
        if reader is not None:
            fps = float(reader.fps or 8.0)
            self.timer.setInterval(max(40, round(1000 / fps)))
            for r in range(min(len(reader), MAX_THUMBS)):
                it = QListWidgetItem(QIcon(self._pix(r, 0)), "")
                name = reader.items[r] if r < len(reader.items) else f"item {r}"
                if self.plays:
                    name += f"\nclip · {reader.frames} frames at {fps:g} fps"
                it.setToolTip(name)
                it.setData(Qt.ItemDataRole.UserRole, r)
                self.addItem(it)
            self._sync()
            return
        self._sync()
        for k, p in enumerate(paths[:MAX_THUMBS]):
            rd = QImageReader(p)
            rd.setScaledSize(QSize(THUMB, THUMB))
            img = rd.read()
            it = QListWidgetItem(QIcon(QPixmap.fromImage(img)) if not img.isNull() else icon("data"), "")
            it.setToolTip(p)
            it.setData(Qt.ItemDataRole.UserRole, k)
            self.addItem(it)

    def _pix(self, r: int, frame: int) -> QPixmap:
        assert self.reader is not None
        img = self.reader.image(r, frame)
        return QPixmap.fromImage(img.scaled(THUMB, THUMB, Qt.AspectRatioMode.KeepAspectRatio))

    def visible_items(self) -> list[QListWidgetItem]:
        """The items inside the viewport (items are laid out in order, so stop after the last)."""
        view = self.viewport().rect()
        out: list[QListWidgetItem] = []
        for k in range(self.count()):
            it = self.item(k)
            if view.intersects(self.visualItemRect(it)):
                out.append(it)
            elif out:
                break
        return out

    def _advance(self) -> None:
        if not self.plays or not self.isVisible():
            self.timer.stop()
            return
        assert self.reader is not None
        self.frame = (self.frame + 1) % self.reader.frames
        for it in self.visible_items():
            it.setIcon(QIcon(self._pix(int(it.data(Qt.ItemDataRole.UserRole)), self.frame)))

    def _sync(self) -> None:
        if self.plays and self.isVisible() and self.count():
            self.timer.start()
        else:
            self.timer.stop()

    def showEvent(self, e) -> None:  # noqa: N802, ANN001 - Qt
        super().showEvent(e)
        self._sync()

    def hideEvent(self, e) -> None:  # noqa: N802, ANN001 - Qt
        super().hideEvent(e)
        self._sync()


def _table(headers: tuple[str, ...]) -> QTableWidget:
    t = QTableWidget(0, len(headers))
    t.setHorizontalHeaderLabels(list(headers))
    t.verticalHeader().hide()
    t.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    t.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    t.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
    t.horizontalHeader().setStretchLastSection(True)
    t.setShowGrid(False)
    t.setAlternatingRowColors(True)
    return t


def _fill(table: QTableWidget, rows: list[tuple[str, str]]) -> None:
    """Rows of (file, text); both cells carry the whole row as their tooltip."""
    table.setRowCount(len(rows))
    for r, (a, b) in enumerate(rows):
        for c, text in enumerate((a, b)):
            it = QTableWidgetItem(text)
            it.setToolTip(f"{a}\n{b}")
            table.setItem(r, c, it)
    table.resizeRowsToContents()


def _wrapping(table: QTableWidget) -> QTableWidget:
    """Word-wrap the cells and keep each row as tall as its text as the columns change width."""
    table.setWordWrap(True)
    table.setTextElideMode(Qt.TextElideMode.ElideMiddle)
    table.horizontalHeader().sectionResized.connect(lambda *_: table.resizeRowsToContents())
    return table


class DataArea(QWidget):
    def __init__(self, app: AppModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.app = app
        self.scan = app.scan
        outer = QVBoxLayout(self)
        outer.setContentsMargins(18, 14, 18, 14)
        outer.setSpacing(12)

        # header: title + settings + pick buttons
        self.resolution = QComboBox()
        for r in RESOLUTIONS:
            self.resolution.addItem(f"{r} px", r)
        self.resolution.setCurrentIndex(RESOLUTIONS.index(32))
        self.crop = QComboBox()
        for c in CROPS:
            self.crop.addItem(c.capitalize(), c)
        self.flip = QCheckBox("Mirror (flip) augmentation")
        self.pick_folder = button(
            "Choose folder…", "folder", tip="Scan a folder of pictures or clips (Ctrl+O)"
        )
        self.pick_files = button("Add files…", "plus", tip="Scan single pictures or videos")
        self.resolution.currentIndexChanged.connect(
            lambda: self.scan.set_setting("resolution", self.resolution.currentData())
        )
        self.crop.currentIndexChanged.connect(lambda: self.scan.set_setting("crop", self.crop.currentData()))
        self.flip.toggled.connect(lambda v: self.scan.set_setting("flip", bool(v)))
        self.pick_folder.clicked.connect(self.choose_folder)
        self.pick_files.clicked.connect(self.choose_files)
        head = row(
            label("Data", "title"),
            None,
            label("Resolution", "muted"),
            self.resolution,
            label("Crop", "muted"),
            self.crop,
            self.flip,
            self.pick_folder,
            self.pick_files,
        )
        outer.addWidget(head)

        self.stack = QStackedWidget()
        outer.addWidget(self.stack, 1)

        # page 0: drop zone
        self.dropzone = QFrame()
        self.dropzone.setObjectName("dropzone")
        dz = QVBoxLayout(self.dropzone)
        dz.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.drop_icon = label("")
        self.drop_icon.setAlignment(Qt.AlignmentFlag.AlignCenter)
        dz.addWidget(self.drop_icon)
        t = label("Drop a folder of pictures or clips anywhere on the window", "big")
        t.setAlignment(Qt.AlignmentFlag.AlignCenter)
        dz.addWidget(t)
        s = label(
            "Several folders, single images and videos work too. Everything stays on this machine.\n"
            "Broken, tiny or duplicate files are listed with the reason, never silently dropped.",
            "muted",
        )
        s.setAlignment(Qt.AlignmentFlag.AlignCenter)
        dz.addWidget(s)
        self.demo_btn = button(
            "Try the demo pictures", "data", tip="256 synthetic blossoms that ship with Noisebloom"
        )
        self.demo_btn.clicked.connect(lambda: demo_dataset() and self.app.scan_paths([str(demo_dataset())]))
        self.demo_btn.setVisible(demo_dataset() is not None)
        dz.addSpacing(12)
        dz.addWidget(row(None, self.demo_btn, None))
        self.stack.addWidget(self.dropzone)

        # page 1: scanning
        scanning, sl = card("Scanning")
        sl.addStretch(1)
        self.scan_title = label("Scanning…", "big")
        self.scan_bar = QProgressBar()
        self.scan_bar.setTextVisible(False)
        self.scan_msg = label("", "muted", wrap=True)
        self.scan_cancel = button("Cancel", "stop", tip="Stop the scan; nothing is kept (Esc)")
        self.scan_cancel.clicked.connect(self.scan.cancel)
        for w in (self.scan_title, self.scan_bar, self.scan_msg):
            sl.addWidget(w)
        sl.addWidget(row(None, self.scan_cancel))
        sl.addStretch(2)
        self.stack.addWidget(scanning)

        # page 2: report
        report = QWidget()
        rl = QVBoxLayout(report)
        rl.setContentsMargins(0, 0, 0, 0)
        self.summary = label("", "big")
        self.summary_sub = label("", "muted", wrap=True)
        self.train_btn = button("Train on this dataset", "train", primary=True)
        self.train_btn.clicked.connect(self._train_on_it)
        self.rescan_btn = button(
            "Re-scan with these settings",
            "refresh",
            tip="Scan the same folders again with the resolution, crop and flip above",
        )
        self.rescan_btn.clicked.connect(
            lambda: self.scan.sources and self.app.scan_paths(list(self.scan.sources))
        )
        self.rescan_btn.hide()
        rl.addWidget(row(self.summary, None, self.rescan_btn, self.train_btn))
        rl.addWidget(self.summary_sub)
        self.tabs = QTabWidget()
        self.grid = ClipGrid()
        self.rejected = _wrapping(_table(("File", "Reason")))
        self.duplicates = _wrapping(_table(("File", "Duplicate of")))
        self.stats = StatsView()
        self.tabs.addTab(self.grid, "Accepted")
        self.tabs.addTab(self.rejected, "Rejected")
        self.tabs.addTab(self.duplicates, "Duplicates")
        self.tabs.addTab(self.stats, "Statistics")
        rl.addWidget(self._remedy_bar())
        rl.addWidget(self.tabs, 1)
        self.stack.addWidget(report)

        self.scan.state_changed.connect(self._state)
        self.scan.progress_changed.connect(self._progress)
        self.scan.report_changed.connect(self._report)
        self.scan.settings_changed.connect(self._settings_changed)
        app.library.selection_changed.connect(self._selected)
        self.retint()

    def _remedy_bar(self) -> QFrame:
        """The fixes for what was rejected, one line each with its buttons; hidden when none applies."""
        self.remedies = QFrame()
        self.remedies.setObjectName("remedies")
        lay = QVBoxLayout(self.remedies)
        lay.setContentsMargins(14, 8, 10, 8)
        lay.setSpacing(4)
        self.videos_text = label("", wrap=True)
        self.frames_btn = button(
            VIDEOS_AS_FRAMES, "data", tip="Scan again: each video gives a few frames a second"
        )
        self.clips_btn = button(
            VIDEOS_AS_CLIPS, "play", tip="Scan the videos on their own into a dataset of short clips"
        )
        self.large_text = label("", wrap=True)
        self.large_btn = button(
            "", "plus", tip="Scan again with a ten times larger limit on a picture's size"
        )
        self.small_text = label("", wrap=True)
        self.upscale_btn = button(
            UPSCALE_SMALL,
            "plus",
            tip="Scan again; small pictures are enlarged to the resolution and look soft",
        )
        self.short_text = label("", wrap=True)
        self.shorter_btn = button(
            "",
            "play",
            tip="Scan again with shorter clips: every video gives more of them, and short ones one",
        )
        self.frames_btn.clicked.connect(self.scan.videos_as_frames)
        self.shorter_btn.clicked.connect(self.scan.shorter_clips)
        self.clips_btn.clicked.connect(self.scan.videos_as_clips)
        self.large_btn.clicked.connect(self.scan.allow_larger)
        self.upscale_btn.clicked.connect(lambda: self.scan.rescan(small_policy="upscale"))
        self.remedy_rows = {
            "videos": row(self.videos_text, self.frames_btn, self.clips_btn, stretch_last=False),
            "large": row(self.large_text, self.large_btn),
            "small": row(self.small_text, self.upscale_btn),
            "short": row(self.short_text, self.shorter_btn),
        }
        for w in self.remedy_rows.values():
            w.layout().setStretch(0, 1)
            lay.addWidget(w)
        self.remedies.hide()
        return self.remedies

    def _show_remedies(self, rep: ScanReport) -> None:
        videos = rep.rejected_with(R.VIDEO_IN_IMAGE_DATASET)
        large = rep.rejected_with(R.OVER_PIXEL_BUDGET)
        small = rep.rejected_with(R.TOO_SMALL)
        self.videos_text.setText(
            f"{count(len(videos), 'video')} left out: this is a picture dataset, because the sources hold pictures"
        )
        budget = self.scan.pixel_budget
        self.large_text.setText(
            f"{count(len(large), 'picture')} over the {budget / 1e6:,.0f} MP size limit, refused before reading"
        )
        self.large_btn.setText(allow_large_label(budget))
        res = rep.settings.get("resolution") or self.scan.settings.get("resolution")
        self.small_text.setText(
            f"{count(len(small), 'picture')} smaller than the {res} px resolution; "
            "or choose a lower Resolution above"
        )
        short = rep.rejected_with(R.TOO_SHORT_FOR_A_CLIP)
        self.short_text.setText(
            f"{count(len(short), 'video')} shorter than a clip of {rep.clip_frames} frames"
        )
        if shorter_clips(rep.clip_frames):
            self.shorter_btn.setText(shorter_clips_label(rep.clip_frames))
        shown = {
            "videos": bool(videos),
            "large": bool(large),
            "small": bool(small),
            "short": bool(short) and shorter_clips(rep.clip_frames) is not None,
        }
        for name, w in self.remedy_rows.items():
            w.setVisible(shown[name])
        self.remedies.setVisible(any(shown.values()))

    def retint(self) -> None:
        self.drop_icon.setPixmap(icon("folder", None, 96).pixmap(72, 72))
        self.stats.retint()

    def _settings_changed(self) -> None:
        st = self.scan.settings
        for w, value in ((self.resolution, st.get("resolution")), (self.crop, st.get("crop"))):
            i = w.findData(value)
            if i >= 0 and i != w.currentIndex():
                w.blockSignals(True)
                w.setCurrentIndex(i)
                w.blockSignals(False)
        if self.flip.isChecked() != bool(st.get("flip")):
            self.flip.blockSignals(True)
            self.flip.setChecked(bool(st.get("flip")))
            self.flip.blockSignals(False)
        self.rescan_btn.setVisible(bool(self.scan.sources) and self.scan.state in ("done", "failed"))

    # --- actions ---------------------------------------------------------------------------------
    def choose_folder(self) -> None:
        folder = dialogs.choose_folder(self, "scan", "Choose a folder of pictures or clips")
        if folder:
            self.app.scan_paths([folder])

    def choose_files(self) -> None:
        files = dialogs.choose_files(
            self,
            "scan",
            "Choose pictures or videos",
            "Pictures and videos (*.png *.jpg *.jpeg *.webp *.bmp *.gif *.tif *.tiff *.mp4 *.mov *.webm *.mkv *.avi);;All files (*)",
        )
        if files:
            self.app.scan_paths(files)

    def _train_on_it(self) -> None:
        ds = (self.scan.report and self.scan.report.dataset_id) or (self.scan.dataset or {}).get("id")
        if ds:
            self.app.use_dataset(str(ds))
            self.app.area_requested.emit("Train")

    def _selected(self, what: str, id_: str) -> None:
        if what == "datasets":
            item = self.app.library.get(what, id_)
            if item:
                self.scan.sources = [str(s) for s in item.get("sources") or []]
                self.scan.show_dataset(item)
                self.app.use_dataset(id_)
                self.app.area_requested.emit("Data")

    # --- observing -------------------------------------------------------------------------------
    def _state(self, state: str) -> None:
        self.rescan_btn.hide()
        if state in ("submitted", "queued", "running", "paused"):
            self.stack.setCurrentIndex(1)
            self.scan_title.setText(
                "Waiting for the engine…"
                if state in ("submitted", "queued")
                else f"Scanning {', '.join(Path(s).name for s in self.scan.sources[:3])}"
                + ("…" if len(self.scan.sources) > 3 else "")
            )
            self.scan_cancel.setEnabled(True)
        elif state in ("done", "stopped"):
            self.stack.setCurrentIndex(2)
        elif state == "cancelled":
            self.stack.setCurrentIndex(0)
        elif state == "failed":
            self.stack.setCurrentIndex(2 if self.scan.report else 0)
            if not self.scan.report:
                self.scan_msg.setText(self.scan.error)

    def _progress(self, done: float, total: float, message: str) -> None:
        if total:
            self.scan_bar.setRange(0, 1000)
            self.scan_bar.setValue(int(1000 * done / total))
        else:
            self.scan_bar.setRange(0, 0)
        self.scan_msg.setText(f"{done:g} of {total:g} files · {message}" if total else message)

    def _report(self) -> None:
        rep = self.scan.report
        if rep is None:
            return
        reader = None
        if rep.dataset_dir and (Path(rep.dataset_dir) / "prepared.json").is_file():
            try:
                reader = PreparedReader(rep.dataset_dir)
            except (OSError, ValueError, KeyError):
                reader = None
        self.grid.load(reader, rep.accepted)
        n_ok = len(reader) if reader is not None else len(rep.accepted)
        kind = reader.kind if reader is not None else rep.kind
        what = "clip" if kind == "clip" else "image"
        self.summary.setText(f"{count(n_ok, what)} ready" if n_ok else "Nothing usable in what was dropped")
        bits = [f"{len(rep.rejected)} rejected", count(len(rep.duplicates), "duplicate")]
        if rep.near_duplicates:
            bits.append(count(len(rep.near_duplicates), "near duplicate"))
        if reader is not None:
            bits.append(" × ".join(map(str, reader.shape[1:])) + " uint8 cache")
        if self.scan.error:
            bits.append(self.scan.error)
        bits += rep.warnings[:3]
        self.summary_sub.setText(" · ".join(bits))
        _fill(self.rejected, rep.shown_rejected())
        _fill(self.duplicates, rep.duplicates + [(a, f"looks like {b}") for a, b in rep.near_duplicates])
        self.tabs.setTabText(0, f"Accepted  {n_ok}")
        self.tabs.setTabText(1, f"Rejected  {len(rep.rejected)}")
        self.tabs.setTabText(2, f"Duplicates  {len(rep.duplicates) + len(rep.near_duplicates)}")
        self.stats.show_report(rep)
        self._show_remedies(rep)
        self.train_btn.setEnabled(bool(n_ok and (rep.dataset_id or self.scan.dataset)))
        if not n_ok and rep.rejected:
            self.tabs.setCurrentIndex(1)
        if self.scan.state in ("done", "stopped", "failed"):
            self.stack.setCurrentIndex(2)
