"""Data area state: the scan settings, a running scan's progress, and the scan report.

A scan is an engine job (``scan``); this object sends it, follows its events and, when it ends,
holds the dataset's report: accepted items, rejected files with their reasons, duplicates and
statistics (``ScanReport``, read from the ``ScanResult.to_dict()`` the engine sends and stores in the
catalog).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from PySide6.QtCore import QObject, Signal

from core.engine import protocol as P
from desktop.model.words import count

CROPS = ("center", "letterbox", "random")


@dataclass
class ScanReport:
    accepted: list[str] = field(default_factory=list)
    rejected: list[tuple[str, str]] = field(default_factory=list)  # (path, reason)
    duplicates: list[tuple[str, str]] = field(default_factory=list)  # (path, kept / similar to)
    near_duplicates: list[tuple[str, str]] = field(default_factory=list)
    stats: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    dataset_id: str | None = None
    dataset_dir: str | None = None
    kind: str = "image"

    @classmethod
    def from_dict(cls, d: dict[str, Any] | None) -> ScanReport:
        """Read a ``core.data.result.ScanResult.to_dict()`` (the engine's ``report``); a key an
        older report lacks reads as empty."""
        d = d or {}
        return cls(
            accepted=[str(a["path"]) for a in d.get("accepted", [])],
            rejected=[(str(r["path"]), str(r["reason"])) for r in d.get("rejected", [])],
            duplicates=[(str(x["path"]), str(x["duplicate_of"])) for x in d.get("duplicates", [])],
            near_duplicates=[
                (str(n["a"]), f"{n['b']} ({count(int(n['distance']), 'bit')} apart)")
                for n in d.get("near_duplicates", [])
            ],
            warnings=[str(w) for w in d.get("warnings", [])],
            stats=dict(d.get("stats") or {}),
            dataset_id=d.get("dataset_id"),
            dataset_dir=d.get("dataset_dir"),
            kind=str(d.get("kind") or "image"),
        )


class ScanModel(QObject):
    state_changed = Signal(str)
    progress_changed = Signal(float, float, str)
    report_changed = Signal()
    settings_changed = Signal()

    def __init__(self, app: Any, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.app = app
        self.settings: dict[str, Any] = {"resolution": 32, "crop": "center", "flip": False}
        self.state = "idle"
        self.job_id: str | None = None
        self.sources: list[str] = []
        self.progress: tuple[float, float, str] = (0, 0, "")
        self.report: ScanReport | None = None
        self.dataset: dict[str, Any] | None = None
        self.error = ""
        self.on_dataset: list[Any] = []  # one-shot callbacks (dataset id) for the next finished scan

    def set_setting(self, name: str, value: Any) -> None:
        if self.settings.get(name) != value:
            self.settings[name] = value
            self.settings_changed.emit()

    def start(self, sources: list[str], name: str | None = None) -> str:
        self.sources = [str(s) for s in sources]
        self.report, self.dataset, self.error = None, None, ""
        args = P.ScanArgs(sources=list(self.sources), settings=dict(self.settings))
        if name:
            args.name = name
        self.job_id = self.app.submit("scan", args.to_dict(), self)
        self.progress = (0, 0, "starting")
        self._set_state("submitted")
        self.report_changed.emit()
        return self.job_id

    def cancel(self) -> None:
        if self.job_id and self.state in ("submitted", "queued", "running", "paused"):
            self.app.control("cancel", self.job_id)

    def show_dataset(self, item: dict[str, Any]) -> None:
        """Show a dataset from the library (its stored report and the settings it was made with)."""
        self.dataset = item
        stored = item.get("settings") if isinstance(item.get("settings"), dict) else {}
        changed = {
            k: stored[k]
            for k in ("resolution", "crop", "flip")
            if k in stored and stored[k] != self.settings.get(k)
        }
        if changed:
            self.settings.update(changed)
            self.settings_changed.emit()
        report = item.get("report") if isinstance(item.get("report"), dict) else {}
        self.report = ScanReport.from_dict(report)
        self.report.dataset_id = self.report.dataset_id or item.get("id")
        if not self.report.dataset_dir:
            self.report.dataset_dir = item.get("path")
        self.report.kind = item.get("kind") or self.report.kind
        self._set_state("done")
        self.report_changed.emit()

    def handle(self, ev: P.Event) -> None:
        if isinstance(ev, P.State):
            self._set_state(ev.state)
        elif isinstance(ev, P.Progress):
            self.progress = (ev.done, ev.total, ev.message)
            self.progress_changed.emit(ev.done, ev.total, ev.message)
        elif isinstance(ev, P.Done):
            done = P.ScanDone.from_dict(ev.results)
            self.report = ScanReport.from_dict(done.report)
            ds = self.report.dataset_id = done.dataset
            self._set_state(ev.state)
            self.report_changed.emit()
            if ds:
                self.app.client.send("get", {"what": "datasets", "id": ds}, on_result=self._got_dataset)
        elif isinstance(ev, P.Error):
            self.error = ev.message
            # a folder with nothing usable fails with its report: every rejected file and why
            report = (getattr(ev, "data", None) or {}).get("report")
            if isinstance(report, dict):
                self.report = ScanReport.from_dict(report)
            self._set_state(ev.state or "failed")
            self.report_changed.emit()

    def _got_dataset(self, data: dict[str, Any]) -> None:
        item = data.get("item") or {}
        self.dataset = item
        stored = item.get("report")
        if isinstance(stored, dict) and self.report is not None:
            fuller = ScanReport.from_dict(stored)
            for name in ("accepted", "rejected", "duplicates", "near_duplicates", "stats"):
                if not getattr(self.report, name):
                    setattr(self.report, name, getattr(fuller, name))
        if self.report is not None:
            self.report.dataset_dir = self.report.dataset_dir or item.get("path")
            self.report.kind = item.get("kind") or self.report.kind
        self.report_changed.emit()
        callbacks, self.on_dataset = self.on_dataset, []
        for cb in callbacks:
            cb(item.get("id"))

    def _set_state(self, state: str) -> None:
        self.state = state
        self.state_changed.emit(state)
