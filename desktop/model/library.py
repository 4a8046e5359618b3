"""The library: datasets, runs, models and sample sets in the workspace, as the engine lists them.

Observable state only (no widgets): ``refresh()`` asks the engine (``list``) and ``changed(what)``
fires when an answer arrives. Thumbnails are read straight from the files the catalog points at
(the prepared uint8 cache of a dataset, a run's preview PNGs, a sample set's final images), never
through torch.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Signal

from core.catalogue.samplers import SAMPLERS
from core.words import count

WHATS = ("datasets", "runs", "models", "sample_sets")


class LibraryModel(QObject):
    changed = Signal(str)  # what
    selection_changed = Signal(str, str)  # what, id

    def __init__(self, client: Any, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.client = client
        self.items: dict[str, list[dict[str, Any]]] = {w: [] for w in WHATS}
        self.interrupted: list[str] = []
        self.selected: tuple[str, str] | None = None
        self._select_when_listed: tuple[str, str] | None = None

    def refresh(self, *whats: str) -> None:
        for what in whats or WHATS:
            self.client.send(
                "list", {"what": what}, on_result=lambda d, w=what: self._set(w, d.get("items", []))
            )

    def _set(self, what: str, items: list[dict[str, Any]]) -> None:
        self.items[what] = list(items)
        if what in ("models", "sample_sets"):  # a generation is named by its model: keep the two in step
            names = {m.get("id"): m.get("name") or m.get("id") for m in self.items["models"]}
            for s in self.items["sample_sets"]:
                s["model_name"] = names.get(s.get("model_id")) or s.get("model_id") or ""
        self.changed.emit(what)
        if what == "models" and self.items["sample_sets"]:
            self.changed.emit("sample_sets")
        wanted = self._select_when_listed
        if wanted is not None and wanted[0] == what and self.get(*wanted) is not None:
            self._select_when_listed = None
            self.select(*wanted)

    def select_when_listed(self, what: str, id: str) -> None:
        """Select ``id`` once the engine lists it (now, if it does already), and ask for the list."""
        self._select_when_listed = (what, id)
        self.refresh(what)

    def get(self, what: str, id: str) -> dict[str, Any] | None:
        return next((x for x in self.items.get(what, []) if x.get("id") == id), None)

    def select(self, what: str, id: str) -> None:
        self.selected = (what, id)
        self.selection_changed.emit(what, id)

    def selected_model(self) -> str | None:
        return self.selected[1] if self.selected and self.selected[0] == "models" else None

    def interrupted_runs(self) -> list[dict[str, Any]]:
        return [
            r
            for r in self.items["runs"]
            if r.get("status") == "interrupted" or r.get("id") in self.interrupted
        ]


def item_title(what: str, item: dict[str, Any]) -> str:
    if what == "sample_sets":
        return generation_title(item)
    name = item.get("name") or item.get("id", "?")
    return str(name)


def generation_title(item: dict[str, Any]) -> str:
    """A generation by what makes it differ from the others: its model, sampler, steps, seed and
    the time it was made ("digits · UniPC · 20 steps · seed 7 · 14:02")."""
    cfg = item.get("config") or {}
    spec = SAMPLERS.get(str(cfg.get("sampler") or ""))
    bits = [
        item.get("model_name") or item.get("model_id"),
        spec.title if spec is not None else cfg.get("sampler"),
        count(int(cfg["steps"]), "step") if isinstance(cfg.get("steps"), int) else None,
        f"seed {cfg['seed']}" if cfg.get("seed") is not None else None,
        time.strftime("%d %b %H:%M", time.localtime(float(item["created"]))) if item.get("created") else None,
    ]
    if item.get("branch_of") or cfg.get("branch_of"):
        step = cfg.get("branch_step")
        bits.insert(1, f"branch from step {step}" if isinstance(step, int) else "branch")
    shown = [str(b) for b in bits if b]
    return " · ".join(shown) if shown else str(item.get("id", "?"))


def item_subtitle(what: str, item: dict[str, Any]) -> str:
    if what == "datasets":
        word = "clip" if item.get("kind") == "clip" else "image"
        n = item.get("n_items")
        return count(int(n), word) if isinstance(n, int) else f"? {word}s"
    if what == "runs":
        status = item.get("status", "")
        return f"{status} · {count(int(item.get('steps') or 0), 'step')}"
    if what == "models":
        info = item.get("info") or {}
        bits = [
            info.get("objective"),
            info.get("preset"),
            f"{info['resolution']} px" if info.get("resolution") else None,
        ]
        return " · ".join(str(b) for b in bits if b)
    if what == "sample_sets":
        cfg = item.get("config") or {}
        path = Path(str(item.get("path") or ""))
        clips = bool(item.get("path")) and next(path.glob("sample_*.gif"), None) is not None  # a clip model's
        return (
            f"{item.get('n_images', '?')} {'clips' if clips else 'images'} · "
            f"{cfg.get('sampler', '')} {cfg.get('steps', '')}"
        ).strip()
    return ""


def thumbnail_source(what: str, item: dict[str, Any]) -> tuple[str, Any] | None:
    """Where a thumbnail can be read: ("png", path), ("prepared", folder) or ("npy", path)."""
    path = Path(str(item.get("path") or ""))
    if not item.get("path"):
        return None
    if what == "datasets" and (path / "prepared.json").is_file():
        return ("prepared", path)
    if what in ("runs", "models"):
        run = path if what == "runs" else path.parent
        samples = run / "samples"
        if samples.is_dir():
            pngs = sorted(samples.rglob("*.png"))
            if pngs:
                return ("png", pngs[-1])
    if what == "sample_sets":
        for cand in (path / "trajectory" / "final.npy", path / "final.npy"):
            if cand.is_file():
                return ("npy", cand)
        pngs = sorted(path.glob("*.png")) if path.is_dir() else []
        if pngs:
            return ("png", pngs[0])
    return None
