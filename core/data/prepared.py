"""A prepared dataset: the preprocessed uint8 cache that training reads.

On disk (``datasets/<id>/`` in the workspace, or any folder):

- ``prepared.json``: ``{"format": 1, "kind": "image"|"clip", "shape": [...], "fps": float|null,
  "train": [indices], "val": [indices], "flip": bool, "items": [source of each row]}``
- ``data.u8``: the raw uint8 array, C order, shape ``(N, H, W, C)`` for images and
  ``(N, T, H, W, C)`` for clips, opened as a read-only ``numpy.memmap`` so training never holds
  a large folder in memory.

``PreparedDataset.from_array`` builds the same object in memory (tests, benchmarks).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from core.errors import DataError
from core.fsutil import atomic_write_text

FORMAT = 1
META_NAME = "prepared.json"
DATA_NAME = "data.u8"


def split_indices(
    n: int, val_fraction: float = 0.1, seed: int = 0, max_val: int = 256
) -> tuple[np.ndarray, np.ndarray]:
    """Deterministic train / held-out split. Below 10 items everything trains and nothing is held out."""
    idx = np.random.default_rng(seed).permutation(n)
    n_val = 0 if n < 10 else min(max_val, max(1, round(n * val_fraction)))
    return np.sort(idx[n_val:]).astype(np.int64), np.sort(idx[:n_val]).astype(np.int64)


@dataclass
class PreparedDataset:
    array: np.ndarray
    kind: Literal["image", "clip"] = "image"
    train_indices: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    val_indices: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    fps: float | None = None
    flip: bool = False
    items: list[str] = field(default_factory=list)
    path: Path | None = None

    def __post_init__(self) -> None:
        want = 4 if self.kind == "image" else 5
        if self.array.dtype != np.uint8 or self.array.ndim != want:
            raise DataError(
                f"prepared {self.kind} data must be uint8 with {want} dimensions, got "
                f"{self.array.dtype} {tuple(self.array.shape)}"
            )
        if len(self.array) == 0:
            raise DataError(
                "the dataset is empty: nothing to train on", fix="add pictures or clips to the folder"
            )

    # --- shape -------------------------------------------------------------------------
    def __len__(self) -> int:
        return int(self.array.shape[0])

    @property
    def resolution(self) -> int:
        return int(self.array.shape[-2])

    @property
    def channels(self) -> int:
        return int(self.array.shape[-1])

    @property
    def frames(self) -> int | None:
        return int(self.array.shape[1]) if self.kind == "clip" else None

    # --- construction --------------------------------------------------------------------
    @classmethod
    def from_array(
        cls,
        array: np.ndarray,
        kind: Literal["image", "clip"] = "image",
        *,
        val_fraction: float = 0.1,
        seed: int = 0,
        fps: float | None = None,
        flip: bool = False,
    ) -> PreparedDataset:
        array = np.ascontiguousarray(array, dtype=np.uint8)
        if array.ndim == (3 if kind == "image" else 4):  # grayscale without a channel axis
            array = array[..., None]
        train, val = split_indices(len(array), val_fraction, seed)
        return cls(array=array, kind=kind, train_indices=train, val_indices=val, fps=fps, flip=flip)

    def save(self, folder: str | Path) -> None:
        """Write ``data.u8`` then ``prepared.json`` (the json last: its presence marks a complete cache)."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        tmp = folder / f".{DATA_NAME}.tmp"
        mm = np.memmap(tmp, dtype=np.uint8, mode="w+", shape=self.array.shape)
        mm[:] = self.array
        mm.flush()
        del mm
        tmp.replace(folder / DATA_NAME)
        atomic_write_text(folder / META_NAME, json.dumps(self.meta(), indent=1) + "\n")
        self.path = folder

    def meta(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "kind": self.kind,
            "shape": [int(s) for s in self.array.shape],
            "fps": self.fps,
            "flip": self.flip,
            "train": [int(i) for i in self.train_indices],
            "val": [int(i) for i in self.val_indices],
            "items": list(self.items),
        }

    @classmethod
    def open(cls, folder: str | Path) -> PreparedDataset:
        folder = Path(folder)
        meta_path = folder / META_NAME
        if not meta_path.is_file():
            raise DataError(
                f"{folder}: not a prepared dataset (no {META_NAME})",
                fix="scan the folder first: noisebloom dataset scan FOLDER",
            )
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        if meta.get("format") != FORMAT:
            raise DataError(
                f"{meta_path}: unknown cache format {meta.get('format')!r}", fix="scan the folder again"
            )
        shape = tuple(meta["shape"])
        array = np.memmap(folder / DATA_NAME, dtype=np.uint8, mode="r", shape=shape)
        return cls(
            array=array,
            kind=meta["kind"],
            train_indices=np.asarray(meta["train"], dtype=np.int64),
            val_indices=np.asarray(meta["val"], dtype=np.int64),
            fps=meta.get("fps"),
            flip=bool(meta.get("flip", False)),
            items=list(meta.get("items", [])),
            path=folder,
        )
