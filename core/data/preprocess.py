"""Pixels to a square training picture: mode normalisation, crop policy, resize, difference hash.

- :func:`normalise_mode` turns any Pillow mode (palette, alpha, CMYK, 16-bit, 1-bit, float) into
  8-bit ``RGB`` or ``L``; transparency is composited over white.
- :func:`plan_crop` decides, from the picture's size alone, which part of it becomes the square
  (center crop, letterbox, random crop) and how big the result is, so the decoder can be asked for
  a reduced size before a single pixel is decoded (JPEG DCT scaling, Pillow's ``draft``).
- :func:`resize_pil` / :func:`resize_array` apply that plan to a Pillow image (antialiased Lanczos)
  or to a video frame (OpenCV area / cubic interpolation).
- :func:`dhash_pil` is the difference hash of Krawetz ("Kind of like that", 2013): 64 bits that say,
  for a 9x8 grey thumbnail, whether each cell is brighter than its left neighbour. Pictures
  that differ by resizing, re-compression or small edits differ in few bits.
- :func:`signature_pil` / :func:`signature_array` add, from the same thumbnail, a mask of the flat
  steps where the hash bit is noise, and the mean CIELAB colour of each cell of a 4x4 grid. The
  grey hash cannot tell a blue heart from a green one; two pictures are near-duplicates only when
  both their structure (:func:`structure_distance`) and their colours (:func:`colour_distance`)
  are close.
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


THUMB = (36, 32)  # width, height: 4x4 pixels per dhash cell (9x8), 9x8 per colour cell (4x4)
COLOUR_GRID = 4  # cells per side of the colour signature
# Grey levels (0..255) two neighbouring cells may differ by and still be flat: covers JPEG q75
# noise on flat emoji (missed re-saves 5 of 300 -> 0; measured 2026-12-03, docs/decisions.md).
FLAT = 2


@dataclass(frozen=True)
class Signature:
    """What near-duplicate detection compares: the grey structure and the colour of a picture."""

    dhash: int  # bit set where a cell is brighter than its left neighbour (9x8 grey thumbnail)
    flat: int  # bit set where the two differ by at most FLAT grey levels (the dhash bit is noise)
    colour: bytes  # mean CIELAB colour of each 4x4 grid cell, 48 bytes (see _lab_bytes)


def signature_pil(img: Image.Image) -> Signature:
    """The signature of an RGB or L picture (transparency already on white), from one box-filtered thumbnail."""
    return signature(np.asarray(img.resize(THUMB, Image.Resampling.BOX)))


def signature_array(frame: np.ndarray) -> Signature:
    import cv2

    return signature(cv2.resize(frame, THUMB, interpolation=cv2.INTER_AREA))


def signature(thumb: np.ndarray) -> Signature:
    """The signature of a (32, 36) or (32, 36, 1 | 3) uint8 thumbnail.

    Flat icons and scans share large even areas where "brighter than the neighbour" is decided by
    a grey level of noise: those bits flip under JPEG and agree between unrelated icons. ``flat``
    marks them so that :func:`structure_distance` ignores them.
    """
    t = thumb.astype(np.float64).reshape(THUMB[1], THUMB[0], -1)
    rgb = np.repeat(t, 3, axis=-1) if t.shape[-1] == 1 else t
    grey = np.round(_cells(rgb @ [0.299, 0.587, 0.114], 8, 9))  # ITU-R 601, as Pillow's "L"
    step = grey[:, 1:] - grey[:, :-1]
    return Signature(
        dhash=_pack(step > 0), flat=_pack(np.abs(step) <= FLAT), colour=_lab_bytes(_cells(rgb, 4, 4))
    )


def _cells(a: np.ndarray, rows: int, cols: int) -> np.ndarray:
    h, w = a.shape[:2]
    return a.reshape(rows, h // rows, cols, w // cols, *a.shape[2:]).mean(axis=(1, 3))


def _pack(bits: np.ndarray) -> int:
    return int(np.packbits(bits.ravel()).view(">u8")[0])


def dhash_pil(img: Image.Image) -> int:
    """64-bit difference hash of a picture (Krawetz): the structural half of :func:`signature_pil`."""
    return signature_pil(img).dhash


def structure_distance(
    dhash_a: np.ndarray, flat_a: np.ndarray, dhash_b: np.ndarray, flat_b: np.ndarray
) -> np.ndarray:
    """Difference-hash distance in half bits, uint64 arrays (broadcasting).

    An edge against the opposite edge counts 2, an edge against flat counts 1, flat against flat
    counts 0. With no flat bits it is twice the Hamming distance of the plain hashes.
    """
    flat_any = np.bitwise_or(flat_a, flat_b)
    edges = hamming(np.bitwise_and(np.bitwise_xor(dhash_a, dhash_b), ~flat_any), np.uint64(0))
    return 2 * edges + hamming(flat_a, flat_b)


def hamming(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Bitwise distance between uint64 hashes (broadcasting)."""
    x = np.bitwise_xor(a, b)
    if hasattr(np, "bitwise_count"):
        return np.bitwise_count(x).astype(np.int64)
    return np.unpackbits(x[..., None].view(np.uint8), axis=-1).sum(-1).astype(np.int64)


def _lab_bytes(thumb: np.ndarray) -> bytes:
    """sRGB cells (0..255) to CIELAB (D65), quantised to bytes: L*2.55, a+128, b+128."""
    c = np.asarray(thumb, np.float64) / 255.0
    linear = np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
    xyz = (
        linear
        @ np.array([[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722], [0.0193, 0.1192, 0.9505]]).T
        / np.array([0.95047, 1.0, 1.08883])
    )
    f = np.where(xyz > (6 / 29) ** 3, np.cbrt(xyz), xyz / (3 * (6 / 29) ** 2) + 4 / 29)
    lab = np.stack(
        [116 * f[..., 1] - 16, 500 * (f[..., 0] - f[..., 1]), 200 * (f[..., 1] - f[..., 2])], axis=-1
    )
    q = np.clip(np.round(lab * [2.55, 1.0, 1.0] + [0.0, 128.0, 128.0]), 0, 255).astype(np.uint8)
    return q.tobytes()


def colour_distance(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Largest CIELAB distance (Delta E 1976) over the grid cells between signatures, shape (..., 48) uint8.

    The largest cell, not the mean: a recoloured part (a blue heart turned green on a white page)
    fills a few cells, and a mean over all 16 would dilute it below re-compression noise.
    """
    cells = (a.shape[-1] // 3, 3)
    d = a.astype(np.float32).reshape(*a.shape[:-1], *cells) - b.astype(np.float32).reshape(
        *b.shape[:-1], *cells
    )
    d[..., 0] /= 2.55
    return np.sqrt((d * d).sum(-1)).max(-1)
