"""Sampled clips out as MP4 / WebM / GIF at the clip's fps, and the denoising of a clip as a video.

- :func:`read_clips` finds the clips of a ``noisebloom sample`` folder: ``trajectory/final.npy``
  (lossless, when sampled with ``--trajectory``), else the ``sample_KKKKK.gif`` files that
  ``sample`` writes for clip models (exact for grayscale; palette-limited for colour).
- :func:`export_clips` writes each clip (or the chosen ones) as ``sample_KKKKK.mp4|.webm|.gif`` at the
  model's fps.
- :func:`clip_denoising_frames` / :func:`export_clip_denoising`: the clip *playing while it
  denoises*. Frame k of the animation shows clip frame ``k mod T`` at the recorded denoising step
  nearest ``k * (R - 1) / (total - 1)`` of R recorded steps, with ``total`` at least ``loops``
  plays of the clip (so a 10-step trajectory still shows the motion), then the finished clip
  plays once more.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np

from core.errors import ConfigError, NoisebloomError
from core.export.trajectory import pick_samples
from core.fsutil import refuse_existing
from core.media.grid import SHOW, make_grid, panel
from core.media.video import FORMATS, write_video
from core.sampling.trajectory import open_trajectory

DEFAULT_FPS = 8.0


def _model_fps(folder: Path) -> float | None:
    """The clip fps recorded in the model folder that a sample / trajectory folder names."""
    for doc_path in (
        folder / "sample.json",
        folder / "trajectory" / "trajectory.json",
        folder / "trajectory.json",
    ):
        if not doc_path.is_file():
            continue
        try:
            model = json.loads(doc_path.read_text(encoding="utf-8")).get("model")
            info = json.loads((Path(model) / "noisebloom.json").read_text(encoding="utf-8"))
        except (OSError, ValueError, TypeError):
            continue
        if info.get("fps"):
            return float(info["fps"])
    return None


def _gif_frames(path: Path) -> tuple[np.ndarray, float | None]:
    from PIL import Image, ImageSequence

    try:
        with Image.open(path) as im:
            duration = im.info.get("duration")
            frames = [np.asarray(f.convert("RGB")) for f in ImageSequence.Iterator(im)]
    except OSError as e:
        raise NoisebloomError(f"{path}: unreadable GIF ({e})", fix="sample again") from None
    arr = np.stack(frames)
    if (arr[..., :1] == arr).all():  # grayscale clip written as RGB
        arr = arr[..., :1]
    return arr, (1000.0 / duration if duration else None)


def read_clips(samples_dir: str | Path) -> tuple[np.ndarray, float, list[str]]:
    """(clips (N, T, H, W, C) uint8, fps, names) of a sample folder of a clip model."""
    folder = Path(samples_dir)
    if not folder.is_dir():
        raise NoisebloomError(f"{folder}: no such folder", fix="pass the --out folder of noisebloom sample")
    fps = _model_fps(folder)
    final = folder / "trajectory" / "final.npy"
    if final.is_file():
        clips = np.load(final)
        if clips.ndim == 5:
            first = json.loads((folder / "sample.json").read_text(encoding="utf-8")).get("config", {})
            k0 = int(first.get("first_index", 0))
            names = [f"sample_{k0 + i:05d}" for i in range(len(clips))]
            return clips, fps or DEFAULT_FPS, names
    gifs = sorted(folder.glob("sample_*.gif"))
    if not gifs:
        raise NoisebloomError(
            f"{folder}: no sampled clips (sample_*.gif or trajectory/final.npy)",
            fix="sample a clip model into this folder first: noisebloom sample MODEL_DIR --out FOLDER",
        )
    read = [_gif_frames(p) for p in gifs]
    shapes = {a.shape for a, _ in read}
    if len(shapes) != 1:
        raise NoisebloomError(
            f"{folder}: the clips differ in size ({sorted(shapes)})", fix="export them apart"
        )
    gif_fps = read[0][1]
    return np.stack([a for a, _ in read]), fps or gif_fps or DEFAULT_FPS, [p.stem for p in gifs]


def export_clips(
    samples_dir: str | Path,
    fmt: str,
    *,
    out_dir: str | Path | None = None,
    fps: float | None = None,
    scale: int = 4,
    resample: str = "nearest",
    indices: Sequence[int] | None = None,
    prefix: str = "",
    overwrite: bool = False,
) -> list[Path]:
    """Write the sampled clips of ``samples_dir`` (all, or those at ``indices``: 0 is the folder's
    first clip) as ``<prefix><name>.<fmt>`` (mp4, webm or gif) into ``out_dir``; existing files
    are refused before anything is written, unless ``overwrite``."""
    suffix = "." + fmt.lower().lstrip(".")
    if suffix not in FORMATS:
        raise ConfigError(f"export.clips: unknown format {fmt!r}", fix="use mp4, webm or gif")
    clips, clip_fps, names = read_clips(samples_dir)
    picked = list(range(len(clips))) if indices is None else [int(i) for i in indices]
    bad = [i for i in picked if not 0 <= i < len(clips)]
    if bad or not picked:
        raise ConfigError(
            f"export.indices: clip {bad[0] if bad else '(none)'} is not in {samples_dir} ({len(clips)} clips)",
            fix=f"pick from 0 to {len(clips) - 1}",
        )
    out = Path(out_dir) if out_dir is not None else Path(samples_dir)
    targets = [out / f"{prefix}{names[k]}{suffix}" for k in picked]
    if not overwrite:
        refuse_existing(targets, fix="pass --overwrite to replace them, or choose another --clips-dir")
    return [
        write_video(clips[k], path, fps or clip_fps, scale=scale, resample=resample)
        for k, path in zip(picked, targets, strict=True)
    ]


def clip_names(
    samples_dir: str | Path, fmt: str, indices: Sequence[int] | None = None, prefix: str = ""
) -> list[str]:
    """The file names :func:`export_clips` would write for these arguments (for checks before a job)."""
    _, _, names = read_clips(samples_dir)
    picked = range(len(names)) if indices is None else [int(i) for i in indices if 0 <= int(i) < len(names)]
    return [f"{prefix}{names[k]}.{fmt.lower().lstrip('.')}" for k in picked]


def clip_denoising_frames(
    trajectory_dir: str | Path,
    *,
    show: str = "x0",
    indices: Sequence[int] | None = None,
    nrow: int | None = None,
    loops: int = 2,
) -> Iterator[np.ndarray]:
    """Animation frames (H, W, C) of a clip trajectory: the clip playing while it denoises."""
    if show not in SHOW:
        raise ConfigError(f"export.show: unknown {show!r}", fix=f"use one of {', '.join(SHOW)}")
    if not 1 <= loops <= 100:
        raise ConfigError(f"export.loops: {loops} is out of range", fix="use 1 to 100")
    traj = open_trajectory(trajectory_dir)
    if traj.xt.ndim != 6:
        raise NoisebloomError(
            f"{traj.folder}: an image trajectory, not a clip", fix="export it with --video (no --loops)"
        )
    picked = pick_samples(traj, indices)
    rows, frames = traj.xt.shape[0], traj.xt.shape[2]
    total = frames * max(loops, math.ceil(rows / frames))
    pad = 2 if len(picked) > 1 else 0
    for k in range(total):
        r = round(k * (rows - 1) / (total - 1)) if total > 1 else 0
        f = k % frames
        xt, x0 = np.asarray(traj.xt[r, picked, f]), np.asarray(traj.x0[r, picked, f])
        yield make_grid(panel(xt, x0, show), nrow, pad=pad)
    final = np.asarray(traj.final[picked])
    for f in range(frames):
        yield make_grid(panel(final[:, f], final[:, f], show), nrow, pad=pad)


def export_clip_denoising(
    trajectory_dir: str | Path,
    out_path: str | Path,
    *,
    show: str = "x0",
    fps: float | None = None,
    loops: int = 2,
    scale: int = 4,
    resample: str = "nearest",
    hold_last_s: float = 0.0,
    indices: Sequence[int] | None = None,
    nrow: int | None = None,
) -> Path:
    """Write the denoising of the chosen clips as .mp4 / .webm / .gif at the clip fps (default)."""
    folder = Path(trajectory_dir)
    fps = fps or _model_fps(folder) or _model_fps(folder.parent) or DEFAULT_FPS
    frames = clip_denoising_frames(trajectory_dir, show=show, indices=indices, nrow=nrow, loops=loops)
    return write_video(frames, out_path, fps, hold_last_s=hold_last_s, scale=scale, resample=resample)
