"""Scan dropped folders and files into a validated, cached training set in the workspace.

:func:`scan_folder` is the whole pipeline: find the files (:mod:`core.data.discover`), tell what
each really is from its first bytes, decide the dataset kind (rules in :mod:`core.data.settings`),
decode and preprocess every new or changed file in a pool of processes (:mod:`core.data.decode`),
and write ``cache_root/<dataset id>/`` atomically:

- ``data.u8`` + ``prepared.json``: the :class:`~core.data.prepared.PreparedDataset` training reads;
  rows are appended to the file as they arrive, in the sorted order of the files, so memory stays
  bounded whatever the folder's size;
- ``manifest.json``: every accepted file and exact duplicate, with the size and modification time
  it was read at, its hashes (``sha256``; ``dhash``, ``flat`` and ``colour``, the near-duplicate
  signature of :func:`core.data.preprocess.signature`) and the rows it gave — the per-file cache of
  the next scan;
- ``quarantine.json``: every rejected file with its reason;
- ``report.json``: :meth:`ScanResult.to_dict`.

The dataset id is stable for the same sources and preprocessing settings, so scanning again finds
the previous cache: an unchanged folder is answered from it without decoding anything (or
rewriting anything), and a changed or added file re-processes only itself.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import re
import statistics
import time
from collections import Counter, deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from core.data.decode import FileResult, Task, init_worker, process
from core.data.discover import (
    IMAGE_EXTENSIONS,
    IMAGE_FORMATS,
    UNSUPPORTED_IMAGE_EXTENSIONS,
    VIDEO_EXTENSIONS,
    Candidate,
    describe_content,
    discover,
    display_name,
    sniff,
)
from core.data.prepared import DATA_NAME, META_NAME, PreparedDataset, split_indices
from core.data.preprocess import COLOUR_GRID, colour_distance, structure_distance
from core.data.result import AcceptedFile, Duplicate, NearDuplicate, RejectedFile, ScanResult
from core.data.settings import DatasetSettings
from core.errors import Cancelled, DataError
from core.fsutil import atomic_directory, atomic_write_text, recover_directory

CACHE_FORMAT = 1
MANIFEST_NAME = "manifest.json"
QUARANTINE_NAME = "quarantine.json"
REPORT_NAME = "report.json"
MAX_NEAR_PAIRS = 1000
# Largest per-cell CIELAB distance (preprocess.colour_distance) of two near-duplicates: above what
# JPEG q75, a 0.9 resize or +3% brightness do to a colour emoji, below most recolourings
# (edited copies at most 7.7, measured on 300 emoji, 2026-12-03; chosen in docs/decisions.md).
NEAR_DUPLICATE_COLOUR = 12.0
SIGNATURE_FIELDS = ("dhash", "flat", "colour")  # a record without one of them is decoded again
Progress = Callable[[int, int, str], None]


class NothingToTrainOn(DataError):
    """No file in the sources is usable. ``result`` is the scan's report (also written to disk)."""

    def __init__(self, message: str, *, fix: str, result: ScanResult) -> None:
        super().__init__(message, fix=fix)
        self.result = result


# --- identity --------------------------------------------------------------------------------------
def dataset_id(sources: Sequence[Path], settings: DatasetSettings) -> str:
    """``<slug of the first source>-<10 hex>``: the same sources and preprocessing give the same id."""
    key = json.dumps(
        {
            "cache": CACHE_FORMAT,
            "sources": [os.fsencode(s).hex() for s in sources],
            "settings": settings.cache_key(),
        },
        sort_keys=True,
    )
    digest = hashlib.sha256(key.encode()).hexdigest()[:10]
    stem = os.path.basename(os.fspath(sources[0]).rstrip(os.sep)) if sources else "dataset"
    slug = re.sub(r"[^a-z0-9]+", "-", os.fsencode(stem).decode("ascii", "ignore").lower()).strip("-")[:32]
    return f"{slug or 'dataset'}-{digest}"


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


# --- classification --------------------------------------------------------------------------------
@dataclass
class _Entry:
    cand: Candidate
    category: str = "other"  # "image" | "gif" | "video" | "other"
    fmt: str = ""
    problem: str | None = None  # rejected before decoding
    note: str | None = None  # a warning kept with the file
    cached: dict[str, Any] | None = None  # the record of an earlier scan that still holds
    task: Task | None = None
    role: str = ""


def _classify(cand: Candidate) -> _Entry:
    e = _Entry(cand)
    if cand.problem:
        e.problem = cand.problem
        return e
    ext = os.path.splitext(cand.name)[1].lower()
    if cand.size == 0:
        e.problem = "is an empty file (0 bytes); remove it or copy it again"
        return e
    try:
        with open(cand.path, "rb") as f:
            head = f.read(32)
    except PermissionError:
        e.problem = (
            "cannot be read (permission denied); give yourself read permission (chmod u+r) or remove it"
        )
        return e
    except OSError as err:
        e.problem = f"cannot be read ({err.strerror}); check the disk or remove it"
        return e
    fmt = sniff(head)
    e.fmt = fmt or ""
    if fmt in ("heic", "avif") or (fmt is None and ext in UNSUPPORTED_IMAGE_EXTENSIONS):
        what = fmt.upper() if fmt else UNSUPPORTED_IMAGE_EXTENSIONS[ext]
        e.problem = f"is a {what} picture, which Noisebloom cannot read; export it as JPEG or PNG"
    elif fmt is None:
        if ext in IMAGE_EXTENSIONS or ext in VIDEO_EXTENSIONS:
            kind = "an image" if ext in IMAGE_EXTENSIONS else "a video"
            e.problem = f"is not {kind} despite its {ext} extension ({describe_content(head)}); remove it"
        else:
            e.problem = (
                f"is not a picture or video ({ext or 'no extension'}: {describe_content(head)}); ignored"
            )
    else:
        e.category = "gif" if fmt == "gif" else "image" if fmt in IMAGE_FORMATS else "video"
        if ext and ext not in _extensions_for(fmt):
            e.note = f"{display_name(cand.name)}: is a {fmt.upper()} file with a {ext} extension; read as {fmt.upper()}"
    return e


def _extensions_for(fmt: str) -> set[str]:
    return {
        "png": {".png"},
        "jpeg": {".jpg", ".jpeg", ".jpe", ".jfif"},
        "gif": {".gif"},
        "webp": {".webp"},
        "bmp": {".bmp", ".dib"},
        "tiff": {".tif", ".tiff"},
        "mp4": {".mp4", ".m4v", ".mov"},
        "mov": {".mov", ".qt", ".mp4", ".m4v"},
        "avi": {".avi"},
        "mkv": {".mkv", ".webm"},
    }.get(fmt, set())


def _gif_animated(path: str) -> bool:
    from PIL import Image

    try:
        with Image.open(path) as img:
            return bool(getattr(img, "is_animated", False))
    except Exception:
        return False


def resolve_kind(settings: DatasetSettings, entries: Sequence[_Entry]) -> str:
    """The dataset kind for ``settings.dataset_kind`` and what the sources hold (rule in core.data.settings)."""
    if settings.dataset_kind != "auto":
        return settings.dataset_kind
    cats = {e.category for e in entries}
    if "image" in cats or settings.as_frames:
        return "image"
    if "video" in cats:
        return "clip"
    gifs = [e for e in entries if e.category == "gif"]
    if any(
        (e.cached or {}).get("role") == "clip" or (not e.cached and _gif_animated(e.cand.path)) for e in gifs
    ):
        return "clip"
    return "image"


def _expected_role(e: _Entry, kind: str, s: DatasetSettings) -> str:
    return "" if e.category == "other" else _role(e, kind, s)[0]


def _role(e: _Entry, kind: str, s: DatasetSettings) -> tuple[str, str | None]:
    """("image" | "clip" | "frames", None), or ("", why this file does not fit the dataset)."""
    if kind == "image":
        if e.category in ("image", "gif"):
            return "image", None
        if s.as_frames:
            return "frames", None
        return (
            "",
            "is a video, and this is an image dataset (the sources hold still images); pass --as-frames to train on its frames, or scan the videos on their own for clips",
        )
    if e.category in ("video", "gif"):
        return "clip", None
    return "", "is a still image, and this is a clip dataset; scan still images on their own (--kind image)"


# --- the earlier scan ------------------------------------------------------------------------------
class _OldCache:
    """The records and rows of the previous scan of the same sources and settings, if any."""

    def __init__(self, folder: Path, settings: DatasetSettings) -> None:
        self.records: dict[str, dict[str, Any]] = {}
        self.array: np.ndarray | None = None
        self.complete = False
        self.report: dict[str, Any] | None = None
        self.kind: str | None = None
        try:
            manifest = json.loads((folder / MANIFEST_NAME).read_text(encoding="utf-8"))
            quarantine = json.loads((folder / QUARANTINE_NAME).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return
        if manifest.get("format") != CACHE_FORMAT or manifest.get("settings") != settings.cache_key():
            return
        for rec in manifest.get("files", []) + quarantine.get("files", []):
            self.records[rec["path"]] = rec
        self.kind = manifest.get("kind")
        try:
            self.report = json.loads((folder / REPORT_NAME).read_text(encoding="utf-8"))
            if (folder / META_NAME).is_file():
                self.array = PreparedDataset.open(folder).array
            self.complete = self.report is not None and (
                self.array is not None or manifest.get("rows", 0) == 0
            )
        except Exception:  # a damaged cache is no cache: everything is decoded again
            self.array = None

    def lookup(self, cand: Candidate) -> dict[str, Any] | None:
        rec = self.records.get(cand.path)
        if rec is None or rec.get("size") != cand.size or rec.get("mtime_ns") != cand.mtime_ns:
            return None
        if rec.get("status") == "rejected" and not rec.get("cacheable", True):
            return None
        if rec.get("status") == "accepted" and (
            self.array is None or any(k not in rec for k in SIGNATURE_FIELDS)
        ):
            return None  # no rows to reuse, or written before the signature had all its parts
        return rec

    def rows(self, rec: dict[str, Any]) -> np.ndarray:
        start, count = rec["rows"]
        assert self.array is not None
        out = np.asarray(self.array[start : start + count])
        return np.repeat(out, 3, axis=-1) if out.shape[-1] == 1 else out

    def close(self) -> None:
        self.array = None


# --- running the decoders ----------------------------------------------------------------------------
class _Done:
    """A finished (or lazily run, in-process) piece of work with the ``Future.result`` shape."""

    def __init__(self, task: Task) -> None:
        self.task = task

    def result(self) -> FileResult:
        return process(self.task)


class _Runner:
    """Runs :func:`core.data.decode.process` in ``workers`` processes (or in-process for one)."""

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self.fallback: str | None = None
        self.pool: ProcessPoolExecutor | None = None
        if workers > 1:
            self.pool = self._new_pool(workers)

    @staticmethod
    def _new_pool(n: int) -> ProcessPoolExecutor:
        # spawn: the engine process holds torch threads, which a fork would copy in a broken state.
        return ProcessPoolExecutor(
            max_workers=n, mp_context=multiprocessing.get_context("spawn"), initializer=init_worker
        )

    def submit(self, task: Task) -> Future[FileResult] | _Done:
        return self.pool.submit(process, task) if self.pool else _Done(task)

    def result(self, handle: Future[FileResult] | _Done, task: Task) -> tuple[FileResult, bool]:
        """The result, and whether the pool broke (then every other pending handle must be resubmitted)."""
        try:
            return handle.result(), False
        except BrokenProcessPool:
            pass
        # A decoder crashed its process. Run this file alone in a fresh process to see if it is the culprit.
        self.close()
        solo = self._new_pool(1)
        try:
            res = solo.submit(process, task).result()
        except BrokenProcessPool:
            res = None
        finally:
            solo.shutdown(wait=True, cancel_futures=True)
        if res is None and not self._processes_work():
            # Not this file: processes cannot start here at all (e.g. a main module without the
            # ``if __name__ == "__main__":`` guard). Decode in this process instead of losing the files.
            self.workers, self.pool = 1, None
            self.fallback = "decoding processes could not start; decoded in the calling process instead"
            return process(task), True
        if res is None:
            res = FileResult(
                task.path,
                task.name,
                ok=False,
                reason=f"{display_name(task.name)}: crashed the decoder (the file is malformed); re-export it or remove it",
            )
        self.pool = self._new_pool(self.workers)
        return res, True

    def _processes_work(self) -> bool:
        probe = self._new_pool(1)
        try:
            return bool(probe.submit(os.getpid).result())
        except BrokenProcessPool:
            return False
        finally:
            probe.shutdown(wait=True, cancel_futures=True)

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)
            self.pool = None


def _ordered(
    entries: list[_Entry], runner: _Runner, window: int
) -> Iterator[tuple[_Entry, FileResult | None]]:
    """Each entry with its decode result (None when it needs no decoding), in the entries' order."""
    pending: deque[list[Any]] = deque()
    it = iter(entries)
    in_flight = 0

    def refill() -> None:
        nonlocal in_flight
        while in_flight < window:
            e = next(it, None)
            if e is None:
                return
            handle = runner.submit(e.task) if e.task is not None else None
            in_flight += handle is not None
            pending.append([e, handle])

    refill()
    while pending:
        e, handle = pending.popleft()
        result = None
        if handle is not None:
            in_flight -= 1
            result, broke = runner.result(handle, e.task)
            if broke:
                for item in pending:
                    if item[1] is not None:
                        item[1] = runner.submit(item[0].task)
        refill()
        yield e, result


# --- the scan --------------------------------------------------------------------------------------
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
    old = _OldCache(folder, s)

    entries: list[_Entry] = []
    for cand in candidates:
        rec = old.lookup(cand)
        if rec is not None:
            e = _Entry(cand, category=rec.get("category", "other"), fmt=rec.get("fmt", ""), cached=rec)
        else:
            e = _classify(cand)
        entries.append(e)
    kind = resolve_kind(s, [e for e in entries if not e.problem])

    # Fast path: nothing changed since the last scan, the cache answers as it is.
    if old.complete and old.kind == kind and old.report is not None and len(old.records) == len(entries):
        if all(
            e.cached is not None and e.cached.get("role", "") == _expected_role(e, kind, s) for e in entries
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
                raise _nothing_usable(srcs, result, folder)
            return result

    for i, e in enumerate(entries):
        if e.problem or (e.cached is not None and e.category == "other"):
            continue  # refused before decoding, now or in the earlier scan
        role, why = _role(e, kind, s)
        if why:
            e.problem, e.cached = why, None
            continue
        e.role = role
        if e.cached is not None and e.cached.get("role") != role:  # the dataset kind changed: decode again
            fresh = _classify(e.cand)
            fresh.role = role
            e = entries[i] = fresh
            if e.problem:
                continue
        if e.cached is None:
            e.task = Task(e.cand.path, e.cand.name, role, e.fmt, s)

    n_tasks = sum(e.task is not None for e in entries)
    workers = s.workers or min(os.cpu_count() or 1, 8)
    if s.workers == 0 and n_tasks < 8:
        workers = 1  # starting processes costs more than a handful of files
    runner = _Runner(min(workers, max(1, n_tasks)))
    try:
        with atomic_directory(folder) as tmp:
            writer = _Writer(tmp, kind, s)
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
        raise _nothing_usable(srcs, result, folder)
    return result


def _workspace_folders(cache_root: Path) -> list[Path]:
    """Never scan the workspace itself (its samples and exports are pictures too)."""
    root = cache_root.parent
    is_workspace = all((root / sub).is_dir() for sub in ("datasets", "runs", "samples", "exports"))
    return [cache_root, root] if cache_root.name == "datasets" and is_workspace else [cache_root]


def _nothing_usable(srcs: list[Path], result: ScanResult, folder: Path) -> NothingToTrainOn:
    where = ", ".join(display_name(p) for p in srcs)
    seen = result.stats.get("files", {}).get("seen", 0)
    if seen == 0:
        hidden = result.stats.get("files", {}).get("hidden_skipped", 0)
        extra = f" ({hidden} hidden or system files skipped)" if hidden else ""
        return NothingToTrainOn(
            f"{where}: no pictures or videos found{extra}",
            fix="drop a folder that holds pictures or clips",
            result=result,
        )
    # lead with the reason most files share (all too small, say), not with whichever file came first
    gists = [r.reason.removeprefix(f"{r.name}: ") for r in result.rejected]
    gist, count = Counter(gists).most_common(1)[0] if gists else ("", 0)
    example = result.rejected[gists.index(gist)].reason if gists else ""
    shown = f"first: {example}" if count < 2 else f"{count} of them like this: {example}"
    return NothingToTrainOn(
        f"{where}: nothing to train on, none of {seen} files is usable"
        + (f" ({shown})" if example else "")
        + f"; the reasons for each are in {folder / QUARANTINE_NAME}",
        fix="fix or replace the files listed there",
        result=result,
    )


def _run(
    entries: list[_Entry],
    runner: _Runner,
    old: _OldCache,
    writer: _Writer,
    progress: Progress | None,
    should_stop: Callable[[], bool] | None,
) -> None:
    total = len(entries)
    window = max(4, 4 * runner.workers)
    for done, (e, result) in enumerate(_ordered(entries, runner, window), start=1):
        if should_stop is not None and should_stop():
            raise Cancelled()
        if e.problem:
            writer.reject(
                e, f"{display_name(e.cand.name)}: {e.problem}", cacheable="permission" not in e.problem
            )
        elif result is not None:
            writer.add_result(e, result)
        else:
            assert e.cached is not None
            rec = e.cached
            if rec["status"] == "rejected":
                writer.reject(e, rec["reason"])
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


# --- writing the dataset ----------------------------------------------------------------------------
class _Writer:
    """Appends rows to ``data.rgb`` as files arrive and collects the records, then writes the dataset."""

    def __init__(self, folder: Path, kind: str, s: DatasetSettings) -> None:
        self.folder, self.kind, self.s = folder, kind, s
        r = s.resolution
        self.row_shape = (r, r, 3) if kind == "image" else (s.clip_frames, r, r, 3)
        self.rgb_path = folder / "data.rgb"
        self.out: BinaryIO | None = open(self.rgb_path, "wb")
        self.n_rows = 0
        self.files: list[dict[str, Any]] = []  # accepted and duplicates (manifest)
        self.rejected: list[dict[str, Any]] = []
        self.kept: dict[str, str] = {}  # sha256 -> name of the kept copy
        self.items: list[str] = []
        self.warnings: list[str] = []
        self.reused = 0
        self.processed = 0

    def _base(self, e: _Entry, status: str) -> dict[str, Any]:
        c = e.cand
        return {
            "path": c.path,
            "name": c.name,
            "size": c.size,
            "mtime_ns": c.mtime_ns,
            "status": status,
            "category": e.category,
            "fmt": e.fmt,
            "role": e.role,
        }

    def reject(self, e: _Entry, reason: str, *, cacheable: bool = True) -> None:
        self.reused += e.cached is not None
        self.rejected.append({**self._base(e, "rejected"), "reason": reason, "cacheable": cacheable})

    def duplicate(self, e: _Entry, sha: str) -> None:
        self.reused += e.cached is not None
        self.files.append({**self._base(e, "duplicate"), "sha256": sha, "duplicate_of": self.kept[sha]})

    def add_result(self, e: _Entry, r: FileResult) -> None:
        self.processed += 1
        if not r.ok:
            cacheable = "permission" not in (r.reason or "")
            self.rejected.append({**self._base(e, "rejected"), "reason": r.reason, "cacheable": cacheable})
            return
        assert r.sha256 is not None and r.rows is not None
        sig = r.signature
        if r.sha256 in self.kept:
            self.files.append(
                {**self._base(e, "duplicate"), "sha256": r.sha256, "duplicate_of": self.kept[r.sha256]}
            )
            return
        warns = ([e.note] if e.note else []) + r.warnings
        rec = {
            **self._base(e, "accepted"),
            "sha256": r.sha256,
            "dhash": f"{sig.dhash:016x}" if sig else "0" * 16,
            "flat": f"{sig.flat:016x}" if sig else "0" * 16,
            "colour": sig.colour.hex() if sig else "",
            "grey": r.grey,
            "row_starts": r.row_starts,
            "warnings": warns,
            "info": r.info,
        }
        self._append(rec, r.rows)

    def add_cached(self, e: _Entry, rec: dict[str, Any], rows: np.ndarray) -> None:
        self.reused += 1
        rec = {**rec, "path": e.cand.path, "name": e.cand.name}
        self._append(rec, rows)

    def _append(self, rec: dict[str, Any], rows: np.ndarray) -> None:
        if rows.shape[1:] != self.row_shape:
            raise AssertionError(f"{rec['name']}: rows of shape {rows.shape[1:]}, expected {self.row_shape}")
        assert self.out is not None
        self.out.write(np.ascontiguousarray(rows, np.uint8).tobytes())
        rec["rows"] = [self.n_rows, int(rows.shape[0])]
        self.n_rows += int(rows.shape[0])
        self.kept[rec["sha256"]] = rec["name"]
        self.files.append(rec)
        self.warnings.extend(rec.get("warnings", []))
        video = rec.get("info", {}).get("video")
        for start in rec["row_starts"]:
            self.items.append(f"{rec['name']}#frame={start}" if video else rec["name"])

    def close(self) -> None:
        if self.out is not None:
            self.out.close()
            self.out = None

    # --- finishing ------------------------------------------------------------------------------
    def finish(self, did: str, final: Path, srcs: list[Path], hidden: int, t0: float) -> ScanResult:
        self.close()
        s = self.s
        accepted = [f for f in self.files if f["status"] == "accepted"]
        channels = 1 if accepted and all(f["grey"] for f in accepted) else 3
        fps = _dataset_fps(accepted, s, self.kind, self.warnings)
        train = val = np.zeros(0, np.int64)
        if self.n_rows:
            shape = (self.n_rows, *self.row_shape[:-1], channels)
            if channels == 1:
                _to_one_channel(self.rgb_path, self.folder / DATA_NAME, self.row_shape)
                self.rgb_path.unlink()
            else:
                os.replace(self.rgb_path, self.folder / DATA_NAME)
            train, val = _split(accepted, self.n_rows, s)
            array = np.memmap(self.folder / DATA_NAME, dtype=np.uint8, mode="r", shape=shape)
            ds = PreparedDataset(
                array=array,
                kind=self.kind,
                train_indices=train,
                val_indices=val,
                fps=fps,  # type: ignore[arg-type]
                flip=s.flip,
                items=self.items,
            )
            atomic_write_text(self.folder / META_NAME, json.dumps(ds.meta(), indent=1) + "\n")
            del ds, array
        else:
            self.rgb_path.unlink()

        near, n_pairs = _near_duplicates(accepted, s.near_duplicate_distance, NEAR_DUPLICATE_COLOUR)
        result = ScanResult(
            dataset_id=did,
            dataset_dir=final,
            sources=[os.fspath(p) for p in srcs],
            settings=s,
            kind=self.kind,
            accepted=[
                AcceptedFile(
                    f["path"],
                    f["name"],
                    f["rows"][0],
                    f["rows"][1],
                    int(f["info"].get("width", 0)),
                    int(f["info"].get("height", 0)),
                    str(f["info"].get("format", f["fmt"])),
                    bool(f["grey"]),
                    f["sha256"],
                )
                for f in accepted
            ],
            rejected=[RejectedFile(r["path"], r["name"], r["reason"]) for r in self.rejected],
            duplicates=[
                Duplicate(f["path"], f["name"], f["duplicate_of"])
                for f in self.files
                if f["status"] == "duplicate"
            ],
            near_duplicates=near,
            near_duplicate_pairs=n_pairs,
            warnings=self.warnings,
            rows=self.n_rows,
            channels=channels,
            frames=s.clip_frames if self.kind == "clip" else None,
            fps=fps,
            train=len(train),
            val=len(val),
            reused=self.reused,
            processed=self.processed,
        )
        result.stats = _statistics(accepted, result, hidden)
        result.elapsed_s = time.perf_counter() - t0
        manifest = {
            "format": CACHE_FORMAT,
            "dataset_id": did,
            "kind": self.kind,
            "rows": self.n_rows,
            "sources": result.sources,
            "settings": s.cache_key(),
            "files": self.files,
        }
        atomic_write_text(self.folder / MANIFEST_NAME, json.dumps(manifest) + "\n")
        atomic_write_text(
            self.folder / QUARANTINE_NAME,
            json.dumps({"format": CACHE_FORMAT, "files": self.rejected}, indent=1) + "\n",
        )
        atomic_write_text(self.folder / REPORT_NAME, json.dumps(result.to_dict()) + "\n")
        return result


def _to_one_channel(src: Path, dst: Path, row_shape: tuple[int, ...], chunk_bytes: int = 32 << 20) -> None:
    row_bytes = int(np.prod(row_shape))
    per_chunk = max(1, chunk_bytes // row_bytes)
    with open(src, "rb") as fin, open(dst, "wb") as fout:
        while block := fin.read(per_chunk * row_bytes):
            rows = np.frombuffer(block, np.uint8).reshape(-1, *row_shape)
            fout.write(np.ascontiguousarray(rows[..., :1]).tobytes())


def _split(accepted: list[dict[str, Any]], n_rows: int, s: DatasetSettings) -> tuple[np.ndarray, np.ndarray]:
    """Held-out rows. Clips and frames of one video stay on one side (no leak between train and val)."""
    if all(f["rows"][1] == 1 for f in accepted):
        return split_indices(n_rows, s.val_fraction, s.seed)
    train, val = split_indices(len(accepted), s.val_fraction if n_rows >= 10 else 0.0, s.seed)
    if len(accepted) < 10 or len(val) == 0:  # too few files to hold whole files out: split rows
        return split_indices(n_rows, s.val_fraction, s.seed)

    def rows_of(files: np.ndarray) -> np.ndarray:
        spans = [
            np.arange(accepted[i]["rows"][0], accepted[i]["rows"][0] + accepted[i]["rows"][1]) for i in files
        ]
        return np.concatenate(spans).astype(np.int64)

    return np.sort(rows_of(train)), np.sort(rows_of(val))


def _dataset_fps(
    accepted: list[dict[str, Any]], s: DatasetSettings, kind: str, warnings: list[str]
) -> float | None:
    if kind != "clip":
        return None
    rates = [f["info"]["fps"] / s.clip_stride for f in accepted if f["info"].get("fps")]
    if not rates:
        return None
    fps = round(float(statistics.median(rates)), 3)
    if max(rates) - min(rates) > 0.01 * fps:
        warnings.append(
            f"the videos have different frame rates ({', '.join(f'{r:g}' for r in sorted(set(rates)))} fps after the "
            f"stride); clips play at the median, {fps:g} fps"
        )
    return fps


def _near_duplicates(
    accepted: list[dict[str, Any]], max_bits: int, max_colour: float = NEAR_DUPLICATE_COLOUR
) -> tuple[list[NearDuplicate], int]:
    """Pairs of kept files that look alike (blockwise, O(n^2)): their grey structure at most
    ``max_bits`` apart (:func:`~core.data.preprocess.structure_distance`, flat steps ignored) and
    their colour signatures at most ``max_colour`` apart.

    The grey hash alone calls a blue and a green copy of one shape identical, hence the colour
    test. It is skipped for a pair of greyscale pictures (their hash already says it all) and for a
    file without a colour signature; a file without a flat mask is compared on its plain hash.
    """
    if len(accepted) < 2:
        return [], 0
    hashes = np.array([int(f["dhash"], 16) for f in accepted], dtype=np.uint64)
    flats = np.array([int(f.get("flat") or "0", 16) for f in accepted], dtype=np.uint64)
    n_sig = 3 * COLOUR_GRID * COLOUR_GRID
    sigs = np.zeros((len(accepted), n_sig), np.uint8)
    has_sig = np.zeros(len(accepted), bool)
    for k, f in enumerate(accepted):
        raw = bytes.fromhex(f.get("colour") or "")
        if len(raw) == n_sig:
            sigs[k], has_sig[k] = np.frombuffer(raw, np.uint8), True
    grey = np.array([bool(f.get("grey")) for f in accepted])
    pairs: list[NearDuplicate] = []
    count = 0
    block = max(1, (1 << 24) // len(hashes))  # rows per step: a few 128 MB arrays at most
    for i0 in range(0, len(hashes), block):
        rows = slice(i0, i0 + block)
        half = structure_distance(hashes[rows, None], flats[rows, None], hashes[None, :], flats[None, :])
        ii, jj = np.nonzero(half <= 2 * max_bits)
        keep = jj > ii + i0
        ii, jj = ii[keep] + i0, jj[keep]
        check = has_sig[ii] & has_sig[jj] & ~(grey[ii] & grey[jj])
        alike = ~check | (colour_distance(sigs[ii], sigs[jj]) <= max_colour)
        for i, j in zip(ii[alike], jj[alike], strict=True):
            count += 1
            if len(pairs) < MAX_NEAR_PAIRS:
                bits = (int(half[i - i0, j]) + 1) // 2  # half bits, rounded up: still <= max_bits
                pairs.append(NearDuplicate(accepted[i]["name"], accepted[j]["name"], bits))
    return pairs, count


def _statistics(accepted: list[dict[str, Any]], result: ScanResult, hidden: int) -> dict[str, Any]:
    infos = [f["info"] for f in accepted]
    n_seen = len(accepted) + len(result.rejected) + len(result.duplicates)
    stats: dict[str, Any] = {
        "files": {
            "seen": n_seen,
            "accepted": len(accepted),
            "rejected": len(result.rejected),
            "duplicates": len(result.duplicates),
            "near_duplicate_pairs": result.near_duplicate_pairs,
            "hidden_skipped": hidden,
            "from_cache": result.reused,
            "decoded": result.processed,
            "upscaled": sum(any("upscaled" in w for w in f.get("warnings", [])) for f in accepted),
        },
        "formats": dict(sorted(_count(i.get("format", "?") for i in infos).items())),
        "bytes": sum(f["size"] for f in accepted),
        "rows": result.rows,
    }
    if infos:
        ws = [int(i["width"]) for i in infos]
        hs = [int(i["height"]) for i in infos]
        aspects = [w / h for w, h in zip(ws, hs, strict=True) if h]
        by_area = sorted(zip(ws, hs, strict=True), key=lambda wh: wh[0] * wh[1])
        stats["size"] = {
            "smallest": list(by_area[0]),
            "largest": list(by_area[-1]),
            "median_width": int(statistics.median(ws)),
            "median_height": int(statistics.median(hs)),
        }
        stats["aspect"] = {
            "landscape": sum(a > 1.05 for a in aspects),
            "square": sum(0.95 <= a <= 1.05 for a in aspects),
            "portrait": sum(a < 0.95 for a in aspects),
            "min": round(min(aspects), 3) if aspects else None,
            "median": round(statistics.median(aspects), 3) if aspects else None,
            "max": round(max(aspects), 3) if aspects else None,
        }
        stats["colour"] = {
            "greyscale": sum(bool(f["grey"]) for f in accepted),
            "colour": sum(not f["grey"] for f in accepted),
        }
    videos = [i for i in infos if i.get("video")]
    stats["video"] = {
        "videos": len(videos),
        "frames": sum(int(i.get("frames") or 0) for i in videos),
        "fps": sorted({float(i["fps"]) for i in videos if i.get("fps")}),
        "duration_s": round(sum((i.get("frames") or 0) / i["fps"] for i in videos if i.get("fps")), 3),
        "capped": sum(bool(i.get("capped")) for i in videos),
    }
    return stats


def _count(values: Iterator[str] | Any) -> dict[str, int]:
    out: dict[str, int] = {}
    for v in values:
        out[v] = out.get(v, 0) + 1
    return out
