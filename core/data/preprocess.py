"""Pixels to a square training picture: mode normalisation, crop policy, resize, difference hash.

- :func:`normalise_mode` turns any Pillow mode (palette, alpha, CMYK, 16-bit, 1-bit, float) into
  8-bit ``RGB`` or ``L``; transparency is composited over white.
- :func:`plan_crop` decides, from the picture's size alone, which part of it becomes the square
  (center crop, letterbox, random crop) and how big the result is, so the decoder can be asked for
  a reduced size before a single pixel is decoded (JPEG DCT scaling, Pillow's ``draft``).
- :func:`resize_pil` / :func:`resize_array` apply that plan to a Pillow image (antialiased Lanczos)
  or to a video frame (OpenCV area / cubic interpolation).
- :func:`dhash` is the difference hash of Krawetz ("Kind of like that", 2013): 64 bits that say,
  for a 9x8 grey thumbnail, whether each pixel is brighter than its right neighbour. Pictures
  that differ by resizing, re-compression or small edits differ in few bits.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from PIL import Image

WHITE = 255


@dataclass(frozen=True)
class CropPlan:
    box: tuple[float, float, float, float]  # region of the (oriented) source, in its pixels
    out: tuple[int, int]  # size the region is resized to
    offset: tuple[int, int]  # where it is pasted on the res x res canvas (letterbox)
    res: int
    upscale: bool  # the region is smaller than the output


def source_extent(width: int, height: int, crop: str) -> int:
    """The side that must reach the training resolution: the short side, or the long one for letterbox."""
    return max(width, height) if crop == "letterbox" else min(width, height)


def plan_crop(
    width: int, height: int, res: int, crop: str, rng: np.random.Generator | None = None
) -> CropPlan:
    if crop == "letterbox":
        scale = res / max(width, height)
        ow, oh = max(1, round(width * scale)), max(1, round(height * scale))
        return CropPlan(
            (0.0, 0.0, float(width), float(height)),
            (ow, oh),
            ((res - ow) // 2, (res - oh) // 2),
            res,
            scale > 1,
        )
    short = min(width, height)
    if crop == "random":
        rng = rng if rng is not None else np.random.default_rng(0)
        side = max(min(short, res), short * float(rng.uniform(0.8, 1.0)))
        left = float(rng.uniform(0, width - side))
        top = float(rng.uniform(0, height - side))
    else:
        side = float(short)
        left, top = (width - side) / 2, (height - side) / 2
    return CropPlan((left, top, left + side, top + side), (res, res), (0, 0), res, side < res)


def draft_size(plan: CropPlan, width: int, height: int) -> tuple[int, int]:
    """The smallest whole-picture size that still gives ``plan.out`` pixels from ``plan.box``."""
    bw = plan.box[2] - plan.box[0]
    scale = min(1.0, plan.out[0] / bw)
    return max(1, math.ceil(width * scale)), max(1, math.ceil(height * scale))


def _scaled_box(plan: CropPlan, sx: float, sy: float) -> tuple[float, float, float, float]:
    left, top, right, bottom = plan.box
    return left * sx, top * sy, right * sx, bottom * sy


def resize_pil(img: Image.Image, plan: CropPlan, full_size: tuple[int, int]) -> np.ndarray:
    """Apply ``plan`` (made for ``full_size``) to ``img`` (maybe a reduced decode). Returns (res, res, C) uint8."""
    sx, sy = img.width / full_size[0], img.height / full_size[1]
    # reducing_gap=2 (as Image.thumbnail): a box reduction to twice the size first, then Lanczos;
    # about half the time of a plain Lanczos from a 1/8-size JPEG decode, with no visible difference.
    out = img.resize(plan.out, Image.Resampling.LANCZOS, box=_scaled_box(plan, sx, sy), reducing_gap=2.0)
    arr = np.asarray(out)
    if arr.ndim == 2:
        arr = arr[..., None]
    return _paste(arr, plan)


def resize_array(frame: np.ndarray, plan: CropPlan) -> np.ndarray:
    """Apply ``plan`` to an (H, W, C) uint8 frame of the full size the plan was made for."""
    import cv2

    left, top, right, bottom = (round(v) for v in plan.box)
    region = frame[top:bottom, left:right]
    interp = cv2.INTER_CUBIC if plan.upscale else cv2.INTER_AREA
    out = cv2.resize(region, plan.out, interpolation=interp)
    if out.ndim == 2:
        out = out[..., None]
    return _paste(out, plan)


def _paste(arr: np.ndarray, plan: CropPlan) -> np.ndarray:
    if arr.shape[:2] == (plan.res, plan.res):
        return np.ascontiguousarray(arr)
    canvas = np.zeros((plan.res, plan.res, arr.shape[2]), np.uint8)
    ox, oy = plan.offset
    canvas[oy : oy + arr.shape[0], ox : ox + arr.shape[1]] = arr
    return canvas


def _over_white(img: Image.Image, mode: str) -> Image.Image:
    rgba = img.convert("LA" if mode == "L" else "RGBA")
    background = Image.new(rgba.mode, rgba.size, (WHITE, 255) if mode == "L" else (WHITE, WHITE, WHITE, 255))
    return Image.alpha_composite(background, rgba).convert(mode)


def normalise_mode(img: Image.Image) -> tuple[Image.Image, str | None]:
    """8-bit RGB or L, and a note on what was converted (None when nothing was)."""
    mode = img.mode
    if mode in ("RGB", "L"):
        return img, None
    if mode == "1":
        return img.convert("L"), None
    if mode in ("LA", "La"):
        return _over_white(img, "L"), "transparency composited over white"
    if mode in ("RGBA", "RGBa", "PA"):
        return _over_white(img, "RGB"), "transparency composited over white"
    if mode == "P":
        if "transparency" in img.info:
            return _over_white(img, "RGB"), "transparency composited over white"
        return img.convert("RGB"), None
    if mode.startswith("I") or mode == "F":
        arr = np.asarray(img)
        if arr.dtype.kind == "f":
            arr = arr * 255.0 if float(np.nanmax(arr, initial=0.0)) <= 1.0 else arr
        elif int(arr.max(initial=0)) > 255:  # 16-bit samples
            arr = arr / 257.0
        arr = np.clip(np.nan_to_num(arr), 0, 255).round().astype(np.uint8)
        return Image.fromarray(arr, "L"), "16-bit samples reduced to 8 bits"
    if mode == "CMYK":
        return img.convert("RGB"), "CMYK converted to RGB"
    return img.convert("RGB"), f"{mode} converted to RGB"


def is_grey(arr: np.ndarray, tolerance: int = 2) -> bool:
    """One channel, or three that agree within ``tolerance`` (a grey scan saved as RGB)."""
    if arr.shape[-1] == 1:
        return True
    a = arr.astype(np.int16)
    return bool(
        np.abs(a[..., 0] - a[..., 1]).max() <= tolerance and np.abs(a[..., 1] - a[..., 2]).max() <= tolerance
    )


def dhash_pil(img: Image.Image) -> int:
    return dhash_grey(np.asarray(img.convert("L").resize((9, 8), Image.Resampling.BOX), dtype=np.int16))


def dhash_array(frame: np.ndarray) -> int:
    import cv2

    grey = frame[..., 0] if frame.shape[-1] == 1 else cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)
    return dhash_grey(cv2.resize(grey, (9, 8), interpolation=cv2.INTER_AREA).astype(np.int16))


def dhash_grey(thumb: np.ndarray) -> int:
    """64-bit difference hash of a (8, 9) grey thumbnail: bit set where a pixel is brighter than its right neighbour."""
    bits = (thumb[:, 1:] > thumb[:, :-1]).ravel()
    return int(np.packbits(bits).view(">u8")[0])


def hamming(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Bitwise distance between uint64 hashes (broadcasting)."""
    x = np.bitwise_xor(a, b)
    if hasattr(np, "bitwise_count"):
        return np.bitwise_count(x).astype(np.int64)
    return np.unpackbits(x[..., None].view(np.uint8), axis=-1).sum(-1).astype(np.int64)
