"""Writing a scanned dataset into its (temporary, then atomically renamed) cache folder.

:class:`DatasetWriter` appends each accepted file's rows to ``data.rgb`` as the files arrive, in
their sorted order, so memory stays bounded whatever the folder's size, and collects the manifest
and quarantine records. :meth:`DatasetWriter.finish` turns the rows into ``data.u8`` (one channel
when every picture is grey), splits off the held-out rows (whole files for clips and video frames,
so nothing leaks between train and val), and writes ``prepared.json``, ``manifest.json``,
``quarantine.json`` and ``report.json``.
"""

from __future__ import annotations

import json
import os
import statistics
import time
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from core.data.cache import CACHE_FORMAT, MANIFEST_NAME, QUARANTINE_NAME, REPORT_NAME
from core.data.classify import Entry
from core.data.decode import FileResult
from core.data.prepared import DATA_NAME, META_NAME, PreparedDataset, split_indices
from core.data.report import build_result
from core.data.result import ScanResult
from core.data.settings import DatasetSettings
from core.fsutil import atomic_write_text


class DatasetWriter:
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

    def _base(self, e: Entry, status: str) -> dict[str, Any]:
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

    def reject(self, e: Entry, reason: str, code: str = "", *, cacheable: bool = True) -> None:
        self.reused += e.cached is not None
        self.rejected.append(
            {**self._base(e, "rejected"), "reason": reason, "code": code, "cacheable": cacheable}
        )

    def duplicate(self, e: Entry, sha: str) -> None:
        self.reused += e.cached is not None
        self.files.append({**self._base(e, "duplicate"), "sha256": sha, "duplicate_of": self.kept[sha]})

    def add_result(self, e: Entry, r: FileResult) -> None:
        self.processed += 1
        if not r.ok:
            cacheable = "permission" not in (r.reason or "")
            self.rejected.append(
                {**self._base(e, "rejected"), "reason": r.reason, "code": r.code, "cacheable": cacheable}
            )
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

    def add_cached(self, e: Entry, rec: dict[str, Any], rows: np.ndarray) -> None:
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

    def finish(self, did: str, final: Path, srcs: list[Path], hidden: int, t0: float) -> ScanResult:
        """Write the dataset and its records; the result, timed from ``t0`` (time.perf_counter)."""
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

        result = build_result(
            dataset_id=did,
            folder=final,
            sources=srcs,
            settings=s,
            kind=self.kind,
            files=self.files,
            rejected=self.rejected,
            warnings=self.warnings,
            rows=self.n_rows,
            channels=channels,
            fps=fps,
            train=len(train),
            val=len(val),
            reused=self.reused,
            processed=self.processed,
            hidden=hidden,
        )
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
