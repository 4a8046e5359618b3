"""Train area state: the training settings, the running job, its loss curve and its previews.

Consumes the engine's ``metric`` (loss, lr, img_per_s, val_loss ...), ``preview`` (fixed-seed
grid as base64 PNGs) and lifecycle events of a ``train`` / ``finetune`` / ``resume_run`` job, and
exposes the actions of the Train area: start, pause, resume, stop, cancel, extend by N steps,
resume an interrupted run, export the training timelapse.

A preset is a network for images or for clips (core.models.presets ``data_kind``); the trainer
refuses a mismatch, so the preset follows the chosen dataset's kind (``fit_preset``) and ``start``
says why before anything is sent. For a clip dataset the previews are filmstrips of its T frames.

Cancel does not delete a run that has saved a checkpoint: the engine stops it as ``stop`` does and
answers ``kept``; the run then ends as stopped and ``kept`` says the cancel kept it (the window tells
the person how to remove it). Only ``cancel(discard=True)`` deletes such a run (quitting with
"Discard the run").
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Signal

from core.catalogue import training as C
from core.engine import protocol as P
from core.training import forecast as F
from core.words import count, format_duration

PRESETS = C.OFFERED
PRESET_KINDS = {name: C.PRESETS[name].data_kind for name in PRESETS}
KIND_WORDS = {"image": "images", "clip": "clips"}
RESOLUTIONS = (16, 24, 32, 48, 64, 96, 128, 256)  # the sizes offered, and Auto's candidates
# "stopping" is the window's own: Stop was pressed and the engine is finishing its step and saving
# the model (seconds to a minute); the job's done or error event ends it.
LIVE = ("submitted", "queued", "running", "paused", "stopping")

# What the window sets of core.training.TrainConfig, at the catalogue's defaults; None = the engine
# decides (the dataset's resolution, the preset's learning rate). The budget keys are always sent,
# so the one not chosen is cleared. "auto" resolution is the window's own: resolved to a number
# before Start (``resolved_resolution``).
AUTO = "auto"
# The live run is said to have slowed down when it trains this many times slower than the speed
# measured before it (or its own best so far): a loaded processor slows a run 5x or more, noise in
# the windowed speed moves it by tens of percent.
SLOWDOWN = 3.0
DEFAULT_CONFIG: dict[str, Any] = {
    "preset": C.DEFAULT_PRESET,
    "objective": C.DEFAULT_OBJECTIVE,
    "schedule": C.DEFAULT_SCHEDULE,
    "resolution": AUTO,
    "batch_size": C.DEFAULT_BATCH_SIZE,
    "lr": None,
    "device": C.DEVICES[0],
    "max_steps": None,
    "max_minutes": C.DEFAULT_MINUTES,
}
BUDGET_KEYS = ("max_steps", "max_minutes")
DEFAULT_PRESET = {"image": C.DEFAULT_PRESET, "clip": C.DEFAULT_CLIP_PRESET}
DEFAULT_BATCH = {"image": C.DEFAULT_BATCH_SIZE, "clip": C.DEFAULT_CLIP_BATCH_SIZE}
presets_for = C.presets_for


def preset_mismatch(preset: str, kind: str | None) -> str:
    """Why ``preset`` cannot train on a dataset of ``kind`` ("" when it can, or the kind is unknown)."""
    have = PRESET_KINDS.get(preset)
    if kind is None or have is None or have == kind:
        return ""
    return (
        f"{preset} is a network for {KIND_WORDS[have]} and this dataset holds {KIND_WORDS.get(kind, kind)}: "
        f"choose {' or '.join(presets_for(kind))}"
    )


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
        self.kept = False  # a cancel of this job kept its run (stopped and saved) instead of deleting it
        self.run_resolution: int | None = None  # the size the live run trains at (Auto resolved)
        self._speeds: dict[tuple[Any, ...], dict[int, float]] = {}  # images/s by size, per speed_key
        self.measured_at: int | None = None  # the size of the engine's last measurement
        self.settings_from: dict[str, Any] | None = None  # the library run whose settings are shown
        self.reset_series()

    def reset_series(self) -> None:
        self.series: dict[str, tuple[list[float], list[float]]] = {}
        self.preview_images: list[str] = []
        self.preview_step = 0
        self.preview_caption = ""
        self.timelapse: list[tuple[int, list[str]]] = []
        self.progress = (0.0, 0.0)
        self.progress_unit = ""  # "s" for a run on a time budget: the bar follows the clock
        self.run_step: int | None = None  # the steps so far, from the latest progress
        self.expected_steps: tuple[int, int] | None = None  # where a time-budget run should end
        self.eta_s: float | None = None
        self.speed_now = 0.0  # the run's latest windowed images/s, and its best so far
        self.speed_best = 0.0
        self.speed_before = 0.0  # the speed known before the run started, at its size

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
        """A fine-tune of ``model_id`` on ``dataset_id``: the settings show the base model's network,
        objective, schedule and size where the library knows them (the engine keeps them whatever is
        sent: a fine-tune cannot change its network or what it predicts)."""
        self.base_model = model_id
        if dataset_id:
            self.dataset_id = dataset_id
        for key, value in self.base_settings().items():
            self.config[key] = value
        self.config_changed.emit()

    def base_settings(self) -> dict[str, Any]:
        """The settings a fine-tune takes from its base model (:meth:`setup_finetune`), as far as the
        library's model info says them; {} without a base model."""
        if not self.base_model:
            return {}
        info = (self.app.library.get("models", self.base_model) or {}).get("info") or {}
        known: dict[str, Any] = {}
        if info.get("preset") in PRESETS:
            known["preset"] = info["preset"]
        if info.get("objective") in C.OBJECTIVES:
            known["objective"] = info["objective"]
        if info.get("schedule") in ("cosine", "linear"):
            known["schedule"] = info["schedule"]
        if info.get("resolution") in RESOLUTIONS:
            known["resolution"] = int(info["resolution"])
        return known

    def load_run_settings(self, run: dict[str, Any]) -> str:
        """Show a library run's own settings (its dataset, network, objective, size, budget, batch,
        learning rate, device and, for a fine-tune, its base model) as the starting point of a new run;
        ``settings_from`` names the run until Start. Returns what could not be restored, in words ("" when
        everything was): a dataset or base model no longer in the library."""
        config = run.get("config") if isinstance(run.get("config"), dict) else {}
        if not config:
            return "its settings were not recorded"
        merged = {k: config.get(k, v) for k, v in DEFAULT_CONFIG.items()}  # resolution None: the dataset's
        if config.get("max_steps"):
            merged.update(max_steps=int(config["max_steps"]), max_minutes=None)
        elif config.get("max_minutes"):
            merged.update(max_minutes=float(config["max_minutes"]), max_steps=None)
        self.config = merged
        missing = []
        dataset = run.get("dataset_id")
        if dataset and self.app.library.get("datasets", dataset):
            self.dataset_id = dataset
        elif dataset:
            self.dataset_id = None  # never another dataset in its place
            missing.append("its dataset is no longer in the library")
        parent = run.get("parent_model_id")
        self.base_model = parent if parent and self.app.library.get("models", parent) else None
        if parent and not self.base_model:
            missing.append("its base model is no longer in the library")
        self.settings_from = run
        self.config_changed.emit()
        return ", and ".join(missing)

    def train_config(self) -> dict[str, Any]:
        """The config sent to the engine: Auto resolved to a number (dropped, i.e. the dataset's,
        only while neither a speed nor the dataset's size is known)."""
        config = {k: v for k, v in self.config.items() if v is not None or k in BUDGET_KEYS}
        if config.get("resolution") == AUTO:
            resolved = self.resolved_resolution()
            config.pop("resolution")
            if resolved:
                config["resolution"] = resolved
        return config

    def estimate_config(self) -> dict[str, Any]:
        """The config the engine measures speed for: Auto measures at the dataset's size, and the
        forecast scales from there (:mod:`core.training.forecast`)."""
        config = dict(self.config)
        if config.get("resolution") == AUTO:
            config["resolution"] = None
        return config

    def estimate_key(self) -> tuple[Any, ...]:
        """What the engine's measured estimate depends on: the dataset, the network and the size of a
        step, and the device it runs on. Anything else (objective, schedule, learning rate, a library refresh)
        leaves the measurement as it is; the budget only rescales it (:func:`budget_figures`)."""
        c = self.estimate_config()
        return (self.dataset_id, c.get("preset"), c.get("resolution"), c.get("batch_size"), c.get("device"))

    def calibration_key(self, resolution: int | None = None) -> str:
        """The settings key under which the speed seen in training here is remembered: per preset,
        resolution (``resolution``, else the live run's, else the chosen one resolved) and device,
        and for clips per frame count (a clip of 16 frames costs about twice one of 8)."""
        c = self.config
        resolution = resolution or (self.run_resolution if self.live else None) or self.resolved_resolution()
        frames, _fps = self.clip_format()
        return f"calibration/{c.get('preset')}/{resolution}/{c.get('device')}" + (
            f"/{frames}f" if frames else ""
        )

    # --- speed, Auto and the forecast ------------------------------------------------------------
    def speed_key(self) -> tuple[Any, ...]:
        """What a speed in images/s belongs to; the batch size is left out (it changes images/s
        little, and the last figure forecasts until the engine measures the new batch)."""
        c = self.config
        return (self.dataset_id, c.get("preset"), c.get("device"))

    def speeds(self) -> dict[int, float]:
        """The latest images/s known at each size for the current dataset, preset and device."""
        return dict(self._speeds.get(self.speed_key(), {}))

    def note_speed(self, resolution: int | None, img_per_s: float, *, if_unknown: bool = False) -> None:
        """Record a measured speed at ``resolution`` (the latest replaces the earlier one there;
        ``if_unknown``: only where nothing is known yet, for speeds remembered from earlier runs)."""
        if not resolution or not img_per_s or img_per_s <= 0:
            return
        known = self._speeds.setdefault(self.speed_key(), {})
        if not (if_unknown and int(resolution) in known):
            known[int(resolution)] = float(img_per_s)

    def prepared_resolution(self) -> int | None:
        """The dataset's prepared size: from the library, else the size the engine measured at."""
        return self.dataset_resolution() or self.measured_at

    def auto_resolution(self) -> int | None:
        minutes = self.config.get("max_minutes")
        batch = int(self.config.get("batch_size") or 1)
        prepared = self.prepared_resolution()
        speeds = self.speeds()
        if not speeds and not prepared:
            return None
        return F.auto_resolution(speeds, batch, minutes, RESOLUTIONS, prepared)

    def resolved_resolution(self) -> int | None:
        """The size a Start now would train at: Auto's pick, the chosen size, or the dataset's."""
        r = self.config.get("resolution")
        if r == AUTO:
            return self.auto_resolution()
        return int(r) if r else self.prepared_resolution()

    def forecast(self) -> F.Forecast | None:
        """What the budget buys at the resolved size, from the latest speeds; None before any."""
        resolution = self.resolved_resolution()
        if not resolution:
            return None
        steps, minutes = self.budget()
        return F.forecast(
            self.speeds(),
            int(self.config.get("batch_size") or 1),
            resolution,
            RESOLUTIONS,
            minutes=minutes,
            steps=steps,
            dataset_resolution=self.prepared_resolution(),
        )

    def budget(self) -> tuple[Any, Any]:
        return self.config.get("max_steps"), self.config.get("max_minutes")

    # --- the dataset's kind ----------------------------------------------------------------------
    def dataset(self) -> dict[str, Any]:
        return (self.app.library.get("datasets", self.dataset_id) if self.dataset_id else None) or {}

    def dataset_kind(self) -> str | None:
        """ "image" or "clip" once the library lists the chosen dataset; None before."""
        kind = self.dataset().get("kind")
        return str(kind) if kind else None

    def dataset_resolution(self) -> int | None:
        """The chosen dataset's prepared resolution (its scan settings), None when unknown."""
        settings = self.dataset().get("settings")
        try:
            return int(settings["resolution"]) if isinstance(settings, dict) else None
        except (KeyError, TypeError, ValueError):
            return None

    def clip_format(self) -> tuple[int | None, float | None]:
        """(frames per clip, fps) of the chosen clip dataset, read from its prepared cache's
        ``prepared.json``; (None, None) for images or when unreadable."""
        item = self.dataset()
        if item.get("kind") != "clip" or not item.get("path"):
            return None, None
        try:
            meta = json.loads((Path(str(item["path"])) / "prepared.json").read_text(encoding="utf-8"))
            return int(meta["shape"][1]), (float(meta["fps"]) if meta.get("fps") else None)
        except (OSError, ValueError, KeyError, IndexError, TypeError):
            return None, None

    def preset_problem(self, preset: str | None = None) -> str:
        """Why the preset cannot train on the chosen dataset ("" when it can); a fine-tune keeps its
        base model's network, so there the base model's kind must match instead."""
        kind = self.dataset_kind()
        if self.base_model:
            base = (self.app.library.get("models", self.base_model) or {}).get("info") or {}
            have = base.get("kind") or "image"
            if kind and have != kind:
                return (
                    f"model {self.base_model} makes {KIND_WORDS.get(have, have)} and this dataset holds "
                    f"{KIND_WORDS.get(kind, kind)}: fine-tune it on {KIND_WORDS.get(have, have)}, "
                    f"or train a new {' or '.join(presets_for(kind))} model"
                )
            return ""
        return preset_mismatch(preset or str(self.config.get("preset")), kind)

    def fit_preset(self) -> bool:
        """Switch to the default preset of the dataset's kind when the chosen one cannot train on it
        (and from the other kind's default batch size to this kind's)."""
        kind = self.dataset_kind()
        preset = str(self.config.get("preset"))
        if kind not in DEFAULT_PRESET or not preset_mismatch(preset, kind):
            return False
        if self.config.get("batch_size") == DEFAULT_BATCH[PRESET_KINDS[preset]]:
            self.config["batch_size"] = DEFAULT_BATCH[kind]
        self.set_config("preset", DEFAULT_PRESET[kind])
        return True

    # --- actions ---------------------------------------------------------------------------------
    @property
    def live(self) -> bool:
        return self.state in LIVE

    def start(self) -> str:
        if not self.dataset_id:
            raise ValueError("choose a dataset first: drop a folder on the window or pick one in the library")
        problem = self.preset_problem()
        if problem:
            raise ValueError(problem)
        self.reset_series()
        config = self.train_config()
        if self.settings_from is not None:
            self.settings_from = None  # a new run of its own now
            self.config_changed.emit()
        self.run_resolution = config.get("resolution") or self.prepared_resolution()
        self.speed_before = F.speed_at(self.run_resolution, self.speeds()) if self.run_resolution else 0.0
        self.kind = "finetune" if self.base_model else "train"
        args = (
            P.FinetuneArgs(dataset=self.dataset_id, model=self.base_model, config=config)
            if self.base_model
            else P.TrainArgs(dataset=self.dataset_id, config=config)
        )
        self.run_id = None
        self.kept = False
        self.job_id = self.app.submit(self.kind, args.to_dict(), self)
        self._set_state("submitted")
        return self.job_id

    def resume_run(self, run_id: str, extra_steps: int | None = None) -> str:
        args = P.ResumeRunArgs(run=run_id, extra_steps=int(extra_steps) if extra_steps else None)
        if run_id != self.run_id:
            self.reset_series()
        self.kind = "resume_run"
        self.run_id = run_id
        self.speed_before = F.speed_at(self.run_resolution, self.speeds()) if self.run_resolution else 0.0
        self.kept = False
        self.job_id = self.app.submit("resume_run", args.to_dict(), self)
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
        """Ask the engine to stop and save; the state reads "stopping" at once, until the job ends."""
        if self.job_id and self.live and self.state != "stopping":
            self._control("stop")
            self._set_state("stopping")

    def cancel(self, discard: bool = False) -> None:
        """Cancel the running job. A run with a checkpoint is then stopped and kept by the engine,
        unless ``discard``: that deletes it (its folder and its library entry)."""
        self._control("cancel", {"discard": True} if discard else None)

    def _control(self, cmd: str, args: dict[str, Any] | None = None) -> None:
        if self.job_id and self.live:
            self.app.control(cmd, self.job_id, args)

    def mark_kept(self) -> None:
        """The engine answered a cancel of this job with ``kept``: the run is stopped, not deleted."""
        self.kept = True
        if not self.live:  # it ended before the answer came
            self._set_state(self.state)
            self._announce_kept()

    def kept_message(self) -> str:
        """What the window says when a cancel kept the run instead of deleting it."""
        run = f"Run {self.run_id}" if self.run_id else "The run"
        return (
            f"{run} was stopped and kept, not deleted: it had saved a checkpoint, so you can resume "
            "or extend it from the library. To remove it, delete it from the library."
        )

    def _announce_kept(self) -> None:
        self.app.info.emit(self.kept_message())

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
            if not (self.state == "stopping" and ev.state in LIVE):  # stopping holds until the job ends
                self._set_state(ev.state)
        elif isinstance(ev, P.Progress):
            self.progress, self.progress_unit, self.eta_s = (ev.done, ev.total), ev.unit, ev.eta_s
            self.run_step = (
                int(ev.step) if ev.step is not None else int(ev.done) if ev.unit == "steps" else None
            )
            self.expected_steps = (
                (int(ev.expected_steps[0]), int(ev.expected_steps[1]))
                if len(ev.expected_steps) == 2
                else None
            )
            self.progress_changed.emit(ev.done, ev.total)
        elif isinstance(ev, P.Metric):
            ips = ev.values.get("img_per_s")
            if ips and ips > 0:
                self.speed_now, self.speed_best = float(ips), max(self.speed_best, float(ips))
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
            self.run_id = P.TrainDone.from_dict(ev.results).run
            self._set_state(ev.state)
            if self.kept:
                self._announce_kept()
        elif isinstance(ev, P.Error):
            self._set_state(ev.state or "failed")

    # --- the live run's own estimate --------------------------------------------------------------
    def slowdown(self) -> float | None:
        """How many times slower the live run trains now than the speed measured before it (or its
        own best so far), when that is :data:`SLOWDOWN` or more; None otherwise."""
        reference = max(self.speed_before, self.speed_best)
        if not self.live or self.speed_now <= 0 or reference <= 0:
            return None
        ratio = reference / self.speed_now
        return ratio if ratio >= SLOWDOWN else None

    def slowdown_text(self) -> str:
        """The plain words for :meth:`slowdown` ("" when the run keeps its speed). The cause is named
        only when the load average shows more work than this machine's cores."""
        ratio = self.slowdown()
        if ratio is None:
            return ""
        try:
            busy = os.getloadavg()[0] > (os.cpu_count() or 1) + 0.5
        except OSError:  # no load average on this system
            busy = False
        cause = (
            "another program is using the processor"
            if busy
            else "the processor is busy or has slowed down (another program, power saving or heat)"
        )
        before = max(self.speed_before, self.speed_best)
        per = "clips/s" if self.dataset_kind() == "clip" else "images/s"
        return (
            f"Training is running {ratio:.0f}x slower than measured ({self.speed_now:.3g} {per} now, "
            f"{before:.3g} before): {cause}."
        )

    def run_text(self) -> str:
        """One line for the live run, from its latest progress: the steps so far and where they should
        end (on a time budget, a range that only narrows), and the time left."""
        if self.run_step is None:
            return "This run: starting…"
        left = f" · {format_duration(self.eta_s)} left" if self.eta_s else ""
        if self.progress_unit == "s":
            if self.expected_steps:
                low, high = self.expected_steps
                about = f"about {low:,}" if low == high else f"about {low:,}–{high:,}"
                return f"This run: {count(self.run_step, 'step')} so far, {about} in all{left}"
            return f"This run: {count(self.run_step, 'step')} so far{left}"
        return f"This run: step {self.run_step:,} of {int(self.progress[1]):,}{left}"

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
