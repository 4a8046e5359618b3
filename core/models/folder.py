"""The model folder: a diffusers pipeline folder plus ``noisebloom.json`` (docs/architecture.md,
"The model folder"). Shared by training (writes it), sampling and the engine (read it).

Layout::

    MODEL_DIR/model_index.json
    MODEL_DIR/unet/config.json + diffusion_pytorch_model.safetensors     (UNet2DModel, pixel UNet)
      or MODEL_DIR/transformer/...                                        (DiT, clip network)
    MODEL_DIR/pipeline.py, unet|transformer/NETWORK.py                   Noisebloom's networks only:
                                                                         their code, for plain diffusers
    MODEL_DIR/scheduler/scheduler_config.json    DDPMScheduler (eps / v / x0) or FlowMatchEuler (flow)
    MODEL_DIR/noisebloom.json                    {"format": 1, "objective", "preset", ...}
    MODEL_DIR/guide/model.safetensors            optional: the same network less trained, for
                                                 autoguidance (core.sampling.guidance); noisebloom.json
                                                 then says {"guide": {"trained_steps": N}}
    MODEL_DIR/fewstep/model.safetensors          optional: the same network distilled into a few-step
                                                 map (core.training.fewstep, core.sampling.fewstep);
                                                 noisebloom.json then says {"fewstep": {"levels": [...]}}
    MODEL_DIR/README.md + samples.png            the model card and its sample grid (core.models.card)

A UNet folder is saved by ``DDPMPipeline(unet, scheduler).save_pretrained(dir, safe_serialization=True)``
so ``diffusers.DiffusionPipeline.from_pretrained(MODEL_DIR)`` loads and samples it without
Noisebloom. A folder holding one of Noisebloom's networks (the pixel UNet in ``unet/``, the DiT or
the clip network in ``transformer/``) ships that network's code and the pipeline's
(:mod:`core.models.shipped`), so ``from_pretrained(MODEL_DIR, trust_remote_code=True)`` loads it
without Noisebloom too. ``guide/`` and ``fewstep/`` are not in ``model_index.json``, so diffusers
never looks at them.

Noisebloom never runs code from a folder: the denoiser named in ``model_index.json`` is looked up
in :data:`DENOISER_CLASSES` and its class imported by name from Noisebloom's own package, whatever
files the folder holds. Weights are read with safetensors only: pickle files (``.bin``, ``.pt``,
``.ckpt``) are refused, never unpickled.
"""

from __future__ import annotations

import importlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from core.errors import ModelFolderError
from core.fsutil import atomic_directory, recover_directory
from core.models.card import write_card
from core.models.folder_checks import (
    INFO_NAME,
    denoiser_size,
    read_json,
    read_model_info,
    read_scheduler_config,
)
from core.models.shipped import NETWORKS, model_index, ship_code

FORMAT = 1
GUIDE_DIR, GUIDE_FILE = "guide", "model.safetensors"
FEWSTEP_DIR = "fewstep"  # FEWSTEP_DIR/GUIDE_FILE: the few-step map (core.training.fewstep)
PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".ckpt", ".pkl", ".pickle")

# The denoiser entries a model folder's model_index.json may hold -> network kind: diffusers'
# UNet2DModel, and each of Noisebloom's networks as a shipped custom component ([FILE, CLASS]) or
# under its package module (folders written before they shipped code). Any other entry is refused.
# Each kind also needs its checked fields in folder_checks.DENOISER_FIELDS and its size estimate there.
DENOISER_CLASSES: dict[tuple[str, str], str] = {
    ("diffusers", "UNet2DModel"): "unet",
    **{(n.file, n.name): kind for kind, n in NETWORKS.items()},
    **{(n.module, n.name): kind for kind, n in NETWORKS.items()},
}
DENOISER_SUBFOLDERS = ("unet", "transformer")


def denoiser_class(kind: str) -> type:
    """The class of network ``kind``, imported by name from diffusers or Noisebloom's own package
    (never from the model folder, whatever code it ships)."""
    if kind == "unet":
        from diffusers import UNet2DModel

        return UNet2DModel
    net = NETWORKS[kind]
    return getattr(importlib.import_module(net.module), net.name)


@dataclass
class LoadedModel:
    network: nn.Module
    scheduler_config: dict[str, Any]
    objective: str
    info: dict[str, Any]
    path: Path
    extra: dict[str, Any] = field(default_factory=dict)
    guide: nn.Module | None = None
    """The same network from earlier in training (``guide/``), or None: what autoguidance steers by."""
    fewstep: nn.Module | None = None
    """The same network distilled into a few-step map (``fewstep/``), or None; its noise levels and
    how it was made are ``info["fewstep"]``."""

    def make_scheduler(self) -> Any:
        """A fresh diffusers scheduler of the saved class and config."""
        import diffusers

        cls = getattr(diffusers, self.scheduler_config["_class_name"])
        return cls.from_config(self.scheduler_config)


def _unwrap(network: nn.Module) -> nn.Module:
    return getattr(network, "module", network)  # DDP / accelerate wrappers


def _class_key(network: nn.Module) -> tuple[str, str]:
    cls = type(network)
    if cls.__name__ == "UNet2DModel" and cls.__module__.startswith("diffusers"):
        return ("diffusers", "UNet2DModel")
    key = (cls.__module__, cls.__name__)
    if key not in DENOISER_CLASSES:
        names = ", ".join(["UNet2DModel", *(n.name for n in NETWORKS.values())])
        raise ModelFolderError(
            f"cannot save a {cls.__name__} as a model folder", fix=f"use a network from a preset ({names})"
        )
    return key


def save_model_folder(
    network: nn.Module,
    objective: str,
    info: dict[str, Any],
    path: str | Path,
    *,
    schedule: str | None = "linear",
    guide: dict[str, torch.Tensor] | None = None,
    guide_steps: int = 0,
    guide_weight: float | None = None,
    card: dict[str, Any] | None = None,
) -> None:
    """Write ``network`` (its current weights) as a model folder at ``path``, atomically.

    ``info`` supplies the ``noisebloom.json`` fields (preset, kind, frames, fps, parent,
    trained_steps, ...); objective, schedule, network, resolution and channels are filled in here.
    ``guide`` is a state dict of the same network from step ``guide_steps`` (saved to ``guide/``),
    ``guide_weight`` the autoguidance weight the model samples with by default (None: Noisebloom's default).
    ``card`` holds the trainer's facts for the model card ``README.md`` (:func:`core.models.card.write_card`).
    """
    from diffusers import DDPMPipeline

    from core.diffusion.schedules import make_scheduler

    network = _unwrap(network)
    scheduler = make_scheduler(objective, schedule)
    key = _class_key(network)
    kind = DENOISER_CLASSES[key]
    cfg = network.config
    meta = {
        "format": FORMAT,
        "objective": objective,
        "preset": info.get("preset", "custom"),
        "network": kind,
        "resolution": int(info.get("resolution") or _size(cfg.sample_size)),
        "channels": int(info.get("channels") or cfg.in_channels),
        "kind": info.get("kind", "image"),
        "frames": info.get("frames"),
        "fps": info.get("fps"),
        "schedule": None if objective == "flow" else schedule,
        "parent": info.get("parent"),
        "trained_steps": int(info.get("trained_steps", 0)),
    }
    meta.update({k: v for k, v in info.items() if k not in meta})
    if guide is not None:
        meta["guide"] = {"trained_steps": int(guide_steps)}
        if guide_weight is not None:
            meta["guide"]["weight"] = float(guide_weight)
    with atomic_directory(path) as tmp:
        if kind == "unet":  # a stock DDPMPipeline folder
            DDPMPipeline(unet=network, scheduler=scheduler).save_pretrained(tmp, safe_serialization=True)
        else:  # Noisebloom's pipeline and network, their code shipped alongside
            import diffusers

            network.save_pretrained(tmp / NETWORKS[kind].subfolder, safe_serialization=True)
            scheduler.save_pretrained(tmp / "scheduler")
            ship_code(kind, tmp)
            frames = meta["frames"] if meta["kind"] == "clip" else None
            index = model_index(kind, scheduler, diffusers.__version__, frames)
            (tmp / "model_index.json").write_text(json.dumps(index, indent=2) + "\n", encoding="utf-8")
        if guide is not None:
            from safetensors.torch import save_file

            (tmp / GUIDE_DIR).mkdir()
            save_file(
                {k: v.detach().to("cpu").contiguous() for k, v in guide.items()}, tmp / GUIDE_DIR / GUIDE_FILE
            )
        (tmp / INFO_NAME).write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
        write_card(tmp, meta, card)


def _size(sample_size: Any) -> int:
    return int(sample_size[0] if isinstance(sample_size, (list, tuple)) else sample_size)


def _not_a_model(path: Path) -> ModelFolderError:
    if (path / "model" / "model_index.json").is_file():
        fix = f"pass the model inside this run folder: {path / 'model'}"
    else:
        fix = "pass a model folder, e.g. RUN_DIR/model from `noisebloom train`"
    return ModelFolderError(f"{path}: not a model folder (no model_index.json)", fix=fix)


def _weight_files(sub: Path, cls_name: str = "UNet2DModel") -> list[Path]:
    """The denoiser's safetensors files (the plain ``diffusion_pytorch_model.safetensors`` alone when
    it sits beside variants such as ``.fp16.safetensors``); refused when there are none, and with
    the way to convert them when there are only pickle files (a downloaded hub folder's ``.bin``)."""
    plain = sub / "diffusion_pytorch_model.safetensors"
    files = [plain] if plain.is_file() else sorted(sub.glob("*.safetensors"))
    if not files:
        pickles = sorted(p.name for p in sub.iterdir() if p.suffix in PICKLE_SUFFIXES)
        if pickles:
            raise ModelFolderError(
                f"{sub / pickles[0]}: pickle weights, which Noisebloom never opens because a pickle file "
                "can run code",
                fix=f"if you trust where the folder came from, convert it to safetensors once: in Python, "
                f'{cls_name}.from_pretrained("{sub}").save_pretrained("{sub}") (diffusers) writes '
                "diffusion_pytorch_model.safetensors beside it; then open the folder again",
            )
        raise ModelFolderError(f"{sub}: no weights (*.safetensors)", fix="train again or restore the folder")
    return files


def _load_weights(sub: Path, cls_name: str) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    state: dict[str, torch.Tensor] = {}
    for f in _weight_files(sub, cls_name):
        try:
            state.update(load_file(f))
        except Exception as e:  # safetensors raises its own error types for damaged files
            raise ModelFolderError(
                f"{f}: damaged weights ({e})", fix="train again or restore the folder"
            ) from None
    return state


@dataclass(frozen=True)
class _Parts:
    """What a model folder says about itself, read and checked before any weights are."""

    path: Path
    key: tuple[str, str]
    sub: Path
    config: dict[str, Any]
    scheduler_config: dict[str, Any]
    objective: str
    schedule: str | None
    info: dict[str, Any] | None


def _read_parts(path: Path) -> _Parts:
    """Every JSON file of the folder read bounded and checked, the denoiser named in
    ``model_index.json`` one Noisebloom loads (:data:`DENOISER_CLASSES`), its size estimated from
    its config. A foreign pipeline's layout (another denoiser class) is one more entry there."""
    if not path.is_dir():
        recover_directory(path)  # a save killed between its two renames left the old folder aside
    if not path.is_dir():
        raise ModelFolderError(f"{path}: no such folder", fix="pass a model folder, e.g. RUN_DIR/model")
    if not os.path.lexists(path / "model_index.json"):
        raise _not_a_model(path)
    index = read_json(path / "model_index.json", path)
    name = next((n for n in DENOISER_SUBFOLDERS if n in index), None)
    if name is None:
        raise ModelFolderError(
            f"{path}: the pipeline has no unet or transformer",
            fix="pass an unconditional diffusion model folder",
        )
    entry = index[name]
    key = (str(entry[0]), str(entry[1])) if isinstance(entry, (list, tuple)) and len(entry) == 2 else ("", "")
    if key not in DENOISER_CLASSES:
        raise ModelFolderError(
            f"{path / name}: {key[1] or entry} is not a network Noisebloom can load",
            fix="Noisebloom loads unconditional UNet2DModel folders and its own networks",
        )
    sub = path / name
    config = read_json(sub / "config.json", path)
    sched_path = path / "scheduler" / "scheduler_config.json"
    if not os.path.lexists(sched_path):
        raise ModelFolderError(
            f"{sched_path}: missing", fix=f"the model folder {path} is damaged; train again"
        )
    scheduler_config = read_scheduler_config(sched_path, path)

    from core.diffusion.schedules import objective_from_scheduler_config

    try:
        objective, schedule = objective_from_scheduler_config(scheduler_config)
    except ValueError as e:
        raise ModelFolderError(f"{sched_path}: {e}", fix="use a DDPM or flow-matching model") from None
    info = read_model_info(path)
    denoiser_size(DENOISER_CLASSES[key], denoiser_class(DENOISER_CLASSES[key]), config, sub / "config.json")
    return _Parts(path, key, sub, config, scheduler_config, objective, schedule, info)


def _default_info(parts: _Parts) -> dict[str, Any]:
    """The ``noisebloom.json`` fields of a folder that has none (a plain diffusers pipeline)."""
    return {
        "format": FORMAT,
        "objective": parts.objective,
        "preset": "custom",
        "network": DENOISER_CLASSES[parts.key],
        "resolution": _size(parts.config.get("sample_size") or 32),
        "channels": int(parts.config.get("in_channels", 3)),
        "kind": "image",
        "frames": None,
        "fps": None,
        "schedule": parts.schedule,
        "parent": None,
        "trained_steps": 0,
    }


def check_model_folder(path: str | Path) -> dict[str, Any]:
    """Whether ``path`` is a model folder Noisebloom samples, checked as :func:`load_model_folder`
    checks it but without reading the weights or building the network (only that safetensors
    weights are there); its ``noisebloom.json`` fields, or those a plain diffusers folder implies.
    Raises :class:`ModelFolderError` naming the folder and what is missing."""
    parts = _read_parts(Path(path))
    _weight_files(parts.sub, parts.key[1])
    return parts.info if parts.info is not None else _default_info(parts)


def load_model_folder(
    path: str | Path, device: str | torch.device = "cpu", dtype: torch.dtype = torch.float32
) -> LoadedModel:
    """Load a model folder (ours, or any diffusers pipeline folder with an unconditional UNet2DModel).

    Every JSON file is read bounded and checked, and the denoiser's size estimated from its config,
    before any weights are read or any network is built."""
    parts = _read_parts(Path(path))
    path, key, sub, config = parts.path, parts.key, parts.sub, parts.config
    scheduler_config, objective, info = parts.scheduler_config, parts.objective, parts.info
    cls = denoiser_class(DENOISER_CLASSES[key])
    state = _load_weights(sub, cls.__name__)
    try:
        network = cls.from_config(config)
        network.load_state_dict(state, strict=True)
    except Exception as e:  # torch's and diffusers' errors for a config or weights that do not fit
        first = (str(e).strip().splitlines() or [type(e).__name__])[0]
        raise ModelFolderError(f"{sub}: weights do not fit the config ({first})", fix="train again") from None
    network.to(device=device).eval()
    if dtype != torch.float32:
        network.to(dtype=dtype)

    if info is None:
        info = _default_info(parts)
    guide = _load_copy(path / GUIDE_DIR, network, "guide", "to sample without autoguidance")
    fewstep = None
    if isinstance(info.get("fewstep"), dict) and info["fewstep"].get("levels"):
        fewstep = _load_copy(path / FEWSTEP_DIR, network, "few-step", "to sample without the few-step map")
    return LoadedModel(
        network, scheduler_config, info.get("objective", objective), info, path, guide=guide, fewstep=fewstep
    )


def _load_copy(folder: Path, network: nn.Module, what: str, without: str) -> nn.Module | None:
    """The network saved in ``folder`` (a copy of ``network``, so the same class, config, device and
    dtype, with the folder's weights), or None when there is none: the guide and the few-step map."""
    file = folder / GUIDE_FILE
    if not file.is_file():
        return None
    import copy

    from safetensors.torch import load_file

    try:
        state = load_file(file)
        guide = copy.deepcopy(network)
        guide.load_state_dict(state, strict=True)
    except Exception as e:  # safetensors' own error types for damaged files, torch's for a mismatch
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ModelFolderError(
            f"{file}: damaged {what} weights ({first})",
            fix=f"delete the folder {file.parent} {without}, or train again",
        ) from None
    return guide.eval()
