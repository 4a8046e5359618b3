from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image


def make_folder(root: Path, n: int = 24, size: int = 24, broken: bool = True) -> Path:
    """Blobs on a dark background: a tiny dataset with real PNGs, plus one broken file."""
    root.mkdir(parents=True, exist_ok=True)
    yy, xx = np.mgrid[:size, :size]
    span = size - 12
    for k in range(n):  # distinct centres: no two pictures are duplicates
        cy, cx = 6 + (k * 7) % span, 6 + (k * 5 + k // span) % span
        img = (255 * np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / 18.0)).astype(np.uint8)
        Image.fromarray(np.stack([img, img // 2, 255 - img], -1)).save(root / f"blob_{k:03d}.png")
    if broken:
        (root / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 this is not really a jpeg")
    return root


@pytest.fixture
def image_folder(tmp_path) -> Path:
    return make_folder(tmp_path / "pictures")
