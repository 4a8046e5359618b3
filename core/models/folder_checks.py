"""Checks on a model folder from outside, before anything is allocated: every JSON file read bounded
(only a regular file of at most ``MAX_JSON_BYTES``, so a link to /dev/zero costs nothing), each
field of ``noisebloom.json``, the scheduler's and the denoiser's ``config.json`` within the ranges
training accepts, and the denoiser's size estimated from its config (no torch) below ``MAX_PARAMS``.
Each refusal is one :class:`~core.errors.ModelFolderError` line naming the file and the field.
:mod:`core.models.folder` runs them in :func:`~core.models.folder.load_model_folder`.
"""

from __future__ import annotations

import inspect
import json
import math
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from core.errors import ModelFolderError

INFO_NAME = "noisebloom.json"
MAX_JSON_BYTES = 4 * 2**20
"""The largest JSON file of a model folder that is read. Noisebloom's own are a few KB; 4 MB leaves room
for a scheduler's list of betas, while a file the size of memory (or /dev/zero) is never read."""
MAX_PARAMS = 1_000_000_000
"""The most numbers (parameters and buffers, by :func:`denoiser_size`) a loadable denoiser holds: 4 GB
in float32, 13x unet-gpu. Checked from ``config.json`` before the network is built."""
RESOLUTION = (16, 256)  # px per side: what training accepts (TrainConfig.resolution)
CHANNELS = (1, 4)  # grayscale, RGB, RGBA
FRAMES = (1, 64)  # frames per clip: DatasetSettings.clip_frames is 2..64, the clip presets train 8-16
MAX_LEVELS = 8  # widths in block_out_channels: 256 px halved 8 times is 1 px
MAX_WIDTH = 65_536  # channels of one level, a hidden size, a group count or a head size
MAX_LAYERS = 32  # layers_per_block: the presets use 1-2, diffusers' largest UNets 2-3
MAX_DEPTH = 1_024  # DiT blocks: DiT-XL has 28
MAX_TIMESTEPS = 100_000  # a scheduler's num_train_timesteps (1,000 here): its tables have that length
MAX_AUGMENT_DIM = 64  # augment labels per picture (core.training.augment.AUGMENT_DIM is 7, EDM's 9)
NOT_LOADABLE = "this folder is not a model Noisebloom can load"


def read_json(path: Path, folder: Path) -> dict[str, Any]:
    """The JSON object in ``path``: read only from a regular file (after symlinks) of at most
    MAX_JSON_BYTES, with a bounded read, so a link to /dev/zero or a huge file costs nothing."""
    value = _parse_json(_read_bounded(path, folder), path, folder)
    if not isinstance(value, dict):
        raise ModelFolderError(
            f"{path}: holds a JSON {_json_kind(value)}, not an object", fix=_damaged(folder)
        )
    return value


def _damaged(folder: Path) -> str:
    return f"the model folder {folder} is damaged; train again or restore it"


def _read_bounded(path: Path, folder: Path) -> bytes:
    """The bytes of ``path`` if it is a regular file of at most MAX_JSON_BYTES (checked before opening,
    again on the open file in case it was swapped, and by reading one byte more than allowed)."""
    try:
        _check_regular(path, os.stat(path))
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_BINARY", 0) | getattr(os, "O_NONBLOCK", 0))
        with os.fdopen(fd, "rb") as f:
            _check_regular(path, os.fstat(f.fileno()))
            data = f.read(MAX_JSON_BYTES + 1)
    except OSError as e:
        raise ModelFolderError(f"{path}: unreadable ({e.strerror or e})", fix=_damaged(folder)) from None
    if len(data) > MAX_JSON_BYTES:
        raise _too_large(path)
    return data


def _check_regular(path: Path, st: os.stat_result) -> None:
    if not stat.S_ISREG(st.st_mode):
        raise ModelFolderError(
            f"{path}: not a regular file (a device, pipe, socket or folder)", fix=NOT_LOADABLE
        )
    if st.st_size > MAX_JSON_BYTES:
        raise _too_large(path)


def _too_large(path: Path) -> ModelFolderError:
    return ModelFolderError(
        f"{path}: larger than {MAX_JSON_BYTES // 2**20} MB, the most a model folder's JSON file may be",
        fix=NOT_LOADABLE,
    )


def _parse_json(data: bytes, path: Path, folder: Path) -> Any:
    try:
        return json.loads(data.decode("utf-8"))
    except (ValueError, RecursionError) as e:  # bad UTF-8 or JSON, a number too long, nesting too deep
        first = (str(e).strip().splitlines() or [type(e).__name__])[0][:200]
        raise ModelFolderError(f"{path}: not valid JSON ({first})", fix=_damaged(folder)) from None


def _json_kind(value: Any) -> str:
    kinds = {dict: "object", list: "list", str: "string", bool: "boolean", int: "number", float: "number"}
    return "null" if value is None else kinds.get(type(value), type(value).__name__)


def _show(value: Any) -> str:
    """``value`` as JSON on one line, cut to 40 characters: what a refusal quotes."""
    try:
        text = json.dumps(value)
    except (ValueError, TypeError, RecursionError):
        text = f"a {_json_kind(value)}"
    return text if len(text) <= 40 else text[:37] + "..."


@dataclass(frozen=True)
class _Doc:
    """One JSON object of a model folder with its file, so that every refusal names both."""

    path: Path
    data: dict[str, Any]

    def refuse(self, name: str, value: Any, expected: str) -> ModelFolderError:
        return ModelFolderError(f"{self.path}: {name!r} is {_show(value)}; {expected}", fix=NOT_LOADABLE)


class _Spec(Protocol):
    def check(self, doc: _Doc, name: str, value: Any) -> Any: ...


@dataclass(frozen=True)
class _Int:
    """A whole number in lo..hi (never a bool or a float, not even 1e6 or 32.0); None if optional."""

    lo: int
    hi: int
    expected: str = ""
    optional: bool = False

    def check(self, doc: _Doc, name: str, value: Any) -> int | None:
        if value is None and self.optional:
            return None
        if type(value) is int and self.lo <= value <= self.hi:
            return value
        raise doc.refuse(name, value, self.expected or f"use a whole number from {self.lo:,} to {self.hi:,}")


@dataclass(frozen=True)
class _Number:
    """A finite number above 0 and at most hi; None if optional."""

    hi: float
    expected: str
    optional: bool = True

    def check(self, doc: _Doc, name: str, value: Any) -> float | None:
        if value is None and self.optional:
            return None
        if type(value) in (int, float) and math.isfinite(value) and 0 < value <= self.hi:
            return float(value)
        raise doc.refuse(name, value, self.expected)


@dataclass(frozen=True)
class _Ints:
    """A list of 1..max_len whole numbers, each checked by ``item``."""

    item: _Int
    max_len: int

    def check(self, doc: _Doc, name: str, value: Any) -> list[int]:
        if not isinstance(value, (list, tuple)) or not 1 <= len(value) <= self.max_len:
            raise doc.refuse(name, value, f"use a list of 1 to {self.max_len} whole numbers")
        return [self.item.check(doc, name, v) for v in value]


@dataclass(frozen=True)
class _Str:
    """A string (one of ``choices`` when given); None if optional."""

    choices: tuple[str, ...] = ()
    optional: bool = False

    def check(self, doc: _Doc, name: str, value: Any) -> str | None:
        if value is None and self.optional:
            return None
        if isinstance(value, str) and (not self.choices or value in self.choices):
            return value
        raise doc.refuse(
            name, value, f"use one of {', '.join(self.choices)}" if self.choices else "use a name"
        )


@dataclass(frozen=True)
class _Strs:
    """A list of 1..max_len strings."""

    max_len: int

    def check(self, doc: _Doc, name: str, value: Any) -> list[str]:
        ok = isinstance(value, (list, tuple)) and 1 <= len(value) <= self.max_len
        if not ok or not all(isinstance(v, str) for v in value):
            raise doc.refuse(name, value, f"use a list of 1 to {self.max_len} block names")
        return list(value)


@dataclass(frozen=True)
class _Bool:
    def check(self, doc: _Doc, name: str, value: Any) -> bool:
        if isinstance(value, bool):
            return value
        raise doc.refuse(name, value, "use true or false")


@dataclass(frozen=True)
class _SampleSize:
    """diffusers' UNet2DModel ``sample_size``: a side, a [height, width] pair, or None (unset)."""

    side: _Int

    def check(self, doc: _Doc, name: str, value: Any) -> Any:
        if value is None:
            return None
        if isinstance(value, (list, tuple)) and len(value) == 2:
            return [self.side.check(doc, name, v) for v in value]
        return self.side.check(doc, name, value)


@dataclass(frozen=True)
class _Guide:
    """noisebloom.json's ``guide`` entry: None, or {"trained_steps": N} with an optional "weight", the
    autoguidance weight the model samples with by default (0 to 100)."""

    def check(self, doc: _Doc, name: str, value: Any) -> Any:
        if value is None:
            return None
        if not isinstance(value, dict):
            raise doc.refuse(name, value, 'use {"trained_steps": N} or null')
        if value.get("trained_steps") is not None:
            _STEPS.check(doc, f"{name}.trained_steps", value["trained_steps"])
        w = value.get("weight", 0)
        if type(w) not in (int, float) or not math.isfinite(w) or not 0 <= w <= 100:
            raise doc.refuse(f"{name}.weight", w, "use the guidance weight, 0 to 100, or leave it out")
        return value


MAX_FEWSTEP_LEVELS = 16


class _FewStep:
    """noisebloom.json's ``fewstep`` entry: None, or {"levels": [1.0, ...], "guidance": w, ...}: the
    noise levels (0 < t <= 1) the few-step map was trained at and the guidance built into it."""

    def check(self, doc: _Doc, name: str, value: Any) -> Any:
        if value is None:
            return None
        levels = value.get("levels") if isinstance(value, dict) else None
        ok = isinstance(levels, list) and 1 <= len(levels) <= MAX_FEWSTEP_LEVELS
        if not ok or not all(type(t) in (int, float) and math.isfinite(t) and 0 < t <= 1 for t in levels):
            raise doc.refuse(
                name, value, f'use {{"levels": [1 to {MAX_FEWSTEP_LEVELS} noise levels in (0, 1]]}} or null'
            )
        w = value.get("guidance", 0)
        if type(w) not in (int, float) or not math.isfinite(w) or not 0 <= w <= 100:
            raise doc.refuse(f"{name}.guidance", w, "use the guidance weight, 0 to 100")
        return value


_RESOLUTION = _Int(*RESOLUTION, f"a model works at {RESOLUTION[0]} to {RESOLUTION[1]} px")
_CHANNELS = _Int(*CHANNELS, f"a model has {CHANNELS[0]} to {CHANNELS[1]} channels")
_FRAMES = _Int(*FRAMES, f"a clip model makes {FRAMES[0]} to {FRAMES[1]} frames")
_WIDTH = _Int(1, MAX_WIDTH, f"a network's widths, groups and heads are 1 to {MAX_WIDTH:,}")
_WIDTHS = _Ints(_WIDTH, MAX_LEVELS)
_BLOCKS = _Strs(MAX_LEVELS)
_LAYERS = _Int(1, MAX_LAYERS, f"a network has 1 to {MAX_LAYERS} layers per block")
_PATCH = _Int(1, 32, "a patch is 1 to 32 px")
_STEPS = _Int(0, 10**12, "use a whole number of steps, 0 or more")
_AUGMENT_DIM = _Int(0, MAX_AUGMENT_DIM, f"a network takes 0 to {MAX_AUGMENT_DIM} augment labels")

INFO_FIELDS: dict[str, _Spec] = {
    "objective": _Str(("eps", "v", "x0", "flow"), optional=True),
    "schedule": _Str(("linear", "cosine"), optional=True),
    "preset": _Str(optional=True),
    "network": _Str(optional=True),
    "parent": _Str(optional=True),
    "kind": _Str(("image", "clip"), optional=True),
    "resolution": _RESOLUTION,
    "channels": _CHANNELS,
    "frames": _Int(*FRAMES, _FRAMES.expected, optional=True),
    "fps": _Number(1000.0, "use a frame rate above 0 and at most 1,000, or null"),
    "trained_steps": _STEPS,
    "guide": _Guide(),
    "fewstep": _FewStep(),
}
"""The fields of ``noisebloom.json`` that Noisebloom reads; each may be absent, and only frames, fps,
guide and the names may be null (readers call ``int()`` on the rest). Others pass unchecked."""

SCHEDULER_FIELDS: dict[str, _Spec] = {
    "num_train_timesteps": _Int(1, MAX_TIMESTEPS, optional=True),
    "prediction_type": _Str(optional=True),
    "beta_schedule": _Str(optional=True),
    "shift": _Number(1000.0, "use a shift above 0 and at most 1,000, or leave it out"),
}

_UNET_LEVELS: dict[str, _Spec] = {
    "block_out_channels": _WIDTHS,
    "down_block_types": _BLOCKS,
    "up_block_types": _BLOCKS,
    "layers_per_block": _LAYERS,
    "norm_num_groups": _WIDTH,
}
DENOISER_FIELDS: dict[str, dict[str, _Spec]] = {
    "unet": {
        "sample_size": _SampleSize(_RESOLUTION),
        "in_channels": _CHANNELS,
        "out_channels": _CHANNELS,
        **_UNET_LEVELS,
        "attention_head_dim": _Int(1, MAX_WIDTH, _WIDTH.expected, optional=True),
        "time_embedding_type": _Str(("positional", "fourier", "learned")),
        "time_embedding_dim": _Int(1, 4 * MAX_WIDTH, optional=True),
        "num_train_timesteps": _Int(1, MAX_TIMESTEPS, optional=True),
        "class_embed_type": _Str(optional=True),
        "num_class_embeds": _Int(1, 1_000_000, optional=True),
        "resnet_time_scale_shift": _Str(),
        "downsample_type": _Str(),
        "upsample_type": _Str(),
        "downsample_padding": _Int(0, 8),
        "mid_block_type": _Str(optional=True),
        "add_attention": _Bool(),
    },
    "pixel-unet": {
        "sample_size": _RESOLUTION,
        "in_channels": _CHANNELS,
        "patch_size": _PATCH,
        **_UNET_LEVELS,
        "attention_head_dim": _WIDTH,
        "prediction": _Str(("velocity", "sample")),  # core.models.pixel_unet.PREDICTIONS
        "augment_dim": _AUGMENT_DIM,
    },
    "dit": {
        "sample_size": _RESOLUTION,
        "in_channels": _CHANNELS,
        "out_channels": _Int(*CHANNELS, _CHANNELS.expected, optional=True),
        "patch_size": _PATCH,
        "hidden_size": _WIDTH,
        "depth": _Int(1, MAX_DEPTH, f"a DiT has 1 to {MAX_DEPTH:,} blocks"),
        "num_heads": _WIDTH,
        "augment_dim": _AUGMENT_DIM,
    },
    "video": {
        "sample_size": _RESOLUTION,
        "in_channels": _CHANNELS,
        "out_channels": _Int(*CHANNELS, _CHANNELS.expected, optional=True),
        "num_frames": _FRAMES,
        "patch_size": _PATCH,
        "block_out_channels": _WIDTHS,
        "norm_num_groups": _WIDTH,
        "attention_head_dim": _WIDTH,
        "temporal_attention": _Bool(),
    },
}
"""The constructor arguments of each denoiser kind that set a shape or a size, checked before the
network is built; the rest go to ``from_config`` as they are (its own errors are caught)."""
SIZE_FIELDS = {
    "unet": ("block_out_channels", "layers_per_block"),
    "pixel-unet": ("block_out_channels", "layers_per_block"),
    "dit": ("hidden_size", "depth"),
    "video": ("block_out_channels",),
}


def _check_fields(doc: _Doc, values: dict[str, Any], specs: dict[str, _Spec]) -> None:
    for name, spec in specs.items():
        if name in values:
            spec.check(doc, name, values[name])


def read_model_info(path: str | Path) -> dict[str, Any] | None:
    """The checked ``noisebloom.json`` of the model folder ``path``, or None when it has none: what
    any reader of a folder from outside should use instead of its own ``json.loads``."""
    folder = Path(path)
    info_path = folder / INFO_NAME
    if not os.path.lexists(info_path):
        return None
    doc = _Doc(info_path, read_json(info_path, folder))
    _check_fields(doc, doc.data, INFO_FIELDS)
    return doc.data


def read_scheduler_config(path: Path, folder: Path) -> dict[str, Any]:
    """``scheduler_config.json``, checked: it must name a diffusers scheduler (make_scheduler builds
    whatever class it names) and its tables must be of a sane length."""
    doc = _Doc(path, read_json(path, folder))
    name = doc.data.get("_class_name")
    if not isinstance(name, str) or not name.isidentifier() or not name.endswith("Scheduler"):
        raise doc.refuse("_class_name", name, "name a diffusers scheduler, e.g. DDPMScheduler")
    _check_fields(doc, doc.data, SCHEDULER_FIELDS)
    return doc.data


def _denoiser_values(cls: type, config: dict[str, Any]) -> dict[str, Any]:
    """The arguments ``cls.from_config(config)`` builds with: the constructor's defaults, then config.json."""
    params = inspect.signature(cls.__init__).parameters
    values = {n: p.default for n, p in params.items() if p.default is not inspect.Parameter.empty}
    values.update({k: v for k, v in config.items() if k in params})
    return values


def denoiser_size(kind: str, cls: type, config: dict[str, Any], path: Path) -> int:
    """Check the denoiser ``config`` (read from ``path``) of ``kind`` and estimate the numbers its
    network would hold, without building it; refuses a field out of range or a size above MAX_PARAMS."""
    doc = _Doc(path, config)
    values = _denoiser_values(cls, config)
    _check_fields(doc, values, DENOISER_FIELDS[kind])
    _check_shapes(doc, kind, values)
    size = _ESTIMATES[kind](values)
    if size > MAX_PARAMS:
        names = " and ".join(repr(n) for n in SIZE_FIELDS[kind])
        raise ModelFolderError(
            f"{path}: {names} make a network of about {size:.2g} parameters; "
            f"Noisebloom loads at most {MAX_PARAMS:,}",
            fix=NOT_LOADABLE,
        )
    return size


def _check_shapes(doc: _Doc, kind: str, v: dict[str, Any]) -> None:
    """What relates fields to each other: one block name per width, a patch that divides the side."""
    if kind in ("unet", "pixel-unet"):
        levels = len(v["block_out_channels"])
        for name in ("down_block_types", "up_block_types"):
            if len(v[name]) != levels:
                raise doc.refuse(
                    name, v[name], f"use {levels} block names, one per width in 'block_out_channels'"
                )
    if "patch_size" in v and v["sample_size"] % v["patch_size"]:
        raise doc.refuse("patch_size", v["patch_size"], f"it must divide 'sample_size' ({v['sample_size']})")
    if kind == "dit" and v["num_heads"] > v["hidden_size"]:
        raise doc.refuse("num_heads", v["num_heads"], f"use at most 'hidden_size' ({v['hidden_size']}) heads")


def _conv(cin: int, cout: int, k: int = 3) -> int:
    return k * k * cin * cout + cout


def _linear(cin: int, cout: int) -> int:
    return cin * cout + cout


def _resnet(cin: int, cout: int, temb: int, scale_shift: bool = False) -> int:
    """diffusers' ResnetBlock2D: two norms and 3x3 convolutions, the timestep projection, a 1x1 shortcut."""
    n = 2 * cin + _conv(cin, cout) + 2 * cout + _conv(cout, cout)
    n += _linear(temb, 2 * cout if scale_shift else cout)
    return n + (_conv(cin, cout, 1) if cin != cout else 0)


def _attention(c: int) -> int:
    """A group norm and q, k, v, out projections (at most ``c`` wide)."""
    return 2 * c + 4 * _linear(c, c)


def _time_embedding(cin: int, cout: int) -> int:
    return _linear(cin, cout) + _linear(cout, cout)


def _unet_size(v: dict[str, Any]) -> int:
    """diffusers' UNet2DModel, level by level as its ``__init__`` builds it."""
    ch, layers = v["block_out_channels"], v["layers_per_block"]
    temb = v.get("time_embedding_dim") or 4 * ch[0]
    shift = v.get("resnet_time_scale_shift") == "scale_shift"
    time_type = v.get("time_embedding_type")
    t_in = 2 * ch[0] if time_type == "fourier" else ch[0]
    n = _conv(v["in_channels"], ch[0]) + _time_embedding(t_in, temb)
    n += {"fourier": ch[0], "learned": (v.get("num_train_timesteps") or 0) * ch[0]}.get(time_type, 0)
    n += (v.get("num_class_embeds") or 0) * temb
    n += _time_embedding(t_in, temb) if v.get("class_embed_type") == "timestep" else 0

    def level_resample(c: int, kind: str | None) -> int:
        return _resnet(c, c, temb, shift) if kind == "resnet" else _conv(c, c)

    prev = ch[0]
    for i, (c, block) in enumerate(zip(ch, v["down_block_types"], strict=True)):
        n += _resnet(prev, c, temb, shift) + (layers - 1) * _resnet(c, c, temb, shift)
        n += layers * _attention(c) if "Attn" in block else 0
        n += level_resample(c, v.get("downsample_type")) if i < len(ch) - 1 else 0
        prev = c
    if v.get("mid_block_type", "UNetMidBlock2D") is not None:
        n += 2 * _resnet(ch[-1], ch[-1], temb, shift) + (
            _attention(ch[-1]) if v.get("add_attention", True) else 0
        )
    rev = ch[::-1]
    prev = rev[0]
    for i, (c, block) in enumerate(zip(rev, v["up_block_types"], strict=True)):
        skip = rev[min(i + 1, len(rev) - 1)]
        n += _resnet(prev + c, c, temb, shift) + (layers - 1) * _resnet(2 * c, c, temb, shift)
        n += _resnet(c + skip, c, temb, shift)
        n += (layers + 1) * _attention(c) if "Attn" in block else 0
        n += level_resample(c, v.get("upsample_type")) if i < len(rev) - 1 else 0
        prev = c
    return n + 2 * ch[0] + _conv(ch[0], v["out_channels"])


def _pixel_unet_size(v: dict[str, Any]) -> int:
    """NoisebloomPixelUNet: a default UNet2DModel on ``in_channels * patch_size**2`` channels."""
    inner = v["in_channels"] * v["patch_size"] ** 2
    augment = (v.get("augment_dim") or 0) * 4 * v["block_out_channels"][0]
    return _unet_size({**v, "in_channels": inner, "out_channels": inner}) + augment


def _dit_size(v: dict[str, Any]) -> int:
    """NoisebloomDiT: patch embedding and its position table, timestep MLP, ``depth`` blocks of
    attention, a 4x MLP and adaLN (about 18 hidden_size**2 each), the output projection."""
    h, p = v["hidden_size"], v["patch_size"]
    c_out = v.get("out_channels") or v["in_channels"]
    block = 4 * _linear(h, h) + _linear(h, 4 * h) + _linear(4 * h, h) + _linear(h, 6 * h)
    n = _conv(v["in_channels"], h, p) + (v["sample_size"] // p) ** 2 * h + _time_embedding(256, h)
    n += (v.get("augment_dim") or 0) * h
    return n + v["depth"] * block + _linear(h, 2 * h) + _linear(h, p * p * c_out)


def _video_size(v: dict[str, Any]) -> int:
    """NoisebloomVideoNet: per level a ResnetBlock2D and a temporal convolution down and up, the
    middle's two ResnetBlock2D, spatial and temporal attention, the in / out convolutions."""
    ch, p = [int(c) for c in v["block_out_channels"]], v["patch_size"]
    c_out = v.get("out_channels") or v["in_channels"]
    temb = 4 * ch[0]

    def temporal(c: int) -> int:
        return 4 * c + 2 * (3 * c * c + c)  # two group norms, two (3, 1) convolutions

    n = _time_embedding(ch[0], temb) + _conv(v["in_channels"] * p * p, ch[0])
    for c in ch:
        n += _resnet(c, c, temb) + _resnet(2 * c, c, temb) + 2 * temporal(c)
    n += sum(_conv(a, b) + _conv(b, a) for a, b in zip(ch[:-1], ch[1:], strict=True))
    c = ch[-1]
    n += 2 * _resnet(c, c, temb) + _attention(c) + temporal(c)
    n += 2 * _attention(c) if v.get("temporal_attention", True) else 0
    return n + 2 * ch[0] + _conv(ch[0], c_out * p * p)


_ESTIMATES = {"unet": _unet_size, "pixel-unet": _pixel_unet_size, "dit": _dit_size, "video": _video_size}
