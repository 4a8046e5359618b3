"""A run's training timelapse: its fixed-seed preview grids over time, as a video.

The trainer writes ``samples/step_NNNNNNN.png`` (the same seeds each time), so playing them in
step order shows the model learning. Each frame is captioned-free and full-size; the writer
upscales small grids.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from core.errors import NoisebloomError
from core.media.video import write_video


def timelapse_frames(run_dir: str | Path) -> list[np.ndarray]:
    folder = Path(run_dir) / "samples"
    paths = sorted(folder.glob("step_*.png"))
    if not paths:
        raise NoisebloomError(f"{folder}: no preview images yet", fix="train until the first preview appears")
    frames = [np.asarray(Image.open(p).convert("RGB")) for p in paths]
    shape = frames[-1].shape
    # A grid can change size only if the preview settings changed mid-run; keep the latest size.
    return [f for f in frames if f.shape == shape]


def export_timelapse(
    run_dir: str | Path,
    out_path: str | Path,
    *,
    fps: float = 4.0,
    scale: int = 2,
    resample: str = "nearest",
    hold_s: float = 1.0,
) -> Path:
    """Write the run's preview grids in step order to .mp4 / .webm / .gif; returns the path."""
    frames = np.stack(timelapse_frames(run_dir))
    return write_video(frames, out_path, fps, hold_last_s=hold_s, scale=scale, resample=resample)
