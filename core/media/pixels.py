"""Model-range pixels to uint8 pictures."""

from __future__ import annotations

import numpy as np


def to_uint8(x: np.ndarray) -> np.ndarray:
    """float in [-1, 1], channels before the last two axes -> uint8 channels-last:
    (..., C, H, W) -> (..., H, W, C). Values outside [-1, 1] are clipped; halves round to even."""
    y = np.asarray(x, dtype=np.float32)
    y = np.round((np.clip(y, -1.0, 1.0) + 1.0) * 127.5).astype(np.uint8)
    return np.moveaxis(y, -3, -1)
