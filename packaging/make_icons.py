"""Render the app icon (resources/icons/noisebloom.svg) as the freedesktop hicolor icon set.

    python packaging/make_icons.py OUT_DIR

writes ``OUT_DIR/hicolor/<n>x<n>/apps/noisebloom.png`` for each size in :data:`SIZES` and
``OUT_DIR/hicolor/scalable/apps/noisebloom.svg``, the layout ``install.sh`` copies under
``~/.local/share/icons`` (or ``/usr/share/icons``). Rendered with Qt's SVG renderer, which the app
already depends on, so no image tool is needed at build time.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

SVG = Path(__file__).resolve().parents[1] / "resources" / "icons" / "noisebloom.svg"
SIZES = (16, 22, 24, 32, 48, 64, 128, 256, 512)


def make_icons(out_dir: Path, svg: Path = SVG, sizes: tuple[int, ...] = SIZES) -> list[Path]:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import Qt
    from PySide6.QtGui import QGuiApplication, QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer

    _app = QGuiApplication.instance() or QGuiApplication([])  # noqa: F841 - Qt needs one to paint
    renderer = QSvgRenderer(str(svg))
    if not renderer.isValid():
        raise SystemExit(f"{svg}: not a valid SVG; fix the file")
    written = []
    for n in sizes:
        image = QImage(n, n, QImage.Format.Format_ARGB32_Premultiplied)
        image.fill(Qt.GlobalColor.transparent)
        painter = QPainter(image)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        renderer.render(painter)
        painter.end()
        path = out_dir / "hicolor" / f"{n}x{n}" / "apps" / "noisebloom.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        if not image.save(str(path), "PNG"):
            raise SystemExit(f"{path}: could not write the icon")
        written.append(path)
    scalable = out_dir / "hicolor" / "scalable" / "apps" / "noisebloom.svg"
    scalable.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(svg, scalable)
    return [*written, scalable]


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit("usage: python packaging/make_icons.py OUT_DIR")
    for p in make_icons(Path(sys.argv[1])):
        print(p)
