"""Data area state: the scan settings, a running scan's progress, and the scan report.

A scan is an engine job (``scan``); this object sends it, follows its events and, when it ends,
holds the dataset's report: accepted items, rejected files with their reasons, duplicates and
statistics (``ScanReport``, read from the ``ScanResult.to_dict()`` the engine sends and stores in the
catalog).

A rejection's reason is worded for the command line; :func:`shown_reason` puts the window's own
remedy in its place for the refusals that have one (``core.data.result``'s codes; the failure of a
scan with nothing usable is told from its report in the same words), and
:meth:`ScanModel.rescan` scans the same sources again with that remedy (frames of the videos as
pictures, a larger pixel budget, small pictures upscaled, shorter clips), or the videos alone as clips.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from PySide6.QtCore import QObject, Signal

from core.data import result as R
from core.data.settings import DatasetSettings
from core.engine import protocol as P
from core.words import count

CROPS = ("center", "letterbox", "random")
HEADER_SETTINGS = ("resolution", "crop", "flip")  # what the Data area's header sets
# the scan settings the window's remedies set; they stay while the same sources are scanned again
OPTIONS = ("as_frames", "dataset_kind", "pixel_budget", "small_policy", "clip_frames")
VIDEOS_AS_FRAMES = "Use the videos' frames as pictures"
VIDEOS_AS_CLIPS = "Make a clip dataset from the videos"
UPSCALE_SMALL = "Upscale the small pictures"


def allow_large_label(budget: int) -> str:
    """The button that scans again with ten times the pixel budget."""
    return f"Allow pictures up to {10 * budget / 1e6:,.0f} MP"


def shorter_clips(frames: int) -> int | None:
    """The clip length the "shorter clips" button scans again with: half of ``frames``, at least 2
    (None when the clips are as short as they go)."""
    return max(2, frames // 2) if frames > 2 else None


def shorter_clips_label(frames: int) -> str:
    return f"Make clips of {shorter_clips(frames)} frames"


# the window's words after the problem, for each refusal it can fix (the buttons above the tabs)
REMEDIES = {
    R.VIDEO_IN_IMAGE_DATASET: f"press “{VIDEOS_AS_FRAMES}” or “{VIDEOS_AS_CLIPS}” above",
    R.IMAGE_IN_CLIP_DATASET: "drop the still pictures on their own for a picture dataset",
    R.OVER_PIXEL_BUDGET: "press “{allow_large}” above if the picture is genuine",
    R.TOO_SMALL: f"choose a lower Resolution above, or press “{UPSCALE_SMALL}”",
    R.TOO_SHORT_FOR_A_CLIP: "press “{shorter}” above, or use a longer video",
    R.UNDECODABLE_VIDEO: "save it again as an H.264 MP4 in a video editor or converter, or remove it",
    R.NO_READ_PERMISSION: "allow yourself to read it (the file's properties, permissions), or remove it",
}


def shown_reason(reason: str, code: str, pixel_budget: int, clip_frames: int = 2) -> str:
    """The reason as the window shows it: the problem, then the window's remedy in place of the
    command line's fix (a reason reads "name: problem; fix")."""
    remedy = REMEDIES.get(code)
    if not remedy:
        return reason
    if code == R.TOO_SHORT_FOR_A_CLIP and shorter_clips(clip_frames) is None:
        remedy = "use a longer video, or remove it"
    remedy = remedy.format(
        allow_large=allow_large_label(pixel_budget), shorter=shorter_clips_label(clip_frames)
    )
    return f"{reason.split('; ', 1)[0]}; {remedy}"


@dataclass(frozen=True)
class Picture:
    """An accepted file's size and colour, for the statistics."""

    width: int
    height: int
    grey: bool
    format: str
    rows: int


@dataclass
class ScanReport:
    accepted: list[str] = field(default_factory=list)
    rejected: list[tuple[str, str]] = field(default_factory=list)  # (path, reason)
    codes: dict[str, str] = field(default_factory=dict)  # rejected path -> its code (core.data.result)
    pictures: list[Picture] = field(default_factory=list)  # one per accepted file
    settings: dict[str, Any] = field(default_factory=dict)  # the DatasetSettings the scan used
    rows: int = 0
    channels: int = 3
    train: int = 0
    val: int = 0  # rows held out of training
    frames: int | None = None  # frames per clip, for clips
    fps: float | None = None
    duplicates: list[tuple[str, str]] = field(default_factory=list)  # (path, kept / similar to)
    near_duplicates: list[tuple[str, str]] = field(default_factory=list)
    stats: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    dataset_id: str | None = None
    dataset_dir: str | None = None
    kind: str = "image"

    @classmethod
    def from_dict(cls, d: dict[str, Any] | None) -> ScanReport:
        """Read a ``core.data.result.ScanResult.to_dict()`` (the engine's ``report``); a key an
        older report lacks reads as empty."""
        d = d or {}
        return cls(
            accepted=[str(a["path"]) for a in d.get("accepted", [])],
            rejected=[(str(r["path"]), str(r["reason"])) for r in d.get("rejected", [])],
            codes={str(r["path"]): str(r["code"]) for r in d.get("rejected", []) if r.get("code")},
            pictures=[
                Picture(
                    int(a.get("width") or 0),
                    int(a.get("height") or 0),
                    bool(a.get("grey")),
                    str(a.get("format") or "?"),
                    int(a.get("rows") or 0),
                )
                for a in d.get("accepted", [])
            ],
            settings=dict(d.get("settings") or {}),
            rows=int(d.get("rows") or 0),
            channels=int(d.get("channels") or 3),
            train=int(d.get("train") or 0),
            val=int(d.get("val") or 0),
            frames=d.get("frames"),
            fps=d.get("fps"),
            duplicates=[(str(x["path"]), str(x["duplicate_of"])) for x in d.get("duplicates", [])],
            near_duplicates=[
                (str(n["a"]), f"{n['b']} ({count(int(n['distance']), 'bit')} apart)")
                for n in d.get("near_duplicates", [])
            ],
            warnings=[str(w) for w in d.get("warnings", [])],
            stats=dict(d.get("stats") or {}),
            dataset_id=d.get("dataset_id"),
            dataset_dir=d.get("dataset_dir"),
            kind=str(d.get("kind") or "image"),
        )

    def rejected_with(self, code: str) -> list[str]:
        """The paths of the files rejected with ``code``."""
        return [p for p, _ in self.rejected if self.codes.get(p) == code]

    def shown_rejected(self) -> list[tuple[str, str]]:
        """(path, the reason in the window's words) for each rejected file."""
        budget = int(self.settings.get("pixel_budget") or DatasetSettings().pixel_budget)
        frames = self.clip_frames
        return [(p, shown_reason(r, self.codes.get(p, ""), budget, frames)) for p, r in self.rejected]

    @property
    def clip_frames(self) -> int:
        """The frames per clip the scan asked for."""
        return int(self.settings.get("clip_frames") or DatasetSettings().clip_frames)

    def nothing_usable(self) -> str:
        """Why nothing could be used, in the window's words: the reason most rejected files share
        (by its kind, else its words after the name: a reason reads "name: problem; remedy"); ""
        when nothing was rejected."""
        shown = self.shown_rejected()
        if not shown:
            return ""
        kinds = [self.codes.get(p) or reason.split(": ", 1)[-1] for p, reason in shown]
        kind, n = Counter(kinds).most_common(1)[0]
        like = f" ({count(n, 'file')} like this)" if n > 1 else ""
        return f"Nothing to train on: {shown[kinds.index(kind)][1]}{like}; the Rejected tab lists every file"


class ScanModel(QObject):
    state_changed = Signal(str)
    progress_changed = Signal(float, float, str)
    report_changed = Signal()
    settings_changed = Signal()

    def __init__(self, app: Any, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.app = app
        self.settings: dict[str, Any] = {"resolution": 32, "crop": "center", "flip": False}
        self.state = "idle"
        self.job_id: str | None = None
        self.sources: list[str] = []
        self.options: dict[str, Any] = {}  # the remedies chosen for these sources (OPTIONS)
        self.progress: tuple[float, float, str] = (0, 0, "")
        self.report: ScanReport | None = None
        self.dataset: dict[str, Any] | None = None
        self.error = ""
        self.on_dataset: list[Any] = []  # one-shot callbacks (dataset id) for the next finished scan

    def set_setting(self, name: str, value: Any) -> None:
        if self.settings.get(name) != value:
            self.settings[name] = value
            self.settings_changed.emit()

    def start(
        self, sources: list[str], name: str | None = None, options: dict[str, Any] | None = None
    ) -> str:
        """Scan ``sources`` with the header's settings and ``options`` (default: the options chosen
        before, if these are the same sources, else none)."""
        sources = [str(s) for s in sources]
        if options is not None:
            self.options = dict(options)
        elif sources != self.sources:
            self.options = {}
        self.sources = sources
        self.report, self.dataset, self.error = None, None, ""
        args = P.ScanArgs(sources=list(self.sources), settings={**self.settings, **self.options})
        if name:
            args.name = name
        self.job_id = self.app.submit("scan", args.to_dict(), self)
        self.progress = (0, 0, "starting")
        self._set_state("submitted")
        self.report_changed.emit()
        return self.job_id

    def rescan(self, **options: Any) -> str:
        """Scan the same sources again with these options added to the ones chosen before."""
        return self.start(list(self.sources), options={**self.options, **options})

    def videos_as_frames(self) -> str:
        """Scan again, taking the frames of the videos as pictures (an image dataset)."""
        return self.rescan(as_frames=True, dataset_kind="image")

    def videos_as_clips(self) -> str:
        """Scan the rejected videos on their own into a clip dataset."""
        videos = self.report.rejected_with(R.VIDEO_IN_IMAGE_DATASET) if self.report else []
        if not videos:
            raise ValueError("no rejected videos to make clips of; drop a folder of videos")
        where = ", ".join(s.rstrip("/").rsplit("/", 1)[-1] for s in self.sources[:2])
        return self.start(videos, name=f"clips from {where}", options={"dataset_kind": "clip"})

    def shorter_clips(self) -> str:
        """Scan again with clips half as long, so that videos too short for a clip give one."""
        frames = shorter_clips(self.report.clip_frames if self.report else DatasetSettings().clip_frames)
        if frames is None:
            raise ValueError("the clips are as short as they go (2 frames); use longer videos")
        return self.rescan(clip_frames=frames)

    def allow_larger(self) -> str:
        """Scan again with ten times the pixel budget (the limit on a picture's declared size)."""
        return self.rescan(pixel_budget=10 * self.pixel_budget)

    @property
    def pixel_budget(self) -> int:
        """The limit on a picture's declared pixels the report's scan used."""
        used = (self.report.settings if self.report else {}).get("pixel_budget")
        return int(used or self.options.get("pixel_budget") or DatasetSettings().pixel_budget)

    def cancel(self) -> None:
        if self.job_id and self.state in ("submitted", "queued", "running", "paused"):
            self.app.control("cancel", self.job_id)

    def show_dataset(self, item: dict[str, Any]) -> None:
        """Show a dataset from the library (its stored report and the settings it was made with)."""
        self.dataset = item
        stored = item.get("settings") if isinstance(item.get("settings"), dict) else {}
        changed = {k: stored[k] for k in HEADER_SETTINGS if k in stored and stored[k] != self.settings.get(k)}
        defaults = DatasetSettings().to_dict()
        self.options = {k: stored[k] for k in OPTIONS if k in stored and stored[k] != defaults.get(k)}
        if changed:
            self.settings.update(changed)
            self.settings_changed.emit()
        report = item.get("report") if isinstance(item.get("report"), dict) else {}
        self.report = ScanReport.from_dict(report)
        self.report.dataset_id = self.report.dataset_id or item.get("id")
        if not self.report.dataset_dir:
            self.report.dataset_dir = item.get("path")
        self.report.kind = item.get("kind") or self.report.kind
        self._set_state("done")
        self.report_changed.emit()

    def handle(self, ev: P.Event) -> None:
        if isinstance(ev, P.State):
            self._set_state(ev.state)
        elif isinstance(ev, P.Progress):
            self.progress = (ev.done, ev.total, ev.message)
            self.progress_changed.emit(ev.done, ev.total, ev.message)
        elif isinstance(ev, P.Done):
            done = P.ScanDone.from_dict(ev.results)
            self.report = ScanReport.from_dict(done.report)
            ds = self.report.dataset_id = done.dataset
            self._set_state(ev.state)
            self.report_changed.emit()
            if ds:
                self.app.client.send("get", {"what": "datasets", "id": ds}, on_result=self._got_dataset)
        elif isinstance(ev, P.Error):
            self.error = ev.message
            # a folder with nothing usable fails with its report: every rejected file and why
            report = (getattr(ev, "data", None) or {}).get("report")
            if isinstance(report, dict):
                self.report = ScanReport.from_dict(report)
                self.error = self.report.nothing_usable() or self.error
            self._set_state(ev.state or "failed")
            self.report_changed.emit()

    def _got_dataset(self, data: dict[str, Any]) -> None:
        item = data.get("item") or {}
        self.dataset = item
        stored = item.get("report")
        if isinstance(stored, dict) and self.report is not None:
            fuller = ScanReport.from_dict(stored)
            for name in ("accepted", "rejected", "duplicates", "near_duplicates", "stats"):
                if not getattr(self.report, name):
                    setattr(self.report, name, getattr(fuller, name))
        if self.report is not None:
            self.report.dataset_dir = self.report.dataset_dir or item.get("path")
            self.report.kind = item.get("kind") or self.report.kind
        self.report_changed.emit()
        callbacks, self.on_dataset = self.on_dataset, []
        for cb in callbacks:
            cb(item.get("id"))

    def _set_state(self, state: str) -> None:
        self.state = state
        self.state_changed.emit(state)
