"""The built-in demo (issue 7, item 7): synthetic blossom pictures and, once trained with
``resources/demo/make_demo.py``, a small model, so that Generate works on first run with
nothing to download. The model folder is passed to the engine by path (``sample`` accepts a
model folder), so it needs no catalog entry."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

DEMO = Path(__file__).resolve().parents[2] / "resources" / "demo"


def demo_dataset() -> Path | None:
    folder = DEMO / "blossoms"
    return folder if folder.is_dir() and any(folder.glob("*.png")) else None


def demo_model() -> tuple[Path, dict[str, Any]] | None:
    """(folder, noisebloom.json) of the built-in model, or None when it has not been trained."""
    folder = DEMO / "model"
    if not (folder / "model_index.json").is_file():
        return None
    try:
        info = json.loads((folder / "noisebloom.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        info = {}
    return folder, info
