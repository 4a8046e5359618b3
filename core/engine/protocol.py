"""The engine's JSON-lines protocol, version 1.

Noisebloom's engine (``python -m core.engine`` or ``noisebloom engine``) reads one JSON object
per line on stdin and writes one JSON object per line on stdout; stderr carries human-readable
logs only. This module is the whole contract: a client in any language can be written from it.
It imports only the standard library (the desktop imports it; the desktop never loads torch).

Commands (client -> engine)
---------------------------
``{"v": 1, "id": "c7", "cmd": "<name>", "args": {...}}``

``id`` is chosen by the client and unique per connection; every event about that command (and,
for a job, about that job) carries it back. ``v`` may be omitted; a higher ``v`` is refused.

Jobs (heavy; one runs at a time, the rest wait in a queue in arrival order):

==========  =========================================================================================
scan        ``{"sources": [path, ...], "settings": {DatasetSettings fields}, "name": str?}``
train       ``{"dataset": dataset_id, "config": {TrainConfig fields}, "name": str?}``
finetune    ``{"dataset": dataset_id, "model": model_id, "config": {...}, "name": str?}``
resume_run  ``{"run": run_id, "extra_steps": int?}`` continue an interrupted, stopped or finished run
sample      ``{"model": model_id | model folder path, "config": {SampleConfig fields}}``
branch      ``{"sample_set": id, "step": k, "seed": int?, "steps": int?, "sampler": str?, "guidance": float?}``
              continue the set's trajectory from its recorded step ``k`` (0-based; recorded as
              ``branch_step`` k + 1, the step as the window counts it), with new noise (``seed``),
              another step count, another sampler (one that can take over mid-way) or guidance
export      ``{"sample_set": id, "what": "denoising"|"clips"?, "out": path?, "format": "mp4"|"webm"|"gif",
              "show": "x0"|"xt"|"both", "hold_s": float?, "fps": float?, "scale": int?, "resample": "nearest"|"lanczos",
              "indices": [int]?, "loops": int?}``. ``what`` "denoising" (the default): the recorded steps as one
              video of the chosen samples (``indices``, default all); for a clip model's sample set the clip plays
              while it denoises, at least ``loops`` (2, 1 to 100) plays, at the clip's fps unless ``fps`` is given.
              ``what`` "clips" (clip models only): each finished clip (or those at ``indices``, 0-based) as its own
              file ``<sample_set>-sample_KKKKK.<format>`` at the clip's fps into the folder ``out`` (default
              ``exports/<export id>/``); ``show``, ``hold_s`` and ``loops`` do not apply. Or ``"run": id`` instead
              of ``"sample_set"`` to export a run's training timelapse: its preview grids over time
evaluate    ``{"model": model_id | model folder path, "dataset": dataset_id?, "num": int?, "steps": int?,
              "sampler": str?, "seed": int?}`` the health check: sample ``num`` (32) images and measure them
              against the dataset (default: the one the model's run trained on), see core/metrics/evaluate.py
==========  =========================================================================================

A job's ``done`` event carries ``results``: scan -> ``dataset``, ``path``, ``report`` (accepted,
rejected with reasons, duplicates, near duplicates, statistics); train / finetune / resume_run ->
``run``, ``model``, ``run_dir``, ``model_dir``, ``steps``; sample / branch -> ``sample_set``,
``out_dir``, ``images`` (PNG paths in order), ``trajectory`` (folder, see core/sampling/trajectory.py);
export -> ``export``, ``path`` (the video; for ``what`` "clips" the folder), ``what``, ``paths`` (for
``what`` "clips": the files written, in clip order); evaluate -> ``verdict`` {label, message, reason}, ``memorized_share``,
``memorized_count``, ``ratio_threshold`` (1/3), ``num_samples``, ``fd`` / ``fd_real`` / ``fd_noise``, ``kid``,
``kid_std``, ``swd``, ``heldout_loss`` (by timestep band), ``heldout_series`` ({``val_loss``...: [[step, value]]}
of the model's run), ``pairs`` (up to 32 samples, flagged copies first: ``sample`` and ``nearest`` (3) as base64
PNG, ``d1``, ``d2``, ``ratio`` = d1/d2, ``memorized``), ``summary`` (the text ``noisebloom evaluate`` prints) and
``evaluation`` (the JSON file that keeps this result; the model's catalog row points at it as
``evaluation.path``).

Control of a job (``args: {"job": job_id}``): ``pause`` (compute stops at the next step,
everything stays in memory), ``resume`` (continue a paused job), ``stop`` (finish the current
step, save, end as ``done`` with state ``stopped``), ``cancel`` (abandon, remove temporary files,
end with state ``cancelled``; a training with a checkpoint is stopped and kept instead unless
``"discard": true``). Each answers ``result`` ``{"ok": true}`` or an ``error``.

Queries (answered at once, also while a job runs):

==========  =========================================================================================
hello       ``{}`` -> ``{"protocol": 1, "version": str, "device": str, "workspace": path}``
list        ``{"what": "datasets"|"runs"|"models"|"sample_sets"|"exports"|"jobs"}`` -> ``{"items": [...]}``
get         ``{"what": ..., "id": ...}`` -> ``{"item": {...}}``
metrics     ``{"run": run_id, "names": [str]?, "since_step": int?}`` -> ``{"series": {name: [[step, value], ...]}}``
delete      ``{"what": "datasets"|"runs"|"models"|"sample_sets"|"exports", "id": ...}`` -> ``{"ok": true}``
add_model   ``{"path": absolute path, "name": str?}`` -> :class:`ModelAdded` (``model``, ``added``, ``name``,
            ``path``): a model folder (or a run folder holding one) registered in the library by
            reference, where it is; a folder already listed is found, not added twice. One that is
            not a model is an ``error`` naming it and what is missing ("no model_index.json")
estimate    ``{"dataset": id, "config": {TrainConfig fields}}`` -> ``{"img_per_s", "params", "param_bytes",
            "activation_bytes", "peak_memory_bytes", "resolution" (measured at), "seconds" (for
            max_steps, or null), "steps" (for max_minutes, or null)}``: measured by a few real training steps on a random batch; answered
            from its own thread within seconds, also while a job runs (then it shares the CPU)
shutdown    ``{}`` -> the engine stops the running job (it saves), answers ``result`` and exits 0
==========  =========================================================================================

Events (engine -> client)
-------------------------
``{"v": 1, "id": "c7", "type": "<type>", "ts": 1764300000.123, ...fields}``; ``ts`` is the engine's
wall clock when it wrote the line (for latency measurements); ``id`` is the command's (the job's) id,
or ``null`` for events not tied to one command (the greeting ``hello`` at start-up, and the
``error`` for a line that could not be parsed at all).

============  ===========================================================================================
hello         at start-up: ``protocol``, ``version``, ``device``, ``workspace``, ``interrupted`` (run ids)
accepted      a job was queued: ``job`` (== id), ``kind``, ``position`` (0 = runs now)
state         a job's lifecycle: ``state`` in queued, running, paused, done, stopped, cancelled, failed
progress      ``done``, ``total``, ``unit`` ("files"|"steps"|"frames"|"s"), ``rate`` (units/s), ``eta_s``, ``message``
              A training run on a time budget counts seconds (done = elapsed, total = the budget) and adds
              ``step`` (the steps so far) and ``expected_steps`` [low, high] (where it should end; only narrows)
metric        ``step``, ``values`` {name: float}, e.g. loss, lr, img_per_s, val_loss, val_loss_t0_250 ...
              memorized_share / _count / _checked (the copying check, core/training/copying.py)
preview       ``step``, ``images`` [base64 PNG], ``caption``. At most 10 a second per job; latest wins.
              For clip models each image is a filmstrip: the clip's T frames side by side.
step          a sampling step: ``i`` (1-based), ``n``, ``t``, ``sigma``, ``xt`` [base64 PNG], ``x0`` [base64 PNG]
              (one PNG per sample; a clip's is a filmstrip of its T frames, as for previews)
              (throttled like previews, except that the last step is always sent)
log           ``level`` ("info"|"warning"), ``message``
result        the answer to a query or control command: ``data`` {...}
done          a job finished: ``state`` ("done"|"stopped"), ``results`` {name: value or path}
error         ``message`` (one line a person can act on), ``detail`` (for the log; may hold a traceback),
              for jobs ``state`` = "failed" or "cancelled", and ``data`` with what the job learned before
              failing (a scan that found nothing usable sends its ``report``: every rejected file and why)
============  ===========================================================================================

Bounds of a command line (each refused with an ``error`` event; the engine keeps serving):
``MAX_LINE_BYTES`` (1 MiB; a longer line is skipped to its end), ``MAX_NESTING`` (32 levels of
objects and arrays), ``MAX_INT_DIGITS`` (30 digits), finite numbers only (no NaN or Infinity).
Bytes that are not UTF-8 are replaced, never fatal. A job's arguments are checked against their
configs' documented ranges (``TrainConfig``, ``SampleConfig``, ``DatasetSettings``; evaluate's
``num`` 2 to 2048) before ``accepted``; an ``export`` whose chosen ``out`` exists is refused with
``data.existing`` unless ``"overwrite": true``, and every ``out`` is an absolute path.

Nothing is lost: ``shutdown``, or stdin closing, stops running jobs as ``stop`` does (a training
is checkpointed and marked ``interrupted``, resumable with ``resume_run``). ``cancel`` of a
training that already has a checkpoint stops and keeps it (``result`` ``{"kept": true,
"message"}`` and a warning ``log``); ``{"job": id, "discard": true}`` deletes it. One engine per
workspace: a second one writes a single ``error`` event with ``data.fatal`` naming the first one's
process id and exits with status 3 (so does an engine that cannot open its catalog).

A job's events arrive in this order: accepted, state(queued|running), then any number of
progress / metric / preview / step / log, then exactly one of done or error. An exception inside
a job becomes an ``error`` event and the engine keeps serving; a malformed line gets an ``error``
event (``id`` from the line when it could be read), never a crash.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import MISSING, dataclass, field, fields
from typing import Any, ClassVar

PROTOCOL_VERSION = 1

JOB_COMMANDS = frozenset(
    {"scan", "train", "finetune", "resume_run", "sample", "branch", "export", "evaluate", "make_fast"}
)
CONTROL_COMMANDS = frozenset({"pause", "resume", "stop", "cancel"})
QUERY_COMMANDS = frozenset({"hello", "list", "get", "metrics", "delete", "add_model", "estimate", "shutdown"})
ALL_COMMANDS = JOB_COMMANDS | CONTROL_COMMANDS | QUERY_COMMANDS

MAX_LINE_BYTES = 1 << 20  # a command line longer than 1 MiB is refused (and skipped to its end)
MAX_NESTING = 32  # objects and arrays inside one command
MAX_INT_DIGITS = 30  # digits of an integer in a command (seeds go up to 2**63 - 1: 19 digits)

JOB_STATES = ("queued", "running", "paused", "done", "stopped", "cancelled", "failed")
LISTABLE = ("datasets", "runs", "models", "sample_sets", "exports", "jobs")


class ProtocolError(ValueError):
    """A line that is not a valid command; becomes an ``error`` event."""

    def __init__(self, message: str, command_id: str | None = None) -> None:
        super().__init__(message)
        self.command_id = command_id


@dataclass(frozen=True)
class Command:
    id: str
    cmd: str
    args: dict[str, Any] = field(default_factory=dict)
    v: int = PROTOCOL_VERSION

    def to_json(self) -> str:
        return json.dumps(
            {"v": self.v, "id": self.id, "cmd": self.cmd, "args": self.args}, separators=(",", ":")
        )

    @classmethod
    def from_json(cls, line: str) -> Command:
        obj = _parse_bounded(line)
        if not isinstance(obj, dict):
            raise ProtocolError("a command must be a JSON object with 'id', 'cmd' and 'args'")
        cid = obj.get("id")
        cid = cid if isinstance(cid, str) and cid else None
        if cid is None:
            raise ProtocolError("command has no 'id'; give every command a unique string id")
        v = obj.get("v", PROTOCOL_VERSION)
        if not isinstance(v, int) or v > PROTOCOL_VERSION:
            raise ProtocolError(
                f"protocol version {v!r} is not supported; this engine speaks {PROTOCOL_VERSION}", cid
            )
        cmd = obj.get("cmd")
        if cmd not in ALL_COMMANDS:
            raise ProtocolError(f"unknown command {cmd!r}; known: {', '.join(sorted(ALL_COMMANDS))}", cid)
        args = obj.get("args", {})
        if not isinstance(args, dict):
            raise ProtocolError(f"'args' of {cmd} must be a JSON object", cid)
        return cls(id=cid, cmd=cmd, args=args, v=v)


def _parse_int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INT_DIGITS:
        raise ProtocolError(
            f"a number has {len(text.lstrip('-'))} digits; numbers in commands have at most {MAX_INT_DIGITS}"
        )
    return int(text)


def _parse_float(text: str) -> float:
    value = float(text)
    if value != value or value in (float("inf"), float("-inf")):
        raise ProtocolError(f"the number {text[:40]} is out of range; use a finite number")
    return value


def _refuse_constant(name: str) -> float:
    raise ProtocolError(f"{name} is not a number a command may hold; use a finite number")


def _depth(obj: Any) -> int:
    """Nesting depth of a parsed JSON value, without recursion."""
    deepest, stack = 0, [(obj, 1)]
    while stack:
        value, d = stack.pop()
        if isinstance(value, (dict, list)):
            deepest = max(deepest, d)
            if d <= MAX_NESTING:
                stack.extend((v, d + 1) for v in (value.values() if isinstance(value, dict) else value))
    return deepest


def _parse_bounded(line: str) -> Any:
    """``json.loads`` that never raises anything but :class:`ProtocolError`: integers of at most
    ``MAX_INT_DIGITS`` digits, finite numbers only, at most ``MAX_NESTING`` levels of objects and
    arrays."""
    try:
        obj = json.loads(
            line, parse_int=_parse_int, parse_float=_parse_float, parse_constant=_refuse_constant
        )
    except ProtocolError:
        raise
    except json.JSONDecodeError as e:
        raise ProtocolError(
            f"not JSON ({e.msg} at column {e.colno}); send one JSON object per line"
        ) from None
    except RecursionError:
        raise ProtocolError(
            f"the command is nested too deeply; commands nest at most {MAX_NESTING} levels"
        ) from None
    except ValueError as e:  # anything else json itself refuses
        raise ProtocolError(f"not JSON ({e}); send one JSON object per line") from None
    if _depth(obj) > MAX_NESTING:
        raise ProtocolError(f"the command is nested too deeply; commands nest at most {MAX_NESTING} levels")
    return obj


# --- events ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Event:
    """Base of all events. ``type`` is the wire tag; subclasses add fields."""

    type: ClassVar[str] = "event"
    id: str | None
    ts: float | None = None  # wall-clock time (time.time()) when the engine wrote the line

    def to_dict(self) -> dict[str, Any]:
        d = {"v": PROTOCOL_VERSION, "type": self.type}
        d.update(dataclasses.asdict(self))
        return d

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), separators=(",", ":"), default=_json_default)


def _json_default(o: Any) -> Any:
    if hasattr(o, "__fspath__"):
        return str(o)
    if hasattr(o, "item"):  # numpy scalars
        return o.item()
    if hasattr(o, "tolist"):
        return o.tolist()
    raise TypeError(f"{type(o).__name__} is not JSON serialisable")


@dataclass(frozen=True)
class Hello(Event):
    type: ClassVar[str] = "hello"
    protocol: int = PROTOCOL_VERSION
    version: str = ""
    device: str = ""
    workspace: str = ""
    interrupted: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Accepted(Event):
    type: ClassVar[str] = "accepted"
    job: str = ""
    kind: str = ""
    position: int = 0


@dataclass(frozen=True)
class State(Event):
    type: ClassVar[str] = "state"
    state: str = "queued"


@dataclass(frozen=True)
class Progress(Event):
    type: ClassVar[str] = "progress"
    done: float = 0
    total: float = 0
    unit: str = "steps"
    rate: float | None = None
    eta_s: float | None = None
    message: str = ""
    step: int | None = None
    expected_steps: list[int] = field(default_factory=list)


@dataclass(frozen=True)
class Metric(Event):
    type: ClassVar[str] = "metric"
    step: int = 0
    values: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Preview(Event):
    type: ClassVar[str] = "preview"
    step: int = 0
    images: list[str] = field(default_factory=list)
    caption: str = ""


@dataclass(frozen=True)
class Step(Event):
    type: ClassVar[str] = "step"
    i: int = 0
    n: int = 0
    t: float | None = None
    sigma: float | None = None
    xt: list[str] = field(default_factory=list)
    x0: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Log(Event):
    type: ClassVar[str] = "log"
    level: str = "info"
    message: str = ""


@dataclass(frozen=True)
class Result(Event):
    type: ClassVar[str] = "result"
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Done(Event):
    type: ClassVar[str] = "done"
    state: str = "done"
    results: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Error(Event):
    type: ClassVar[str] = "error"
    message: str = ""
    detail: str = ""
    state: str | None = None
    data: dict[str, Any] = field(default_factory=dict)


EVENT_TYPES: dict[str, type[Event]] = {
    cls.type: cls
    for cls in (Hello, Accepted, State, Progress, Metric, Preview, Step, Log, Result, Done, Error)
}


def event_from_json(line: str) -> Event:
    """Decode an event line (clients use this). Unknown fields are ignored for forward compatibility."""
    obj = json.loads(line)
    cls = EVENT_TYPES.get(obj.get("type"))
    if cls is None:
        raise ProtocolError(f"unknown event type {obj.get('type')!r}")
    names = {f.name for f in dataclasses.fields(cls)}
    return cls(**{k: v for k, v in obj.items() if k in names})


# --- Job arguments and results -------------------------------------------------------------------
# One dataclass per job's ``args`` and per job's ``done`` results: the engine sends results built
# from them and the window reads them back with ``from_dict``, so neither side guesses key names.
# ``to_dict`` leaves out fields that are None (the engine's defaults apply); ``from_dict`` takes the
# known keys and refuses a missing required one. The engine's validators (core/engine/jobs/) check
# the values.


class Payload:
    @classmethod
    def from_dict(cls, d: dict[str, Any] | None) -> Any:
        d = d or {}
        known = {f.name for f in fields(cls)}  # type: ignore[arg-type]
        missing = [
            f.name
            for f in fields(cls)  # type: ignore[arg-type]
            if f.default is MISSING and f.default_factory is MISSING and f.name not in d
        ]
        if missing:
            raise ProtocolError(f"{cls.__name__} has no {', '.join(repr(m) for m in missing)}")
        return cls(**{k: v for k, v in d.items() if k in known})

    def to_dict(self) -> dict[str, Any]:
        return {f.name: v for f in fields(self) if (v := getattr(self, f.name)) is not None}  # type: ignore[arg-type]


@dataclass
class ScanArgs(Payload):
    sources: list[str]
    settings: dict[str, Any] | None = None  # DatasetSettings fields
    name: str | None = None


@dataclass
class TrainArgs(Payload):
    dataset: str
    config: dict[str, Any] | None = None  # TrainConfig fields
    name: str | None = None


@dataclass
class FinetuneArgs(Payload):
    dataset: str
    model: str
    config: dict[str, Any] | None = None
    name: str | None = None


@dataclass
class ResumeRunArgs(Payload):
    run: str
    extra_steps: int | None = None
    name: str | None = None


@dataclass
class SampleArgs(Payload):
    model: str  # a model id or a model folder
    config: dict[str, Any] | None = None  # SampleConfig fields
    name: str | None = None


@dataclass
class BranchArgs(Payload):
    sample_set: str
    step: int | None = None
    seed: int | None = None
    steps: int | None = None
    sampler: str | None = None
    guidance: float | None = None
    name: str | None = None


@dataclass
class ExportArgs(Payload):
    sample_set: str | None = None  # or run: a run's training timelapse
    run: str | None = None
    what: str | None = None  # "denoising" (default) or "clips"
    out: str | None = None
    format: str | None = None
    show: str | None = None
    hold_s: float | None = None
    fps: float | None = None
    scale: int | None = None
    resample: str | None = None
    indices: list[int] | None = None
    loops: int | None = None
    overwrite: bool | None = None
    name: str | None = None


@dataclass
class EvaluateArgs(Payload):
    model: str
    dataset: str | None = None
    num: int | None = None
    steps: int | None = None
    sampler: str | None = None
    seed: int | None = None
    device: str | None = None
    name: str | None = None


@dataclass
class MakeFastArgs(Payload):
    model: str  # a model id or a model folder
    minutes: float | None = None  # FastConfig fields
    steps: int | None = None
    route: str | None = None
    guidance: float | None = None
    device: str | None = None
    name: str | None = None


@dataclass
class ScanDone(Payload):
    dataset: str
    path: str
    report: dict[str, Any]  # core.data.result.ScanResult.to_dict()


@dataclass
class TrainDone(Payload):
    run: str
    model: str
    run_dir: str
    model_dir: str
    steps: int


@dataclass
class ModelAdded(Payload):
    """The answer to ``add_model``."""

    model: str  # the catalog id
    added: bool  # False: the folder was listed already
    name: str
    path: str  # the model folder (a run folder's ``model`` when a run folder was given)


@dataclass
class SampleDone(Payload):
    sample_set: str
    out_dir: str
    images: list[str] = field(default_factory=list)  # PNG (or clip GIF) paths in sample order
    trajectory: str | None = None  # core/sampling/trajectory.py's folder


@dataclass
class ExportDone(Payload):
    export: str
    path: str  # the video; for what "clips" the folder
    what: str = "denoising"
    paths: list[str] | None = None  # what "clips": the files written, in clip order


@dataclass
class EvaluateDone(Payload):
    """The health check (core/metrics/evaluate.py's figures and the window's extras); also the JSON
    file kept in the workspace's evaluations (``evaluation``)."""

    verdict: dict[str, Any]  # label, message, reason
    num_samples: int
    memorized_share: float
    memorized_count: int
    ratio_threshold: float
    model: str | None = None  # the catalog id; None for a folder outside it
    model_dir: str | None = None
    dataset: str | None = None
    dataset_dir: str | None = None
    dataset_name: str | None = None
    created: float | None = None
    sampler: str | None = None
    steps: int | None = None
    guidance: float | None = None
    reference_split: str | None = None
    reference_count: int | None = None
    train_count: int | None = None
    swd: dict[str, Any] | None = None  # core/metrics/swd.py's figures
    fd: float | None = None
    fd_real: float | None = None
    fd_noise: float | None = None
    kid: float | None = None
    kid_std: float | None = None
    features: Any = None
    heldout_loss: dict[str, Any] | None = None
    heldout_history: Any = None
    seconds: float | None = None
    heldout_series: dict[str, list[list[float]]] = field(default_factory=dict)
    pairs: list[dict[str, Any]] = field(default_factory=list)
    summary: str = ""
    evaluation: str | None = None  # the JSON file that keeps this result


@dataclass
class MakeFastDone(Payload):
    model_dir: str
    steps: int  # the map's training steps
    seconds: float
    levels: list[float]  # the noise levels it samples at (1 to len(levels) steps)
    guidance: float  # the autoguidance weight built into it
    model: str | None = None  # the catalog id; None for a folder outside it


JOB_ARGS: dict[str, type[Payload]] = {
    "scan": ScanArgs,
    "train": TrainArgs,
    "finetune": FinetuneArgs,
    "resume_run": ResumeRunArgs,
    "sample": SampleArgs,
    "branch": BranchArgs,
    "export": ExportArgs,
    "evaluate": EvaluateArgs,
    "make_fast": MakeFastArgs,
}
JOB_RESULTS: dict[str, type[Payload]] = {
    "scan": ScanDone,
    "train": TrainDone,
    "finetune": TrainDone,
    "resume_run": TrainDone,
    "sample": SampleDone,
    "branch": SampleDone,
    "export": ExportDone,
    "evaluate": EvaluateDone,
    "make_fast": MakeFastDone,
}
