"""What ``train --out`` may write into: a new or empty folder, or a run it was told to resume or replace.

A folder that holds anything but a Noisebloom run is refused whatever the flags (nothing the person
keeps there is ever deleted); an existing run is refused unless ``--resume`` continues it or
``--overwrite`` replaces it, and replacing removes only the run's own entries (:data:`RUN_ENTRIES`).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from core.errors import NoisebloomError

RUN_ENTRIES = ("config.json", "metrics.jsonl", "model", "state", "samples")
_OWN_HIDDEN = (".lock",)  # written by Noisebloom into a run folder


def is_run_folder(folder: Path) -> bool:
    """Whether ``folder`` holds a training run: its ``config.json`` is a train config."""
    path = folder / "config.json"
    if not path.is_file() or path.stat().st_size > 1_000_000:
        return False
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(data, dict) and data.get("kind") == "train"


def _own_temporary(name: str) -> bool:
    """Noisebloom's own leftovers: the lock, and the temporary folders of an interrupted save."""
    return name in _OWN_HIDDEN or any(
        name.startswith(f".{entry}.") and (name.endswith(".tmp") or ".old-" in name) for entry in RUN_ENTRIES
    )


def check_out_folder(folder: Path, *, resume: bool, overwrite: bool) -> None:
    """Refuse an ``--out`` that training would damage; writes nothing."""
    if not folder.exists():
        if resume:
            raise NoisebloomError(
                f"--out {folder}: no such run to resume", fix="leave --resume out to start it"
            )
        return
    if not folder.is_dir():
        raise NoisebloomError(f"--out {folder}: is a file, not a folder", fix="choose a new or empty folder")
    others = sorted(p.name for p in folder.iterdir() if not _own_temporary(p.name))
    if not others:
        if resume:
            raise NoisebloomError(
                f"--out {folder}: holds no run to resume", fix="leave --resume out to start it"
            )
        return
    if not is_run_folder(folder):
        shown = ", ".join(others[:3]) + (f" and {len(others) - 3} more" if len(others) > 3 else "")
        raise NoisebloomError(
            f"--out {folder}: is not a Noisebloom run and is not empty (it holds {shown})",
            fix="choose a new or empty folder for --out; nothing in this one was changed",
        )
    if resume and overwrite:
        raise NoisebloomError(
            "--resume and --overwrite: pick one", fix="--resume continues the run, --overwrite replaces it"
        )
    if not resume and not overwrite:
        raise NoisebloomError(
            f"--out {folder}: already holds a training run",
            fix="pass --resume to continue it, --overwrite to replace it, or choose another --out folder",
        )


def clear_run(folder: Path) -> list[Path]:
    """Remove the run's own entries from ``folder`` (``--overwrite``), nothing else; what was removed."""
    removed = []
    for entry in folder.iterdir():
        if entry.name in RUN_ENTRIES or (_own_temporary(entry.name) and entry.name not in _OWN_HIDDEN):
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            else:
                entry.unlink()
            removed.append(entry)
    return removed
