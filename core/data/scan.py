"""Scan dropped folders and files into a validated, cached training set in the workspace.

:func:`scan_folder` is the whole pipeline: find the files (:mod:`core.data.discover`), tell what
each really is from its first bytes and decide the dataset kind (:mod:`core.data.classify`, rules
in :mod:`core.data.settings`), reuse what the previous scan still holds (:mod:`core.data.cache`),
decode and preprocess every new or changed file in a pool of processes (:mod:`core.data.pool`,
:mod:`core.data.decode`), and write ``cache_root/<dataset id>/`` atomically
(:mod:`core.data.writer`, the report by :mod:`core.data.report`):

- ``data.u8`` + ``prepared.json``: the :class:`~core.data.prepared.PreparedDataset` training reads;
- ``manifest.json``: every accepted file and exact duplicate, with the size and modification time
  it was read at, its hashes (``sha256``; ``dhash``, ``flat`` and ``colour``, the near-duplicate
  signature of :func:`core.data.preprocess.signature`, :mod:`core.data.near_duplicates`) and the
  rows it gave — the per-file cache of the next scan;
- ``quarantine.json``: every rejected file with its reason;
- ``report.json``: :meth:`ScanResult.to_dict`.

An unchanged folder is answered from the cache without decoding (or rewriting) anything, and a
changed or added file re-processes only itself. Speed: ``benchmarks/results/scan.json``.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from core.data.cache import (
    CACHE_FORMAT,
    MANIFEST_NAME,
    QUARANTINE_NAME,
    REPORT_NAME,
    SIGNATURE_FIELDS,
    PreviousScan,
    dataset_id,
)
from core.data.classify import Entry, classify, expected_role, misfit_code, resolve_kind, role_in
from core.data.decode import Task, process
from core.data.discover import discover, display_name
from core.data.near_duplicates import MAX_NEAR_PAIRS, NEAR_DUPLICATE_COLOUR
from core.data.pool import DecoderPool, in_order
from core.data.report import NothingToTrainOn, nothing_usable
from core.data.result import ScanResult
from core.data.settings import DatasetSettings
from core.data.writer import DatasetWriter
from core.errors import Cancelled, DataError
from core.fsutil import atomic_directory, recover_directory

__all__ = [
    "CACHE_FORMAT",
    "MANIFEST_NAME",
    "MAX_NEAR_PAIRS",
    "NEAR_DUPLICATE_COLOUR",
    "QUARANTINE_NAME",
    "REPORT_NAME",
    "SIGNATURE_FIELDS",
    "NothingToTrainOn",
    "Progress",
    "dataset_id",
    "resolve_kind",
    "scan_folder",
]

Progress = Callable[[int, int, str], None]


def _normalise_sources(sources: Path | str | Sequence[Path | str]) -> list[Path]:
    items = [sources] if isinstance(sources, (str, os.PathLike)) else list(sources)
    if not items:
        raise DataError("nothing to scan: no folder or file given", fix="drop a folder of pictures or clips")
    out: list[Path] = []
    for item in items:
        p = Path(os.path.abspath(os.path.expanduser(os.fspath(item))))
        if not os.path.lexists(p):
            raise DataError(f"{display_name(p)}: no such folder or file", fix="check the path")
        if p not in out:
            out.append(p)
    return out


def scan_folder(
    sources: Path | str | Sequence[Path | str],
    settings: DatasetSettings | None = None,
    *,
    cache_root: Path,
    progress: Progress | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> ScanResult:
    """Validate, preprocess and cache everything in ``sources`` (folders and/or files) for training.

    Writes ``cache_root/<id>/`` (see the module docstring) and returns the :class:`ScanResult`.
    ``progress(done, total, name)`` is called after each file; ``should_stop()`` is polled between
    files and a True stops the scan with :class:`~core.errors.Cancelled`, leaving the previous cache
    as it was. Raises :class:`~core.errors.DataError` when nothing is usable (after writing the report).
    """
    t0 = time.perf_counter()
    s = settings or DatasetSettings()
    srcs = _normalise_sources(sources)
    cache_root = Path(cache_root)
    did = dataset_id(srcs, s)
    folder = cache_root / did
    recover_directory(folder)
    candidates, hidden = discover(srcs, exclude=_workspace_folders(cache_root))
    old = PreviousScan(folder, s)

    entries: list[Entry] = []
    for cand in candidates:
        rec = old.lookup(cand)
        if rec is not None:
            e = Entry(cand, category=rec.get("category", "other"), fmt=rec.get("fmt", ""), cached=rec)
        else:
            e = classify(cand)
        entries.append(e)
    kind = resolve_kind(s, [e for e in entries if not e.problem])

    # Fast path: nothing changed since the last scan, the cache answers as it is.
    if old.complete and old.kind == kind and old.report is not None and len(old.records) == len(entries):
        if all(
            e.cached is not None and e.cached.get("role", "") == expected_role(e, kind, s) for e in entries
        ):
            result = ScanResult.from_dict(old.report)
            result.dataset_dir = folder
            result.reused, result.processed = len(entries), 0
            result.stats.setdefault("files", {}).update(from_cache=len(entries), decoded=0)
            result.elapsed_s = time.perf_counter() - t0
            old.close()
            if progress:
                progress(len(entries), len(entries), "")
            if result.rows == 0:
                raise nothing_usable(srcs, result, folder)
            return result

    _plan(entries, kind, s)
    n_tasks = sum(e.task is not None for e in entries)
    workers = s.workers or min(os.cpu_count() or 1, 8)
    if s.workers == 0 and n_tasks < 8:
        workers = 1  # starting processes costs more than a handful of files
    runner = DecoderPool(min(workers, max(1, n_tasks)))
    try:
        with atomic_directory(folder) as tmp:
            writer = DatasetWriter(tmp, kind, s)
            try:
                _run(entries, runner, old, writer, progress, should_stop)
                if runner.fallback:
                    writer.warnings.append(runner.fallback)
            finally:
                runner.close()
                writer.close()
            result = writer.finish(did, folder, srcs, hidden, t0)
            old.close()
    finally:
        old.close()
    if result.rows == 0:
        raise nothing_usable(srcs, result, folder)
    return result


def _plan(entries: list[Entry], kind: str, s: DatasetSettings) -> None:
    """Give each usable entry its role in a ``kind`` dataset and a decoding task unless the earlier
    scan's record still holds; an entry that does not fit the dataset gets its problem."""
    for i, e in enumerate(entries):
        if e.problem or (e.cached is not None and e.category == "other"):
            continue  # refused before decoding, now or in the earlier scan
        role, why = role_in(e, kind, s)
        if why:
            e.problem, e.code, e.cached = why, misfit_code(kind), None
            continue
        e.role = role
        if e.cached is not None and e.cached.get("role") != role:  # the dataset kind changed: decode again
            fresh = classify(e.cand)
            fresh.role = role
            e = entries[i] = fresh
            if e.problem:
                continue
        if e.cached is None:
            e.task = Task(e.cand.path, e.cand.name, role, e.fmt, s)


def _workspace_folders(cache_root: Path) -> list[Path]:
    """Never scan the workspace itself (its samples and exports are pictures too)."""
    root = cache_root.parent
    is_workspace = all((root / sub).is_dir() for sub in ("datasets", "runs", "samples", "exports"))
    return [cache_root, root] if cache_root.name == "datasets" and is_workspace else [cache_root]


def _run(
    entries: list[Entry],
    runner: DecoderPool,
    old: PreviousScan,
    writer: DatasetWriter,
    progress: Progress | None,
    should_stop: Callable[[], bool] | None,
) -> None:
    total = len(entries)
    window = max(4, 4 * runner.workers)
    for done, (e, result) in enumerate(in_order(entries, runner, window), start=1):
        if should_stop is not None and should_stop():
            raise Cancelled()
        if e.problem:
            writer.reject(
                e,
                f"{display_name(e.cand.name)}: {e.problem}",
                e.code,
                cacheable="permission" not in e.problem,
            )
        elif result is not None:
            writer.add_result(e, result)
        else:
            assert e.cached is not None
            rec = e.cached
            if rec["status"] == "rejected":
                writer.reject(e, rec["reason"], rec.get("code", ""))
            elif rec["sha256"] in writer.kept:
                writer.duplicate(e, rec["sha256"])
            elif rec["status"] == "accepted":
                writer.add_cached(e, rec, old.rows(rec))
            else:  # a duplicate whose original is gone: decode it now, in order
                writer.add_result(
                    e, process(Task(e.cand.path, e.cand.name, rec["role"], rec["fmt"], writer.s))
                )
        if progress is not None:
            progress(done, total, display_name(e.cand.name))
