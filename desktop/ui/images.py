"""Image helpers for the views: base64 PNG -> QImage, uint8 arrays -> QImage, tiling into a grid,
tinted SVG icons from ``resources/icons``, and dataset thumbnails read from the prepared cache."""

from __future__ import annotations

import json
import math
from functools import lru_cache
from pathlib import Path

import numpy as np
from PySide6.QtCore import QByteArray, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QIcon, QImage, QPainter, QPixmap
from PySide6.QtSvg import QSvgRenderer

RESOURCES = Path(__file__).resolve().parents[2] / "resources"
ICONS = RESOURCES / "icons"


def decode_png(b64: str) -> QImage:
    img = QImage()
    img.loadFromData(QByteArray.fromBase64(b64.encode("ascii")), "PNG")
    return img


def array_to_qimage(a: np.ndarray) -> QImage:
    """uint8 (H, W), (H, W, 1), (H, W, 3) or (H, W, 4) -> a QImage that owns its pixels."""
    a = np.ascontiguousarray(a)
    if a.ndim == 3 and a.shape[2] == 1:
        a = np.ascontiguousarray(a[:, :, 0])
    h, w = a.shape[:2]
    if a.ndim == 2:
        fmt, bpl = QImage.Format.Format_Grayscale8, w
    elif a.shape[2] == 3:
        fmt, bpl = QImage.Format.Format_RGB888, 3 * w
    else:
        fmt, bpl = QImage.Format.Format_RGBA8888, 4 * w
    return QImage(a.data, w, h, bpl, fmt).copy()


def tile(images: list[QImage], columns: int | None = None, gap: int = 2, bg: QColor | None = None) -> QImage:
    """Images side by side in a near-square grid (the preview grid, a step's batch)."""
    images = [i for i in images if not i.isNull()]
    if not images:
        return QImage()
    n = len(images)
    cols = columns or math.ceil(math.sqrt(n))
    rows = math.ceil(n / cols)
    w, h = images[0].width(), images[0].height()
    out = QImage(cols * w + (cols - 1) * gap, rows * h + (rows - 1) * gap, QImage.Format.Format_RGB32)
    out.fill(bg or QColor(0, 0, 0))
    p = QPainter(out)
    for k, img in enumerate(images):
        p.drawImage((k % cols) * (w + gap), (k // cols) * (h + gap), img)
    p.end()
    return out


@lru_cache(maxsize=256)
def _svg(name: str) -> str:
    return (ICONS / f"{name}.svg").read_text(encoding="utf-8")


def icon(name: str, color: str | None = None, size: int = 48) -> QIcon:
    """An icon from resources/icons, its ``currentColor`` painted in ``color`` (the theme's text)."""
    from desktop.ui import theme

    color = color or theme.current().text
    return QIcon(svg_pixmap(name, color, size))


def svg_pixmap(name: str, color: str, size: int) -> QPixmap:
    data = _svg(name).replace("currentColor", color).encode("utf-8")
    renderer = QSvgRenderer(QByteArray(data))
    pm = QPixmap(QSize(size, size))
    pm.fill(Qt.GlobalColor.transparent)
    p = QPainter(pm)
    p.setRenderHint(QPainter.RenderHint.Antialiasing)
    renderer.render(p, QRectF(0, 0, size, size))
    p.end()
    return pm


def app_icon() -> QIcon:
    path = RESOURCES / "icons" / "noisebloom.svg"
    renderer = QSvgRenderer(str(path))
    ic = QIcon()
    for size in (16, 32, 64, 128, 256):
        pm = QPixmap(size, size)
        pm.fill(Qt.GlobalColor.transparent)
        p = QPainter(pm)
        renderer.render(p)
        p.end()
        ic.addPixmap(pm)
    return ic


class PreparedReader:
    """Rows of a prepared dataset folder (``prepared.json`` + ``data.u8``), memory-mapped."""

    def __init__(self, folder: str | Path) -> None:
        folder = Path(folder)
        meta = json.loads((folder / "prepared.json").read_text(encoding="utf-8"))
        self.kind = meta.get("kind", "image")
        self.items: list[str] = [str(x) for x in meta.get("items", [])]
        self.shape = tuple(int(s) for s in meta["shape"])
        self.fps = meta.get("fps")
        self.array = np.memmap(folder / "data.u8", dtype=np.uint8, mode="r", shape=self.shape)

    def __len__(self) -> int:
        return self.shape[0]

    @property
    def frames(self) -> int:
        return self.shape[1] if self.kind == "clip" else 1

    def image(self, row: int, frame: int = 0) -> QImage:
        a = self.array[row]
        if self.kind == "clip":
            a = a[frame % self.shape[1]]
        return array_to_qimage(np.asarray(a))


def thumbnail(source: tuple[str, object] | None, size: int = 64) -> QPixmap | None:
    """A square thumbnail from ``desktop.model.library.thumbnail_source``; None when unreadable."""
    if source is None:
        return None
    kind, where = source
    try:
        if kind == "prepared":
            img = PreparedReader(Path(str(where))).image(0)
        elif kind == "npy":
            arr = np.load(Path(str(where)), mmap_mode="r")
            img = tile(
                [
                    array_to_qimage(np.asarray(arr[k] if arr.ndim == 4 else arr[k][0]))
                    for k in range(min(4, len(arr)))
                ]
            )
        else:
            img = QImage(str(where))
    except (OSError, ValueError, KeyError, IndexError):
        return None
    if img.isNull():
        return None
    return QPixmap.fromImage(
        img.scaled(
            size,
            size,
            Qt.AspectRatioMode.KeepAspectRatioByExpanding,
            Qt.TransformationMode.FastTransformation,
        )
    )
