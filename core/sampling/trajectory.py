"""Trajectory recording: every step's x_t and predicted x0 as uint8, on disk, for scrubbing and export.

A trajectory folder holds ``trajectory.json`` (what was sampled and which steps were kept),
``xt.npy`` and ``x0.npy`` (uint8, channels last: (R, N, H, W, C) for images, (R, N, T, H, W, C)
for clips, R recorded steps of N samples), ``final.npy`` (the N finished samples, uint8) and
``state.npy`` (float16 x_t in model range, (R, N, C, H, W) or (R, N, T, C, H, W)) from which a
branch continues. All arrays are plain ``.npy`` files opened as memory maps, so a GUI can scrub a
1,000-step run without loading it. Beyond ``max_frames`` steps a stride keeps ``max_frames`` of
them, always including the first and the last.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from core.errors import NoisebloomError
from core.media.pixels import to_uint8 as array_to_uint8

# No torch here, not even for annotations: the window (desktop/) and export read trajectories
# through this module. The writer takes torch tensors (``Tensor`` below) without importing torch.
Tensor = Any

FORMAT = 1


def recorded_steps(n: int, max_frames: int) -> list[int]:
    """The step indices kept out of ``n``: all of them, or ``max_frames`` evenly spread."""
    if n <= max_frames:
        return list(range(n))
    return sorted({round(i * (n - 1) / (max_frames - 1)) for i in range(max_frames)})


def tensor_to_uint8(x: Tensor) -> np.ndarray:
    """A torch tensor in [-1, 1], channels before the last two axes -> uint8 channels-last numpy
    (:func:`core.media.pixels.to_uint8` on the tensor's float32 values)."""
    return array_to_uint8(x.detach().float().cpu().numpy())


class TrajectoryWriter:
    """Fills the arrays of a trajectory folder as steps arrive; ``close(meta)`` writes trajectory.json."""

    def __init__(self, folder: Path, n_steps: int, num: int, sample_shape: tuple[int, ...], max_frames: int):
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.steps = recorded_steps(n_steps, max_frames)
        self.row = {s: r for r, s in enumerate(self.steps)}
        self.n_steps = n_steps
        self.t = [0.0] * len(self.steps)
        self.sigma = [0.0] * len(self.steps)
        c, h, w = sample_shape[-3:]
        u8_shape = (len(self.steps), num, *sample_shape[:-3], h, w, c)
        mm = np.lib.format.open_memmap
        self.xt = mm(self.folder / "xt.npy", mode="w+", dtype=np.uint8, shape=u8_shape)
        self.x0 = mm(self.folder / "x0.npy", mode="w+", dtype=np.uint8, shape=u8_shape)
        self.final = mm(self.folder / "final.npy", mode="w+", dtype=np.uint8, shape=u8_shape[1:])
        self.state = mm(
            self.folder / "state.npy",
            mode="w+",
            dtype=np.float16,
            shape=(len(self.steps), num, *sample_shape),
        )

    def wants(self, step: int) -> bool:
        return step in self.row

    def record(self, step: int, t: float, sigma: float, x_t: Tensor, x0: Tensor, rows: slice) -> None:
        r = self.row[step]
        self.t[r], self.sigma[r] = t, sigma
        self.xt[r, rows] = tensor_to_uint8(x_t)
        self.x0[r, rows] = tensor_to_uint8(x0)
        self.state[r, rows] = x_t.detach().cpu().numpy().astype(np.float16)

    def record_final(self, x: Tensor, rows: slice) -> None:
        self.final[rows] = tensor_to_uint8(x)

    def close(self, meta: dict[str, Any]) -> None:
        for a in (self.xt, self.x0, self.final, self.state):
            a.flush()
        doc = {"format": FORMAT, **meta, "n_steps": self.n_steps, "steps": self.steps, "t": self.t}
        doc["sigma"] = self.sigma
        (self.folder / "trajectory.json").write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
        del self.xt, self.x0, self.final, self.state


@dataclass
class Trajectory:
    """A recorded trajectory, arrays memory-mapped read-only (export and the window's scrubber read it)."""

    folder: Path
    meta: dict[str, Any]
    xt: np.ndarray
    x0: np.ndarray
    final: np.ndarray

    @property
    def steps(self) -> list[int]:
        """The sampling steps that were recorded, one per row of ``xt`` / ``x0``."""
        return [int(s) for s in self.meta["steps"]]

    @property
    def n_steps(self) -> int:
        """The steps of the run (more than ``len(steps)`` where a stride kept only some)."""
        return int(self.meta.get("n_steps", len(self.steps)))

    def __len__(self) -> int:
        return len(self.meta["steps"])

    @property
    def num(self) -> int:
        """Samples in the run."""
        return int(self.xt.shape[1])

    @property
    def is_clip(self) -> bool:
        return self.xt.ndim == 6

    @property
    def frames(self) -> int:
        """Frames per clip (1 for images)."""
        return int(self.xt.shape[2]) if self.is_clip else 1

    def frame(self, row: int, which: str = "x0") -> np.ndarray:
        """uint8 (N, H, W, C) (or (N, T, H, W, C) for clips) of recorded row ``row`` (clamped)."""
        arr = self.x0 if which == "x0" else self.xt
        return np.asarray(arr[max(0, min(row, len(self) - 1))])

    def state(self) -> np.ndarray:
        return np.load(self.folder / "state.npy", mmap_mode="r")


def open_trajectory(folder: str | Path) -> Trajectory:
    """Open a trajectory folder (the folder itself, or a sample folder holding ``trajectory/``)."""
    folder = Path(folder)
    if not (folder / "trajectory.json").is_file() and (folder / "trajectory" / "trajectory.json").is_file():
        folder = folder / "trajectory"
    try:
        meta = json.loads((folder / "trajectory.json").read_text(encoding="utf-8"))
        arrays = [np.load(folder / f"{name}.npy", mmap_mode="r") for name in ("xt", "x0", "final")]
    except FileNotFoundError:
        raise NoisebloomError(
            f"{folder}: not a trajectory folder (no trajectory.json / xt.npy)",
            fix="sample with --trajectory and pass its output folder",
        ) from None
    except (ValueError, json.JSONDecodeError) as e:
        raise NoisebloomError(f"{folder}: trajectory files are damaged ({e})", fix="sample again") from None
    if meta.get("format", 0) > FORMAT:
        raise NoisebloomError(f"{folder}: trajectory format {meta['format']} is newer than this Noisebloom")
    return Trajectory(folder, meta, *arrays)
