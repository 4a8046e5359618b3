"""The denoising animation of a recorded trajectory: x_t, x0 or both side by side, one or many samples.

Reads the uint8 arrays :mod:`core.sampling.trajectory` wrote (memory-mapped, so a 1,000-step run
exports without sampling again and without loading it whole), tiles the chosen samples into a grid
per recorded step, ends on the finished samples, and hands the frames to :func:`write_video`. A
clip trajectory plays the clip while it denoises: recorded step r shows clip frame r mod T.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from core.errors import ConfigError
from core.media.grid import SHOW, make_grid, panel
from core.media.video import write_video
from core.sampling.trajectory import open_trajectory


def pick_samples(traj: Any, indices: Sequence[int] | None) -> list[int]:
    """The sample numbers to export from a trajectory: all of them, or ``indices`` checked against it."""
    n = traj.final.shape[0]
    picked = list(range(n)) if indices is None else [int(i) for i in indices]
    bad = [i for i in picked if not 0 <= i < n]
    if bad or not picked:
        raise ConfigError(
            f"export.indices: sample {bad[0] if bad else '(none)'} is not in {traj.folder} ({n} samples)",
            fix=f"pick from 0 to {n - 1}",
        )
    return picked


def trajectory_frames(
    trajectory_dir: str | Path,
    *,
    show: str = "x0",
    indices: Sequence[int] | None = None,
    nrow: int | None = None,
) -> Iterator[np.ndarray]:
    """The animation frames (H, W, C) uint8, one per recorded step plus the finished samples."""
    if show not in SHOW:
        raise ConfigError(f"export.show: unknown {show!r}", fix=f"use one of {', '.join(SHOW)}")
    traj = open_trajectory(trajectory_dir)
    picked = pick_samples(traj, indices)
    is_clip = traj.xt.ndim == 6
    frames_per_clip = traj.xt.shape[2] if is_clip else 1
    rows = traj.xt.shape[0]
    for r in range(rows + 1):
        if r < rows:
            xt, x0 = np.asarray(traj.xt[r][picked]), np.asarray(traj.x0[r][picked])
        else:
            xt = x0 = np.asarray(traj.final[picked])
        if is_clip:
            f = r % frames_per_clip
            xt, x0 = xt[:, f], x0[:, f]
        yield make_grid(panel(xt, x0, show), nrow, pad=2 if len(picked) > 1 else 0)


def export_trajectory(
    trajectory_dir: str | Path,
    out_path: str | Path,
    *,
    show: str = "x0",
    fps: float = 12.0,
    scale: int = 4,
    resample: str = "nearest",
    hold_last_s: float = 1.0,
    indices: Sequence[int] | None = None,
    nrow: int | None = None,
) -> Path:
    """Write the denoising of the chosen samples as .mp4 / .webm / .gif; returns the path."""
    frames = trajectory_frames(trajectory_dir, show=show, indices=indices, nrow=nrow)
    return write_video(frames, out_path, fps, hold_last_s=hold_last_s, scale=scale, resample=resample)
