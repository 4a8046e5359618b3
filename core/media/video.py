"""Video writers: MP4 (H.264, yuv420p), WebM (VP9) and GIF from a (T, H, W, C) uint8 frame sequence.

MP4 and WebM go through imageio-ffmpeg's bundled ffmpeg binary (no system ffmpeg needed); GIF
through Pillow. Frames are upscaled by an integer factor (nearest: crisp pixels; Lanczos: smooth)
so a 32 px sample is watchable, padded to even sizes where the codec needs it (yuv420p), and the
last frame can be held. The file is written under a temporary name and renamed into place.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path

import numpy as np
from PIL import Image

from core.errors import ConfigError, NoisebloomError

FORMATS = (".mp4", ".webm", ".gif")
RESAMPLE = ("nearest", "lanczos")


def upscale(frame: np.ndarray, scale: int, resample: str = "nearest") -> np.ndarray:
    """(H, W, C) uint8 -> (scale*H, scale*W, C)."""
    if scale == 1:
        return frame
    if resample == "nearest":
        return frame.repeat(scale, axis=0).repeat(scale, axis=1)
    h, w, c = frame.shape
    im = Image.fromarray(frame[..., 0] if c == 1 else frame)
    out = np.asarray(im.resize((w * scale, h * scale), Image.Resampling.LANCZOS))
    return out[..., None] if out.ndim == 2 else out


def _rgb(frame: np.ndarray) -> np.ndarray:
    if frame.ndim == 2:
        frame = frame[..., None]
    if frame.shape[-1] == 1:
        return np.repeat(frame, 3, axis=-1)
    if frame.shape[-1] == 4:
        return frame[..., :3]
    return frame


def _even(frame: np.ndarray) -> np.ndarray:
    h, w = frame.shape[:2]
    if h % 2 or w % 2:
        frame = np.pad(frame, ((0, h % 2), (0, w % 2), (0, 0)), mode="edge")
    return frame


def check_video_args(path: Path, fps: float, scale: int, resample: str, hold_last_s: float) -> None:
    if path.suffix.lower() not in FORMATS:
        raise ConfigError(
            f"{path}: unknown video format {path.suffix!r}", fix=f"end the name with {', '.join(FORMATS)}"
        )
    if not 0 < fps <= 240:
        raise ConfigError(f"export.fps: {fps} is out of range", fix="use 1 to 240 frames per second")
    if not 1 <= scale <= 64:
        raise ConfigError(f"export.scale: {scale} is out of range", fix="use an integer from 1 to 64")
    if resample not in RESAMPLE:
        raise ConfigError(f"export.resample: unknown {resample!r}", fix="use nearest or lanczos")
    if not 0 <= hold_last_s <= 60:
        raise ConfigError(f"export.hold_last_s: {hold_last_s} is out of range", fix="use 0 to 60 seconds")


def write_video(
    frames_u8: np.ndarray | Iterable[np.ndarray],
    path: str | Path,
    fps: float,
    *,
    hold_last_s: float = 0.0,
    scale: int = 1,
    resample: str = "nearest",
) -> Path:
    """Write frames (T, H, W, C) uint8 (C = 1, 3 or 4) as .mp4, .webm or .gif, by the suffix of ``path``.

    The video has T + round(hold_last_s * fps) frames (the last one repeated); a GIF has T frames,
    the last shown for its own duration plus ``hold_last_s``.
    """
    path = Path(path)
    check_video_args(path, fps, scale, resample, hold_last_s)
    frames = [_rgb(upscale(np.asarray(f, dtype=np.uint8), scale, resample)) for f in frames_u8]
    if not frames:
        raise NoisebloomError(f"{path}: no frames to write", fix="export a trajectory or clip with frames")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=path.suffix, dir=path.parent)
    os.close(fd)
    try:
        if path.suffix.lower() == ".gif":
            _write_gif(frames, Path(tmp), fps, hold_last_s)
        else:
            hold = int(round(hold_last_s * fps))
            _write_ffmpeg(frames + [frames[-1]] * hold, Path(tmp), fps, path.suffix.lower())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; an exported video is an ordinary file
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return path


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _write_gif(frames: list[np.ndarray], path: Path, fps: float, hold_last_s: float) -> None:
    ms = max(20, int(round(1000.0 / fps / 10.0)) * 10)  # GIF delays are in 1/100 s; browsers floor at 20 ms
    durations = [ms] * len(frames)
    durations[-1] += int(round(hold_last_s * 1000))
    images = [Image.fromarray(f) for f in frames]
    images[0].save(
        path,
        format="GIF",
        save_all=True,
        append_images=images[1:],
        duration=durations,
        loop=0,
        optimize=False,
        disposal=1,
    )


def _write_ffmpeg(frames: list[np.ndarray], path: Path, fps: float, suffix: str) -> None:
    import imageio_ffmpeg

    frames = [_even(f) for f in frames]
    h, w = frames[0].shape[:2]
    if suffix == ".mp4":
        codec, params = "libx264", ["-crf", "18", "-preset", "medium", "-movflags", "+faststart"]
    else:
        codec, params = "libvpx-vp9", ["-crf", "24", "-b:v", "0", "-deadline", "good", "-cpu-used", "4"]
    writer = imageio_ffmpeg.write_frames(
        str(path),
        (w, h),
        fps=fps,
        codec=codec,
        pix_fmt_out="yuv420p",
        macro_block_size=1,
        quality=None,
        output_params=params + ["-f", suffix.lstrip(".")],
        ffmpeg_log_level="error",
    )
    writer.send(None)
    try:
        for f in frames:
            writer.send(np.ascontiguousarray(f))
    finally:
        writer.close()
