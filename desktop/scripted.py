"""A scripted stand-in for the engine connection (Krita AI Diffusion's test style).

``ScriptedClient`` has the signals and ``send`` of :class:`desktop.engine_client.EngineClient`
but no process: it records every command, answers ``list`` / ``get`` / ``metrics`` and control
commands from an in-memory catalog (``replies`` adds fields to the answer of a control command,
e.g. cancel's ``kept``); a job's arguments and its ``done`` results must be exactly their types in
:mod:`core.engine.protocol`, and ``push(event)`` delivers a protocol event as if the engine
had written it. UI-state tests and the screenshot command drive the window with it.
"""

from __future__ import annotations

import itertools
from typing import Any

from PySide6.QtCore import QObject, Signal

from core.data.result import AcceptedFile, Duplicate, NearDuplicate, RejectedFile, ScanResult
from core.data.settings import DatasetSettings
from core.engine import protocol as P
from desktop.engine_client import Dispatch


class ScriptedClient(QObject):
    event_received = Signal(object)
    hello_received = Signal(object)
    state_changed = Signal(str)
    died = Signal(str)
    log_line = Signal(str)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.state = "stopped"
        self.sent: list[P.Command] = []
        self.catalog: dict[str, list[dict[str, Any]]] = {w: [] for w in P.LISTABLE}
        self.metrics: dict[str, dict[str, list[list[float]]]] = {}
        self.answer_queries = True
        self.estimate: dict[str, Any] | None = None  # when set, the answer to every ``estimate``
        self.replies: dict[str, dict[str, Any]] = {}  # control command -> extra fields of its answer
        self._ids = itertools.count(1)
        self.dispatch = Dispatch()  # the real client's: the same answers reach the same callbacks

    # --- the EngineClient surface ----------------------------------------------------------------
    def send(self, cmd: str, args: dict[str, Any] | None = None, *, on_result=None, on_error=None) -> str:  # noqa: ANN001
        cid = f"s{next(self._ids)}"
        if cmd in P.JOB_COMMANDS:  # only what the engine reads: the job's argument type, no other key
            P.JOB_ARGS[cmd](**(args or {}))
        self.sent.append(P.Command(id=cid, cmd=cmd, args=dict(args or {})))
        self.dispatch.sent(cid, cmd, on_result, on_error)
        if self.answer_queries and cmd in {"list", "get", "metrics", "delete", "hello"} | P.CONTROL_COMMANDS:
            self.push(self._answer(cid, cmd, args or {}))
        elif cmd == "estimate" and self.estimate is not None:
            self.push(P.Result(id=cid, data=dict(self.estimate)))
        return cid

    def start(self, device: str = "cpu (2 cores)", interrupted: list[str] | None = None) -> None:
        self.state = "ready"
        self.state_changed.emit("ready")
        self.push(
            P.Hello(
                id=None, version="test", device=device, workspace="/tmp/ws", interrupted=interrupted or []
            )
        )

    def shutdown(self, wait_ms: int | None = None) -> None:
        self.state = "stopped"
        self.state_changed.emit("stopped")

    # --- scripting -------------------------------------------------------------------------------
    def push(self, ev: P.Event) -> None:
        if isinstance(ev, P.Done) and ev.id in self.dispatch.in_flight:
            # only what the engine sends: the job's own result type, every field it requires, no other key
            P.JOB_RESULTS[self.dispatch.in_flight[ev.id]](**ev.results)
        if isinstance(ev, P.Hello):
            self.hello_received.emit(ev)
        self.dispatch.answer(ev)
        self.event_received.emit(ev)

    def die(self, message: str = "the engine crashed") -> None:
        """As EngineClient does when the process dies: fail what is in flight, then say so."""
        self.state = "dead"
        self.state_changed.emit("dead")
        for ev in self.dispatch.failures(message):
            self.push(ev)
        self.died.emit(message)

    def last(self, cmd: str) -> P.Command:
        return next(c for c in reversed(self.sent) if c.cmd == cmd)

    def commands(self, cmd: str) -> list[P.Command]:
        return [c for c in self.sent if c.cmd == cmd]

    def run_job(self, job_id: str, kind: str, *events: P.Event) -> None:
        """accepted, queued, running, then ``events`` (give each its id via ``job_id``)."""
        self.push(P.Accepted(id=job_id, job=job_id, kind=kind))
        self.push(P.State(id=job_id, state="queued"))
        self.push(P.State(id=job_id, state="running"))
        for ev in events:
            self.push(ev)

    def _answer(self, cid: str, cmd: str, args: dict[str, Any]) -> P.Event:
        if cmd == "list":
            return P.Result(id=cid, data={"items": list(self.catalog.get(args.get("what"), []))})
        if cmd == "get":
            item = next(
                (x for x in self.catalog.get(args.get("what"), []) if x.get("id") == args.get("id")), None
            )
            if item is None:
                return P.Error(id=cid, message=f"get: no {args.get('what')} {args.get('id')!r}")
            return P.Result(id=cid, data={"item": item})
        if cmd == "metrics":
            return P.Result(id=cid, data={"series": self.metrics.get(args.get("run"), {})})
        return P.Result(id=cid, data={"ok": True, "job": args.get("job"), **self.replies.get(cmd, {})})


def scan_report(
    dataset: str,
    accepted: list[str],
    *,
    rejected: list[tuple[str, str]] = (),  # type: ignore[assignment]
    duplicates: list[tuple[str, str]] = (),  # type: ignore[assignment]
    near: list[tuple[str, str, int]] = (),  # type: ignore[assignment]
    kind: str = "image",
    stats: dict[str, Any] | None = None,
    dataset_dir: str | None = None,
) -> dict[str, Any]:
    """A scan report as the engine sends it (``core.data.result.ScanResult.to_dict()``), for scripts."""

    def name(path: str) -> str:
        return path.rsplit("/", 1)[-1]

    result = ScanResult(
        dataset_id=dataset,
        dataset_dir=dataset_dir or f"/ws/datasets/{dataset}",  # type: ignore[arg-type]
        sources=sorted({p.rsplit("/", 1)[0] for p in accepted}),
        settings=DatasetSettings(),
        kind=kind,
        accepted=[
            AcceptedFile(p, name(p), k, 1, 32, 32, "PNG", False, "0" * 64) for k, p in enumerate(accepted)
        ],
        rejected=[RejectedFile(p, name(p), reason) for p, reason in rejected],
        duplicates=[Duplicate(p, name(p), of) for p, of in duplicates],
        near_duplicates=[NearDuplicate(a, b, d) for a, b, d in near],
        stats=dict(stats or {}),
        rows=len(accepted),
    )
    return result.to_dict()


def trained(run: str, model: str, steps: int = 10) -> dict[str, Any]:
    """A training job's done results as the engine sends them, for scripts."""
    return P.TrainDone(
        run=run, model=model, run_dir=f"/ws/runs/{run}", model_dir=f"/ws/runs/{run}/model", steps=steps
    ).to_dict()
