"""Image sets for the metrics: folders read through core.data, and sets brought to one shape.

A folder is scanned by :func:`core.data.scan.scan_folder` (the same decoding, cropping and
one-line rejection reasons as training), into a cache root the caller gives. Sets compared
with each other are brought to the same resolution and channel count here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from core.errors import DataError


def match_images(images: np.ndarray, resolution: int, channels: int) -> np.ndarray:
    """uint8 (..., H, W, C) -> (..., resolution, resolution, channels): bilinear antialiased resize,
    grey <-> RGB by luminance / repetition, alpha dropped."""
    arr = np.asarray(images)
    lead = arr.shape[:-3]
    h, w, c = arr.shape[-3:]
    flat = arr.reshape(-1, h, w, c)
    if c == 4:
        flat, c = flat[..., :3], 3
    if c != channels:
        if channels == 1:
            lum = flat.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)
            flat = np.clip(np.rint(lum), 0, 255).astype(np.uint8)[..., None]
        else:
            flat = np.repeat(flat, channels, axis=-1)
    if h != resolution or w != resolution:
        t = torch.from_numpy(np.ascontiguousarray(flat)).permute(0, 3, 1, 2).float()
        t = F.interpolate(t, size=(resolution, resolution), mode="bilinear", antialias=True)
        flat = t.round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).numpy()
    return np.ascontiguousarray(flat.reshape(*lead, resolution, resolution, channels))


def as_frames(images: np.ndarray) -> np.ndarray:
    """Clips (N, T, H, W, C) as their frames (N*T, H, W, C); images unchanged."""
    arr = np.asarray(images)
    return arr.reshape(-1, *arr.shape[-3:]) if arr.ndim == 5 else arr


def read_folder(folder: str | Path, resolution: int, *, cache_root: Path, **settings: Any) -> np.ndarray:
    """Every usable picture in ``folder`` as uint8 (N, R, R, C) (pictures smaller than R are upscaled)."""
    from core.data.scan import scan_folder
    from core.data.settings import DatasetSettings

    folder = Path(folder)
    if not folder.exists():
        raise DataError(f"{folder}: no such folder", fix="pass a folder of pictures")
    s = DatasetSettings(resolution=resolution, small_policy="upscale", dataset_kind="image", **settings)
    result = scan_folder(folder, s, cache_root=Path(cache_root))
    return np.asarray(result.open().array)


def compare_folders(
    folder_a: str | Path,
    folder_b: str | Path,
    *,
    resolution: int = 64,
    cache_root: Path,
    extractor: Any = None,
    kid_subsets: int = 100,
) -> dict[str, Any]:
    """SWD, FD and KID between two folders of pictures (``folder_a`` is the reference)."""
    from core.metrics.features import default_extractor
    from core.metrics.frechet import frechet_distance, kid
    from core.metrics.swd import swd

    a = read_folder(folder_a, resolution, cache_root=cache_root)
    b = read_folder(folder_b, resolution, cache_root=cache_root)
    channels = max(a.shape[-1], b.shape[-1])
    a, b = match_images(a, resolution, channels), match_images(b, resolution, channels)
    out: dict[str, Any] = {"a": str(folder_a), "b": str(folder_b), "n_a": len(a), "n_b": len(b)}
    out["resolution"] = resolution
    out.update(swd(a, b).to_dict())
    if len(a) >= 2 and len(b) >= 2:
        ext = extractor or default_extractor()
        fa, fb = ext(a), ext(b)
        k = kid(fa, fb, subsets=kid_subsets)
        out.update({"features": ext.name, "fd": frechet_distance(fa, fb), "kid": k.mean, "kid_std": k.std})
    return out
