"""What a scan found: accepted files, the quarantine, duplicates, statistics, and where the cache is.

:class:`ScanResult` is what :func:`core.data.scan.scan_folder` returns. ``to_dict()`` is plain JSON
(the engine sends it as an event and the catalog stores it; ``report.json`` in the dataset folder
holds the same), ``from_dict()`` reads it back, ``open()`` gives the
:class:`~core.data.prepared.PreparedDataset` that training reads, and ``summary()`` is the report
the command line prints.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.data.discover import display_name
from core.data.prepared import PreparedDataset
from core.data.settings import DatasetSettings

REPORT_FORMAT = 1


@dataclass(frozen=True)
class AcceptedFile:
    path: str
    name: str
    first_row: int
    rows: int
    width: int
    height: int
    format: str
    grey: bool
    sha256: str


# What kind of refusal a rejection is, so that a front end can offer its own remedy (a reason's
# fix is worded for the command line). Rejections without a code ("") need no more than their reason.
VIDEO_IN_IMAGE_DATASET = "video_in_image_dataset"
IMAGE_IN_CLIP_DATASET = "image_in_clip_dataset"
OVER_PIXEL_BUDGET = "over_pixel_budget"
TOO_SMALL = "too_small"
TOO_SHORT_FOR_A_CLIP = "too_short_for_a_clip"
UNDECODABLE_VIDEO = "undecodable_video"  # its fix is a conversion to H.264 MP4
NO_READ_PERMISSION = "no_read_permission"


@dataclass(frozen=True)
class RejectedFile:
    path: str
    name: str
    reason: str  # one line that names the file and says what to do
    code: str = ""  # one of the codes above, or ""


@dataclass(frozen=True)
class Duplicate:
    path: str
    name: str
    duplicate_of: str  # name of the copy that was kept


@dataclass(frozen=True)
class NearDuplicate:
    a: str
    b: str
    distance: int  # differing bits of the 64-bit difference hashes


@dataclass
class ScanResult:
    dataset_id: str
    dataset_dir: Path
    sources: list[str]
    settings: DatasetSettings
    kind: str  # "image" | "clip"
    accepted: list[AcceptedFile] = field(default_factory=list)
    rejected: list[RejectedFile] = field(default_factory=list)
    duplicates: list[Duplicate] = field(default_factory=list)
    near_duplicates: list[NearDuplicate] = field(default_factory=list)
    near_duplicate_pairs: int = 0  # all pairs found; ``near_duplicates`` lists at most 1,000
    warnings: list[str] = field(default_factory=list)
    stats: dict[str, Any] = field(default_factory=dict)
    rows: int = 0
    channels: int = 3
    frames: int | None = None
    fps: float | None = None
    train: int = 0
    val: int = 0
    reused: int = 0  # files taken from the cache of an earlier scan
    processed: int = 0  # files decoded in this scan
    elapsed_s: float = 0.0

    @property
    def resolution(self) -> int:
        return self.settings.resolution

    def open(self) -> PreparedDataset:
        return PreparedDataset.open(self.dataset_dir)

    # --- JSON ----------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {
            "format": REPORT_FORMAT,
            "dataset_id": self.dataset_id,
            "dataset_dir": str(self.dataset_dir),
            "sources": list(self.sources),
            "settings": self.settings.to_dict(),
            "kind": self.kind,
            "rows": self.rows,
            "resolution": self.resolution,
            "channels": self.channels,
            "frames": self.frames,
            "fps": self.fps,
            "train": self.train,
            "val": self.val,
            "accepted": [dict(vars(a)) for a in self.accepted],  # vars: asdict is 10x slower
            "rejected": [dict(vars(r)) for r in self.rejected],  # vars: asdict is 10x slower
            "duplicates": [dict(vars(d)) for d in self.duplicates],  # vars: asdict is 10x slower
            "near_duplicates": [dict(vars(n)) for n in self.near_duplicates],  # vars: asdict is 10x slower
            "near_duplicate_pairs": self.near_duplicate_pairs,
            "warnings": list(self.warnings),
            "stats": self.stats,
            "reused": self.reused,
            "processed": self.processed,
            "elapsed_s": round(self.elapsed_s, 3),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ScanResult:
        return cls(
            dataset_id=d["dataset_id"],
            dataset_dir=Path(d["dataset_dir"]),
            sources=list(d["sources"]),
            settings=DatasetSettings.from_dict(d["settings"]),
            kind=d["kind"],
            accepted=[AcceptedFile(**a) for a in d["accepted"]],
            rejected=[RejectedFile(**r) for r in d["rejected"]],
            duplicates=[Duplicate(**x) for x in d["duplicates"]],
            near_duplicates=[NearDuplicate(**n) for n in d["near_duplicates"]],
            near_duplicate_pairs=int(d.get("near_duplicate_pairs", len(d["near_duplicates"]))),
            warnings=list(d["warnings"]),
            stats=dict(d["stats"]),
            rows=int(d["rows"]),
            channels=int(d["channels"]),
            frames=d.get("frames"),
            fps=d.get("fps"),
            train=int(d.get("train", 0)),
            val=int(d.get("val", 0)),
            reused=int(d.get("reused", 0)),
            processed=int(d.get("processed", 0)),
            elapsed_s=float(d.get("elapsed_s", 0.0)),
        )

    # --- text ----------------------------------------------------------------------------------
    def skipped_lines(self, folder: str | Path, shown: int = 10) -> list[str]:
        """One line per skipped file with its reason (the first ``shown``), then how many more: what a
        command prints even when quiet, so that no picture is dropped silently."""
        lines = [f"  skipped {r.reason}" for r in self.rejected[:shown]]
        if len(self.rejected) > shown:
            lines.append(
                f"  ... and {len(self.rejected) - shown} more: `noisebloom dataset scan {folder}` lists them all"
            )
        return lines

    def summary(self, limit: int = 30) -> str:
        """The human-readable report: counts, the dataset, then every list (cut at ``limit`` lines each)."""
        files = self.stats.get("files", {})
        lines = [
            f"Scanned {', '.join(display_name(s) for s in self.sources)}: {files.get('seen', 0)} files in "
            f"{self.elapsed_s:.1f} s ({self.processed} decoded, {self.reused} from the cache): "
            f"{len(self.accepted)} accepted, {len(self.rejected)} rejected, {len(self.duplicates)} exact duplicates, "
            f"{self.near_duplicate_pairs} near-duplicate pairs"
            + (f", {files['hidden_skipped']} hidden files skipped" if files.get("hidden_skipped") else ""),
        ]
        if self.rows:
            rate = f" at {self.fps:g} fps" if self.fps else ""
            what = (
                f"{self.rows} clips of {self.frames} frames{rate}"
                if self.kind == "clip"
                else f"{self.rows} images"
            )
            lines.append(
                f"Dataset {self.dataset_id}: {what}, {self.resolution}x{self.resolution} "
                f"{'greyscale' if self.channels == 1 else 'RGB'}, {self.settings.crop} crop, "
                f"{self.train} train / {self.val} held out"
            )
            lines.append(f"  cache: {self.dataset_dir}")
        sections = [
            ("Rejected", [r.reason for r in self.rejected]),
            (
                "Exact duplicates (kept one copy)",
                [f"{display_name(d.name)} = {display_name(d.duplicate_of)}" for d in self.duplicates],
            ),
            (
                "Near duplicates (kept both)",
                [
                    f"{display_name(n.a)} ~ {display_name(n.b)} ({n.distance} bits apart)"
                    for n in self.near_duplicates
                ],
            ),
            ("Warnings", list(self.warnings)),
        ]
        for title, items in sections:
            total = self.near_duplicate_pairs if title.startswith("Near") else len(items)
            if not total:
                continue
            lines.append(f"{title} ({total}):")
            lines.extend(f"  {item}" for item in items[:limit])
            if total > limit:
                lines.append(f"  ... and {total - limit} more (see {self.dataset_dir / 'report.json'})")
        st = self.stats
        if st.get("size"):
            sz, ar, col = st["size"], st["aspect"], st["colour"]
            lines.append(
                f"Sizes: {sz['smallest'][0]}x{sz['smallest'][1]} to {sz['largest'][0]}x{sz['largest'][1]} px "
                f"(median {sz['median_width']}x{sz['median_height']}), {st['bytes'] / 1e6:.1f} MB; "
                f"aspect {ar['landscape']} landscape / {ar['square']} square / {ar['portrait']} portrait; "
                f"{col['colour']} colour, {col['greyscale']} greyscale"
            )
        if st.get("video", {}).get("videos"):
            v = st["video"]
            lines.append(
                f"Videos: {v['videos']}, {v['frames']} frames, {v['duration_s']:.1f} s, "
                f"fps {', '.join(f'{f:g}' for f in v['fps'])}"
            )
        return "\n".join(lines)
