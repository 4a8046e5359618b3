"""The engine's jobs: one module per kind of job, registered in :data:`JOBS`.

Each module (``scan``, ``train``, ``sample``, ``export``, ``evaluate``, ``fast``) defines, per kind, a
``validate(args, ctx)`` that refuses bad arguments in the reader thread before ``accepted`` (one
line naming the field and the fix) and a ``run(job, ctx)`` that parses the arguments into core's
own configs, calls the core function with the job's hooks (``should_stop`` =
:meth:`core.engine.job.Job.checkpoint`; progress, preview and step events), records the outcome in
the catalog and returns the ``done`` event's results. A new job is a new module here and one line
in :data:`JOBS` (and its command name in :data:`core.engine.protocol.JOB_COMMANDS`).
``library`` holds what is answered outside the queue: ``estimate``, ``delete`` and ``add_model``.
"""

from __future__ import annotations

from typing import Any

from core.engine import protocol as P
from core.engine.job import Context, Job, JobKind
from core.engine.jobs import evaluate, export, fast, sample, scan, train
from core.engine.jobs.common import optional
from core.engine.jobs.library import add_model, delete_item, estimate

JOBS: dict[str, JobKind] = {
    **scan.KINDS,
    **train.KINDS,
    **sample.KINDS,
    **export.KINDS,
    **evaluate.KINDS,
    **fast.KINDS,
}

__all__ = ["JOBS", "add_model", "delete_item", "estimate", "run", "validate"]


def validate(kind: str, args: dict[str, Any], ctx: Context) -> None:
    """Every argument of a job, checked before ``accepted``: types, the documented ranges and the
    configs themselves, so a refusal comes at once and names the field."""
    optional(args, "name", str, kind, "give the name as a string")
    JOBS[kind].validate(args, ctx)


def run(job: Job, ctx: Context) -> P.Payload:
    return JOBS[job.kind].run(job, ctx)
