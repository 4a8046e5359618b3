"""PNG files that carry their sampling parameters in text chunks (tEXt), written atomically.

Each parameter is one chunk (``model``, ``sampler``, ``steps``, ``seed``, ``index``, ...), readable
by any PNG tool; :func:`read_png_params` gives them back as strings.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, PngImagePlugin

from core.errors import NoisebloomError
from core.fsutil import atomic_write_bytes


def _as_pil(image_u8: np.ndarray) -> Image.Image:
    a = np.asarray(image_u8)
    if a.dtype != np.uint8 or a.ndim not in (2, 3) or (a.ndim == 3 and a.shape[-1] not in (1, 3, 4)):
        raise ValueError(f"expected a uint8 (H, W[, 1|3|4]) image, got {a.dtype} {a.shape}")
    if a.ndim == 3 and a.shape[-1] == 1:
        a = a[..., 0]
    return Image.fromarray(np.ascontiguousarray(a))


def png_bytes(image_u8: np.ndarray, params: Mapping[str, Any] | None = None) -> bytes:
    info = PngImagePlugin.PngInfo()
    for key, value in (params or {}).items():
        info.add_text(str(key), value if isinstance(value, str) else _text(value))
    buf = io.BytesIO()
    _as_pil(image_u8).save(buf, format="PNG", pnginfo=info, compress_level=4)
    return buf.getvalue()


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def write_png(path: str | Path, image_u8: np.ndarray, params: Mapping[str, Any] | None = None) -> Path:
    """Write ``image_u8`` (H, W) or (H, W, 1|3|4) to ``path`` with ``params`` as text chunks."""
    path = Path(path)
    atomic_write_bytes(path, png_bytes(image_u8, params))
    return path


def read_png_params(path: str | Path) -> dict[str, str]:
    """The text chunks of a PNG file, as a dict of strings."""
    try:
        with Image.open(path) as im:
            im.load()
            return {str(k): str(v) for k, v in getattr(im, "text", {}).items()}
    except (OSError, SyntaxError) as e:
        raise NoisebloomError(
            f"{path}: cannot read it as a PNG ({e})", fix="pass a PNG written by Noisebloom"
        ) from None
