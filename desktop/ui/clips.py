"""Playing clips in the views: filmstrips sliced back into frames, a view that shows frame f of a
tile of clips, and one clock that plays every view it drives in sync.

The engine sends a clip as a *filmstrip* (core/export/clips.py ``filmstrip``): its T frames side by
side in one PNG, (H, T*W). :func:`split_filmstrip` cuts it back into T frames; :class:`ClipView`
tiles N clips into T pictures once per update (so a tick only swaps a picture) and
:class:`ClipPlayer` advances the frame of its views at the clip's fps while one of them is shown
and playing; the timer stops whenever every view it drives is hidden.

Decoding is the only real cost: a clip's PNG is T frames, so 16 noisy clips of 16 frames at 64 px
took ~55 ms to decode here (2-core CPU under load), against ~0.5 ms for a tick. Payloads up to
``SYNC_LIMIT`` base64 characters (a few ms) are decoded at once on the GUI thread; larger ones on a
worker thread (QImage and QPainter on a QImage are safe there), one at a time per view, and when
steps arrive faster than that the newest waiting one wins, as the engine's own throttle does.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from PySide6.QtCore import QEvent, QObject, QRunnable, QThreadPool, QTimer, Signal
from PySide6.QtGui import QColor, QImage

from desktop.ui import theme
from desktop.ui.images import array_to_qimage, decode_png, tile
from desktop.ui.widgets import ImageView

DEFAULT_FPS = 8.0
SYNC_LIMIT = 256 * 1024  # base64 characters decoded on the GUI thread (~4 ms here); more go to a worker


def filmstrip_frames(image: QImage, frames: int | None = None) -> int:
    """How many frames a filmstrip holds: ``frames`` when it divides the width, else width / height
    for a strip of square frames (Noisebloom's clips are square), else 1 (a still image)."""
    w, h = image.width(), image.height()
    if frames and frames > 1 and w % frames == 0:
        return frames
    if h > 0 and w > h and w % h == 0:
        return w // h
    return 1


def split_filmstrip(image: QImage, frames: int | None = None) -> list[QImage]:
    """A filmstrip (T frames side by side) -> its T frames; a still image -> [image]."""
    t = filmstrip_frames(image, frames)
    if t <= 1 or image.isNull():
        return [image]
    w = image.width() // t
    return [image.copy(k * w, 0, w, image.height()) for k in range(t)]


def tile_clips(clips: Sequence[Sequence[QImage]], bg: QColor) -> list[QImage]:
    """N clips of T frames (all the same T) -> T tiles, tile f holding frame f of every clip."""
    clips = [list(c) for c in clips if c]
    t = min((len(c) for c in clips), default=0)
    return [tile([c[f] for c in clips], bg=bg) for f in range(t)]


def decode_filmstrips(pngs: Sequence[str], frames: int | None, bg: QColor) -> list[QImage]:
    """Base64 filmstrip PNGs (one per clip, as ``step`` / ``preview`` events carry them) -> T tiles."""
    return tile_clips([split_filmstrip(decode_png(b), frames) for b in pngs], bg)


class _Decoded(QObject):
    done = Signal(int, list, str)  # request number, tiles, caption


class _DecodeTask(QRunnable):
    """:func:`decode_filmstrips` on a worker thread; ``signals.done`` arrives on the GUI thread."""

    def __init__(self, seq: int, pngs: Sequence[str], frames: int | None, bg: QColor, caption: str) -> None:
        super().__init__()
        self.seq, self.pngs, self.frames, self.bg, self.caption = seq, list(pngs), frames, QColor(bg), caption
        self.signals = _Decoded()

    def run(self) -> None:
        self.signals.done.emit(self.seq, decode_filmstrips(self.pngs, self.frames, self.bg), self.caption)


def clips_from_array(a: np.ndarray) -> list[list[QImage]]:
    """uint8 (N, T, H, W, C) clips -> N lists of T frames; (N, H, W, C) images -> N one-frame lists."""
    a = np.asarray(a)
    if a.ndim == 4:
        return [[array_to_qimage(im)] for im in a]
    return [[array_to_qimage(f) for f in clip] for clip in a]


class ClipView(ImageView):
    """An :class:`ImageView` that shows frame ``frame`` of a tile of clips (a still image is a
    one-frame clip). The tiles of all T frames are built when the clips change."""

    clips_changed = Signal()

    def __init__(self, placeholder: str = "", parent: QObject | None = None) -> None:
        super().__init__(placeholder, parent)
        self.tiles: list[QImage] = []
        self.frame = 0
        self.title = ""  # the caption without the frame counter
        self._seq = 0
        self._task: _DecodeTask | None = None  # the decode in flight (held so Python keeps it)
        self._waiting: tuple[list[str], int | None, str] | None = None  # the newest request behind it

    @property
    def frames(self) -> int:
        return len(self.tiles)

    def set_clips(self, clips: Sequence[Sequence[QImage]], caption: str = "") -> None:
        """N clips of T frames each (all the same T), tiled like a batch of images."""
        self.set_tiles(tile_clips(clips, QColor(theme.current().plot_bg)), caption)

    def set_tiles(self, tiles: list[QImage], caption: str = "") -> None:
        self._seq += 1  # anything still decoding is older than this
        self._waiting = None
        self._show_tiles(tiles, caption)

    def set_filmstrips(self, pngs: Sequence[str], frames: int | None = None, caption: str = "") -> None:
        """Base64 filmstrip PNGs, one per clip (a still image is a one-frame strip): decoded now when
        small, else on a worker thread while the previous picture keeps playing."""
        pngs = list(pngs)
        if sum(len(b) for b in pngs) <= SYNC_LIMIT:
            self.set_tiles(decode_filmstrips(pngs, frames, QColor(theme.current().plot_bg)), caption)
        elif self._task is not None:
            self._waiting = (pngs, frames, caption)  # the newest wins
        else:
            self._start(pngs, frames, caption)

    @property
    def decoding(self) -> bool:
        return self._task is not None

    def _start(self, pngs: list[str], frames: int | None, caption: str) -> None:
        self._seq += 1
        task = _DecodeTask(self._seq, pngs, frames, QColor(theme.current().plot_bg), caption)
        task.signals.done.connect(self._decoded)  # queued: the task emits from its worker thread
        self._task = task
        QThreadPool.globalInstance().start(task)

    def _decoded(self, seq: int, tiles: list[QImage], caption: str) -> None:
        self._task = None
        if seq == self._seq:  # not overtaken by set_tiles / set_image meanwhile
            self._show_tiles(tiles, caption)
        if self._waiting is not None:
            pngs, frames, caption = self._waiting
            self._waiting = None
            self._start(pngs, frames, caption)

    def _show_tiles(self, tiles: list[QImage], caption: str) -> None:
        self.tiles = tiles
        self.title = caption
        self.show_frame(self.frame)
        self.clips_changed.emit()

    def set_image(self, image: QImage, caption: str = "") -> None:
        self._seq += 1
        self._waiting = None
        self.tiles = [image] if not image.isNull() else []
        self.title = caption
        super().set_image(image, caption)
        self.clips_changed.emit()

    def show_frame(self, f: int) -> None:
        self.frame = f % self.frames if self.frames else 0
        self.image = self.tiles[self.frame] if self.tiles else QImage()
        counter = f"frame {self.frame + 1} / {self.frames}" if self.frames > 1 else ""
        self.caption = " · ".join(s for s in (self.title, counter) if s)
        self.update()


class ClipPlayer(QObject):
    """One clock for a set of :class:`ClipView`: frame k of every view together, at ``fps``.

    Runs only while playing, some view holds a clip (more than one frame) and is visible; a view
    being hidden (another area, a hidden tab, a minimised window) stops the timer."""

    frame_changed = Signal(int)
    playing_changed = Signal(bool)

    def __init__(
        self, views: Sequence[ClipView], fps: float = DEFAULT_FPS, parent: QObject | None = None
    ) -> None:
        super().__init__(parent)
        self.views = list(views)
        self.frame = 0
        self.playing = True
        self.timer = QTimer(self)
        self.timer.timeout.connect(self.tick)
        self.set_fps(fps)
        for v in self.views:
            v.installEventFilter(self)
            v.clips_changed.connect(self.sync)

    @property
    def frames(self) -> int:
        return max((v.frames for v in self.views), default=0)

    def set_fps(self, fps: float | None) -> None:
        self.fps = float(fps) if fps and fps > 0 else DEFAULT_FPS
        self.timer.setInterval(max(15, round(1000 / self.fps)))

    def set_playing(self, playing: bool) -> None:
        if playing != self.playing:
            self.playing = playing
            self.playing_changed.emit(playing)
        self.sync()

    def tick(self) -> None:
        """Advance every view by one frame (the timer calls this; tests may too)."""
        if not self.frames:
            return
        self.frame = (self.frame + 1) % self.frames
        for v in self.views:
            v.show_frame(self.frame)
        self.frame_changed.emit(self.frame)

    def sync(self) -> None:
        """Start or stop the timer to match: playing, a clip to play, and a view on screen."""
        run = self.playing and any(v.frames > 1 and v.isVisible() for v in self.views)
        if run and not self.timer.isActive():
            self.timer.start()
        elif not run and self.timer.isActive():
            self.timer.stop()

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt
        if event.type() in (QEvent.Type.Show, QEvent.Type.Hide):
            self.sync()  # Qt marks the widget (in)visible before it sends these
        return False
