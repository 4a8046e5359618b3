"""Train area state: the training settings, the running job, its loss curve and its previews.

Consumes the engine's ``metric`` (loss, lr, img_per_s, val_loss ...), ``preview`` (fixed-seed
grid as base64 PNGs) and lifecycle events of a ``train`` / ``finetune`` / ``resume_run`` job, and
exposes the actions of the Train area: start, pause, resume, stop, cancel, extend by N steps,
resume an interrupted run, export the training timelapse.
"""

from __future__ import annotations

import math
from typing import Any

from PySide6.QtCore import QObject, Signal

from core.engine import protocol as P

OBJECTIVES = ("eps", "v", "x0", "flow")
PRESETS = ("unet-tiny", "unet-cpu", "unet-laptop", "unet-gpu", "dit-s")
DEVICES = ("auto", "cpu", "cuda", "mps")
LIVE = ("submitted", "queued", "running", "paused")

# core.training.TrainConfig's defaults; None = the engine decides (the dataset's resolution, the
# preset's learning rate). The budget keys are always sent, so the one not chosen is cleared.
DEFAULT_CONFIG: dict[str, Any] = {
    "preset": "unet-cpu",
    "objective": "flow",
    "schedule": "cosine",
    "resolution": None,
    "batch_size": 32,
    "lr": None,
    "device": "auto",
    "max_steps": None,
    "max_minutes": 10.0,
}
BUDGET_KEYS = ("max_steps", "max_minutes")


def smooth(values: list[float], weight: float) -> list[float]:
    """TensorBoard's debiased exponential moving average (weight 0 = raw, 0.99 = very smooth)."""
    out, last, n = [], 0.0, 0
    for v in values:
        if not math.isfinite(v):
            out.append(v)
            continue
        last = last * weight + (1 - weight) * v
        n += 1
        out.append(last / (1 - weight**n) if weight > 0 else v)
    return out


class TrainingModel(QObject):
    state_changed = Signal(str)
    metrics_changed = Signal()
    preview_changed = Signal()
    progress_changed = Signal(float, float)
    config_changed = Signal()

    def __init__(self, app: Any, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.app = app
        self.config: dict[str, Any] = dict(DEFAULT_CONFIG)
        self.dataset_id: str | None = None
        self.base_model: str | None = None  # set for a fine-tune
        self.state = "idle"
        self.job_id: str | None = None
        self.run_id: str | None = None
        self.kind = "train"
        self.reset_series()

    def reset_series(self) -> None:
        self.series: dict[str, tuple[list[float], list[float]]] = {}
        self.preview_images: list[str] = []
        self.preview_step = 0
        self.preview_caption = ""
        self.timelapse: list[tuple[int, list[str]]] = []
        self.progress = (0.0, 0.0)

    # --- settings --------------------------------------------------------------------------------
    def set_config(self, name: str, value: Any) -> None:
        if self.config.get(name) != value:
            self.config[name] = value
            self.config_changed.emit()

    def set_budget(self, mode: str, value: float) -> None:
        """``mode`` "steps" or "minutes": the other limit is cleared."""
        if mode == "steps":
            self.config.update(max_steps=int(value), max_minutes=None)
        else:
            self.config.update(max_minutes=float(value), max_steps=None)
        self.config_changed.emit()

    def setup_finetune(self, model_id: str, dataset_id: str | None) -> None:
        self.base_model = model_id
        if dataset_id:
            self.dataset_id = dataset_id
        self.config_changed.emit()

    def train_config(self) -> dict[str, Any]:
        return {k: v for k, v in self.config.items() if v is not None or k in BUDGET_KEYS}

    # --- actions ---------------------------------------------------------------------------------
    @property
    def live(self) -> bool:
        return self.state in LIVE

    def start(self) -> str:
        if not self.dataset_id:
            raise ValueError("choose a dataset first: drop a folder on the window or pick one in the library")
        self.reset_series()
        args: dict[str, Any] = {"dataset": self.dataset_id, "config": self.train_config()}
        self.kind = "finetune" if self.base_model else "train"
        if self.base_model:
            args["model"] = self.base_model
        self.run_id = None
        self.job_id = self.app.submit(self.kind, args, self)
        self._set_state("submitted")
        return self.job_id

    def resume_run(self, run_id: str, extra_steps: int | None = None) -> str:
        args: dict[str, Any] = {"run": run_id}
        if extra_steps:
            args["extra_steps"] = int(extra_steps)
        if run_id != self.run_id:
            self.reset_series()
        self.kind = "resume_run"
        self.run_id = run_id
        self.job_id = self.app.submit("resume_run", args, self)
        self._set_state("submitted")
        self.app.client.send("metrics", {"run": run_id}, on_result=self._got_history)
        return self.job_id

    def extend(self, extra_steps: int) -> str:
        if not self.run_id:
            raise ValueError("nothing to extend yet: train a run first")
        return self.resume_run(self.run_id, extra_steps)

    def pause(self) -> None:
        self._control("pause")

    def resume(self) -> None:
        self._control("resume")

    def stop(self) -> None:
        self._control("stop")

    def cancel(self) -> None:
        self._control("cancel")

    def _control(self, cmd: str) -> None:
        if self.job_id and self.live:
            self.app.control(cmd, self.job_id)

    def export_timelapse(self, fmt: str = "mp4", out: str | None = None) -> str | None:
        if not self.run_id:
            return None
        args: dict[str, Any] = {"run": self.run_id, "format": fmt}
        if out:
            args["out"] = out
        return self.app.export(args)

    # --- events ----------------------------------------------------------------------------------
    def handle(self, ev: P.Event) -> None:
        if isinstance(ev, P.State):
            self._set_state(ev.state)
        elif isinstance(ev, P.Progress):
            self.progress = (ev.done, ev.total)
            self.progress_changed.emit(ev.done, ev.total)
        elif isinstance(ev, P.Metric):
            for name, value in ev.values.items():
                steps, values = self.series.setdefault(name, ([], []))
                steps.append(float(ev.step))
                values.append(float(value))
            self.metrics_changed.emit()
        elif isinstance(ev, P.Preview):
            self.preview_images, self.preview_step, self.preview_caption = (
                list(ev.images),
                ev.step,
                ev.caption,
            )
            self.timelapse.append((ev.step, list(ev.images)))
            self.preview_changed.emit()
        elif isinstance(ev, P.Done):
            run = ev.results.get("run") or ev.results.get("run_id")
            if isinstance(run, dict):
                run = run.get("id")
            self.run_id = str(run) if run else self.run_id
            self._set_state(ev.state)
        elif isinstance(ev, P.Error):
            self._set_state(ev.state or "failed")

    def _got_history(self, data: dict[str, Any]) -> None:
        """A resumed run: show its curve so far before new points arrive."""
        for name, points in (data.get("series") or {}).items():
            if name in self.series and self.series[name][0]:
                continue
            self.series[name] = ([float(p[0]) for p in points], [float(p[1]) for p in points])
        self.metrics_changed.emit()

    def _set_state(self, state: str) -> None:
        self.state = state
        self.state_changed.emit(state)
