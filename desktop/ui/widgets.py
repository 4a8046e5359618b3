"""Small shared widgets: a crisp pixel image view, a card, a floating message bar, labelled rows."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QEvent, QObject, QRect, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QImage, QPainter, QPainterPath
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from desktop.ui import theme
from desktop.ui.images import icon


class ImageView(QWidget):
    """Shows one image scaled to fit, nearest-neighbour (16-64 px samples stay sharp), centred on a
    rounded dark canvas, with an optional placeholder text and caption."""

    clicked = Signal()

    def __init__(self, placeholder: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.image = QImage()
        self.placeholder = placeholder
        self.caption = ""
        self.smooth = False
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMinimumSize(120, 120)

    def set_image(self, image: QImage, caption: str = "") -> None:
        self.image, self.caption = image, caption
        self.update()

    def clear(self) -> None:
        self.set_image(QImage())

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt
        return QSize(360, 360)

    def mousePressEvent(self, e) -> None:  # noqa: N802, ANN001 - Qt
        self.clicked.emit()

    def target_rect(self) -> QRect:
        if self.image.isNull():
            return QRect()
        area = self.rect().adjusted(8, 8, -8, -28 if self.caption else -8)
        s = self.image.size().scaled(area.size(), Qt.AspectRatioMode.KeepAspectRatio)
        return QRect(
            area.x() + (area.width() - s.width()) // 2,
            area.y() + (area.height() - s.height()) // 2,
            s.width(),
            s.height(),
        )

    def paintEvent(self, e) -> None:  # noqa: N802, ANN001 - Qt
        t = theme.current()
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        path = QPainterPath()
        path.addRoundedRect(self.rect().adjusted(0, 0, -1, -1), 12, 12)
        p.fillPath(path, QColor(t.plot_bg))
        p.setPen(QColor(t.border))
        p.drawPath(path)
        if self.image.isNull():
            p.setPen(QColor(t.muted))
            p.drawText(
                self.rect().adjusted(16, 16, -16, -16),
                Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap,
                self.placeholder,
            )
        else:
            p.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, self.smooth)
            p.drawImage(self.target_rect(), self.image)
        if self.caption:
            p.setPen(QColor(t.muted))
            p.drawText(
                self.rect().adjusted(8, 0, -8, -6),
                Qt.AlignmentFlag.AlignBottom | Qt.AlignmentFlag.AlignHCenter,
                self.caption,
            )
        p.end()


class Card(QFrame):
    """A titled panel (the stylesheet's ``#card``); a subclass fills ``self.body``."""

    def __init__(self, title: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("card")
        self.body = QVBoxLayout(self)
        self.body.setContentsMargins(14, 12, 14, 14)
        self.body.setSpacing(8)
        if title:
            lab = QLabel(title.upper())
            lab.setProperty("role", "section")
            self.body.addWidget(lab)


def card(title: str = "", parent: QWidget | None = None) -> tuple[QFrame, QVBoxLayout]:
    """A :class:`Card` and its layout, for a panel that needs no class of its own."""
    frame = Card(title, parent)
    return frame, frame.body


def label(text: str, role: str | None = None, wrap: bool = False) -> QLabel:
    lab = QLabel(text)
    if role:
        lab.setProperty("role", role)
    lab.setWordWrap(wrap)
    return lab


def button(text: str, icon_name: str | None = None, *, primary: bool = False, tip: str = "") -> QPushButton:
    b = QPushButton(text)
    if icon_name:
        b.setProperty("icon_name", icon_name)
        b.setIcon(icon(icon_name, theme.current().accent_text if primary else None))
    if primary:
        b.setProperty("primary", True)
    if tip:
        b.setToolTip(tip)
    b.setCursor(Qt.CursorShape.PointingHandCursor)
    return b


def retint(root: QWidget) -> None:
    """Repaint every button's icon in the current theme's colours (after a theme switch)."""
    t = theme.current()
    for b in root.findChildren(QPushButton) + root.findChildren(QToolButton):
        name = b.property("icon_name")
        if name:
            b.setIcon(icon(str(name), t.accent_text if b.property("primary") else t.text))


def row(*widgets: QWidget | None, spacing: int = 8, stretch_last: bool = False) -> QWidget:
    w = QWidget()
    lay = QHBoxLayout(w)
    lay.setContentsMargins(0, 0, 0, 0)
    lay.setSpacing(spacing)
    for x in widgets:
        if x is None:
            lay.addStretch(1)
        else:
            lay.addWidget(x)
    if stretch_last:
        lay.setStretch(lay.count() - 1, 1)
    return w


class MessageBar(QFrame):
    """A dismissible one-line message (errors stay until closed; info fades after 6 s), with an
    optional action button ("Open folder"). Once :meth:`float_over` a page it floats over that
    page's bottom edge instead of taking a place in its layout, so showing or hiding it never moves
    what is under the pointer."""

    MARGIN = 12  # px between the floating message and the page's edges

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("messagebar")
        self.setAutoFillBackground(True)  # opaque where it floats over the page
        lay = QHBoxLayout(self)
        lay.setContentsMargins(10, 6, 6, 6)
        self.icon = QLabel()
        self.text = QLabel()
        self.text.setWordWrap(True)
        self.text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.action = QPushButton()
        self.action.clicked.connect(self._act)
        close = QToolButton()
        close.setProperty("flat", True)
        close.setProperty("icon_name", "close")
        close.setIcon(icon("close"))
        close.setToolTip("Dismiss (Esc)")
        close.clicked.connect(self.hide)
        lay.addWidget(self.icon)
        lay.addWidget(self.text, 1)
        lay.addWidget(self.action)
        lay.addWidget(close)
        self.level = ""
        self._on_action: Callable[[], object] | None = None
        self._shown_action: tuple[str, Callable[[], object]] | None = None
        self._host: QWidget | None = None
        self._timer = QTimer(self, singleShot=True, interval=6000, timeout=self.hide)
        self.hide()

    def float_over(self, host: QWidget) -> None:
        """Float over ``host``'s bottom edge (full width less :attr:`MARGIN`), following its size."""
        self._host = host
        self.setParent(host)
        host.installEventFilter(self)
        self.hide()

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt's name)
        if obj is self._host and event.type() == QEvent.Type.Resize and self.isVisible():
            self._place()
        return False

    def _place(self) -> None:
        host = self._host
        if host is None:
            return
        m = self.MARGIN
        w = max(200, host.width() - 2 * m)
        h = self.heightForWidth(w) if self.hasHeightForWidth() else self.sizeHint().height()
        h = max(h, self.sizeHint().height())
        self.setGeometry(m, host.height() - h - m, w, h)
        self.raise_()

    def show_message(
        self, text: str, level: str = "error", action: tuple[str, Callable[[], object]] | None = None
    ) -> None:
        """Show ``text``; ``action`` (label, what it does) adds a button beside it."""
        t = theme.current()
        self.level = level
        self.setProperty("level", level)
        self.style().unpolish(self)
        self.style().polish(self)
        color = t.danger if level == "error" else t.accent
        self.icon.setPixmap(icon("warning" if level == "error" else "info", color).pixmap(18, 18))
        self.text.setText(text)
        self._shown_action = action
        self._on_action = action[1] if action else None
        self.action.setText(action[0] if action else "")
        self.action.setVisible(action is not None)
        self.show()
        self._place()
        if level == "error":
            self._timer.stop()
        else:
            self._timer.start()

    def restyle(self) -> None:
        """Show the same message again in the current theme's colours."""
        self.show_message(self.text.text(), self.level, self._shown_action)

    def _act(self) -> None:
        if self._on_action is not None:
            self._on_action()
        self.hide()
