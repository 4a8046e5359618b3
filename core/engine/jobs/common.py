"""What every job module shares: argument checks that name the field and the fix, the catalog
look-ups of datasets and models, and the pictures that travel in events (base64 PNGs, a clip as a
filmstrip)."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import numpy as np

from core.data.prepared import PreparedDataset
from core.engine.job import Context
from core.errors import NoisebloomError
from core.media.grid import filmstrip
from core.media.png import png_bytes
from core.sampling.config import SampleConfig
from core.training.config import TrainConfig
from core.training.trainer import adopt_parent

MAX_PREVIEW_IMAGES = 16  # pictures sent per preview or step event


def png_b64(image: np.ndarray) -> str:
    """uint8 (H, W, C) -> base64 PNG (C = 1 or 3)."""
    return base64.b64encode(png_bytes(image)).decode("ascii")


def require(args: dict[str, Any], name: str, kind: type | tuple[type, ...], command: str) -> Any:
    value = args.get(name)
    if not isinstance(value, kind):
        raise NoisebloomError(
            f"{command}: argument '{name}' is missing or of the wrong type", fix="see core/engine/protocol.py"
        )
    return value


def dataset_row(ctx: Context, dataset_id: str, command: str) -> dict[str, Any]:
    row = ctx.catalog.get("datasets", dataset_id)
    if row is None:
        raise NoisebloomError(
            f"{command}: no dataset {dataset_id!r}",
            fix="scan a folder first, or list datasets to see the ids",
        )
    return row


def find_model(ctx: Context, model: str, command: str) -> tuple[str | None, Path]:
    row = ctx.catalog.get("models", model)
    if row is not None:
        return row["id"], Path(row["path"])
    path = Path(model).expanduser()
    if path.is_dir():
        return None, path.resolve()
    raise NoisebloomError(
        f"{command}: no model {model!r}", fix="pass a model id from `list models` or a model folder"
    )


def optional(args: dict[str, Any], name: str, kind: type, command: str, fix: str) -> Any:
    """``args[name]`` when given, refused with the field and the fix when it is of another type."""
    value = args.get(name)
    if value is not None and (not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool)):
        raise NoisebloomError(f"{command}: argument '{name}' is {shown(value)}", fix=fix)
    return value


def shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def int_in(args: dict[str, Any], name: str, lo: int, hi: int, command: str, default: Any = None) -> Any:
    value = args.get(name, default)
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or not lo <= value <= hi:
        raise NoisebloomError(
            f"{command}: argument '{name}' is {shown(value)}", fix=f"use a whole number from {lo} to {hi}"
        )
    return value


def config_args(args: dict[str, Any], name: str, command: str) -> dict[str, Any]:
    value = args.get(name)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise NoisebloomError(
            f"{command}: argument '{name}' is {shown(value)}", fix="give an object of config fields, e.g. {}"
        )
    return dict(value)


def train_config(ctx: Context, args: dict[str, Any], kind: str) -> TrainConfig:
    """The job's TrainConfig: its ``config`` over the defaults, at the dataset's resolution unless set.
    A fine-tune takes its model's preset, objective and schedule over what the window sends (the
    network was trained with them; :func:`~core.training.trainer.adopt_parent`)."""
    overrides = config_args(args, "config", kind)
    ds = dataset_row(ctx, str(require(args, "dataset", str, kind)), kind)
    overrides.setdefault("resolution", PreparedDataset.open(ds["path"]).resolution)
    if kind == "finetune":
        _, parent = find_model(ctx, str(require(args, "model", str, kind)), kind)
        return adopt_parent(TrainConfig.from_dict(overrides), parent)
    return TrainConfig.from_dict(overrides)


def sample_config(args: dict[str, Any]) -> SampleConfig:
    cfg = config_args(args, "config", "sample")
    cfg.setdefault("trajectory", True)
    return SampleConfig.from_dict(cfg)


def preview_image(a: np.ndarray) -> np.ndarray:
    """One picture per sample: an image as it is, a clip (T, H, W, C) as a filmstrip (H, T*W, C)
    that the app slices back into T frames of the width it knows from the model."""
    if a.ndim == 4:
        return filmstrip(a)
    return a


def number_or_none(v: Any) -> float | None:
    if v is None:
        return None
    try:
        return float(v)
    except (TypeError, ValueError):
        return None


def forget_evaluation(ctx: Context, model: dict[str, Any]) -> None:
    ev = model.get("evaluation") or {}
    path = Path(str(ev.get("path") or ""))
    if ev.get("path") and path.is_file() and ctx.root in path.resolve().parents:
        path.unlink()
