"""A job as the engine runs it, and what a job may ask of the engine.

:class:`Job` is a queued or running job and its controls (pause, resume, stop, cancel), which job
code honours by calling :meth:`Job.checkpoint` between steps. :class:`Context` is the part of the
engine a job uses: the catalog, the workspace root, events and throttled events, and the jobs
that are live (so a library item in use is not deleted). :class:`JobKind` is one entry of the job
table in :mod:`core.engine.jobs`: the argument check that runs before ``accepted``, and the run.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from core.engine import protocol as P
from core.errors import Cancelled
from core.workspace.catalog import Catalog

LIVE_STATES = ("queued", "running", "paused")


class Job:
    """A queued or running job and its controls. Job code calls :meth:`checkpoint` between steps."""

    def __init__(self, id: str, kind: str, args: dict[str, Any]) -> None:
        self.id = id
        self.kind = kind
        self.args = args
        self.state = "queued"
        self.created = time.time()
        self._resume = threading.Event()
        self._resume.set()
        self.stop_requested = False
        self.stop_reason = "stop"  # "shutdown" when the engine stops it on exit (the run stays resumable)
        self.cancel_requested = False
        self.discard = False  # a cancel that deletes the run: "discard": true, or no checkpoint when it came
        self.has_checkpoint: Callable[[], bool] = lambda: False  # set by training jobs
        self.writes: Path | None = None  # the folder the job writes, named in resource errors
        self.cleanup: list[Callable[[], None]] = []  # run when the job is cancelled or fails
        self.on_state: Callable[[str], None] = lambda s: None

    def pause(self) -> None:
        self._resume.clear()

    def resume(self) -> None:
        self._resume.set()

    def stop(self, reason: str = "stop") -> None:
        self.stop_requested = True
        self.stop_reason = reason
        self._resume.set()

    def cancel(self) -> None:
        self.cancel_requested = True
        self._resume.set()

    def checkpoint(self) -> bool:
        """Block while paused; raise Cancelled if cancelled; return True if asked to stop."""
        if not self._resume.is_set():
            self.on_state("paused")
            self._resume.wait()
            if not self.cancel_requested:
                self.on_state("running")
        if self.cancel_requested:
            raise Cancelled()
        return self.stop_requested

    def summary(self) -> dict[str, Any]:
        return {"id": self.id, "kind": self.kind, "state": self.state, "created": self.created}


class Context(Protocol):
    """What a job may use of the engine (:class:`core.engine.server.Engine` is the real one)."""

    root: Path
    catalog: Catalog

    def emit(self, event: P.Event) -> None: ...

    def emit_throttled(
        self,
        event: P.Event | Callable[[], P.Event],
        *,
        key: tuple[str, str] | None = None,
        force: bool = False,
    ) -> None: ...

    def live_jobs(self) -> list[Job]: ...


@dataclass(frozen=True)
class JobKind:
    """One kind of job: ``validate(args, ctx)`` refuses bad arguments in the reader thread (one line
    naming the field and the fix) before anything is accepted; ``run(job, ctx)`` does the work in
    the worker thread and returns the ``done`` event's results."""

    validate: Callable[[dict[str, Any], Context], None]
    run: Callable[[Job, Context], P.Payload]


class Rate:
    """Units per second over the job so far, and the ETA; for ``progress`` events."""

    def __init__(self, start_done: float = 0) -> None:
        self.t0 = time.monotonic()
        self.start = start_done

    def __call__(self, done: float, total: float) -> tuple[float | None, float | None]:
        dt = time.monotonic() - self.t0
        if dt <= 0 or done <= self.start:
            return None, None
        rate = (done - self.start) / dt
        return rate, max(0.0, (total - done) / rate) if total else None
