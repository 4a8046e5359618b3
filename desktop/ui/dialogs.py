"""The window's questions to the person: one ``ask`` for every choice dialog, the file dialogs, and
the wording of the ones asked in more than one place (replacing existing files); the Help menu's pages.

Everything that asks goes through :func:`ask` (looked up on this module at call time), so a test
answers a dialog with ``monkeypatch.setattr(dialogs, "ask", ...)`` the way it answers
``QFileDialog``, without a modal box blocking the offscreen run. Every file dialog goes through
:func:`choose_folder`, :func:`choose_files` or :func:`choose_save_path`: each starts in the folder last
used for its purpose (a QSettings key per purpose), else the person's home folder, never the
program's working folder.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from html import escape
from pathlib import Path
from typing import Any

from PySide6.QtCore import QSettings, QStandardPaths, Qt
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from core.catalogue.samplers import MAX_GUIDANCE, MAX_SEED, MAX_STEPS, SAMPLERS, draws_noise
from core.words import count
from desktop.ui.seed_edit import SeedEdit

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
        question = f"Replace {count(len(files), 'file')}{where}?"
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


class BranchDialog(QDialog):
    """What a branch from the scrubbed step changes: new noise for the steps after it (a fresh seed
    by default), another sampler, another number of steps left, another guidance. It says when the
    choice would give back the original exactly, and Branch is off until something differs."""

    def __init__(self, parent: QWidget | None, gm: Any) -> None:
        super().__init__(parent)
        self.gm = gm
        self.parent_ = p = gm.branch_parent()
        self.setWindowTitle("Branch from this step")
        lay = QVBoxLayout(self)
        lay.setContentsMargins(18, 16, 18, 12)
        kept = count(p["step"] - 1, "step")
        self.intro = intro = QLabel(
            f"Keep the {kept} before step {p['step']} and draw the rest again with:"
            if p["step"] > 1
            else "Start again from the first step with:"
        )
        intro.setWordWrap(True)
        lay.addWidget(intro)
        form = QFormLayout()
        form.setLabelAlignment(Qt.AlignmentFlag.AlignRight)
        self.seed = SeedEdit(MAX_SEED)
        self.seed.setValue(self._fresh_seed())
        self.dice = QPushButton("New seed")
        self.dice.setToolTip("Another fresh seed for the noise after this step")
        self.dice.clicked.connect(lambda: self.seed.setValue(self._fresh_seed()))
        seed_row = QHBoxLayout()
        seed_row.addWidget(self.seed, 1)
        seed_row.addWidget(self.dice)
        self.sampler = QComboBox()
        for name in gm.branch_samplers():
            own = " (the original's)" if name == p["sampler"] else ""
            self.sampler.addItem(SAMPLERS[name].title + own, name)
        self.steps = QSpinBox()
        self.steps.setRange(1, MAX_STEPS)
        self.steps.setValue(p["steps_left"])
        self.guidance = QDoubleSpinBox()
        self.guidance.setRange(0.0, MAX_GUIDANCE)
        self.guidance.setSingleStep(0.25)
        self.guidance.setDecimals(2)
        self.guidance.setSpecialValueText("off")
        self.guidance.setValue(p["guidance"])
        form.addRow("Seed for the noise", seed_row)
        form.addRow("Sampler", self.sampler)
        form.addRow("Steps left", self.steps)
        form.addRow("Guidance", self.guidance)
        lay.addLayout(form)
        self.note = QLabel()
        self.note.setProperty("role", "warning")
        self.note.setWordWrap(True)
        self.note.setMinimumWidth(420)
        lay.addWidget(self.note)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.run = self.buttons.addButton("Branch", QDialogButtonBox.ButtonRole.AcceptRole)
        self.run.setDefault(True)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        lay.addWidget(self.buttons)
        self.seed.valueChanged.connect(self._update)
        self.sampler.currentIndexChanged.connect(self._update)
        self.steps.valueChanged.connect(self._update)
        self.guidance.valueChanged.connect(self._update)
        self._update()

    def _fresh_seed(self) -> int:
        seed = random.randint(0, MAX_SEED)
        return seed if seed != self.parent_["seed"] else (seed + 1) % (MAX_SEED + 1)

    def choice(self) -> dict[str, Any]:
        """The options as :meth:`GenerationModel.branch` takes them."""
        return {
            "seed": self.seed.value(),
            "sampler": str(self.sampler.currentData()),
            "steps": self.steps.value(),
            "guidance": round(float(self.guidance.value()), 2),
        }

    def _update(self) -> None:
        """Enable what the chosen sampler can change, and say when nothing would."""
        p, name = self.parent_, str(self.sampler.currentData())
        draws = draws_noise(name, p["eta"])
        self.seed.setEnabled(draws)
        self.dice.setEnabled(draws)
        tip = (
            "" if draws else f"{SAMPLERS[name].title} draws no noise after the start: a seed changes nothing"
        )
        self.seed.setToolTip(tip)
        respaces = self.gm.branch_respaces(name)
        self.steps.setEnabled(respaces)
        if not respaces:
            self.steps.setValue(p["steps_left"])
        self.steps.setToolTip(
            "The steps from here to the end"
            if respaces
            else f"{SAMPLERS[name].title} cannot re-space the steps left: choose another sampler to change them"
        )
        guided = self.gm.branch_guided and not SAMPLERS[name].needs_map
        self.guidance.setEnabled(guided)
        if not guided:
            self.guidance.setValue(p["guidance"])
        c = self.choice()
        why = self.gm.branch_same_as_parent(c["seed"], c["sampler"], c["steps"], c["guidance"])
        self.note.setText(why or "")
        self.note.setVisible(bool(why))
        self.run.setEnabled(why is None)
        self.run.setToolTip(why or "Branch with these options (the original stays as it is)")


def branch_options(parent: QWidget | None, gm: Any) -> dict[str, Any] | None:
    """Ask what a branch changes (:class:`BranchDialog`); the options, or None when cancelled.
    Looked up on this module at call time, so a test answers it with ``monkeypatch``."""
    dlg = BranchDialog(parent, gm)
    return dlg.choice() if dlg.exec() == QDialog.DialogCode.Accepted else None


def folder_key(purpose: str) -> str:
    """The QSettings key that remembers the last folder of a file dialog's ``purpose``."""
    return f"{purpose}/folder"


def start_folder(purpose: str) -> str:
    """Where a file dialog for ``purpose`` opens: the folder last used for it while it still
    exists, else the person's home folder."""
    last = str(QSettings().value(folder_key(purpose), "") or "")
    if last and Path(last).is_dir():
        return last
    return QStandardPaths.writableLocation(QStandardPaths.StandardLocation.HomeLocation) or str(Path.home())


def remember_folder(purpose: str, folder: str | Path) -> None:
    QSettings().setValue(folder_key(purpose), str(folder))


def choose_folder(parent: QWidget | None, purpose: str, title: str) -> str:
    """Ask for a folder (starting where :func:`start_folder` says); "" when cancelled."""
    folder = QFileDialog.getExistingDirectory(parent, title, start_folder(purpose))
    if folder:
        remember_folder(purpose, folder)
    return folder


def choose_files(parent: QWidget | None, purpose: str, title: str, filters: str) -> list[str]:
    """Ask for files to open; [] when cancelled. The folder they are in is remembered."""
    files, _ = QFileDialog.getOpenFileNames(parent, title, start_folder(purpose), filters)
    if files:
        remember_folder(purpose, Path(files[0]).parent)
    return list(files)


def choose_save_path(parent: QWidget | None, purpose: str, title: str, name: str, filters: str) -> str:
    """Ask where to save a file called ``name`` by default; "" when cancelled. The caller remembers
    the folder once it has settled the file's suffix (:func:`remember_folder`)."""
    out, _ = QFileDialog.getSaveFileName(parent, title, str(Path(start_folder(purpose)) / name), filters)
    return out


def _page(parent: QWidget | None, title: str) -> tuple[QDialog, QVBoxLayout]:
    """A dialog that deletes itself when closed (so it keeps no focus or shortcuts), with Close."""
    dlg = QDialog(parent)
    dlg.setWindowTitle(title)
    dlg.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    lay = QVBoxLayout(dlg)
    lay.setContentsMargins(18, 16, 18, 12)
    buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
    buttons.rejected.connect(dlg.close)
    lay.addWidget(buttons)
    return dlg, lay


def shortcuts_dialog(parent: QWidget | None, shortcuts: Sequence[tuple[str, str]]) -> QDialog:
    """The keyboard shortcuts as a two-column table: the keys on the left, what they do beside."""
    dlg, lay = _page(parent, "Keyboard shortcuts")
    grid = QGridLayout()
    grid.setHorizontalSpacing(24)
    grid.setVerticalSpacing(6)
    for r, (keys, action) in enumerate(shortcuts):
        k = QLabel(keys)
        k.setObjectName("shortcut-keys")
        f = k.font()
        f.setBold(True)
        k.setFont(f)
        grid.addWidget(k, r, 0, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        grid.addWidget(QLabel(action), r, 1, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
    grid.setColumnStretch(1, 1)
    lay.insertLayout(0, grid)
    dlg.grid = grid  # type: ignore[attr-defined]
    return dlg


HOW_IT_WORKS = """
<h3>1 &nbsp;Data</h3>
<p>Drop a folder of images or clips on the window (or File &gt; Scan a folder). Noisebloom scans it
into a dataset; files it cannot read are named in the Data area, and the rest are kept.</p>
<h3>2 &nbsp;Train</h3>
<ul>
<li><b>Preset</b>: the model's size and the kind of data it learns (images or clips).</li>
<li><b>Objective</b>: what the network learns to predict from a noisy image (the noise, the velocity,
the clean image, or a flow); the preset's choice is a good start.</li>
<li><b>Budget</b>: how long to train, in steps or in minutes; the estimate below says what it gives.</li>
<li><b>Batch size</b>: images per step; larger is smoother but needs more memory.</li>
<li><b>Learning rate</b>: how big each update is; "preset default" suits most runs.</li>
</ul>
<h3>3 &nbsp;Generate</h3>
<ul>
<li><b>Sampler</b> and <b>Steps</b>: how noise is turned into an image, and in how many steps
(more is slower and usually cleaner).</li>
<li><b>Guidance</b>: pushes samples toward sharper, more typical results; off at 0.</li>
<li><b>Seed</b>: the same seed and settings give the same images (Ctrl+R rolls a new one).</li>
<li><b>Branch</b>: start again from the scrubbed step with new settings (Ctrl+B).</li>
<li><b>Export</b>: save the denoising as a GIF or MP4 (Ctrl+E).</li>
</ul>
<h3>Where files live</h3>
<p>Datasets, runs, models and generations are kept in the workspace folder:<br><code>{workspace}</code><br>
Help &gt; Open workspace folder opens it. A model kept elsewhere (trained on another machine, or from the
command line) joins the library with File &gt; Open a model folder, and stays where it is.</p>
"""


def how_it_works_dialog(parent: QWidget | None, workspace: str) -> QDialog:
    """A short page in plain words: the three steps, what the settings mean, where files live."""
    dlg, lay = _page(parent, "How Noisebloom works")
    text = QLabel(HOW_IT_WORKS.format(workspace=escape(workspace or "(not known until the engine starts)")))
    text.setObjectName("how-it-works")
    text.setTextFormat(Qt.TextFormat.RichText)
    text.setWordWrap(True)
    text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    text.setMinimumWidth(520)
    lay.insertWidget(0, text)
    dlg.text = text  # type: ignore[attr-defined]
    return dlg
