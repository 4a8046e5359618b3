"""The window's questions to the person: one ``ask`` for every choice dialog, and the wording of
the ones asked in more than one place (replacing existing files).

Everything that asks goes through :func:`ask` (looked up on this module at call time), so a test
answers a dialog with ``monkeypatch.setattr(dialogs, "ask", ...)`` the way it answers
``QFileDialog``, without a modal box blocking the offscreen run.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from PySide6.QtWidgets import QMessageBox, QWidget

Role = QMessageBox.ButtonRole
SHOWN_NAMES = 5  # a replace question lists this many of the existing files, then "and N more"


def ask(
    parent: QWidget | None,
    title: str,
    text: str,
    choices: Sequence[tuple[str, str, Role]],
    detail: str = "",
    default: str | None = None,
) -> str | None:
    """Show a question with one button per ``(key, label, role)``; the key of the button pressed,
    or None when the box was closed (Esc) without choosing. ``default`` (or the first choice) is
    the button Return presses."""
    box = QMessageBox(parent)
    box.setWindowTitle(title)
    box.setText(text)
    if detail:
        box.setInformativeText(detail)
    buttons = {box.addButton(label, role): key for key, label, role in choices}
    for button, key in buttons.items():
        if key == (default or choices[0][0]):
            box.setDefaultButton(button)
    box.exec()
    return buttons.get(box.clickedButton())


def replace_question(paths: Sequence[str | Path]) -> tuple[str, str]:
    """(question, detail) for replacing ``paths``: "Replace 3 files in /x?" and which ones they are."""
    files = [Path(p) for p in paths]
    folders = {f.parent for f in files}
    where = f" in {next(iter(folders))}" if len(folders) == 1 else ""
    if len(files) == 1:
        question = f"Replace {files[0].name}{where}?"
    else:
        question = f"Replace {len(files)} files{where}?"
    names = [f.name if where else str(f) for f in files[:SHOWN_NAMES]]
    more = len(files) - len(names)
    listed = ", ".join(names) + (f" and {more} more" if more > 0 else "")
    verb = "exists" if len(files) == 1 else "exist"
    detail = f"{listed} already {verb}. Replace overwrites; Cancel leaves the files as they are."
    return question, detail


def confirm_replace(parent: QWidget | None, paths: Sequence[str | Path]) -> bool:
    """Ask before anything overwrites ``paths``: True only when the person chooses Replace."""
    question, detail = replace_question(paths)
    choices = [("replace", "Replace", Role.DestructiveRole), ("cancel", "Cancel", Role.RejectRole)]
    return ask(parent, "Replace existing files?", question, choices, detail, default="cancel") == "replace"
