"""Start the Noisebloom window: the Qt application, the theme (following the system unless one
is forced with ``NOISEBLOOM_THEME=light|dark`` or the View menu), and the main window.

An exception escaping a slot becomes a one-line message in the window (details on stderr),
never a traceback dialog and never a crash.
"""

from __future__ import annotations

import os
import sys
import traceback
from collections.abc import Sequence

from PySide6.QtWidgets import QApplication


def create_application(argv: Sequence[str] = ()) -> QApplication:
    app = QApplication.instance() or QApplication(["noisebloom", *argv])
    app.setApplicationName("Noisebloom")
    app.setOrganizationName("Noisebloom")
    app.setApplicationDisplayName("Noisebloom")
    return app  # type: ignore[return-value]


def theme_preference(settings) -> str:  # noqa: ANN001 - QSettings
    forced = os.environ.get("NOISEBLOOM_THEME", "").strip().lower()
    if forced in ("light", "dark", "system"):
        return forced
    return str(settings.value("theme", "system"))


def install_theme(app: QApplication, settings) -> None:  # noqa: ANN001 - QSettings
    """Apply the preferred theme and follow the system's scheme while the preference is "system"."""
    from desktop.ui import theme

    theme.apply_theme(app, theme_preference(settings))
    hints = app.styleHints()
    if hasattr(hints, "colorSchemeChanged"):
        hints.colorSchemeChanged.connect(
            lambda _s: theme_preference(settings) == "system" and theme.apply_theme(app, "system")
        )


def install_excepthook(window) -> None:  # noqa: ANN001 - MainWindow
    def hook(exc_type, exc, tb) -> None:  # noqa: ANN001
        traceback.print_exception(exc_type, exc, tb, file=sys.stderr)
        try:
            window.app.report_error(f"Internal error: {exc_type.__name__}: {exc} (details in the log)")
        except Exception:  # the window is gone: nothing more to show
            pass

    sys.excepthook = hook


def open_window(app: QApplication, settings=None):  # noqa: ANN001, ANN201 - QSettings -> MainWindow
    """The main window as ``noisebloom`` opens it (the theme is applied once the widgets exist:
    one style pass instead of one per added widget, a fifth of a second less at start-up)."""
    from PySide6.QtCore import QSettings

    from desktop.main_window import MainWindow

    settings = settings if settings is not None else QSettings()
    window = MainWindow(settings=settings)
    install_theme(app, settings)
    install_excepthook(window)
    window.show()
    return window


def main(argv: Sequence[str] = ()) -> int:
    app = create_application(argv)
    window = open_window(app)  # noqa: F841 - kept alive while the loop runs
    return app.exec()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
