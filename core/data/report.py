"""What a scan reports: the :class:`~core.data.result.ScanResult` built from the manifest records,
its statistics (files, formats, sizes, aspects, colour, video), and the one-line refusal when no
file is usable (:class:`NothingToTrainOn`, which leads with the reason most files share)."""

from __future__ import annotations

import os
import statistics
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from core.data.cache import QUARANTINE_NAME
from core.data.discover import display_name
from core.data.near_duplicates import NEAR_DUPLICATE_COLOUR, find_near_duplicates
from core.data.result import AcceptedFile, Duplicate, RejectedFile, ScanResult
from core.data.settings import DatasetSettings
from core.errors import DataError


class NothingToTrainOn(DataError):
    """No file in the sources is usable. ``result`` is the scan's report (also written to disk)."""

    def __init__(self, message: str, *, fix: str, result: ScanResult) -> None:
        super().__init__(message, fix=fix)
        self.result = result


def build_result(
    *,
    dataset_id: str,
    folder: Path,
    sources: list[Path],
    settings: DatasetSettings,
    kind: str,
    files: list[dict[str, Any]],
    rejected: list[dict[str, Any]],
    warnings: list[str],
    rows: int,
    channels: int,
    fps: float | None,
    train: int,
    val: int,
    reused: int,
    processed: int,
    hidden: int,
) -> ScanResult:
    """The scan's result from its manifest records (``files``: accepted and duplicates) and
    quarantine records (``rejected``), with the near-duplicates and the statistics."""
    s = settings
    accepted = [f for f in files if f["status"] == "accepted"]
    near, n_pairs = find_near_duplicates(accepted, s.near_duplicate_distance, NEAR_DUPLICATE_COLOUR)
    result = ScanResult(
        dataset_id=dataset_id,
        dataset_dir=folder,
        sources=[os.fspath(p) for p in sources],
        settings=s,
        kind=kind,
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
        rejected=[RejectedFile(r["path"], r["name"], r["reason"], r.get("code", "")) for r in rejected],
        duplicates=[
            Duplicate(f["path"], f["name"], f["duplicate_of"]) for f in files if f["status"] == "duplicate"
        ],
        near_duplicates=near,
        near_duplicate_pairs=n_pairs,
        warnings=warnings,
        rows=rows,
        channels=channels,
        frames=s.clip_frames if kind == "clip" else None,
        fps=fps,
        train=train,
        val=val,
        reused=reused,
        processed=processed,
    )
    result.stats = _statistics(accepted, result, hidden)
    return result


def nothing_usable(srcs: list[Path], result: ScanResult, folder: Path) -> NothingToTrainOn:
    """The refusal of a scan with no usable file: none found, or the reason most of them share."""
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
