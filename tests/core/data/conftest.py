"""Real files for the scanner's tests: pictures (Pillow, OpenCV), videos (imageio-ffmpeg), broken ones.

Everything is tiny (tens of pixels, a few frames) so the whole area runs in seconds.
"""

from __future__ import annotations

import os
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from core.data.settings import DatasetSettings


class Maker:
    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, rel: str | bytes) -> Path:
        p = self.root / (rel if isinstance(rel, str) else os.fsdecode(rel))
        p.parent.mkdir(parents=True, exist_ok=True)
        return p

    def noise(self, h: int, w: int, seed: int = 0, channels: int = 3) -> np.ndarray:
        rng = np.random.default_rng(seed)
        shape = (h, w) if channels == 1 else (h, w, channels)
        return (rng.random(shape) * 255).astype(np.uint8)

    def image(
        self,
        rel: str,
        size: tuple[int, int] = (48, 32),
        seed: int = 0,
        fmt: str | None = None,
        **save: object,
    ) -> Path:
        w, h = size
        p = self.path(rel)
        Image.fromarray(self.noise(h, w, seed)).save(p, format=fmt, **save)
        return p

    def array_image(self, rel: str, arr: np.ndarray, fmt: str | None = None, **save: object) -> Path:
        p = self.path(rel)
        Image.fromarray(arr).save(p, format=fmt, **save)
        return p

    def video(
        self, rel: str, n: int = 20, size: tuple[int, int] = (48, 32), fps: float = 10, seed: int = 0
    ) -> Path:
        import imageio.v3 as iio

        w, h = size
        rng = np.random.default_rng(seed)
        # a bright square moving to the right over noise: frames differ, the codec has work to do
        frames = np.stack([self.noise(h, w, seed + i) // 4 for i in range(n)])
        for i in range(n):
            x = (i * 2) % (w - 8)
            frames[i, 8:16, x : x + 8] = 255
        frames[..., 2] = rng.integers(0, 60)
        p = self.path(rel)
        extra = {"codec": "libvpx-vp9"} if p.suffix == ".webm" else {}  # the default codec fails here
        iio.imwrite(p, frames, fps=fps, extension=p.suffix, **extra)
        return p

    def huge_png(self, rel: str, width: int, height: int) -> Path:
        """A valid-looking PNG whose header declares width x height, with almost no pixel data."""

        def chunk(kind: bytes, data: bytes) -> bytes:
            return (
                struct.pack(">I", len(data))
                + kind
                + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
            )

        ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
        data = (
            b"\x89PNG\r\n\x1a\n"
            + chunk(b"IHDR", ihdr)
            + chunk(b"IDAT", zlib.compress(b"\x00" * 64))
            + chunk(b"IEND", b"")
        )
        p = self.path(rel)
        p.write_bytes(data)
        return p


@pytest.fixture
def make(tmp_path: Path) -> Maker:
    return Maker(tmp_path / "drop")


@pytest.fixture
def cache_root(tmp_path: Path) -> Path:
    return tmp_path / "workspace" / "datasets"


@pytest.fixture
def s16() -> DatasetSettings:
    """16 px, in-process decoding: the settings most tests start from."""
    return DatasetSettings(resolution=16, workers=1)
