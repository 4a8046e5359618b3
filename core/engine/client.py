"""A small Python client for the engine process, used by tests, scripts and benchmarks.

    with EngineClient(workspace) as eng:
        job = eng.send("scan", {"sources": [folder], "settings": {"resolution": 32}})
        done = eng.wait(job, "done")
        print(eng.request("list", {"what": "datasets"}))

A reader thread decodes every event line into a queue per command id, so many commands can be
in flight at once. The desktop's QProcess client (desktop/engine_client.py) follows the same
protocol with Qt signals instead of queues.
"""

from __future__ import annotations

import itertools
import os
import queue
import subprocess
import sys
import threading
import time
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from core.engine import protocol as P


class EngineError(RuntimeError):
    def __init__(self, event: P.Error) -> None:
        super().__init__(event.message)
        self.event = event


class EngineClient:
    def __init__(
        self,
        workspace: str | os.PathLike[str],
        *,
        command: Sequence[str] | None = None,
        env: dict[str, str] | None = None,
        stderr: Any = None,
    ) -> None:
        self.workspace = Path(workspace)
        cmd = list(command or [sys.executable, "-m", "core.engine"]) + ["--workspace", str(self.workspace)]
        self.proc = subprocess.Popen(
            cmd,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=stderr if stderr is not None else subprocess.DEVNULL,
            text=True,
            bufsize=1,
            env={**os.environ, **(env or {})},
        )
        self._ids = itertools.count(1)
        self._queues: dict[str | None, queue.Queue[tuple[float, P.Event]]] = defaultdict(queue.Queue)
        self._lock = threading.Lock()
        self.all_events: list[tuple[float, P.Event]] = []
        self.bad_lines: list[str] = []
        self.kinds: dict[str, str] = {}  # job id -> its command, to read its results with their type
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self.hello: P.Hello = self.next_event(None, timeout=120)  # type: ignore[assignment]

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            t = time.time()  # wall clock, comparable with the engine's event.ts
            try:
                ev = P.event_from_json(line)
            except Exception:
                self.bad_lines.append(line)
                continue
            with self._lock:
                self.all_events.append((t, ev))
                q = self._queues[ev.id]
            q.put((t, ev))

    # --- sending ---------------------------------------------------------------------------------
    def send(self, cmd: str, args: dict[str, Any] | None = None, *, id: str | None = None) -> str:
        cid = id or f"c{next(self._ids)}"
        if cmd in P.JOB_COMMANDS:
            self.kinds[cid] = cmd
        self.send_raw(P.Command(id=cid, cmd=cmd, args=args or {}).to_json())
        return cid

    def send_raw(self, line: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(line.rstrip("\n") + "\n")
        self.proc.stdin.flush()

    # --- receiving -------------------------------------------------------------------------------
    def next_event(self, cid: str | None, timeout: float = 60) -> P.Event:
        with self._lock:
            q = self._queues[cid]
        try:
            return q.get(timeout=timeout)[1]
        except queue.Empty:
            raise TimeoutError(
                f"no event for {cid!r} within {timeout} s (engine alive: {self.alive})"
            ) from None

    def events(
        self, cid: str, until: tuple[str, ...] = ("done", "error", "result"), timeout: float = 300
    ) -> list[P.Event]:
        """Every event of ``cid`` up to and including the first whose type is in ``until``."""
        out: list[P.Event] = []
        deadline = time.monotonic() + timeout
        while True:
            ev = self.next_event(cid, timeout=max(0.01, deadline - time.monotonic()))
            out.append(ev)
            if ev.type in until:
                return out

    def wait(self, cid: str, type: str, timeout: float = 300) -> P.Event:
        """The first event of ``cid`` with this type; raises EngineError on an ``error`` first."""
        deadline = time.monotonic() + timeout
        while True:
            ev = self.next_event(cid, timeout=max(0.01, deadline - time.monotonic()))
            if ev.type == type:
                return ev
            if isinstance(ev, P.Error):
                raise EngineError(ev)

    def result(self, cid: str, timeout: float = 300) -> Any:
        """Wait for job ``cid``'s ``done`` and return its results as the job's result type
        (:data:`core.engine.protocol.JOB_RESULTS`): exactly its fields, or a TypeError."""
        done = self.wait(cid, "done", timeout)
        return P.JOB_RESULTS[self.kinds[cid]](**done.results)  # type: ignore[union-attr]

    def request(self, cmd: str, args: dict[str, Any] | None = None, timeout: float = 60) -> dict[str, Any]:
        """Send a query or control command and return its result's data."""
        cid = self.send(cmd, args)
        ev = self.wait(cid, "result", timeout)
        return ev.data  # type: ignore[attr-defined]

    # --- lifetime --------------------------------------------------------------------------------
    @property
    def alive(self) -> bool:
        return self.proc.poll() is None

    def kill(self) -> None:
        self.proc.kill()
        self.proc.wait(timeout=30)

    def close(self, timeout: float = 60) -> int:
        if self.alive:
            try:
                self.send("shutdown")
                self.proc.stdin.close()  # type: ignore[union-attr]
            except (BrokenPipeError, OSError, ValueError):
                pass
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode

    def __enter__(self) -> EngineClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
