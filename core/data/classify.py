"""What each found file is, and the part it plays in the dataset.

:func:`classify` reads a file's first bytes (:func:`core.data.discover.sniff`) and sorts it as an
image, a GIF, a video or something else, refusing before any decoding what cannot be read (empty,
unreadable, HEIC and the like, a text file named ``.png``). :func:`resolve_kind` decides whether
the dataset holds images or clips (the rule is in :mod:`core.data.settings`); :func:`role_in` says
what a file becomes in that dataset (an image, a clip, the frames of a video) or why it does not fit.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from core.data.decode import Task
from core.data.discover import (
    IMAGE_EXTENSIONS,
    IMAGE_FORMATS,
    NO_PERMISSION,
    UNSUPPORTED_IMAGE_EXTENSIONS,
    VIDEO_EXTENSIONS,
    Candidate,
    describe_content,
    display_name,
    sniff,
)
from core.data.result import IMAGE_IN_CLIP_DATASET, NO_READ_PERMISSION, VIDEO_IN_IMAGE_DATASET
from core.data.settings import DatasetSettings


@dataclass
class Entry:
    """A found file on its way through the scan."""

    cand: Candidate
    category: str = "other"  # "image" | "gif" | "video" | "other"
    fmt: str = ""
    problem: str | None = None  # rejected before decoding
    code: str = ""  # the kind of that refusal (core.data.result)
    note: str | None = None  # a warning kept with the file
    cached: dict[str, Any] | None = None  # the record of an earlier scan that still holds
    task: Task | None = None
    role: str = ""


def classify(cand: Candidate) -> Entry:
    e = Entry(cand)
    if cand.problem:
        e.problem = cand.problem
        e.code = NO_READ_PERMISSION if cand.problem == NO_PERMISSION else ""
        return e
    ext = os.path.splitext(cand.name)[1].lower()
    if cand.size == 0:
        e.problem = "is an empty file (0 bytes); remove it or copy it again"
        return e
    try:
        with open(cand.path, "rb") as f:
            head = f.read(32)
    except PermissionError:
        e.problem, e.code = NO_PERMISSION, NO_READ_PERMISSION
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


def resolve_kind(settings: DatasetSettings, entries: Sequence[Entry]) -> str:
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


def expected_role(e: Entry, kind: str, s: DatasetSettings) -> str:
    return "" if e.category == "other" else role_in(e, kind, s)[0]


def misfit_code(kind: str) -> str:
    """The code of :func:`role_in`'s refusal in a ``kind`` dataset."""
    return VIDEO_IN_IMAGE_DATASET if kind == "image" else IMAGE_IN_CLIP_DATASET


def role_in(e: Entry, kind: str, s: DatasetSettings) -> tuple[str, str | None]:
    """("image" | "clip" | "frames", None), or ("", why this file does not fit the dataset; its
    code is :func:`misfit_code`)."""
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
