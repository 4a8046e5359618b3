"""The "Make it fast" action: a trained flow model distilled into a few-step map by the engine's ``make_fast``
job (:mod:`core.engine.jobs.fast`), its progress and its end (no widgets).

The job runs on the engine's default budget (a few minutes) unless ``steps`` is given; when it is
done the engine has updated the model's catalog row (its info gains ``fewstep``) and the app
refreshes the library, so :class:`desktop.model.generation.GenerationModel` picks the new info up
and offers the few-step sampler.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QObject, Signal

from core.engine import protocol as P
from desktop.model.jobs import ACTIVE_STATES, JobInfo


class FastModel(QObject):
    changed = Signal()  # state, progress or result

    def __init__(self, app: Any, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.app = app
        self.state = "idle"
        self.job_id: str | None = None
        self.model: str | None = None  # the model being (or last) made fast
        self.result: P.MakeFastDone | None = None

    @property
    def live(self) -> bool:
        return self.state in ACTIVE_STATES

    @property
    def job(self) -> JobInfo | None:
        """The job's progress as the jobs model keeps it (it sees each event before this object)."""
        return self.app.jobs.jobs.get(self.job_id) if self.job_id else None

    def start(self, model: str, steps: int | None = None) -> str:
        """Submit ``make_fast`` for ``model`` (a catalog id), on the engine's default time budget or
        ``steps`` optimizer steps."""
        if self.live:
            raise ValueError(f"already making {self.model} fast: wait for it to finish")
        args: dict[str, Any] = {"model": model}
        if steps is not None:
            args["steps"] = int(steps)
        self.model, self.result = model, None
        self.job_id = self.app.submit("make_fast", args, self)
        self.state = "submitted"
        self.changed.emit()
        return self.job_id

    def stop(self) -> None:
        if self.job_id and self.live:
            self.app.control("cancel", self.job_id)

    def handle(self, ev: P.Event) -> None:
        if ev.id != self.job_id:
            return
        if isinstance(ev, P.State):
            self.state = ev.state
        elif isinstance(ev, P.Progress):
            pass  # kept by the jobs model (self.job)
        elif isinstance(ev, P.Done):
            self.state = ev.state
            self.result = P.MakeFastDone.from_dict(dict(ev.results))
            steps = len(self.result.levels)
            row = self.app.library.get("models", self.model or "")
            name = (row or {}).get("name") or self.model
            self.app.info.emit(
                f"{name} is fast now: the Few-step sampler draws it in 1 to {steps} steps "
                f"at guidance {self.result.guidance:g}"
            )
        elif isinstance(ev, P.Error):
            self.state = ev.state or "failed"
        else:
            return
        self.changed.emit()
