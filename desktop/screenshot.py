"""``noisebloom screenshot OUT_DIR``: open each main area of the app offscreen and save a PNG.

Lets anyone see the app without a display (CI, reviews). Runs Qt on the offscreen platform
unless a platform was chosen explicitly.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence
from pathlib import Path


def main(argv: Sequence[str] = ()) -> int:
    parser = argparse.ArgumentParser(prog="noisebloom screenshot", description=__doc__.splitlines()[0])
    parser.add_argument("out_dir", type=Path, help="folder for the PNGs (created)")
    args = parser.parse_args(list(argv))
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

    from desktop.app import create_application
    from desktop.main_window import AREAS, MainWindow

    app = create_application()
    args.out_dir.mkdir(parents=True, exist_ok=True)
    window = MainWindow()
    window.show()
    written = []
    for name in AREAS:
        window.show_area(name)
        app.processEvents()
        path = args.out_dir / f"{name.lower()}.png"
        if not window.grab().save(str(path)):
            raise SystemExit(f"noisebloom screenshot: could not write {path}")
        written.append(path)
    window.close()
    for path in written:
        print(path)
    return 0
