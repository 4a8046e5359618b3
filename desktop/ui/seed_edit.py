"""A seed field for the whole range the engine takes (0 to 2**63 - 1).

A ``QSpinBox`` holds a 32-bit int, so it cannot show most of the seeds the engine accepts (a seed
from a ``noisebloom sample`` PNG, say). This line edit takes digits up to ``maximum``, steps with
the Up / Down keys like a spin box, and reports its value as a Python int.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QKeyEvent, QValidator
from PySide6.QtWidgets import QLineEdit, QWidget


class _DigitsUpTo(QValidator):
    def __init__(self, maximum: int, parent: QWidget) -> None:
        super().__init__(parent)
        self.maximum = maximum

    def validate(self, text: str, pos: int) -> QValidator.State:
        if not text:
            return QValidator.State.Intermediate
        if not (text.isascii() and text.isdigit()) or int(text) > self.maximum:
            return QValidator.State.Invalid
        return QValidator.State.Acceptable


class SeedEdit(QLineEdit):
    """Digits 0..``maximum``; ``valueChanged(int)`` as each accepted edit lands, like a QSpinBox."""

    valueChanged = Signal(object)  # a Python int: seeds go past what a Qt int signal carries

    def __init__(self, maximum: int, parent: QWidget | None = None) -> None:
        super().__init__("0", parent)
        self._maximum = int(maximum)
        self._value = 0
        self.setValidator(_DigitsUpTo(self._maximum, self))
        self.textEdited.connect(self._edited)
        self.editingFinished.connect(lambda: self.setText(str(self._value)))  # an emptied field: back

    def maximum(self) -> int:
        return self._maximum

    def value(self) -> int:
        return self._value

    def setValue(self, value: int) -> None:
        value = max(0, min(int(value), self._maximum))
        if self.text() != str(value):
            self.setText(str(value))
        if value != self._value:
            self._value = value
            self.valueChanged.emit(value)

    def _edited(self, text: str) -> None:
        if text:
            self.setValue(int(text))

    def keyPressEvent(self, event: QKeyEvent) -> None:
        step = {Qt.Key.Key_Up: 1, Qt.Key.Key_Down: -1}.get(Qt.Key(event.key()), 0)
        if step:
            self.setValue(self._value + step)
        else:
            super().keyPressEvent(event)
