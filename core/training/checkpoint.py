"""The full training state, for an exact resume: ``RUN_DIR/state/``.

Safetensors and JSON only (nothing is pickled):

- ``weights.safetensors``: the raw (non-EMA) network weights;
- ``ema.safetensors``: the EMA's shadow weights (diffusers' ``EMAModel``), its counters in the json;
- ``optimizer.safetensors``: the optimizer's per-parameter state (AdamW's moments, Muon's momentum),
  its param groups in the json (a Muon run's first group says ``"muon": true``);
- ``rng.safetensors``: the noise generator state of every process;
- ``guide.safetensors``: the autoguidance guide's weights once the run has kept them (its step in
  the json);
- ``trainer.json``: step, data-stream position, elapsed seconds, EMA counters, param groups.

The folder is written with :func:`core.fsutil.atomic_directory`: a kill at any moment leaves the
previous state (or the new one) whole.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from core.errors import NoisebloomError
from core.fsutil import atomic_directory, recover_directory

STATE_FORMAT = 1


@dataclass
class TrainerState:
    step: int
    position: int
    elapsed_s: float
    weights: dict[str, torch.Tensor]
    optimizer: dict[str, Any]
    ema: dict[str, Any] | None
    rng: torch.Tensor | None  # (world, L) uint8 generator states
    extra: dict[str, Any]
    guide: dict[str, torch.Tensor] | None = None
    guide_step: int = 0


def _optimizer_to_files(state_dict: dict[str, Any]) -> tuple[dict[str, torch.Tensor], list[dict[str, Any]]]:
    tensors: dict[str, torch.Tensor] = {}
    for idx, per_param in state_dict["state"].items():
        for name, value in per_param.items():
            t = value if torch.is_tensor(value) else torch.tensor(value)
            tensors[f"{idx}.{name}"] = t.detach().cpu().contiguous()
    return tensors, state_dict["param_groups"]


def _optimizer_from_files(tensors: dict[str, torch.Tensor], groups: list[dict[str, Any]]) -> dict[str, Any]:
    state: dict[int, dict[str, torch.Tensor]] = {}
    for key, value in tensors.items():
        idx, name = key.split(".", 1)
        state.setdefault(int(idx), {})[name] = value
    return {"state": state, "param_groups": groups}


def save_state(
    folder: Path,
    *,
    step: int,
    position: int,
    elapsed_s: float,
    weights: dict[str, torch.Tensor],
    optimizer_state: dict[str, Any],
    ema_state: dict[str, Any] | None,
    rng: torch.Tensor | None,
    extra: dict[str, Any],
    guide: dict[str, torch.Tensor] | None = None,
    guide_step: int = 0,
) -> None:
    cpu = {k: v.detach().to("cpu").contiguous() for k, v in weights.items()}
    opt_tensors, groups = _optimizer_to_files(optimizer_state)
    meta: dict[str, Any] = {
        "format": STATE_FORMAT,
        "step": step,
        "position": position,
        "elapsed_s": elapsed_s,
        "param_groups": groups,
        "extra": extra,
    }
    with atomic_directory(folder) as tmp:
        save_file(cpu, tmp / "weights.safetensors")
        save_file(opt_tensors, tmp / "optimizer.safetensors")
        if ema_state is not None:
            shadow = ema_state["shadow_params"]
            save_file(
                {f"{i}": p.detach().cpu().contiguous() for i, p in enumerate(shadow)}, tmp / "ema.safetensors"
            )
            meta["ema"] = {k: v for k, v in ema_state.items() if k != "shadow_params"}
        if rng is not None:
            save_file({"noise": rng.cpu().contiguous()}, tmp / "rng.safetensors")
        if guide is not None:
            save_file({k: v.detach().cpu().contiguous() for k, v in guide.items()}, tmp / "guide.safetensors")
            meta["guide_step"] = int(guide_step)
        (tmp / "trainer.json").write_text(json.dumps(meta, indent=1) + "\n", encoding="utf-8")


def load_state(folder: Path) -> TrainerState:
    recover_directory(folder)
    meta_path = folder / "trainer.json"
    if not meta_path.is_file():
        raise NoisebloomError(
            f"{folder}: no training state to resume from",
            fix="train without --resume (this run has no checkpoint yet)",
        )
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        weights = load_file(folder / "weights.safetensors")
        optimizer = _optimizer_from_files(load_file(folder / "optimizer.safetensors"), meta["param_groups"])
        ema = None
        if (folder / "ema.safetensors").is_file():
            shadow = load_file(folder / "ema.safetensors")
            ema = dict(meta["ema"], shadow_params=[shadow[str(i)] for i in range(len(shadow))])
        rng = (
            load_file(folder / "rng.safetensors")["noise"] if (folder / "rng.safetensors").is_file() else None
        )
        guide = load_file(folder / "guide.safetensors") if (folder / "guide.safetensors").is_file() else None
    except (OSError, KeyError, ValueError, json.JSONDecodeError) as e:
        raise NoisebloomError(
            f"{folder}: damaged training state ({e})", fix="train again without --resume"
        ) from None
    if meta.get("format") != STATE_FORMAT:
        raise NoisebloomError(f"{meta_path}: unknown state format {meta.get('format')!r}", fix="train again")
    return TrainerState(
        step=int(meta["step"]),
        position=int(meta["position"]),
        elapsed_s=float(meta["elapsed_s"]),
        weights=weights,
        optimizer=optimizer,
        ema=ema,
        rng=rng,
        extra=meta.get("extra", {}),
        guide=guide,
        guide_step=int(meta.get("guide_step", 0)),
    )
