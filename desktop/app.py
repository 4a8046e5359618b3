"""Start the Noisebloom window."""

from __future__ import annotations

import sys
from collections.abc import Sequence


def create_application(argv: Sequence[str] = ()) -> QApplication:  # noqa: F821 - imported below
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication(["noisebloom", *argv])
    app.setApplicationName("Noisebloom")
    app.setOrganizationName("Noisebloom")
    app.setApplicationDisplayName("Noisebloom")
    return app


def main(argv: Sequence[str] = ()) -> int:
    app = create_application(argv)
    from desktop.main_window import MainWindow

    window = MainWindow()
    window.show()
    return app.exec()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
