"""One file in, one verdict out: the work each scan process does for a single picture or video.

:func:`process` never raises for a bad file: it returns a :class:`FileResult` that either holds the
preprocessed uint8 rows (one per image, or one per clip / frame of a video) or a one-line reason a
person can act on. Speed comes from never decoding at full size: the crop plan is made from the
header alone, then a JPEG is decoded with DCT scaling (Pillow ``draft``, 1/2 to 1/8 size) and
everything else is resized with an antialiasing filter. Videos are read with OpenCV, one frame at a
time, each resized at once; when OpenCV reads nothing or stops before the frames the header promises,
imageio-ffmpeg reads the file again and the longer result is kept.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import tempfile
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from PIL import Image, ImageOps

from core.data.discover import NO_PERMISSION, display_name
from core.data.preprocess import (
    CropPlan,
    Signature,
    draft_size,
    is_grey,
    normalise_mode,
    plan_crop,
    resize_array,
    resize_pil,
    signature_array,
    signature_pil,
    source_extent,
)
from core.data.result import (
    NO_READ_PERMISSION,
    OVER_PIXEL_BUDGET,
    TOO_SHORT_FOR_A_CLIP,
    TOO_SMALL,
    UNDECODABLE_VIDEO,
)
from core.data.settings import DatasetSettings

# Pillow refuses pictures over about 179 MP on its own, whatever the scan's pixel_budget says; the
# scan checks the budget itself from the header, before decoding, so that check is the one limit.
Image.MAX_IMAGE_PIXELS = None

# Quiet OpenCV's and libav's own logging (they print to stderr for every damaged frame).
os.environ.setdefault("OPENCV_LOG_LEVEL", "OFF")
os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")

READ_WHOLE_LIMIT = 64 * 1024 * 1024  # bigger pictures are hashed in chunks and decoded from disk
FIX_REEXPORT = "re-export it or remove it from the folder"
FIX_CONVERT_VIDEO = "convert it to H.264 MP4 (ffmpeg -i IN -c:v libx264 OUT.mp4) or remove it"


@dataclass
class Task:
    path: str
    name: str
    role: str  # "image" | "clip" | "frames"
    fmt: str  # sniffed format
    settings: DatasetSettings


@dataclass
class FileResult:
    path: str
    name: str
    ok: bool
    reason: str | None = None  # one line naming the file, when not ok
    code: str = ""  # the kind of refusal (core.data.result), when not ok
    sha256: str | None = None
    signature: Signature | None = None  # grey structure and colour, for near-duplicates
    rows: np.ndarray | None = None  # (n, H, W, 3) or (n, T, H, W, 3) uint8
    row_starts: list[int] = field(default_factory=list)  # first source frame of each row (videos)
    grey: bool = False
    warnings: list[str] = field(default_factory=list)
    info: dict[str, Any] = field(default_factory=dict)  # width, height, format, mode, frames, fps, codec


class Rejected(Exception):
    """Internal: the file is refused; the message is the problem and its fix, ``code`` its kind."""

    def __init__(self, problem: str, code: str = "") -> None:
        super().__init__(problem)
        self.code = code


def reject(name: str, problem: str, code: str = "", **info: Any) -> FileResult:
    reason = f"{display_name(name)}: {problem}"
    return FileResult(path="", name=name, ok=False, reason=reason, code=code, info=info)


def process(task: Task) -> FileResult:
    """Validate and preprocess one file; any failure becomes a rejection, never an exception."""
    try:
        if task.role == "image":
            result = _process_image(task)
        elif task.fmt == "gif":
            result = _process_gif_clip(task)
        else:
            result = _process_video(task)
    except Rejected as e:
        result = reject(task.name, str(e), e.code)
    except MemoryError:
        result = reject(task.name, f"is too large to decode in the memory available; {FIX_REEXPORT}")
    except Exception as e:  # a decoder failing in a way we did not foresee: still one line, still the file
        result = reject(task.name, f"could not be decoded ({type(e).__name__}: {_short(e)}); {FIX_REEXPORT}")
    result.path = task.path
    return result


def _short(e: BaseException, limit: int = 120) -> str:
    text = " ".join(str(e).split()) or type(e).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."


# --- files ---------------------------------------------------------------------------------------
def _read(path: str, size_hint: int) -> tuple[bytes | None, str]:
    """The file's bytes (None when too big to hold) and its SHA-256."""
    try:
        with open(path, "rb") as f:
            if size_hint <= READ_WHOLE_LIMIT:
                data = f.read()
                return data, hashlib.sha256(data).hexdigest()
            h = hashlib.sha256()
            for chunk in iter(lambda: f.read(8 << 20), b""):
                h.update(chunk)
            return None, h.hexdigest()
    except PermissionError:
        raise Rejected(NO_PERMISSION, NO_READ_PERMISSION) from None
    except OSError as e:
        raise Rejected(f"cannot be read ({e.strerror}); check the disk or remove it") from None


def _bomb(width: int, height: int, budget: int) -> Rejected:
    return Rejected(
        f"declares {width}x{height} pixels ({width * height / 1e6:.0f} MP), over the "
        f"{budget / 1e6:g} MP budget; refused without decoding it (raise pixel_budget if the picture is genuine)",
        OVER_PIXEL_BUDGET,
    )


def _too_small(width: int, height: int, s: DatasetSettings) -> Rejected:
    side = "long" if s.crop == "letterbox" else "short"
    return Rejected(
        f"is {width}x{height} px, its {side} side is smaller than the {s.resolution} px training resolution; "
        "use a lower resolution, or allow upscaling (--small upscale)",
        TOO_SMALL,
    )


def _seed(sha: str, s: DatasetSettings) -> np.random.Generator:
    return np.random.default_rng([int(sha[:16], 16), s.seed])


def _plan(width: int, height: int, sha: str, s: DatasetSettings) -> tuple[CropPlan, list[str]]:
    notes: list[str] = []
    if source_extent(width, height, s.crop) < s.resolution:
        if s.small_policy == "reject":
            raise _too_small(width, height, s)
        notes.append(f"is {width}x{height} px, upscaled to {s.resolution} px (it will look soft)")
    return plan_crop(width, height, s.resolution, s.crop, _seed(sha, s)), notes


# --- still images --------------------------------------------------------------------------------
_ORIENTATION_SWAPS = {5, 6, 7, 8}


def _open_image(task: Task, data: bytes | None) -> Image.Image:
    s = task.settings
    source: Any = io.BytesIO(data) if data is not None else task.path
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            img = Image.open(source)
    except Image.DecompressionBombError as e:
        m = re.search(r"\((\d+) pixels\)", str(e))
        pixels = int(m.group(1)) if m else 0
        raise Rejected(
            f"declares {pixels / 1e6:.0f} MP, over the {s.pixel_budget / 1e6:g} MP budget; "
            "refused without decoding it (raise pixel_budget if the picture is genuine)",
            OVER_PIXEL_BUDGET,
        ) from None
    except Image.UnidentifiedImageError:
        ext = os.path.splitext(task.name)[1].lower() or "(no extension)"
        raise Rejected(
            f"is a {task.fmt.upper()} file this build cannot decode despite its {ext} extension; {FIX_REEXPORT}"
        ) from None
    if img.width * img.height > s.pixel_budget:
        raise _bomb(img.width, img.height, s.pixel_budget)
    return img


def _orientation(img: Image.Image) -> int:
    try:
        return int(img.getexif().get(0x0112, 1) or 1)
    except Exception:
        return 1


def _process_image(task: Task) -> FileResult:
    s = task.settings
    data, sha = _read(task.path, os.path.getsize(task.path))
    img = _open_image(task, data)
    stored_w, stored_h = img.size
    orientation = _orientation(img)
    width, height = (stored_h, stored_w) if orientation in _ORIENTATION_SWAPS else (stored_w, stored_h)
    info: dict[str, Any] = {
        "width": width,
        "height": height,
        "format": (img.format or task.fmt).lower(),
        "mode": img.mode,
    }
    if getattr(img, "n_frames", 1) > 1:
        info["frames"] = int(img.n_frames)
    plan, notes = _plan(width, height, sha, s)
    if img.format in ("JPEG", "MPO"):
        want_w, want_h = draft_size(plan, width, height)
        if orientation in _ORIENTATION_SWAPS:
            want_w, want_h = want_h, want_w
        img.draft(None, (want_w, want_h))  # DCT scaling: decode at 1/2..1/8 size, never at full size
        config = getattr(img, "decoderconfig", None)
        if isinstance(config, tuple) and len(config) == 2 and config[0] > 1:
            # (scale, draft): draft=1 asks libjpeg for its fastest IDCT and plain chroma upsampling,
            # about 10% less time per photo and invisible after the downscale that follows.
            img.decoderconfig = (config[0], 1)
    try:
        img.load()
    except OSError as e:
        raise Rejected(f"has truncated or corrupt image data ({_short(e, 60)}); {FIX_REEXPORT}") from None
    except (SyntaxError, ValueError, EOFError, IndexError, TypeError) as e:
        raise Rejected(f"has corrupt image data ({_short(e, 60)}); {FIX_REEXPORT}") from None
    if orientation != 1:
        try:
            img = ImageOps.exif_transpose(img)
        except Exception:
            notes.append("its EXIF orientation could not be applied")
    img, note = normalise_mode(img)
    if note:
        notes.append(note)
    row = resize_pil(img, plan, (width, height))
    grey = is_grey(row)
    if row.shape[-1] == 1:
        row = np.repeat(row, 3, axis=-1)
    return FileResult(
        path=task.path,
        name=task.name,
        ok=True,
        sha256=sha,
        signature=signature_pil(img),
        rows=row[None],
        row_starts=[0],
        grey=grey,
        warnings=[f"{display_name(task.name)}: {n}" for n in notes if "upscaled" in n or "EXIF" in n],
        info=info,
    )


# --- videos and animated GIFs --------------------------------------------------------------------
def _wanted_indices(s: DatasetSettings, role: str, fps: float) -> tuple[list[int], int]:
    """Source frame indices to keep (in order) and how many frames make one row."""
    if role == "clip":
        span = s.clip_frames * s.clip_stride
        idx = [
            c * span + k * s.clip_stride for c in range(s.max_clips_per_video) for k in range(s.clip_frames)
        ]
        return idx, s.clip_frames
    step = max(1, round((fps or 25.0) / s.frames_per_second))
    return [i * step for i in range(s.max_clips_per_video * s.clip_frames)], 1


def _ascii_path(path: str) -> tuple[str, str | None]:
    """A path OpenCV and ffmpeg can take: non-ASCII names get an ASCII symlink (removed by the caller)."""
    if path.isascii():
        return path, None
    tmpdir = tempfile.mkdtemp(prefix="noisebloom-")
    link = os.path.join(tmpdir, "video" + os.path.splitext(path)[1].encode("ascii", "ignore").decode())
    os.symlink(path, link)
    return link, tmpdir


class _VideoInfo:
    def __init__(self, width: int, height: int, fps: float, frames: int, codec: str) -> None:
        self.width, self.height, self.fps, self.frames, self.codec = width, height, fps, frames, codec


def _open_cv2(path: str) -> tuple[Any, _VideoInfo] | None:
    import cv2

    cap = cv2.VideoCapture(path)
    if not cap.isOpened():
        cap.release()
        return None
    fourcc = int(cap.get(cv2.CAP_PROP_FOURCC)) & 0xFFFFFFFF
    codec = fourcc.to_bytes(4, "little").decode("latin-1").strip("\x00 ") if fourcc else ""
    info = _VideoInfo(
        int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)),
        int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT)),
        float(cap.get(cv2.CAP_PROP_FPS) or 0.0),
        max(0, int(cap.get(cv2.CAP_PROP_FRAME_COUNT))),
        codec,
    )
    return cap, info


def _frames_cv2(cap: Any, wanted: set[int], last: int) -> Iterator[tuple[int, np.ndarray]]:
    import cv2

    i = 0
    try:
        while i <= last:
            if i in wanted:
                ok, frame = cap.read()
                if not ok:
                    return
                yield i, cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
            elif not cap.grab():  # decode but skip the colour conversion
                return
            i += 1
    finally:
        cap.release()


def _ffmpeg_problem(message: str) -> Rejected:
    """The refusal for what ffmpeg said when it could not open a video."""
    m = re.search(r"Video: (\w+)(?: \((\w+) / 0x[0-9A-Fa-f]+\))?", message)
    if m and ("no decoder" in message or "unknown codec" in message or "Decoder" in message):
        codec = m.group(2) or m.group(1)
        return Rejected(
            f"uses the video codec '{codec}', which cannot be decoded here; {FIX_CONVERT_VIDEO}",
            UNDECODABLE_VIDEO,
        )
    if "Invalid data found" in message or "moov atom not found" in message:
        return Rejected(f"is not a readable video (corrupt or incomplete data); {FIX_REEXPORT}")
    last = _short(message.splitlines()[-1] if message else "ffmpeg failed", 80)
    return Rejected(f"could not be decoded as a video ({last}); {FIX_CONVERT_VIDEO}", UNDECODABLE_VIDEO)


def _open_ffmpeg(path: str) -> tuple[Iterator[Any], _VideoInfo]:
    import imageio_ffmpeg

    gen = imageio_ffmpeg.read_frames(path, pix_fmt="rgb24")
    try:
        meta = next(gen)
    except (OSError, RuntimeError, StopIteration) as e:
        gen.close()
        raise _ffmpeg_problem(str(e)) from None
    w, h = meta.get("size") or (0, 0)
    fps = float(meta.get("fps") or 0.0)
    duration = float(meta.get("duration") or 0.0)
    return gen, _VideoInfo(int(w), int(h), fps, int(round(fps * duration)), str(meta.get("codec", "")))


def _frames_ffmpeg(
    gen: Iterator[Any], info: _VideoInfo, wanted: set[int], last: int
) -> Iterator[tuple[int, np.ndarray]]:
    try:
        for i, buf in enumerate(gen):
            if i > last:
                return
            if i in wanted:
                yield i, np.frombuffer(buf, np.uint8).reshape(info.height, info.width, 3)
    except (OSError, RuntimeError):
        return
    finally:
        gen.close()  # type: ignore[attr-defined]


def _process_video(task: Task) -> FileResult:
    s = task.settings
    _, sha = _read(task.path, READ_WHOLE_LIMIT + 1)  # hashed in chunks: a video is never held in memory
    path, tmpdir = _ascii_path(task.path)
    try:
        opened = _open_cv2(path)
        backend = "opencv"
        if opened is None:
            gen, info = _open_ffmpeg(path)
            backend = "ffmpeg"
        else:
            cap, info = opened
        if info.width * info.height > s.pixel_budget:
            if backend == "opencv":
                cap.release()
            else:
                gen.close()  # type: ignore[attr-defined]
            raise _bomb(info.width, info.height, s.pixel_budget)
        indices, per_row = _wanted_indices(s, task.role, info.fps)
        wanted, last = set(indices), indices[-1]
        frames = (
            _frames_cv2(cap, wanted, last) if backend == "opencv" else _frames_ffmpeg(gen, info, wanted, last)
        )
        result = _rows_from_frames(task, frames, indices, per_row, info, sha)
        result.info["backend"] = backend
        if backend == "opencv" and _stopped_early(result):
            # OpenCV read nothing or stopped before the frames the header promises (some codecs,
            # cinepak among them): ffmpeg often reads on, and the longer result is kept.
            try:
                retry = _retry_ffmpeg(task, path, indices, per_row, sha)
            except Rejected:
                if result.info.get("decoded", 0) == 0:
                    raise  # nothing from either: ffmpeg's reason names the codec
                retry = result
            if _longer(retry, result):
                result = retry
        return result
    finally:
        if tmpdir:
            os.unlink(os.path.join(tmpdir, os.listdir(tmpdir)[0]))
            os.rmdir(tmpdir)


def _stopped_early(result: FileResult) -> bool:
    """Whether decoding ended before the frames the header promises (or read none at all)."""
    return bool(result.info.get("stopped_at") is not None or result.info.get("decoded", 0) == 0)


def _retry_ffmpeg(task: Task, path: str, indices: list[int], per_row: int, sha: str) -> FileResult:
    """The same file read again with imageio-ffmpeg; raises :class:`Rejected` when ffmpeg cannot open it."""
    gen, info = _open_ffmpeg(path)
    frames = _frames_ffmpeg(gen, info, set(indices), indices[-1])
    result = _rows_from_frames(task, frames, indices, per_row, info, sha)
    result.info["backend"] = "ffmpeg"
    return result


def _longer(a: FileResult, b: FileResult) -> bool:
    """Whether ``a`` holds more of the video than ``b``: accepted first, then more frames decoded."""
    return (a.ok, a.info.get("decoded", 0)) > (b.ok, b.info.get("decoded", 0))


def _process_gif_clip(task: Task) -> FileResult:
    s = task.settings
    data, sha = _read(task.path, os.path.getsize(task.path))
    img = _open_image(task, data)
    n = int(getattr(img, "n_frames", 1))
    duration_ms = float(img.info.get("duration") or 100) or 100.0
    info = _VideoInfo(img.width, img.height, 1000.0 / duration_ms, n, "gif")
    indices, per_row = _wanted_indices(s, task.role, info.fps)
    wanted, last = set(indices), indices[-1]

    def frames() -> Iterator[tuple[int, np.ndarray]]:
        for i in range(min(n, last + 1)):
            if i in wanted:
                try:
                    img.seek(i)
                    frame, _ = normalise_mode(img.convert("RGBA") if img.mode == "P" else img)
                except (OSError, EOFError, ValueError):
                    return
                yield i, np.asarray(frame.convert("RGB"))

    return _rows_from_frames(task, frames(), indices, per_row, info, sha)


def _rows_from_frames(
    task: Task,
    frames: Iterator[tuple[int, np.ndarray]],
    indices: list[int],
    per_row: int,
    info: _VideoInfo,
    sha: str,
) -> FileResult:
    s = task.settings
    meta: dict[str, Any] = {
        "width": info.width,
        "height": info.height,
        "format": task.fmt,
        "fps": round(info.fps, 3),
        "frames": info.frames,
        "codec": info.codec,
        "video": True,
    }
    plan: CropPlan | None = None
    notes: list[str] = []
    kept: list[np.ndarray] = []
    grey = True
    sig: Signature | None = None
    decoded = 0
    last_index = -1
    for i, frame in frames:
        if plan is None:
            h, w = frame.shape[:2]
            meta["width"], meta["height"] = w, h
            if w * h > s.pixel_budget:
                raise _bomb(w, h, s.pixel_budget)
            plan, notes = _plan(w, h, sha, s)
            sig = signature_array(frame)
        row = resize_array(frame, plan)
        grey = grey and is_grey(row)
        kept.append(row)
        decoded += 1
        last_index = i
    meta["decoded"] = decoded
    # Every wanted frame the header promises (less a few: frame counts are estimates) should decode.
    promised = [i for i in indices if i < info.frames - 3]
    if promised and last_index < promised[-1]:
        meta["stopped_at"] = last_index + 1
    n_rows = len(kept) // per_row
    if n_rows == 0:
        if decoded == 0:
            return reject(
                task.name,
                f"has no frame that could be decoded (corrupt data or unsupported codec); {FIX_CONVERT_VIDEO}",
                UNDECODABLE_VIDEO,
                **meta,
            )
        need = (per_row - 1) * s.clip_stride + 1
        return reject(
            task.name,
            f"has {decoded} usable frames, a clip needs {need} ({s.clip_frames} frames, stride {s.clip_stride}); "
            "use fewer frames (--frames) or a smaller stride (--stride)",
            TOO_SHORT_FOR_A_CLIP,
            **meta,
        )
    kept = kept[: n_rows * per_row]
    arr = np.stack(kept)
    if per_row > 1:
        arr = arr.reshape(n_rows, per_row, *arr.shape[1:])
    warns = [f"{display_name(task.name)}: {n}" for n in notes]
    if "stopped_at" in meta:
        warns.append(
            f"{display_name(task.name)}: decoding stopped at frame {last_index + 1} of {info.frames} "
            f"(corrupt data); kept the {n_rows} {'clips' if per_row > 1 else 'frames'} before it"
        )
    meta["capped"] = bool(info.frames > indices[-1] + 1)  # longer than max_clips_per_video covers
    row_starts = [indices[r * per_row] for r in range(n_rows)]
    if arr.shape[-1] == 1:
        arr = np.repeat(arr, 3, axis=-1)
    return FileResult(
        path=task.path,
        name=task.name,
        ok=True,
        sha256=sha,
        signature=sig,
        rows=np.ascontiguousarray(arr),
        row_starts=row_starts,
        grey=grey,
        warnings=warns,
        info=meta,
    )


def init_worker() -> None:
    """Run once in each scan process: quiet decoders, one thread each (the pool is the parallelism)."""
    try:
        import cv2

        cv2.setNumThreads(1)
    except Exception:
        pass
