"""Model folders and runs in the workspace catalog: what the library lists.

A model is registered by reference: its row points at the folder where it is, inside the workspace
or not, and nothing is copied or moved (the catalog stores absolute paths, and deleting a library
item never removes a folder outside the workspace). Registering a folder again finds its row by
path (or by its run) and updates it, so nothing is listed twice.

Used by the engine (a run it trained, a folder the window opens) and by ``noisebloom train``, which
adds its run and model when it saves, so that the next window lists them wherever ``--out`` was.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from core.errors import ModelFolderError
from core.models.folder import check_model_folder
from core.workspace.catalog import Catalog, new_id


def model_folder_in(path: str | Path) -> Path:
    """The model folder that ``path`` names: ``path`` itself, or the ``model`` folder of a run
    folder (what ``noisebloom train --out`` wrote). Raises :class:`ModelFolderError` naming the
    folder and what is missing when neither is a model Noisebloom can sample."""
    folder = Path(path).expanduser().resolve()
    if not (folder / "model_index.json").exists():
        if not (folder / "model" / "model_index.json").is_file():
            raise ModelFolderError(
                f"{folder}: not a model folder (no model_index.json)",
                fix="choose a folder that holds model_index.json, or a training run's folder",
            )
        folder = folder / "model"
    check_model_folder(folder)
    return folder


def _same_folder(row: dict[str, Any], folder: Path) -> bool:
    try:
        return Path(row["path"]).resolve() == folder
    except OSError:
        return False


def register_model(
    catalog: Catalog, model_dir: str | Path, name: str | None = None, run_id: str | None = None
) -> tuple[str, bool]:
    """Add the model folder ``model_dir`` (checked by the caller) to the catalog, or update the row
    that already points at it (or belongs to ``run_id``): ``(model id, whether it is new)``."""
    folder = Path(model_dir).resolve()
    rows = catalog.list("models", "WHERE run_id = ?", (run_id,)) if run_id else []
    existing = rows[0] if rows else next((r for r in catalog.list("models") if _same_folder(r, folder)), None)
    info = check_model_folder(folder)
    shown = (
        name
        or (existing or {}).get("name")
        or (folder.parent.name if folder.name == "model" else folder.name)
    )
    model_id = existing["id"] if existing else new_id("model")
    catalog.insert(
        "models",
        id=model_id,
        name=shown,
        run_id=run_id or (existing or {}).get("run_id"),
        path=str(folder),
        info=info,
        created=existing["created"] if existing else time.time(),
    )
    return model_id, existing is None


def register_run(
    catalog: Catalog,
    run_dir: str | Path,
    config: dict[str, Any],
    *,
    steps: int,
    status: str,
    started: float,
    model_dir: str | Path | None = None,
) -> tuple[str, str | None]:
    """Add a run trained outside the engine (``noisebloom train``) and its model to the catalog, or
    update the row of the same run folder (a resumed or replaced run): ``(run id, model id)``."""
    folder = Path(run_dir).resolve()
    existing = next((r for r in catalog.list("runs") if _same_folder(r, folder)), None)
    run_id = existing["id"] if existing else new_id("run")
    catalog.insert(
        "runs",
        id=run_id,
        name=existing["name"] if existing else folder.name,
        dataset_id=(existing or {}).get("dataset_id"),
        parent_model_id=config.get("init_from"),
        config=config,
        status=status,
        path=str(folder),
        error=None,
        created=existing["created"] if existing else started,
        started=started,
        finished=time.time(),
        steps=int(steps),
    )
    model_id = None
    if model_dir is not None:
        try:
            model_id, _ = register_model(catalog, model_dir, folder.name, run_id)
        except ModelFolderError:
            model_id = None  # nothing sampleable was saved: the run is listed, without a model
    return run_id, model_id
