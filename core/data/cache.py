"""The dataset cache folder's identity and the previous scan of the same sources.

:func:`dataset_id` names ``cache_root/<id>/``: the same sources and preprocessing settings give
the same id, so scanning again finds the previous cache. :class:`PreviousScan` reads that folder's
``manifest.json``, ``quarantine.json`` and ``report.json``: a file whose size and modification
time still match its record is not decoded again, and its rows are copied from the old
``data.u8``. A cache written in another format or with other settings is no cache.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from core.data.discover import Candidate
from core.data.prepared import META_NAME, PreparedDataset
from core.data.settings import DatasetSettings

CACHE_FORMAT = 1
MANIFEST_NAME = "manifest.json"
QUARANTINE_NAME = "quarantine.json"
REPORT_NAME = "report.json"
SIGNATURE_FIELDS = ("dhash", "flat", "colour")  # a record without one of them is decoded again


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


class PreviousScan:
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
