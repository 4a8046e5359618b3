"""How a dropped folder becomes a training set: the ``dataset`` settings.

Every field that changes the preprocessed pixels is part of the cache key and of the dataset id,
so the same folder scanned with the same settings lands in the same ``datasets/<id>/`` and reuses
its cache; ``workers`` only changes how fast the scan runs and is left out of both.

Which kind of dataset a folder gives (``kind``):

- ``"image"``: still images (an animated GIF gives its first frame). Videos are used only as a bag
  of frames (``as_frames``, ``frames_per_second`` of them per second of video); otherwise each is
  rejected with a reason that says how to use it.
- ``"clip"``: videos and animated GIFs, each cut into clips of ``clip_frames`` frames taken every
  ``clip_stride``-th frame (at most ``max_clips_per_video`` per video). Still images are rejected
  with a reason.
- ``"auto"`` (default): ``"image"`` if the sources hold any still image (or ``as_frames`` is set);
  otherwise ``"clip"`` if they hold a video or an animated GIF; otherwise ``"image"``. A mixed
  folder therefore gives an image dataset, and its videos are reported, not silently dropped.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from core.config import Config
from core.errors import ConfigError

Crop = Literal["center", "letterbox", "random"]


@dataclass(frozen=True)
class DatasetSettings(Config):
    kind = "dataset"

    resolution: int = 32
    """Side of the square training images, 16..256 px."""
    crop: Crop = "center"
    """center: the largest centred square; letterbox: the whole picture on black bars; random: a
    square of 80-100% of the short side at a random place, drawn once per file at scan time (seeded
    by its content, so a re-scan gives the same crop)."""
    flip: bool = False
    """Random horizontal flips in training. Off by default: wrong for text and digits."""
    small_policy: Literal["reject", "upscale"] = "reject"
    """A picture smaller than the resolution is rejected, or upscaled with a warning."""
    dataset_kind: Literal["auto", "image", "clip"] = "auto"
    clip_frames: int = 8
    clip_stride: int = 1
    max_clips_per_video: int = 32
    as_frames: bool = False
    """Use videos as a bag of frames for an image model."""
    frames_per_second: float = 2.0
    """With ``as_frames``: frames taken from each second of video."""
    pixel_budget: int = 100_000_000
    """Decompression-bomb limit: a picture declaring more pixels is refused before it is decoded."""
    near_duplicate_distance: int = 6
    """Two pictures whose 64-bit difference hashes differ in at most this many bits are reported."""
    val_fraction: float = 0.1
    seed: int = 0
    workers: int = 0
    """Decoding processes; 0 picks the CPU count (at most 8), and small jobs run in-process."""

    def validate(self) -> None:
        def bad(name: str, problem: str, fix: str) -> ConfigError:
            return ConfigError(f"{self.kind}.{name}: {problem}", fix=fix)

        if not 16 <= self.resolution <= 256:
            raise bad("resolution", f"{self.resolution} is out of range", "use 16 to 256 pixels")
        if self.crop not in ("center", "letterbox", "random"):
            raise bad("crop", f"{self.crop!r} is not a crop policy", "use center, letterbox or random")
        if not 2 <= self.clip_frames <= 64:
            raise bad("clip_frames", f"{self.clip_frames} is out of range", "use 2 to 64 frames")
        if not 1 <= self.clip_stride <= 60:
            raise bad("clip_stride", f"{self.clip_stride} is out of range", "use a stride of 1 to 60 frames")
        if not 1 <= self.max_clips_per_video <= 100_000:
            raise bad("max_clips_per_video", f"{self.max_clips_per_video} is out of range", "use 1 or more")
        if not 0 < self.frames_per_second <= 120:
            raise bad("frames_per_second", f"{self.frames_per_second} is out of range", "use 0.01 to 120")
        if self.pixel_budget < 1:
            raise bad(
                "pixel_budget",
                f"{self.pixel_budget} is not positive",
                "use a number of pixels, e.g. 100000000",
            )
        if not 0 <= self.near_duplicate_distance <= 32:
            raise bad(
                "near_duplicate_distance",
                f"{self.near_duplicate_distance} is out of range",
                "use 0 to 32 bits",
            )
        if not 0 <= self.val_fraction <= 0.5:
            raise bad("val_fraction", f"{self.val_fraction} is out of range", "use 0 to 0.5")
        if not 0 <= self.workers <= 64:
            raise bad("workers", f"{self.workers} is out of range", "use 0 (automatic) to 64")

    def cache_key(self) -> dict[str, Any]:
        """The fields that change the preprocessed data (everything but ``workers``)."""
        d = self.to_dict()
        d.pop("workers")
        return d
