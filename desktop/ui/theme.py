"""Light and dark themes: a palette, a style sheet and tinted icons, following the system.

``apply_theme(app, "system" | "light" | "dark")`` picks the system's scheme from
``QStyleHints.colorScheme()`` (dark when the platform does not say), or the forced one (the
screenshot command and the View menu force one). ``current()`` returns the active ``Theme``.

The style is Fusion with its black arrow icons (the back, forward and up buttons of Qt's own file
dialog) drawn in the theme's text colour, so they read on the dark theme too.
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QColor, QGuiApplication, QIcon, QPainter, QPalette, QPixmap
from PySide6.QtWidgets import QApplication, QProxyStyle, QStyle, QStyleFactory


@dataclass(frozen=True)
class Theme:
    name: str
    bg: str
    surface: str
    surface2: str
    border: str
    text: str
    muted: str
    accent: str
    accent2: str
    accent_text: str
    danger: str
    ok: str
    plot_bg: str

    @property
    def dark(self) -> bool:
        return self.name == "dark"


DARK = Theme(
    "dark",
    bg="#121218",
    surface="#1b1b24",
    surface2="#262633",
    border="#2f2f3e",
    text="#ececf4",
    muted="#9494aa",
    accent="#8f72ff",
    accent2="#ff7ab6",
    accent_text="#ffffff",
    danger="#ff6b6b",
    ok="#4fd1a1",
    plot_bg="#15151d",
)
LIGHT = Theme(
    "light",
    bg="#f3f3f7",
    surface="#ffffff",
    surface2="#e9e9f1",
    border="#d9d9e4",
    text="#1b1b26",
    muted="#676782",
    accent="#6a48f5",
    accent2="#e0468f",
    accent_text="#ffffff",
    danger="#d93b3b",
    ok="#11956a",
    plot_bg="#ffffff",
)
THEMES = {"dark": DARK, "light": LIGHT}

_current: Theme = DARK
_notifier = None


class _Notifier(QObject):
    changed = Signal(object)  # Theme


def current() -> Theme:
    return _current


def tint_plot(plot) -> None:  # noqa: ANN001 - a pyqtgraph PlotWidget
    """A pyqtgraph plot in the current theme: its background and its left and bottom axes."""
    import pyqtgraph as pg

    t = _current
    plot.setBackground(t.plot_bg)
    for ax in ("left", "bottom"):
        plot.getAxis(ax).setPen(pg.mkPen(t.border))
        plot.getAxis(ax).setTextPen(pg.mkPen(t.muted))


def on_change(slot) -> None:  # noqa: ANN001 - a bound method of a QObject taking (Theme | None)
    """Call ``slot(theme)`` after each theme change; Qt drops the connection when its owner is deleted."""
    global _notifier
    if _notifier is None:
        _notifier = _Notifier()
    _notifier.changed.connect(slot)


def system_scheme() -> str:
    hints = QGuiApplication.styleHints()
    scheme = hints.colorScheme() if hasattr(hints, "colorScheme") else Qt.ColorScheme.Unknown
    if scheme == Qt.ColorScheme.Light:
        return "light"
    return "dark"  # dark, or the platform does not say (offscreen, some Linux desktops)


def resolve(pref: str) -> Theme:
    return THEMES.get(pref) or THEMES[system_scheme()]


SP = QStyle.StandardPixmap
TINTED_ICONS = frozenset(
    {
        SP.SP_ArrowBack,
        SP.SP_ArrowForward,
        SP.SP_ArrowLeft,
        SP.SP_ArrowRight,
        SP.SP_ArrowUp,
        SP.SP_ArrowDown,
        SP.SP_FileDialogBack,
        SP.SP_FileDialogToParent,
    }
)
"""Fusion's icons that are a black shape on nothing: drawn in the theme's text colour instead."""


def tinted(icon: QIcon, color: str, disabled: str) -> QIcon:
    """``icon`` with every size's pixels in ``color`` (``disabled`` for a button that is off), each
    pixel keeping its own transparency."""
    out = QIcon()
    for size in icon.availableSizes():
        for mode, c in ((QIcon.Mode.Normal, color), (QIcon.Mode.Disabled, disabled)):
            pm = QPixmap(icon.pixmap(size))
            p = QPainter(pm)
            p.setCompositionMode(QPainter.CompositionMode.CompositionMode_SourceIn)
            p.fillRect(pm.rect(), QColor(c))
            p.end()
            out.addPixmap(pm, mode)
    return out


class Style(QProxyStyle):
    """Fusion, with the arrow icons of :data:`TINTED_ICONS` in the current theme's text colour."""

    def __init__(self) -> None:
        super().__init__(QStyleFactory.create("Fusion"))

    def standardIcon(self, sp: QStyle.StandardPixmap, option=None, widget=None) -> QIcon:  # noqa: N802, ANN001 - Qt
        icon = super().standardIcon(sp, option, widget)
        if sp in TINTED_ICONS and not icon.isNull() and icon.availableSizes():
            return tinted(icon, current().text, current().muted)
        return icon


def apply_theme(app: QApplication, pref: str = "system") -> Theme:
    global _current
    theme = resolve(pref)
    _current = theme
    if not isinstance(app.style(), Style):
        app.setStyle(Style())
    app.setPalette(palette(theme))
    app.setStyleSheet(style_sheet(theme))
    if _notifier is not None:
        _notifier.changed.emit(theme)
    return theme


def palette(t: Theme) -> QPalette:
    p = QPalette()
    c = QColor
    roles = {
        QPalette.ColorRole.Window: t.bg,
        QPalette.ColorRole.WindowText: t.text,
        QPalette.ColorRole.Base: t.surface,
        QPalette.ColorRole.AlternateBase: t.surface2,
        QPalette.ColorRole.Text: t.text,
        QPalette.ColorRole.Button: t.surface2,
        QPalette.ColorRole.ButtonText: t.text,
        QPalette.ColorRole.Highlight: t.accent,
        QPalette.ColorRole.HighlightedText: t.accent_text,
        QPalette.ColorRole.ToolTipBase: t.surface2,
        QPalette.ColorRole.ToolTipText: t.text,
        QPalette.ColorRole.PlaceholderText: t.muted,
        QPalette.ColorRole.Link: t.accent,
        QPalette.ColorRole.Mid: t.border,
        QPalette.ColorRole.Midlight: t.surface2,
        QPalette.ColorRole.Dark: t.bg,
    }
    for role, color in roles.items():
        p.setColor(role, c(color))
    p.setColor(QPalette.ColorGroup.Disabled, QPalette.ColorRole.Text, c(t.muted))
    p.setColor(QPalette.ColorGroup.Disabled, QPalette.ColorRole.ButtonText, c(t.muted))
    p.setColor(QPalette.ColorGroup.Disabled, QPalette.ColorRole.WindowText, c(t.muted))
    return p


def _icons() -> str:
    from pathlib import Path

    return (Path(__file__).resolve().parents[2] / "resources" / "icons").as_posix()


def style_sheet(t: Theme) -> str:
    return f"""
QWidget {{ font-size: 13px; }}
QMainWindow, QWidget#central {{ background: {t.bg}; }}
QToolTip {{ background: {t.surface2}; color: {t.text}; border: 1px solid {t.border}; padding: 4px 6px; }}
QFrame#card {{ background: {t.surface}; border: 1px solid {t.border}; border-radius: 12px; }}
QFrame#sidebar {{ background: {t.surface}; border: none; border-right: 1px solid {t.border}; }}
QFrame#topbar {{ background: {t.surface}; border: none; border-bottom: 1px solid {t.border}; }}
QLabel[role="title"] {{ font-size: 18px; font-weight: 600; color: {t.text}; }}
QLabel[role="section"] {{ font-size: 11px; font-weight: 700; color: {t.muted}; letter-spacing: 1px; }}
QLabel[role="muted"] {{ color: {t.muted}; }}
QLabel[role="warning"] {{ color: {t.danger}; font-weight: 600; }}
QLabel[role="big"] {{ font-size: 22px; font-weight: 600; }}
QLabel[role="brand"] {{ font-size: 16px; font-weight: 700; color: {t.text}; }}
QPushButton, QToolButton {{
    background: {t.surface2}; color: {t.text}; border: 1px solid {t.border}; border-radius: 8px;
    padding: 6px 12px; }}
QPushButton:hover, QToolButton:hover {{ border-color: {t.accent}; }}
QPushButton:disabled, QToolButton:disabled {{ color: {t.muted}; background: {t.surface}; }}
QPushButton[primary="true"] {{ background: {t.accent}; color: {t.accent_text}; border: 1px solid {t.accent};
    font-weight: 600; }}
QPushButton[primary="true"]:disabled {{ background: {t.surface2}; color: {t.muted}; border-color: {t.border}; }}
QPushButton[danger="true"] {{ color: {t.danger}; }}
QToolButton[mode="true"] {{ background: transparent; border: 1px solid transparent; border-radius: 9px;
    padding: 6px 14px; font-weight: 600; color: {t.muted}; }}
QToolButton[mode="true"]:checked {{ background: {t.surface2}; color: {t.text}; border-color: {t.border}; }}
QToolButton[flat="true"] {{ background: transparent; border: none; padding: 4px; }}
QFileDialog QToolButton {{ padding: 2px; border-radius: 6px; }}  /* room for the 16 px icon in 30 px */
QComboBox, QSpinBox, QDoubleSpinBox, QLineEdit {{
    background: {t.surface2}; color: {t.text}; border: 1px solid {t.border}; border-radius: 7px;
    padding: 4px 8px; min-height: 20px; }}
QComboBox:focus, QSpinBox:focus, QDoubleSpinBox:focus, QLineEdit:focus {{ border-color: {t.accent}; }}
QComboBox:disabled, QSpinBox:disabled, QDoubleSpinBox:disabled, QLineEdit:disabled {{
    background: {t.surface}; color: {t.muted}; border-style: dashed; }}  /* off: a setting that does not apply */
QComboBox::drop-down {{ border: none; width: 22px; }}
QComboBox::down-arrow {{ image: url({_icons()}/chevron-{t.name}.svg); width: 12px; height: 12px; }}
QAbstractSpinBox::up-button, QAbstractSpinBox::down-button {{ width: 0; border: none; }}
QComboBox QAbstractItemView {{ background: {t.surface}; border: 1px solid {t.border};
    selection-background-color: {t.accent}; }}
QSlider::groove:horizontal {{ height: 4px; background: {t.surface2}; border-radius: 2px; }}
QSlider::sub-page:horizontal {{ background: {t.accent}; border-radius: 2px; }}
QSlider::handle:horizontal {{ background: {t.text}; width: 14px; height: 14px; margin: -6px 0;
    border-radius: 7px; }}
QProgressBar {{ background: {t.surface2}; border: none; border-radius: 4px; height: 8px; max-height: 8px;
    color: transparent; }}
QProgressBar::chunk {{ border-radius: 4px; background: qlineargradient(x1:0, y1:0, x2:1, y2:0,
    stop:0 {t.accent}, stop:1 {t.accent2}); }}
QTreeWidget, QListWidget, QTableWidget {{ background: {t.surface}; border: none; color: {t.text};
    outline: 0; }}
QTreeWidget::item, QListWidget::item {{ border-radius: 8px; padding: 3px; }}
QTreeWidget::item:selected, QListWidget::item:selected {{ background: {t.surface2}; color: {t.text};
    border: 1px solid {t.accent}; }}
QHeaderView::section {{ background: {t.surface}; color: {t.muted}; border: none;
    border-bottom: 1px solid {t.border}; padding: 4px; }}
QTabWidget::pane {{ border: none; }}
QTabBar::tab {{ background: transparent; color: {t.muted}; padding: 6px 12px; border: none;
    border-bottom: 2px solid transparent; }}
QTabBar::tab:selected {{ color: {t.text}; border-bottom: 2px solid {t.accent}; }}
QStatusBar {{ background: {t.surface}; color: {t.muted}; border-top: 1px solid {t.border}; }}
QStatusBar QLabel {{ color: {t.muted}; }}
QFrame#messagebar {{ border-radius: 10px; border: 1px solid {t.danger}; background: {t.surface}; }}
QFrame#messagebar[level="info"] {{ border-color: {t.accent}; }}
QFrame#dropzone {{ border: 2px dashed {t.border}; border-radius: 16px; background: {t.surface}; }}
QFrame#dropzone[hot="true"] {{ border-color: {t.accent}; background: {t.surface2}; }}
QFrame#dropoverlay {{ border: 3px dashed {t.accent}; border-radius: 18px;
    background: rgba(127, 100, 255, 40); }}
QFrame#verdict {{ background: {t.surface}; border: 1px solid {t.border}; border-left: 5px solid {t.accent};
    border-radius: 10px; }}
QFrame#verdict[state="learning"] {{ border-left-color: {t.ok}; }}
QFrame#verdict[state="copying"] {{ border-left-color: {t.danger}; }}
QFrame#verdict[state="not_learning"] {{ border-left-color: {t.accent2}; }}
QFrame#verdict[state="too_little"] {{ border-left-color: {t.accent2}; }}
QFrame#remedies {{ background: {t.surface}; border: 1px solid {t.border}; border-left: 5px solid {t.accent2};
    border-radius: 10px; }}
QLabel[role="figure"] {{ font-size: 34px; font-weight: 700; color: {t.text}; }}
QFrame#pair {{ background: {t.surface2}; border: 2px solid {t.surface2}; border-radius: 10px; }}
QFrame#pair[copy="true"] {{ border-color: {t.danger}; }}
QLabel#copytag {{ background: {t.danger}; color: {t.accent_text}; border-radius: 6px; padding: 1px 6px;
    font-size: 11px; font-weight: 700; }}
QSplitter::handle {{ background: {t.border}; }}
QScrollBar:vertical {{ background: transparent; width: 10px; }}
QScrollBar::handle:vertical {{ background: {t.surface2}; border-radius: 5px; min-height: 24px; }}
QScrollBar::add-line, QScrollBar::sub-line {{ height: 0; width: 0; }}
QScrollBar:horizontal {{ background: transparent; height: 10px; }}
QScrollBar::handle:horizontal {{ background: {t.surface2}; border-radius: 5px; min-width: 24px; }}
QCheckBox {{ color: {t.text}; }}
QMenu {{ background: {t.surface}; color: {t.text}; border: 1px solid {t.border}; }}
QMenu::item:selected {{ background: {t.surface2}; }}
QMenuBar {{ background: {t.surface}; color: {t.text}; }}
QMenuBar::item:selected {{ background: {t.surface2}; }}
"""
