"""The workspace root and its fixed sub-folders.

Root, first match wins: an explicit ``--workspace``, ``$NOISEBLOOM_HOME``, the platform's user
data folder (platformdirs), e.g. ``~/.local/share/noisebloom`` on Linux.
"""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

from core.errors import NoisebloomError


def workspace_root(override: str | os.PathLike[str] | None = None, *, create: bool = True) -> Path:
    if override:
        root = Path(override)
    elif os.environ.get("NOISEBLOOM_HOME"):
        root = Path(os.environ["NOISEBLOOM_HOME"])
    else:
        root = Path(platformdirs.user_data_dir("noisebloom", appauthor=False))
    root = root.expanduser().resolve()
    if create:
        try:
            for sub in ("datasets", "runs", "samples", "exports"):
                (root / sub).mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise NoisebloomError(
                f"workspace {root}: cannot create it ({e.strerror})",
                fix="pass --workspace DIR or set NOISEBLOOM_HOME to a folder you can write",
            ) from None
    return root


def datasets_dir(root: Path) -> Path:
    return root / "datasets"


def runs_dir(root: Path) -> Path:
    return root / "runs"


def samples_dir(root: Path) -> Path:
    return root / "samples"


def exports_dir(root: Path) -> Path:
    return root / "exports"


def evaluations_dir(root: Path) -> Path:
    """Health checks (``evaluate`` jobs): one JSON file per model, the latest check."""
    return root / "evaluations"
