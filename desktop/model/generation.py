"""Generate area state: sampling settings, the live step stream, the recorded trajectory, exports.

Each ``step`` event of a ``sample`` or ``branch`` job carries step i of n with x_t and the
predicted x0 as small PNGs (k-diffusion's ``denoised``); this object keeps the latest ones, the
order they arrived in and their timing. When the job is done the trajectory folder it recorded is
opened with core's torch-free reader (:func:`core.sampling.trajectory.open_trajectory`: uint8
``xt.npy`` / ``x0.npy`` memory maps, shape (R, N, H, W, C)), read-only, so the timeline scrubber
needs no re-run. The samplers, defaults and bounds are the engine's own
(:mod:`core.catalogue.samplers`).

A clip model's steps carry one filmstrip per clip (its T frames side by side); the model's info
(``kind`` "clip", ``frames``, ``fps``, from the catalog) says how to cut and play them, and its
trajectory has shape (R, N, T, H, W, C).

A model made fast (its info has ``fewstep``: :mod:`desktop.model.fast`) is also offered the
few-step sampler. The sampler is the automatic choice (:func:`default_sampler_for`: the few-step
map at 1 to :data:`FEWSTEP_AUTO_STEPS` steps, else the family's default) until the person picks
another; it follows the steps while it is automatic, and a pick of the automatic choice makes it
automatic again. The map was distilled at one guidance weight, so while the few-step sampler is
chosen the guidance is locked to it (and given back when another sampler is chosen); picking it at
more steps than the map has brings the steps down to :data:`FEWSTEP_AUTO_STEPS`.

With the few-step sampler the results follow the slider: a change of seed, steps or guidance
re-samples by itself after :data:`FOLLOW_MS` of quiet; the latest request wins, a live one is
cancelled (``superseded``) and its late events are ignored.
"""

from __future__ import annotations

import random
import shutil
import time
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import QObject, QTimer, Signal

from core.catalogue.samplers import (
    DEFAULT_SAMPLER,
    DEFAULT_STEPS,
    FEWSTEP_AUTO_STEPS,
    MAX_SEED,
    SAMPLERS,
    default_sampler_for,
    draws_noise,
    samplers_for,
    takes_over_in,
)
from core.engine import protocol as P
from core.errors import NoisebloomError
from core.media.png import write_png
from core.sampling.config import model_guidance
from core.sampling.trajectory import Trajectory, open_trajectory
from core.words import count

DEFAULT_FPS = 8.0  # a clip model that does not record its fps plays at this rate
LIVE = ("submitted", "queued", "running", "paused")
FEWSTEP = "fewstep"
FOLLOW_MS = 60  # ms of quiet after a seed / steps / guidance change before re-sampling (results/slider.json)
FOLLOWS = ("seed", "steps", "guidance")  # the settings whose change re-samples with the few-step map


def family(objective: str) -> str:
    """The sampler family of an objective ("flow", else "ddpm": the window offers DDPM's samplers to
    a model whose objective it does not know)."""
    return "flow" if objective == "flow" else "ddpm"


class GenerationModel(QObject):
    state_changed = Signal(str)
    step_received = Signal(int, int)  # i, n
    result_changed = Signal()
    scrub_changed = Signal(int)
    config_changed = Signal()
    exported = Signal(str)  # path

    def __init__(self, app: Any, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.app = app
        self.model: str | None = None  # model id or folder path
        self.model_info: dict[str, Any] = {}  # the model's noisebloom.json (kind, frames, fps, ...)
        self.result_info: dict[str, Any] = {}  # the same for the model of the shown result
        self.objective = "eps"
        self.config: dict[str, Any] = {
            "sampler": DEFAULT_SAMPLER["ddpm"],
            "steps": DEFAULT_STEPS,
            "seed": 0,
            "num": 4,
            "guidance": 0.0,
        }
        self.show = "both"
        self.state = "idle"
        self.job_id: str | None = None
        self.kind = "sample"
        self.reset_live()
        self.sample_set: str | None = None
        self.trajectory: Trajectory | None = None
        self.images: list[str] = []
        self.clip_files: list[str] = []  # a clip result's GIFs, as the engine wrote them
        self.scrub_row = 0
        self.selected: set[int] = set()
        self.sampler_auto = True  # the sampler is default_sampler_for's choice, not the person's pick
        self._free_guidance: float | None = None  # the guidance to give back when the map's lock ends
        self.preferred: str | None = None  # a just-trained model to choose when it is listed
        self.superseded: set[str] = set()  # jobs cancelled because a newer request replaced them
        self._follow = QTimer(self)
        self._follow.setSingleShot(True)
        self._follow.setInterval(FOLLOW_MS)
        self._follow.timeout.connect(self._resample)
        app.library.changed.connect(self._library_changed)  # a model made fast: its row gains "fewstep"

    def reset_live(self) -> None:
        self.i, self.n = 0, 0
        self.xt: list[str] = []
        self.x0: list[str] = []
        self.arrivals: list[tuple[int, float]] = []  # (i, monotonic time) in arrival order
        self.started_at = time.monotonic()

    # --- settings --------------------------------------------------------------------------------
    def prefer_model(self, model: str) -> None:
        """A model that was just trained: the Generate area chooses it once the library lists it
        (:meth:`take_preferred`), instead of keeping the demo or an older model."""
        self.preferred = model

    def take_preferred(self, listed: list[str]) -> str | None:
        """The preferred model if ``listed`` holds it and no generation is running (then forgotten)."""
        if self.preferred in listed and not self.live:
            model, self.preferred = self.preferred, None
            return model
        return None

    def set_model(
        self, model: str | None, objective: str | None = None, info: dict[str, Any] | None = None
    ) -> None:
        self._follow.stop()
        self.model = model
        self.model_info = dict(info or {})
        objective = objective or self.model_info.get("objective")
        if objective:
            self.objective = objective
        self._free_guidance = None
        self.config["guidance"] = self.model_guidance if self.has_guide else 0.0
        self._choose_sampler()
        self.config_changed.emit()

    def set_config(self, name: str, value: Any) -> None:
        if self.config.get(name) == value:
            return
        if name == "guidance" and self.guidance_locked:
            raise ValueError(
                f"the few-step map was made at guidance {self.map_guidance:g}: "
                "choose another sampler for another weight"
            )
        self.config[name] = value
        if name == "sampler":
            if value == FEWSTEP and int(self.config["steps"]) > self.map_steps:
                self.config["steps"] = min(FEWSTEP_AUTO_STEPS, self.map_steps)  # what the map can do
            self.sampler_auto = value == self.auto_sampler()
            self._lock_guidance()
        elif name == "steps":
            self._choose_sampler()
        self.config_changed.emit()
        if name in FOLLOWS and self.follows_slider:
            self._follow.start()  # (re)started: the latest change wins

    def auto_sampler(self) -> str:
        """The sampler of the chosen model at the current steps when the person has picked none."""
        fam = family(self.objective)
        name = default_sampler_for(fam, int(self.config["steps"]), fewstep=self.has_map)
        if name == FEWSTEP and int(self.config["steps"]) > self.map_steps:
            return DEFAULT_SAMPLER[fam]  # a map made for fewer steps than FEWSTEP_AUTO_STEPS
        return name

    def _choose_sampler(self) -> None:
        """The automatic choice while the sampler is automatic; back to it when the person's pick
        no longer applies (another family, a model without a map, more steps than the map has)."""
        s = self.config["sampler"]
        stale = s not in self.samplers() or (s == FEWSTEP and int(self.config["steps"]) > self.map_steps)
        if self.sampler_auto or stale:
            self.sampler_auto = True
            self.config["sampler"] = self.auto_sampler()
        self._lock_guidance()

    def _lock_guidance(self) -> None:
        if self.guidance_locked:
            if self._free_guidance is None:
                self._free_guidance = float(self.config.get("guidance") or 0.0)
            self.config["guidance"] = self.map_guidance
        elif self._free_guidance is not None:
            self.config["guidance"], self._free_guidance = self._free_guidance, None

    def roll_seed(self) -> int:
        self.set_config("seed", random.randint(0, MAX_SEED))
        return self.config["seed"]

    def samplers(self) -> tuple[str, ...]:
        return samplers_for(family(self.objective), fewstep=self.has_map)

    @property
    def has_map(self) -> bool:
        """Whether the chosen model was made fast: it has a few-step map (info ``fewstep``)."""
        fs = self.model_info.get("fewstep")
        return family(self.objective) == "flow" and isinstance(fs, dict) and bool(fs.get("levels"))

    @property
    def map_steps(self) -> int:
        """The most steps the model's few-step map samples in (0 without one)."""
        return len(self.model_info["fewstep"]["levels"]) if self.has_map else 0

    @property
    def map_guidance(self) -> float:
        """The guidance weight built into the few-step map (the engine refuses another)."""
        return float(self.model_info["fewstep"].get("guidance") or 0.0) if self.has_map else 0.0

    @property
    def guidance_locked(self) -> bool:
        return self.config["sampler"] == FEWSTEP

    @property
    def follows_slider(self) -> bool:
        """Whether a change of seed, steps or guidance re-samples by itself: the few-step sampler."""
        return bool(self.model) and self.config["sampler"] == FEWSTEP

    def why_not_fast(self) -> str | None:
        """Why "Make it fast" cannot run on the chosen model now, in the window's words; None if it can."""
        fast = self.app.fast
        if fast.live:
            return f"Making {fast.model} fast: this takes a few minutes"
        if not self.model:
            return "Choose a trained model first"
        if family(self.objective) != "flow":
            return (
                f"This is an {self.objective}-prediction model: only flow-matching models (the default "
                "objective) can be made fast"
            )
        if self.has_map:
            return (
                f"This model is fast already: the Few-step sampler draws it in 1 to {self.map_steps} steps "
                f"(the default at {FEWSTEP_AUTO_STEPS} steps or fewer)"
            )
        if self.app.library.get("models", self.model) is None:
            return "The built-in demo model cannot be changed: train a model of your own to make it fast"
        return None

    def make_fast(self, steps: int | None = None) -> str:
        """Distil the chosen model into a few-step map (the engine's ``make_fast`` job)."""
        reason = self.why_not_fast()
        if reason:
            raise ValueError(reason)
        assert self.model is not None
        return self.app.fast.start(self.model, steps=steps)

    @property
    def live(self) -> bool:
        return self.state in LIVE

    @property
    def has_guide(self) -> bool:
        """Whether the chosen model carries a guide network (autoguidance is possible)."""
        return bool(self.model_info.get("guide"))

    @property
    def model_guidance(self) -> float:
        """The weight the chosen model samples with by default: the one its training chose on its own
        pictures (core.training.guidance_choice), else Noisebloom's default."""
        return model_guidance(self.model_info)

    @property
    def model_is_clip(self) -> bool:
        return self.model_info.get("kind") == "clip"

    def live_frames(self) -> int | None:
        """Frames per clip of the model being sampled (None for an image model, or when unknown)."""
        return (int(self.model_info.get("frames") or 0) or None) if self.model_is_clip else None

    @property
    def result_is_clip(self) -> bool:
        return self.trajectory is not None and self.trajectory.is_clip

    @property
    def fps(self) -> float:
        """The clip rate of what is shown: the result's model while a result is shown, else the chosen one."""
        info = self.result_info if (self.result_is_clip and not self.live) else self.model_info
        try:
            return float(info.get("fps") or DEFAULT_FPS)
        except (TypeError, ValueError):
            return DEFAULT_FPS

    # --- actions ---------------------------------------------------------------------------------
    def generate(self) -> str:
        if not self.model:
            raise ValueError("choose a model first (train one, or pick one in the library)")
        cfg = dict(self.config, trajectory=True)
        return self._submit("sample", {"model": self.model, "config": cfg})

    def branch_parent(self, row: int | None = None) -> dict[str, Any]:
        """What a branch from the trajectory's ``row`` (default: the scrubbed one) continues: the
        shown result's sampler, seed, guidance and eta, the step as the scrubber shows it (from 1),
        and the steps left after it."""
        if not self.sample_set or self.trajectory is None:
            raise ValueError("generate first, then scrub to the step to branch from")
        traj = self.trajectory
        row = self.scrub_row if row is None else row
        meta = getattr(traj, "meta", None) or {}
        cfg = dict(meta.get("sample_config") or {})  # what the shown result was drawn with
        step = traj.steps[row]
        return {
            "row": row,
            "step": step + 1,  # "step 50 / 50" on the scrubber is step 50 here and in the record
            "steps_left": int(meta.get("n_steps", len(traj.steps))) - step,
            "sampler": str(cfg.get("sampler") or self.config["sampler"]),
            "seed": int(cfg.get("seed", self.config["seed"])),
            "guidance": float(cfg.get("guidance", self.config.get("guidance")) or 0.0),
            "eta": float(cfg.get("eta") or 0.0),
        }

    def branch_samplers(self) -> tuple[str, ...]:
        """The samplers a branch of the shown result can continue with: its own, then those that
        can take over mid-way in its family."""
        own = self.branch_parent()["sampler"]
        return (own, *(s for s in takes_over_in(self._result_family()) if s != own))

    def branch_respaces(self, sampler: str) -> bool:
        """Whether a branch with ``sampler`` can take another number of steps left."""
        return sampler in takes_over_in(self._result_family())

    @property
    def branch_guided(self) -> bool:
        """Whether the shown result's model has a guide network (a branch can change the guidance)."""
        return bool((self.result_info or self.model_info).get("guide"))

    def _result_family(self) -> str:
        return family(str((self.result_info or self.model_info).get("objective") or self.objective))

    def branch_same_as_parent(
        self, seed: int, sampler: str | None = None, steps: int | None = None, guidance: float | None = None
    ) -> str | None:
        """Why a branch with these options would give back the original exactly (one line, the
        window's words), or None when it makes something new."""
        p = self.branch_parent()
        if (sampler or p["sampler"]) != p["sampler"]:
            return None
        if steps is not None and steps != p["steps_left"]:
            return None
        if guidance is not None and abs(guidance - p["guidance"]) > 1e-9:
            return None
        title = SAMPLERS[p["sampler"]].title
        if not draws_noise(p["sampler"], p["eta"]):
            return (
                f"This will reproduce the original exactly: {title} draws no noise after the start, so a "
                "new seed changes nothing. Choose another sampler, step count or guidance."
            )
        if seed == p["seed"]:
            return "This will reproduce the original exactly: it is the original's seed. Choose a new seed."
        return None

    def branch(
        self,
        row: int | None = None,
        seed: int | None = None,
        *,
        sampler: str | None = None,
        steps: int | None = None,
        guidance: float | None = None,
    ) -> str:
        """Continue the recorded trajectory from the scrubbed step (or ``row``): with the noise of
        ``seed`` after it (default: the next seed), and, where given, another sampler, number of
        steps left or guidance. Only what differs from the original is sent."""
        p = self.branch_parent(row)
        assert self.trajectory is not None
        args: dict[str, Any] = {"sample_set": self.sample_set, "step": self.trajectory.steps[p["row"]]}
        if seed is None:  # the next seed, wrapping at the engine's bound
            seed = p["seed"] + 1 if p["seed"] < MAX_SEED else 0
        args["seed"] = seed
        if sampler is not None and sampler != p["sampler"]:
            args["sampler"] = sampler
        if steps is not None and (steps != p["steps_left"] or "sampler" in args):
            args["steps"] = int(steps)
        if guidance is not None and abs(guidance - p["guidance"]) > 1e-9:
            args["guidance"] = round(float(guidance), 2)
        return self._submit("branch", args)

    @property
    def branched_from(self) -> int | None:
        """The step (from 1, as the scrubber shows it) the shown result branched from; None for a
        generation drawn from scratch."""
        step = (getattr(self.trajectory, "meta", None) or {}).get("branch_step")
        return int(step) if isinstance(step, int) else None

    def _submit(self, kind: str, args: dict[str, Any]) -> str:
        self.reset_live()
        self.result_info = self.model_info if kind == "sample" else self.result_info
        self.kind = kind
        self.job_id = self.app.submit(kind, args, self)
        self._set_state("submitted")
        return self.job_id

    def stop(self) -> None:
        self._follow.stop()
        if self.job_id and self.live:
            self.app.control("cancel", self.job_id)

    def _resample(self) -> None:
        """A few-step re-sample after a change: the live generation, now stale, is cancelled
        (quietly: it may end before the cancel arrives) and the latest settings are submitted."""
        if not self.follows_slider:
            return
        if self.job_id and self.live:
            self.superseded.add(self.job_id)
            self.app.control("cancel", self.job_id, quiet=True)
        self.generate()

    def scrub(self, row: int) -> None:
        if self.trajectory is not None:
            self.scrub_row = max(0, min(row, len(self.trajectory) - 1))
            self.scrub_changed.emit(self.scrub_row)

    def export(
        self,
        fmt: str,
        show: str | None = None,
        fps: float | None = None,
        scale: int | None = None,
        out: str | None = None,
        overwrite: bool = False,
    ) -> str | None:
        """Export the recorded denoising; ``overwrite`` when the person already agreed to replace
        ``out`` (the save dialog asked), so the engine does not ask again."""
        if not self.sample_set:
            return None
        args: dict[str, Any] = {"sample_set": self.sample_set, "format": fmt, "show": show or self.show}
        if fps:
            args["fps"] = float(fps)
        if scale:
            args["scale"] = int(scale)
        if out:
            args["out"] = out
        if overwrite:
            args["overwrite"] = True
        return self.app.export(args)

    def export_clips(
        self, folder: str | Path, fmt: str, fps: float | None = None, scale: int | None = None
    ) -> str | None:
        """Export the finished clips of a clip result (the selected ones, or all) as one ``fmt`` file
        each into ``folder``, through the engine's ``export`` job with ``what`` "clips"."""
        if not self.sample_set or not self.result_is_clip:
            return None
        args: dict[str, Any] = {
            "sample_set": self.sample_set,
            "what": "clips",
            "format": fmt,
            "out": str(folder),
        }
        if self.selected:
            args["indices"] = sorted(self.selected)
        if fps:
            args["fps"] = float(fps)
        if scale:
            args["scale"] = int(scale)
        return self.app.export(args)

    def save_plan(self, folder: str | Path) -> list[tuple[int, Path]]:
        """(result index, destination) of every file :meth:`save_selected` would write into
        ``folder``: the selected results (all when none is), those that have something to save."""
        folder = Path(folder)
        chosen = sorted(self.selected) or list(range(self.count()))
        stem = self.sample_set or "sample"
        if self.result_is_clip:
            return [
                (k, folder / f"{stem}-{k:03d}.gif")
                for k in chosen
                if k < len(self.clip_files) and Path(self.clip_files[k]).is_file()
            ]
        has_final = self.trajectory is not None and self.trajectory.final is not None
        return [
            (k, folder / f"{stem}-{k:03d}.png")
            for k in chosen
            if (k < len(self.images) and Path(self.images[k]).is_file()) or has_final
        ]

    def existing_saves(self, folder: str | Path) -> list[Path]:
        """The files in ``folder`` that saving there would replace."""
        return [dst for _k, dst in self.save_plan(folder) if dst.exists()]

    def save_selected(self, folder: str | Path, overwrite: bool = False) -> list[Path]:
        """Copy the selected final images (all when none is selected) as PNGs into ``folder``; for a
        clip result, the GIFs of the selected clips that the engine wrote. A file already there is
        replaced only with ``overwrite`` (else FileExistsError, before anything is written)."""
        existing = [] if overwrite else self.existing_saves(folder)
        if existing:
            raise FileExistsError(
                f"{existing[0]}: already exists ({count(len(existing), 'file')} in all); nothing was saved"
            )
        Path(folder).mkdir(parents=True, exist_ok=True)
        written: list[Path] = []
        for k, dst in self.save_plan(folder):
            if self.result_is_clip:
                shutil.copyfile(self.clip_files[k], dst)
            elif k < len(self.images) and Path(self.images[k]).is_file():
                shutil.copyfile(self.images[k], dst)
            else:
                self._write_final_png(k, dst)
            written.append(dst)
        return written

    def _write_final_png(self, k: int, dst: Path) -> None:
        assert self.trajectory is not None and self.trajectory.final is not None
        write_png(dst, np.asarray(self.trajectory.final[k]))  # atomic: no half-written file

    def count(self) -> int:
        if self.trajectory is not None:
            return self.trajectory.num
        return len(self.images) or len(self.x0) or len(self.xt)

    def open_sample_set(self, item: dict[str, Any]) -> None:
        """Show a past generation from the gallery."""
        model = self.app.library.get("models", str(item.get("model_id") or "")) or {}
        self.result_info = dict(model.get("info") or {})
        folder = Path(str(item.get("path") or ""))  # the sample set's folder, as the sample job wrote it
        files = sorted(folder.glob("*.png")) or sorted(folder.glob("sample_*.gif"))
        traj = folder / "trajectory"
        self._load_results(
            P.SampleDone(
                sample_set=str(item.get("id") or ""),
                out_dir=str(folder),
                images=[str(p) for p in files],
                trajectory=str(traj) if traj.is_dir() else None,
            )
        )
        self._set_state("done")

    # --- events ----------------------------------------------------------------------------------
    def handle(self, ev: P.Event) -> None:
        if ev.id != self.job_id:
            return  # a superseded generation's late events: a newer one is shown
        if isinstance(ev, P.State):
            if ev.state == "running":
                self.started_at = time.monotonic()
            self._set_state(ev.state)
        elif isinstance(ev, P.Step):
            self.i, self.n = ev.i, ev.n
            if ev.xt:
                self.xt = list(ev.xt)
            if ev.x0:
                self.x0 = list(ev.x0)
            self.arrivals.append((ev.i, time.monotonic()))
            self.step_received.emit(ev.i, ev.n)
        elif isinstance(ev, P.Done):
            self._load_results(P.SampleDone.from_dict(dict(ev.results)))
            self._set_state(ev.state)
        elif isinstance(ev, P.Error):
            self._set_state(ev.state or "failed")

    def seconds_per_step(self) -> float | None:
        if self.i <= 0:
            return None
        return (self.arrivals[-1][1] - self.started_at) / self.i

    def _load_results(self, done: P.SampleDone) -> None:
        """Show a finished generation: its PNGs (or clip GIFs) in sample order and its recorded steps."""
        self.sample_set = done.sample_set
        self.images = [p for p in done.images if p.lower().endswith(".png")]
        self.clip_files = [p for p in done.images if p.lower().endswith(".gif")]
        traj = done.trajectory
        self.trajectory = None
        if traj:
            try:
                self.trajectory = open_trajectory(traj)
            except (OSError, ValueError, NoisebloomError) as e:
                self.app.report_error(f"{traj}: cannot read the recorded steps ({e}); the scrubber is off")
        self.selected = set()
        self.scrub_row = len(self.trajectory) - 1 if self.trajectory is not None else 0
        self.result_changed.emit()

    def _library_changed(self, what: str) -> None:
        """The chosen model's catalog row changed (it was made fast): take its new info, keep the settings."""
        row = self.app.library.get("models", self.model or "") if what == "models" else None
        info = dict((row or {}).get("info") or {})
        if row is None or info == self.model_info:
            return
        self.model_info = info
        self._choose_sampler()
        self.config_changed.emit()

    def _set_state(self, state: str) -> None:
        self.state = state
        self.state_changed.emit(state)
