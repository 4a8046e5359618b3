"""The job queue as the window sees it: every job's kind, state and latest progress (no widgets).

Krita AI Diffusion's ``JobQueue`` in miniature: the app model feeds it every protocol event; the
status bar and the areas observe ``changed``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from PySide6.QtCore import QObject, Signal

from core.engine import protocol as P
from core.words import format_duration

ACTIVE_STATES = ("submitted", "queued", "running", "paused")
TRAIN_KINDS = ("train", "finetune", "resume_run")  # on a time budget their progress says its steps


@dataclass
class JobInfo:
    id: str
    kind: str
    state: str = "submitted"
    done: float = 0.0
    total: float = 0.0
    unit: str = ""
    rate: float | None = None
    eta_s: float | None = None
    message: str = ""
    error: str = ""
    results: dict = field(default_factory=dict)
    started: float = field(default_factory=time.monotonic)

    @property
    def active(self) -> bool:
        return self.state in ACTIVE_STATES

    @property
    def fraction(self) -> float | None:
        return min(1.0, self.done / self.total) if self.total else None

    def describe(self) -> str:
        """One line for the status bar: ``Training · 120/2000 steps · 3.1 steps/s · 10 min left``."""
        title = {
            "scan": "Scanning",
            "train": "Training",
            "finetune": "Fine-tuning",
            "resume_run": "Training",
            "sample": "Generating",
            "branch": "Branching",
            "export": "Exporting",
            "evaluate": "Checking health",
            "make_fast": "Making fast",
        }.get(self.kind, self.kind)
        parts = [title if self.state != "paused" else f"{title} (paused)"]
        if self.state == "queued":
            parts.append("waiting for the engine")
        timed = self.unit == "s"  # a job on a time budget: whole seconds, no seconds per second
        said = timed and self.kind in TRAIN_KINDS and self.message  # "312 steps so far, about …"
        if said:
            parts.append(self.message)
        elif self.total:
            done, total = (
                (f"{self.done:.0f}", f"{self.total:.0f}") if timed else (f"{self.done:g}", f"{self.total:g}")
            )
            parts.append(f"{done}/{total} {self.unit}")
        if self.rate and not timed:
            parts.append(f"{self.rate:.3g} {self.unit or 'items'}/s")
        if self.eta_s is not None and self.eta_s > 0:
            parts.append(format_duration(self.eta_s) + " left")
        if self.message and not self.total:
            parts.append(self.message)
        return " · ".join(parts)


class JobsModel(QObject):
    changed = Signal(str)  # job id

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.jobs: dict[str, JobInfo] = {}

    def add(self, job_id: str, kind: str) -> JobInfo:
        info = JobInfo(job_id, kind)
        self.jobs[job_id] = info
        self.changed.emit(job_id)
        return info

    def active(self) -> list[JobInfo]:
        return [j for j in self.jobs.values() if j.active]

    def current(self) -> JobInfo | None:
        """The job to show in the status bar: the running one, else the first waiting one."""
        active = self.active()
        running = [j for j in active if j.state in ("running", "paused")]
        return (running or active or [None])[0]

    def handle(self, ev: P.Event) -> None:
        info = self.jobs.get(ev.id or "")
        if info is None:
            return
        if isinstance(ev, P.State):
            info.state = ev.state
        elif isinstance(ev, P.Progress):
            info.done, info.total, info.unit = ev.done, ev.total, ev.unit
            info.rate, info.eta_s, info.message = ev.rate, ev.eta_s, ev.message
        elif isinstance(ev, P.Done):
            info.state, info.results = ev.state, dict(ev.results)
        elif isinstance(ev, P.Error):
            info.state = ev.state or "failed"
            info.error = ev.message
        else:
            return
        self.changed.emit(info.id)
