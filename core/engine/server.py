"""The engine process: reads commands on stdin, runs jobs one at a time, writes events on stdout.

Threads: the main thread reads stdin and answers queries and control commands at once; one
worker thread runs the heavy jobs from a FIFO queue; a flusher thread sends throttled previews
(at most 10 a second per job, latest wins). All stdout writes go through one lock, so lines never
interleave. See :mod:`core.engine.protocol` for the wire format.
"""

from __future__ import annotations

import argparse
import collections
import dataclasses
import os
import queue
import sqlite3
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

from core import __version__
from core.engine import jobs
from core.engine import protocol as P
from core.engine.job import LIVE_STATES, Job
from core.errors import Cancelled, NoisebloomError, OutputExists, resource_error
from core.workspace import lock
from core.workspace.catalog import Catalog
from core.workspace.paths import workspace_root

PREVIEW_INTERVAL_S = 0.1  # at most 10 previews a second per job and event type
# On exit a stopping job finishes its step and saves; a kill after this still keeps the last checkpoint.
SHUTDOWN_WAIT_S = 600.0
LINE_TOO_LONG = (
    f"a command line is longer than {P.MAX_LINE_BYTES} bytes and was skipped; send shorter commands"
)
WORKSPACE_LOCKED_FIX = "close the other Noisebloom window (or engine), or pass --workspace DIR / set NOISEBLOOM_HOME to use another workspace"


class Engine:
    """The engine of one workspace. It holds the workspace's lock (:mod:`core.workspace.lock`) from
    construction to :meth:`serve`'s end: a second engine on the same workspace is refused."""

    def __init__(
        self, root: Path, out: IO[str] | None = None, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.root = root
        self.clock = clock  # seconds; what the throttle of previews and steps reads
        self.out = out or sys.stdout
        lock.acquire(root, "workspace", fix=WORKSPACE_LOCKED_FIX)
        try:
            self.catalog = Catalog(root)
        except BaseException:
            lock.release(root)
            raise
        self._write_lock = threading.Lock()
        self._jobs: dict[str, Job] = {}
        self._queue: queue.Queue[Job | None] = queue.Queue()
        self._pending: dict[tuple[str, str], tuple[float, P.Event | Callable[[], P.Event]]] = {}
        self._last_sent: dict[tuple[str, str], float] = collections.defaultdict(float)
        self._pending_lock = threading.Lock()
        self._current: Job | None = None
        self._closing = threading.Event()
        self._device = "unknown"

    def live_jobs(self) -> list[Job]:
        """The jobs queued, running or paused."""
        return [j for j in self._jobs.values() if j.state in LIVE_STATES]

    # --- output ----------------------------------------------------------------------------------
    def emit(self, event: P.Event) -> None:
        line = dataclasses.replace(event, ts=time.time()).to_json()
        with self._write_lock:
            try:
                self.out.write(line + "\n")
                self.out.flush()
            except (BrokenPipeError, ValueError):  # the client went away
                self._closing.set()

    def emit_throttled(
        self,
        event: P.Event | Callable[[], P.Event],
        *,
        key: tuple[str, str] | None = None,
        force: bool = False,
    ) -> None:
        """Previews and steps: send now if the last one of this kind went out >= 100 ms ago, else
        keep it as the pending one (a newer one replaces it) for the flusher thread.

        ``event`` may be a zero-argument factory (then ``key`` = (job id, event type) is required):
        it is called only for events that are actually sent, so throttled-away previews cost no
        PNG encoding."""
        if key is None:
            assert isinstance(event, P.Event)
            key = (event.id or "", event.type)
        now = self.clock()
        with self._pending_lock:
            if force or now - self._last_sent[key] >= PREVIEW_INTERVAL_S:
                self._pending.pop(key, None)
                self._last_sent[key] = now
                send = True
            else:
                self._pending[key] = (now, event)
                send = False
        if send:
            self.emit(event() if callable(event) else event)

    def flush_pending(self, job_id: str | None = None, *, drop: bool = False) -> None:
        with self._pending_lock:
            keys = [k for k in self._pending if job_id is None or k[0] == job_id]
            due = [self._pending.pop(k)[1] for k in keys]
            for k in keys:
                self._last_sent[k] = self.clock()
        if not drop:
            for ev in due:
                self.emit(ev() if callable(ev) else ev)

    def _flusher(self) -> None:
        while not self._closing.wait(PREVIEW_INTERVAL_S / 2):
            self.flush_due()

    def flush_due(self) -> None:
        """Send each pending event whose kind last went out >= PREVIEW_INTERVAL_S ago (the flusher
        thread calls it every half interval)."""
        now = self.clock()
        with self._pending_lock:
            due = [k for k in self._pending if now - self._last_sent[k] >= PREVIEW_INTERVAL_S]
            events = [self._pending.pop(k)[1] for k in due]
            for k in due:
                self._last_sent[k] = now
        for ev in events:
            self.emit(ev() if callable(ev) else ev)

    def log(self, message: str) -> None:
        print(f"[engine] {message}", file=sys.stderr, flush=True)

    # --- serving ---------------------------------------------------------------------------------
    def serve(self, stdin: IO[bytes] | IO[str]) -> int:
        """Answer commands from ``stdin`` until it closes or ``shutdown``; then stop what runs
        (a training is checkpointed and stays resumable), wait for it and release the workspace."""
        interrupted = self.catalog.mark_interrupted(
            skip=lambda path: lock.holder(path) is not None  # a run another live process trains
        )
        self._device = _describe_device()
        self.emit(
            P.Hello(
                id=None,
                version=__version__,
                device=self._device,
                workspace=str(self.root),
                interrupted=interrupted,
            )
        )
        worker = threading.Thread(target=self._worker, name="engine-worker", daemon=True)
        worker.start()
        threading.Thread(target=self._flusher, name="engine-flusher", daemon=True).start()
        for line in _lines(stdin):
            if line is None:
                self.emit(P.Error(id=None, message=LINE_TOO_LONG))
                continue
            if not line.strip():
                continue
            if self.handle_line(line) == "shutdown":
                break
            if self._closing.is_set():
                break
        # stdin closed or shutdown: stop what runs (it saves), drain, exit.
        self._shutdown()
        worker.join(timeout=SHUTDOWN_WAIT_S)
        self._closing.set()
        self.catalog.close()
        lock.release(self.root)
        return 0

    def _shutdown(self) -> None:
        """Queued jobs never started and are dropped; running and paused ones stop as ``stop`` does."""
        for job in list(self._jobs.values()):
            if job.state == "queued":
                job.cancel()
            elif job.state in ("running", "paused"):
                job.stop("shutdown")
        self._queue.put(None)

    def handle_line(self, line: str) -> str | None:
        """One command line: every failure, of parsing or of a handler, is an ``error`` event."""
        try:
            cmd = P.Command.from_json(line)
        except P.ProtocolError as e:
            self.emit(P.Error(id=e.command_id, message=str(e), detail=line[:500]))
            return None
        except Exception as e:  # a bug in parsing: report, keep serving
            self.emit(P.Error(id=None, message=f"unreadable command: {e}", detail=traceback.format_exc()))
            return None
        try:
            if cmd.cmd in P.JOB_COMMANDS:
                self._submit(cmd)
            elif cmd.cmd in P.CONTROL_COMMANDS:
                self._control(cmd)
            elif cmd.cmd == "estimate":
                threading.Thread(
                    target=self._estimate, args=(cmd,), name="engine-estimate", daemon=True
                ).start()
            else:
                data = self._query(cmd)
                self.emit(P.Result(id=cmd.id, data=data))
                if cmd.cmd == "shutdown":
                    return "shutdown"
        except OutputExists as e:
            self.emit(P.Error(id=cmd.id, message=str(e), data={"existing": [str(p) for p in e.paths]}))
        except NoisebloomError as e:
            self.emit(P.Error(id=cmd.id, message=str(e)))
        except Exception as e:  # a bug: report, keep serving
            err = resource_error(e, self.root)
            message = str(err) if err else f"{cmd.cmd} failed: {type(e).__name__}: {e}"
            self.emit(P.Error(id=cmd.id, message=message, detail=traceback.format_exc()))
        return None

    # --- jobs ------------------------------------------------------------------------------------
    def _submit(self, cmd: P.Command) -> None:
        if cmd.id in self._jobs:
            raise NoisebloomError(f"job id {cmd.id!r} is already in use", fix="give each command a new id")
        jobs.validate(cmd.cmd, cmd.args, self)  # fast checks before queueing: errors come at once
        job = Job(cmd.id, cmd.cmd, cmd.args)
        job.on_state = lambda s, job=job: self._set_state(job, s)
        position = len(self.live_jobs())
        self._jobs[job.id] = job
        self.emit(P.Accepted(id=job.id, job=job.id, kind=job.kind, position=position))
        self.emit(P.State(id=job.id, state="queued"))
        self._queue.put(job)

    def _set_state(self, job: Job, state: str) -> None:
        job.state = state
        self.emit(P.State(id=job.id, state=state))

    def _worker(self) -> None:
        while True:
            job = self._queue.get()
            if job is None:
                return
            if job.cancel_requested:
                job.state = "cancelled"
                self.emit(P.Error(id=job.id, message="cancelled before it started", state="cancelled"))
                continue
            self._current = job
            self._set_state(job, "running")
            try:
                results = jobs.run(job, self)
                self.flush_pending(job.id)
                final = "stopped" if job.stop_requested else "done"
                job.state = final
                self.emit(P.Done(id=job.id, state=final, results=results.to_dict()))
            except Cancelled:
                self.flush_pending(job.id, drop=True)
                _run_cleanup(job)
                job.state = "cancelled"
                self.emit(P.Error(id=job.id, message=f"{job.kind} cancelled", state="cancelled"))
            except NoisebloomError as e:
                self.flush_pending(job.id, drop=True)
                _run_cleanup(job)
                job.state = "failed"
                result = getattr(e, "result", None)
                data = {"report": result.to_dict()} if hasattr(result, "to_dict") else {}
                self.emit(
                    P.Error(
                        id=job.id, message=str(e), detail=traceback.format_exc(), state="failed", data=data
                    )
                )
            except Exception as e:  # a bug in a job must not take the engine down
                self.flush_pending(job.id, drop=True)
                _run_cleanup(job)
                job.state = "failed"
                err = resource_error(e, job.writes or self.root, intact="nothing of this job was kept")
                self.emit(
                    P.Error(
                        id=job.id,
                        message=str(err) if err else f"{job.kind} failed: {type(e).__name__}: {e}",
                        detail=traceback.format_exc(),
                        state="failed",
                    )
                )
            finally:
                self._current = None

    def _control(self, cmd: P.Command) -> None:
        job = self._jobs.get(str(cmd.args.get("job", "")))
        if job is None:
            raise NoisebloomError(
                f"{cmd.cmd}: no job {cmd.args.get('job')!r}", fix="pass the id of a queued or running job"
            )
        if job.state not in LIVE_STATES:
            raise NoisebloomError(f"{cmd.cmd}: job {job.id} has already ended ({job.state})")
        discard = cmd.args.get("discard", False)
        if cmd.cmd == "cancel" and not isinstance(discard, bool):
            raise NoisebloomError(f"cancel: argument 'discard' is {discard!r}", fix="use true or false")
        if cmd.cmd == "cancel" and not discard and job.state != "queued" and job.has_checkpoint():
            # a run with a checkpoint is deleted only when asked to be: cancel keeps it, as stop does
            job.stop()
            message = (
                f"job {job.id}: the run already has a checkpoint, so it was stopped and kept rather "
                "than deleted; delete it from the library to remove it"
            )
            self.emit(P.Log(id=job.id, level="warning", message=message))
            self.emit(P.Result(id=cmd.id, data={"ok": True, "job": job.id, "kept": True, "message": message}))
            return
        if cmd.cmd == "cancel":  # decided now: a checkpoint written while the job winds down is dropped too
            job.discard = True
        getattr(job, cmd.cmd)()  # the job announces "running" itself when a resume wakes it
        self.emit(P.Result(id=cmd.id, data={"ok": True, "job": job.id}))

    def _estimate(self, cmd: P.Command) -> None:
        try:
            self.emit(P.Result(id=cmd.id, data=jobs.estimate(self, cmd.args)))
        except NoisebloomError as e:
            self.emit(P.Error(id=cmd.id, message=str(e)))
        except Exception as e:  # a bug: report, keep serving
            self.emit(P.Error(id=cmd.id, message=f"estimate failed: {e}", detail=traceback.format_exc()))

    # --- queries ---------------------------------------------------------------------------------
    def _query(self, cmd: P.Command) -> dict[str, Any]:
        a = cmd.args
        if cmd.cmd == "hello":
            return {
                "protocol": P.PROTOCOL_VERSION,
                "version": __version__,
                "device": self._device,
                "workspace": str(self.root),
            }
        if cmd.cmd == "shutdown":
            return {"ok": True}
        what = a.get("what")
        if cmd.cmd in ("list", "get", "delete") and (not isinstance(what, str) or what not in P.LISTABLE):
            raise NoisebloomError(f"{cmd.cmd}: 'what' must be one of {', '.join(P.LISTABLE)}, not {what!r}")
        if cmd.cmd == "list":
            if what == "jobs":
                return {"items": [j.summary() for j in self._jobs.values()]}
            return {"items": self.catalog.list(what)}
        for name in ("id", "run"):
            if name in a and not isinstance(a[name], str):
                raise NoisebloomError(
                    f"{cmd.cmd}: argument '{name}' is {a[name]!r}", fix="give the id as a string"
                )
        if cmd.cmd == "get":
            item = (
                self._jobs[a["id"]].summary()
                if what == "jobs" and a.get("id") in self._jobs
                else (None if what == "jobs" else self.catalog.get(what, str(a.get("id"))))
            )
            if item is None:
                raise NoisebloomError(f"get: no {what[:-1]} {a.get('id')!r}", fix="list them to see the ids")
            return {"item": item}
        if cmd.cmd == "metrics":
            run = str(a.get("run", ""))
            if self.catalog.get("runs", run) is None:
                raise NoisebloomError(f"metrics: no run {run!r}", fix="list runs to see the ids")
            names, since = a.get("names"), a.get("since_step", -1)
            if names is not None and not (isinstance(names, list) and all(isinstance(n, str) for n in names)):
                raise NoisebloomError(f"metrics: argument 'names' is {names!r}", fix="give a list of names")
            if not isinstance(since, int) or isinstance(since, bool):
                raise NoisebloomError(
                    f"metrics: argument 'since_step' is {since!r}", fix="give a whole number"
                )
            return {"series": self.catalog.metrics(run, names, since)}
        if cmd.cmd == "delete":
            return jobs.delete_item(self, what, str(a.get("id")))
        if cmd.cmd == "add_model":
            return jobs.add_model(self, a).to_dict()
        raise NoisebloomError(f"unknown query {cmd.cmd!r}")


def _lines(stdin: IO[bytes] | IO[str]) -> Iterator[str | None]:
    """Lines of ``stdin`` decoded as UTF-8 with replacement (no byte can stop the loop); None for
    a line longer than ``MAX_LINE_BYTES``, which is skipped to its end without being held whole."""
    limit = P.MAX_LINE_BYTES
    while True:
        raw = stdin.readline(limit + 1)
        if not raw:
            return
        if len(raw) > limit and not raw.endswith(b"\n" if isinstance(raw, bytes) else "\n"):
            while raw and not raw.endswith(b"\n" if isinstance(raw, bytes) else "\n"):
                raw = stdin.readline(limit)
            yield None
            continue
        yield raw.decode("utf-8", errors="replace") if isinstance(raw, bytes) else raw


def _run_cleanup(job: Job) -> None:
    for fn in reversed(job.cleanup):
        try:
            fn()
        except Exception:
            traceback.print_exc(file=sys.stderr)


def _describe_device() -> str:
    try:
        import torch

        if torch.cuda.is_available():
            return f"cuda:0 ({torch.cuda.get_device_name(0)})"
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return "mps (Apple GPU)"
        from core.training.precision import native_cpu_bf16

        # bf16: the trainer may use it (where it measures faster, core.training.precision)
        return f"cpu ({os.cpu_count()} cores{', bf16' if native_cpu_bf16() else ''})"
    except Exception as e:  # pragma: no cover - torch broken
        return f"unavailable ({e})"


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="noisebloom engine",
        description=(
            "Noisebloom's engine: reads JSON commands on stdin (one per line) and writes JSON events "
            "on stdout; see core/engine/protocol.py for the protocol. The desktop app starts it."
        ),
    )
    p.add_argument(
        "--workspace",
        type=Path,
        default=None,
        help="workspace folder (default: $NOISEBLOOM_HOME or the platform's user data folder)",
    )
    return p


def main(argv: list[str] | None = None) -> int:
    """Run the engine on stdin / stdout. An engine that cannot start (the workspace is another
    engine's, the catalog cannot be opened) says why in one ``error`` event with ``data.fatal``
    and exits with status 3, without a ``hello``."""
    args = build_parser().parse_args(argv)
    # Event lines must be the only thing on stdout: anything a library prints goes to stderr.
    out = sys.stdout
    sys.stdout = sys.stderr
    root = Path(args.workspace or ".")
    try:
        root = workspace_root(args.workspace)
        engine = Engine(root, out)
    except (NoisebloomError, OSError, sqlite3.Error) as e:  # locked, disk full, no permission
        err = e if isinstance(e, NoisebloomError) else resource_error(e, root / "catalog.sqlite")
        message = str(err or f"workspace {root}: cannot open it ({type(e).__name__}: {e})")
        out.write(P.Error(id=None, message=message, data={"fatal": True}, ts=time.time()).to_json() + "\n")
        out.flush()
        print(f"noisebloom engine: error: {message}", file=sys.stderr)
        return 3
    return engine.serve(sys.stdin.buffer)
