"""What sampling needs from a model: network, scheduler config, objective, sample shape, device.

Model folders are loaded by :func:`core.models.folder.load_model_folder` (the training area owns
it); this module only reads what a loaded model carries and picks the device.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from core.errors import ConfigError, ModelFolderError


def load_model(path: str | Path, device: str = "cpu") -> Any:
    """Load a model folder through the shared loader (``core.models.folder.load_model_folder``)."""
    try:
        from core.models.folder import load_model_folder
    except ModuleNotFoundError as e:  # the training area has not delivered the loader yet
        if e.name != "core.models.folder":
            raise
        raise ModelFolderError(
            f"{path}: this Noisebloom build cannot load model folders yet (core.models.folder is missing)",
            fix="install a build that includes the trainer",
        ) from None
    return load_model_folder(Path(path), device)


def resolve_device(name: str) -> torch.device:
    """ "auto" -> cuda, else mps, else cpu; an explicit device that is absent is a ConfigError."""
    kind = name.split(":")[0]
    if kind == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if kind == "cuda" and not torch.cuda.is_available():
        raise ConfigError(
            "sample.device: cuda is not available on this machine", fix="use --device cpu or auto"
        )
    if kind == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise ConfigError(
            "sample.device: mps is not available on this machine", fix="use --device cpu or auto"
        )
    return torch.device(name)


def sample_shape(model: Any) -> tuple[int, ...]:
    """(C, H, W) for image models, (T, C, H, W) for clip models, from noisebloom.json or the network config."""
    info = getattr(model, "info", None) or {}
    cfg = getattr(model.network, "config", None) or {}
    get = cfg.get if isinstance(cfg, dict) else lambda k, d=None: getattr(cfg, k, d)
    channels = info.get("channels") or get("in_channels")
    size = info.get("resolution") or get("sample_size")
    if isinstance(size, (tuple, list)):
        h, w = int(size[0]), int(size[1])
    elif size:
        h = w = int(size)
    else:
        h = w = 0
    if not channels or not h:
        raise ModelFolderError(
            f"{getattr(model, 'path', 'model')}: cannot tell the sample size (no resolution/channels)",
            fix="add resolution and channels to noisebloom.json",
        )
    if info.get("kind") == "clip":
        frames = info.get("frames") or get("num_frames") or get("sample_frames")
        if not frames:
            raise ModelFolderError(
                f"{getattr(model, 'path', 'model')}: clip model without a frame count",
                fix="set frames in noisebloom.json",
            )
        return (int(frames), int(channels), h, w)
    return (int(channels), h, w)


def model_name(model: Any) -> str:
    """The model folder as written into PNGs and trajectories: absolute, so it works from any folder."""
    path = getattr(model, "path", None)
    if not path:
        return ""
    p = Path(path)
    return str(p.resolve()) if p.exists() else str(p)
