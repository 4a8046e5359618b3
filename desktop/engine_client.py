"""The desktop's connection to the engine process: a QObject over QProcess speaking JSON lines.

Follows Krita AI Diffusion's ``Client``: one object owns the backend connection and turns every
message into a Qt signal (``event_received`` carries the decoded :mod:`core.engine.protocol`
event). Nothing here blocks the event loop: stdout is read in ``readyReadStandardOutput`` slots,
split into lines and decoded; commands are written to stdin without waiting.

When the engine dies unexpectedly (crash, killed), every command still in flight gets a
synthesised ``error`` event (state ``failed``) so the models end cleanly, ``died`` carries a
one-line message for the window, and the engine is started again (at most ``MAX_RESTARTS``
times in ``RESTART_WINDOW_S`` seconds, so a broken install does not loop forever).

An engine that cannot start at all (its workspace is locked by another engine, the catalog cannot
be opened) says why in one ``error`` event with ``data.fatal`` before it exits: that message is
what ``died`` carries, and the engine is not restarted (state ``failed``) until the person uses
Engine > Restart, since starting it again would fail the same way.
"""

from __future__ import annotations

import collections
import itertools
import os
import shlex
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from PySide6.QtCore import QEventLoop, QObject, QProcess, QProcessEnvironment, QTimer, Signal

from core.engine import protocol as P

MAX_RESTARTS = 3
RESTART_WINDOW_S = 60.0
RESTART_DELAY_MS = 400
# How long shutdown waits before it kills the engine: a live job is stopped the way ``stop`` does
# (the current step, then a checkpoint save, which can take tens of seconds for a big model); an
# idle engine only closes its catalog. A kill still leaves the last checkpoint on disk.
SHUTDOWN_IDLE_MS = 5_000
SHUTDOWN_JOB_MS = 60_000

ResultCallback = Callable[[dict[str, Any]], None]
ErrorCallback = Callable[[P.Error], None]


def default_engine_command() -> list[str]:
    """``python -m core.engine`` with this interpreter (the venv's), or ``$NOISEBLOOM_ENGINE_COMMAND``
    (split like a shell line) to run another engine, e.g. through ssh or a development build."""
    override = os.environ.get("NOISEBLOOM_ENGINE_COMMAND", "").strip()
    if override:
        return shlex.split(override)
    # A PyInstaller bundle (packaging/): sys.executable is the app itself, which runs the engine as
    # its `engine` subcommand (there is no python to pass `-m` to).
    if getattr(sys, "frozen", False):
        return [sys.executable, "engine"]
    return [sys.executable, "-m", "core.engine"]


class Dispatch:
    """The commands in flight and their callbacks: what answers a command (its ``result``, ``error``
    or a job's ``done``) and what a dead engine fails. The real client and the scripted one
    (:mod:`desktop.scripted`) both route every event through one of these."""

    def __init__(self) -> None:
        self.in_flight: dict[str, str] = {}  # id -> command name, until done/error/result
        self._callbacks: dict[str, tuple[ResultCallback | None, ErrorCallback | None]] = {}

    def sent(
        self, cid: str, cmd: str, on_result: ResultCallback | None, on_error: ErrorCallback | None
    ) -> None:
        self.in_flight[cid] = cmd
        if on_result or on_error:
            self._callbacks[cid] = (on_result, on_error)

    def answer(self, ev: P.Event) -> None:
        """An event that ends a command calls its callback once and takes it out of flight."""
        if ev.id is not None and ev.type in ("done", "error", "result"):
            self.in_flight.pop(ev.id, None)
            on_result, on_error = self._callbacks.pop(ev.id, (None, None))
            if isinstance(ev, P.Result) and on_result:
                on_result(ev.data)
            elif isinstance(ev, P.Error) and on_error:
                on_error(ev)

    def failures(self, message: str) -> list[P.Error]:
        """One error per command in flight (a job's fails it), for an engine that died."""
        return [
            P.Error(id=cid, message=f"{cmd}: {message}", state="failed" if cmd in P.JOB_COMMANDS else None)
            for cid, cmd in list(self.in_flight.items())
        ]

    def jobs(self) -> list[str]:
        """Ids of the jobs sent and not yet ended (done or error)."""
        return [cid for cid, cmd in self.in_flight.items() if cmd in P.JOB_COMMANDS]


class EngineClient(QObject):
    """Start, talk to and restart the engine. States: stopped, starting, ready, dead (and being
    restarted), failed (not restarted by itself: it could not start, or kept dying)."""

    event_received = Signal(object)  # every decoded protocol event
    hello_received = Signal(object)  # P.Hello, at every (re)start
    state_changed = Signal(str)
    died = Signal(str)  # one line for the window
    log_line = Signal(str)  # the engine's stderr, for the log panel

    def __init__(
        self,
        workspace: str | os.PathLike[str] | None = None,
        *,
        command: Sequence[str] | None = None,
        auto_restart: bool = True,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.workspace = Path(workspace) if workspace else None
        self.command = list(command or default_engine_command())
        self.auto_restart = auto_restart
        self.state = "stopped"
        self.hello: P.Hello | None = None
        self.stderr_tail: collections.deque[str] = collections.deque(maxlen=200)
        self.bad_lines = 0
        self._ids = itertools.count(1)
        self._buffer = bytearray()
        self._err_buffer = bytearray()
        self.dispatch = Dispatch()
        self._restarts: list[float] = []
        self.fatal = ""  # why the engine could not start (its fatal error event), until the next start
        self._closing = False
        self._proc: QProcess | None = None

    # --- lifetime --------------------------------------------------------------------------------
    def start(self) -> None:
        if self._proc is not None and self._proc.state() != QProcess.ProcessState.NotRunning:
            return
        self._closing = False
        self.fatal = ""
        self._buffer.clear()
        proc = QProcess(self)
        env = QProcessEnvironment.systemEnvironment()
        env.insert("HF_HUB_OFFLINE", "1")
        env.insert("PYTHONUNBUFFERED", "1")
        root = str(Path(__file__).resolve().parents[1])
        env.insert("PYTHONPATH", os.pathsep.join(p for p in (root, env.value("PYTHONPATH")) if p))
        proc.setProcessEnvironment(env)
        proc.setWorkingDirectory(root)
        proc.readyReadStandardOutput.connect(self._read_stdout)
        proc.readyReadStandardError.connect(self._read_stderr)
        proc.finished.connect(self._on_finished)
        proc.errorOccurred.connect(self._on_process_error)
        self._proc = proc
        args = self.command[1:] + (["--workspace", str(self.workspace)] if self.workspace else [])
        self._set_state("starting")
        proc.start(self.command[0], args)

    def shutdown(self, wait_ms: int | None = None) -> None:
        """Ask the engine to exit and wait for it, then kill it if it has not exited. The engine
        stops a running job the way ``stop`` does (a training run is saved and kept, resumable), so
        by default it gets ``SHUTDOWN_JOB_MS`` while a job is in flight, ``SHUTDOWN_IDLE_MS`` else.
        The wait runs the event loop, so the window keeps painting while the engine saves."""
        if wait_ms is None:
            wait_ms = SHUTDOWN_JOB_MS if self.jobs_in_flight() else SHUTDOWN_IDLE_MS
        self._closing = True
        proc = self._proc
        if proc is None or proc.state() == QProcess.ProcessState.NotRunning:
            self._set_state("stopped")
            return
        if self.state == "ready":
            self._write(P.Command(id=f"g{next(self._ids)}", cmd="shutdown").to_json())
        proc.closeWriteChannel()
        if not _wait_for_exit(proc, wait_ms):
            proc.kill()
            proc.waitForFinished(2000)
        self._set_state("stopped")

    def jobs_in_flight(self) -> list[str]:
        """Ids of the jobs sent and not yet ended (done or error)."""
        return self.dispatch.jobs()

    def kill(self) -> None:
        """Kill the engine process as a crash would (tests, the "restart engine" action)."""
        if self._proc is not None:
            self._proc.kill()

    def restart(self) -> None:
        self._closing = True
        if self._proc is not None and self._proc.state() != QProcess.ProcessState.NotRunning:
            self._proc.kill()
            self._proc.waitForFinished(3000)
        self._fail_in_flight("the engine was restarted")
        self._closing = False
        self.start()

    @property
    def pid(self) -> int | None:
        return int(self._proc.processId()) if self._proc is not None else None

    @property
    def device(self) -> str:
        return self.hello.device if self.hello else ""

    # --- commands --------------------------------------------------------------------------------
    def send(
        self,
        cmd: str,
        args: dict[str, Any] | None = None,
        *,
        on_result: ResultCallback | None = None,
        on_error: ErrorCallback | None = None,
    ) -> str:
        """Send a command; returns its id. ``on_result`` / ``on_error`` are called once for the
        answer of a query or control command (jobs report through ``event_received``)."""
        cid = f"g{next(self._ids)}"
        self.dispatch.sent(cid, cmd, on_result, on_error)
        if self.state != "ready" or self._closing:
            message = f"{cmd}: {self._not_running()}"
            QTimer.singleShot(
                0,
                lambda: self._deliver(
                    P.Error(id=cid, message=message, state="failed" if cmd in P.JOB_COMMANDS else None)
                ),
            )
            return cid
        self._write(P.Command(id=cid, cmd=cmd, args=args or {}).to_json())
        return cid

    def _not_running(self) -> str:
        if self.fatal:
            return f"the engine could not start ({self.fatal}); fix that, then use Engine > Restart"
        if self.state == "failed":
            return "the engine is not running; use Engine > Restart"
        state = "stopping" if self._closing else self.state
        return f"the engine is not running ({state}); try again in a moment"

    def _write(self, line: str) -> None:
        assert self._proc is not None
        self._proc.write((line + "\n").encode("utf-8"))

    # --- reading ---------------------------------------------------------------------------------
    def _read_stdout(self) -> None:
        assert self._proc is not None
        self._buffer += bytes(self._proc.readAllStandardOutput().data())
        while True:
            nl = self._buffer.find(b"\n")
            if nl < 0:
                break
            line = bytes(self._buffer[:nl]).decode("utf-8", "replace")
            del self._buffer[: nl + 1]
            if not line.strip():
                continue
            try:
                ev = P.event_from_json(line)
            except Exception:  # a stray print from a library: log it, never crash
                self.bad_lines += 1
                self.log_line.emit(f"[not an event] {line[:200]}")
                continue
            self._deliver(ev)

    def _read_stderr(self) -> None:
        assert self._proc is not None
        self._err_buffer += bytes(self._proc.readAllStandardError().data())
        *lines, rest = bytes(self._err_buffer).split(b"\n")
        self._err_buffer = bytearray(rest)
        for raw in lines:
            text = raw.decode("utf-8", "replace").rstrip()
            if text:
                self.stderr_tail.append(text)
                self.log_line.emit(text)

    def _deliver(self, ev: P.Event) -> None:
        if isinstance(ev, P.Error) and ev.id is None and ev.data.get("fatal"):
            self.fatal = " ".join(ev.message.split()) or "no reason given"
        if isinstance(ev, P.Hello):
            self.hello = ev
            self._set_state("ready")
            self.hello_received.emit(ev)
        self.dispatch.answer(ev)
        self.event_received.emit(ev)

    # --- death and restart -----------------------------------------------------------------------
    def _on_process_error(self, error: QProcess.ProcessError) -> None:
        if error == QProcess.ProcessError.FailedToStart:
            self._handle_death(
                f"the engine could not start ({' '.join(self.command)}): check the installation"
            )

    def _on_finished(self, code: int, status: QProcess.ExitStatus) -> None:
        if self._proc is not None:
            self._read_stdout()  # what it wrote last (a fatal start error) before it exited
        if self._closing:
            self._set_state("stopped")
            return
        if self.fatal:
            self._handle_death(
                f"The engine could not start: {self.fatal}. Once that is fixed, use Engine > Restart",
                restart=False,
            )
            return
        how = "crashed" if status == QProcess.ExitStatus.CrashExit else f"exited with code {code}"
        last = next((s for s in reversed(self.stderr_tail) if s.strip()), "")
        self._handle_death(f"the engine {how}" + (f": {last[:160]}" if last else ""))

    def _handle_death(self, message: str, *, restart: bool = True) -> None:
        """Fail what was in flight and say so; restart the engine unless ``restart`` is False (the
        message then says what to do) or it died too often lately."""
        if self.state in ("dead", "failed"):
            return
        now = time.monotonic()
        self._restarts = [t for t in self._restarts if now - t < RESTART_WINDOW_S]
        will_restart = restart and self.auto_restart and len(self._restarts) < MAX_RESTARTS
        self._set_state("dead" if will_restart else "failed")
        self._fail_in_flight(message)
        if restart:
            message += "; restarting it" if will_restart else "; use Engine > Restart"
        self.died.emit(message)
        if will_restart:
            self._restarts.append(now)
            QTimer.singleShot(RESTART_DELAY_MS, self._restart_after_death)

    def _restart_after_death(self) -> None:
        if self.state == "dead" and not self._closing:
            self.start()

    def _fail_in_flight(self, message: str) -> None:
        for ev in self.dispatch.failures(message):
            self._deliver(ev)

    def _set_state(self, state: str) -> None:
        if state != self.state:
            self.state = state
            self.state_changed.emit(state)


def _wait_for_exit(proc: QProcess, wait_ms: int) -> bool:
    """Whether ``proc`` exits within ``wait_ms``; events (its last lines, painting) are served meanwhile."""
    loop = QEventLoop()
    timer = QTimer(loop, singleShot=True, interval=max(0, wait_ms))
    timer.timeout.connect(loop.quit)
    proc.finished.connect(loop.quit)  # dropped with the loop
    if proc.state() != QProcess.ProcessState.NotRunning:
        timer.start()
        loop.exec()
    return proc.state() == QProcess.ProcessState.NotRunning
