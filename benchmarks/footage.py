"""Real-footage clip benchmark data and its measures (issue 29).

The clips come from the real recordings in Debian's ``opencv-doc`` sample data (``Megamind.avi``, a
film trailer with scene cuts; ``tree.avi``, a tree in the wind; ``vtest.avi``, pedestrians seen by a
still camera; ``Megamind_bugy.avi`` is a broken copy and is left out). Where the package is not
installed, ``apt-get download`` + ``dpkg -x`` unpack it into the cache. Each video is decoded with
the scan's own decoder (:func:`core.data.decode.process`, the code that reads a dropped video:
OpenCV with imageio-ffmpeg as the fallback, the largest centred square, the scan's resize), every
frame at the clip resolution, and cached as ``.npz`` under ``/tmp/noisebloom-bench`` (never
committed).

Clips are cut as the app's clip dataset cuts them (``clip_frames`` consecutive frames, stride 1, one
clip after the other). Each video's last ``heldout_share`` of frames is held out, after a gap of one
clip so no held-out frame is next to a training one: held-out clips are later footage of the same
scenes, never training frames.

Measures: :func:`frame_quality` (SWD and random-convolution FD of frames against the held-out
frames, as ``bench_colour`` judges photo crops), :func:`core.metrics.motion.footage_motion`
(frame difference, Farneback flow, flicker of static regions) and :func:`clip_memorised_share`
(Gu et al.'s ratio test on whole clips).
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.colour import CACHE, OPENCV_DATA  # noqa: E402

VIDEOS = ("Megamind.avi", "tree.avi", "vtest.avi")
OPENCV_DOC_DEB = "opencv-doc"
FOOTAGE_VERSION = 1  # bump when the decoding or the cut changes
HELDOUT_SHARE = 0.2


def opencv_data(cache: Path = CACHE) -> Path:
    """opencv-doc's sample data folder: the installed one, or the package unpacked into ``cache``."""
    if all((OPENCV_DATA / v).is_file() for v in VIDEOS):
        return OPENCV_DATA
    root = cache / "opencv-doc"
    data = root / OPENCV_DATA.relative_to("/")
    if all((data / v).is_file() for v in VIDEOS):
        return data
    root.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=cache) as tmp:
        r = subprocess.run(["apt-get", "download", OPENCV_DOC_DEB], cwd=tmp, capture_output=True, text=True)
        debs = sorted(Path(tmp).glob(f"{OPENCV_DOC_DEB}_*.deb"))
        if r.returncode != 0 or not debs:
            raise SystemExit(
                f"apt-get download {OPENCV_DOC_DEB} failed: {r.stderr.strip()[-300:]} "
                "(install it: apt-get install opencv-doc)"
            )
        subprocess.run(["dpkg", "-x", str(debs[0]), str(root)], check=True)
    return data


def decode_frames(path: Path, resolution: int) -> tuple[np.ndarray, float]:
    """Every frame of a video, (T, R, R, 3) uint8, and its frame rate, read as a dropped video is
    read: the scan's decoder, centre crop, its resize. (The scan's "frames" role at a rate above the
    video's keeps every frame, the frames a stride-1 clip dataset takes.)"""
    from core.data.decode import Task, process
    from core.data.discover import sniff
    from core.data.settings import DatasetSettings

    settings = DatasetSettings(
        resolution=resolution,
        crop="center",
        dataset_kind="image",
        as_frames=True,
        frames_per_second=120.0,
        clip_frames=2,
        max_clips_per_video=100_000,
    )
    with open(path, "rb") as f:
        fmt = sniff(f.read(64)) or path.suffix.lstrip(".").lower()
    result = process(Task(str(path), path.name, "frames", fmt, settings))
    if not result.ok or result.rows is None:
        raise ValueError(result.reason or f"{path.name}: no frames decoded")
    return result.rows, float(result.info.get("fps") or 0.0)


def split_clips(
    frames: np.ndarray, clip_frames: int, heldout_share: float = HELDOUT_SHARE
) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """(train clips, held-out clips, where they came from) from one video's frames (T, H, W, C):
    training clips from the start, held-out clips from the last ``heldout_share`` of the frames,
    a clip's length of frames left out between the two."""
    t = len(frames)
    held_start = t - max(clip_frames, int(round(t * heldout_share)))
    train_end = held_start - clip_frames  # the gap
    if train_end < clip_frames:
        raise ValueError(f"{t} frames are too few for training and held-out clips of {clip_frames} frames")

    def cut(lo: int, hi: int) -> np.ndarray:
        n = (hi - lo) // clip_frames
        return frames[lo : lo + n * clip_frames].reshape(n, clip_frames, *frames.shape[1:])

    train, held = cut(0, train_end), cut(held_start, t)
    info = {
        "frames": t,
        "train_frames": [0, len(train) * clip_frames],
        "heldout_frames": [held_start, held_start + len(held) * clip_frames],
        "train_clips": len(train),
        "heldout_clips": len(held),
    }
    return train, held, info


@dataclass
class Footage:
    """Training and held-out clips, (N, F, R, R, 3) uint8 each, from the same videos."""

    train: np.ndarray
    heldout: np.ndarray
    fps: float
    sources: list[dict[str, Any]] = field(default_factory=list)

    @property
    def train_frames(self) -> np.ndarray:
        return self.train.reshape(-1, *self.train.shape[2:])

    @property
    def heldout_frames(self) -> np.ndarray:
        return self.heldout.reshape(-1, *self.heldout.shape[2:])


def video_frames(
    videos: list[Path], resolution: int, cache: Path | None = CACHE
) -> list[tuple[str, np.ndarray, float]]:
    """(name, frames, fps) of each video, decoded once per resolution and cached as .npz."""
    out = []
    for v in videos:
        path = None
        if cache is not None:
            path = cache / f"footage_v{FOOTAGE_VERSION}_{v.stem}_{resolution}px.npz"
            if path.is_file():
                with np.load(path) as z:
                    out.append((v.name, z["frames"], float(z["fps"])))
                continue
        frames, fps = decode_frames(v, resolution)
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(path.stem + ".tmp.npz")
            np.savez(tmp, frames=frames, fps=fps)
            tmp.replace(path)
        out.append((v.name, frames, fps))
    return out


def build_footage(
    videos: list[Path],
    resolution: int,
    clip_frames: int,
    *,
    heldout_share: float = HELDOUT_SHARE,
    cache: Path | None = CACHE,
) -> Footage:
    """Clips of ``clip_frames`` frames at ``resolution`` px from ``videos``, split by time."""
    trains, helds, sources, rates = [], [], [], []
    for name, frames, fps in video_frames(videos, resolution, cache):
        train, held, info = split_clips(frames, clip_frames, heldout_share)
        trains.append(train)
        helds.append(held)
        rates.append(fps)
        sources.append({"video": name, "fps": round(fps, 3), **info})
    return Footage(np.concatenate(trains), np.concatenate(helds), float(np.median(rates)), sources)


def load_footage(resolution: int, clip_frames: int, cache: Path = CACHE) -> Footage:
    """The benchmark's clips: opencv-doc's real videos."""
    data = opencv_data(cache)
    return build_footage([data / v for v in VIDEOS], resolution, clip_frames, cache=cache)


# --- measures --------------------------------------------------------------------------------
def frames_of(clips: np.ndarray) -> np.ndarray:
    """(N, F, H, W, C) clips -> (N*F, H, W, C) frames."""
    return np.asarray(clips).reshape(-1, *np.shape(clips)[2:])


def frame_quality(
    frames: np.ndarray, heldout_frames: np.ndarray, *, n: int | None = None, extractor: Any = None
) -> dict[str, float]:
    """SWD and random-convolution FD of ``frames`` against all the held-out real frames (bench_colour's
    photo measures), on ``n`` of the frames (default: as many as the held-out set has, at most):
    FD grows as the set shrinks, so sets compared with each other are judged at one size."""
    from core.metrics.features import default_extractor
    from core.metrics.frechet import frechet_distance
    from core.metrics.swd import swd

    feats = extractor or default_extractor()
    n = min(len(frames), len(heldout_frames) if n is None else n)
    pick = np.sort(np.random.default_rng(0).permutation(len(frames))[:n])
    chosen = np.ascontiguousarray(frames[pick])
    return {
        "swd": float(swd(heldout_frames, chosen).mean),
        "fd": float(frechet_distance(feats(heldout_frames), feats(chosen))),
        "n": int(n),
    }


def clip_memorised_share(clips: np.ndarray, train_clips: np.ndarray) -> float:
    """The share of ``clips`` that copy a training clip: Gu et al.'s ratio test on whole clips."""
    from core.metrics.memorization import nearest_training

    return nearest_training(np.ascontiguousarray(clips), train_clips).share
