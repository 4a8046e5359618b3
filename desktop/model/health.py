"""Health area state: which model is checked, the ``evaluate`` job's progress, its result, and the
held-out loss curve of the model's run (no widgets).

The result of a check (see ``evaluate`` in core/engine/protocol.py) carries the verdict, the
memorised share with its ratio threshold, FD / KID / SWD with their anchors, the held-out loss by
noise level and over training, and up to 32 samples beside their nearest training pictures. The
engine keeps the latest result of each model in a JSON file that the model's catalog row points at
(``evaluation.path``); choosing a model reads it, so the panel shows the last check without a re-run.

While a run trains, its copying check (``memorized_share`` every few hundred steps,
core/training/copying.py) arrives with the training's metrics; :meth:`HealthModel.training_copies`
is the latest and :func:`copying_words` says it, with a warning past ``COPY_WARNING_SHARE``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Signal

from core.engine import protocol as P
from core.metrics.verdict import COPYING_SHARE

LIVE = ("submitted", "queued", "running", "paused")
CHECK_NUM = 32  # samples a check draws; the engine's default too
COPY_WARNING_SHARE = COPYING_SHARE  # warn while training at the share a check's verdict calls copying


def share_text(share: float) -> str:
    """The memorised share as ``noisebloom evaluate`` prints it (one decimal)."""
    return f"{share:.1%}"


def sorted_pairs(pairs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Flagged copies first, then the samples closest to copying (smallest d1/d2)."""

    def key(p: dict[str, Any]) -> tuple[bool, float]:
        r = p.get("ratio")
        return (not p.get("memorized"), float(r) if isinstance(r, (int, float)) else 1.0)

    return sorted(pairs, key=key)


def copying_words(copies: dict[str, Any]) -> tuple[str, bool]:
    """What the Health area says about a copying check during training (``training_copies``), and
    whether it is a warning: more than ``COPY_WARNING_SHARE`` of the test samples copy a picture."""
    share, count, n, step = copies["share"], copies["count"], copies["checked"], copies["step"]
    verb = "matches" if count == 1 else "match"
    matches = f"{count} of {n} test samples ({share_text(share)}) {verb} one of your pictures"
    if share > COPY_WARNING_SHARE:
        return (
            f"Samples are starting to copy your pictures: at step {step}, {matches}. Stop now, or add pictures.",
            True,
        )
    when = "Training" if copies["live"] else "Last training"
    text = f"{when}, step {step}: " + (matches if count else "no test sample copies your pictures")
    if copies["highest"] > share:
        text += f" (highest so far {share_text(copies['highest'])}, at step {copies['highest_step']})"
    return text + f"; a warning shows above {COPY_WARNING_SHARE:.0%}.", False


class HealthModel(QObject):
    state_changed = Signal(str)
    progress_changed = Signal()
    result_changed = Signal()
    curve_changed = Signal()
    model_changed = Signal()
    training_copies_changed = Signal()

    def __init__(self, app: Any, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.app = app
        self.model: str | None = None
        self.state = "idle"
        self.job_id: str | None = None
        self.job_model: str | None = None
        self.done = 0.0
        self.total = 0.0
        self.message = ""
        self.result: P.EvaluateDone | None = None
        self.series: dict[str, list[list[float]]] = {}
        self.num = CHECK_NUM
        self.steps: int | None = None  # None: the sampler's default
        training = app.training
        training.metrics_changed.connect(self.training_copies_changed)
        training.state_changed.connect(self.training_copies_changed)

    @property
    def live(self) -> bool:
        return self.state in LIVE

    def item(self) -> dict[str, Any] | None:
        return self.app.library.get("models", self.model) if self.model else None

    # --- choosing a model ------------------------------------------------------------------------
    def set_model(self, model_id: str | None) -> None:
        if model_id == self.model:
            return
        self.model = model_id
        self.result = self._kept_result()
        self.series = dict(self.result.heldout_series) if self.result else {}
        self.model_changed.emit()
        self.result_changed.emit()
        self.curve_changed.emit()
        self.refresh_curve()

    def _kept_result(self) -> P.EvaluateDone | None:
        ev = (self.item() or {}).get("evaluation") or {}
        path = ev.get("path") if isinstance(ev, dict) else None
        if not path:
            return None
        try:
            return P.EvaluateDone.from_dict(json.loads(Path(str(path)).read_text(encoding="utf-8")))
        except (OSError, ValueError) as e:  # ProtocolError is a ValueError
            self.app.report_error(
                f"{path}: cannot read the last health check ({e}); press Check to run it again"
            )
            return None

    def refresh_curve(self) -> None:
        """Ask the engine for the run's held-out loss (it grows while the run trains)."""
        run = (self.item() or {}).get("run_id")
        if not run:
            return
        model = self.model
        self.app.client.send(
            "metrics", {"run": run, "names": ["val_loss"]}, on_result=lambda d: self._got_series(model, d)
        )

    def _got_series(self, model: str | None, data: dict[str, Any]) -> None:
        series = data.get("series") or {}
        if model != self.model or not series.get("val_loss"):
            return
        self.series = {**self.series, "val_loss": series["val_loss"]}
        self.curve_changed.emit()

    # --- the check -------------------------------------------------------------------------------
    def check(self) -> str:
        if not self.model:
            raise ValueError("choose a model first (train one in the Train area)")
        self.done, self.total, self.message = 0.0, 0.0, "waiting for the engine"
        self.job_model = self.model
        args = P.EvaluateArgs(model=self.model, num=self.num, steps=self.steps)
        self.job_id = self.app.submit("evaluate", args.to_dict(), self)
        self._set_state("submitted")
        self.progress_changed.emit()
        return self.job_id

    def cancel(self) -> None:
        if self.job_id and self.live:
            self.app.control("cancel", self.job_id)

    def handle(self, ev: P.Event) -> None:
        if isinstance(ev, P.State):
            self._set_state(ev.state)
        elif isinstance(ev, P.Progress):
            self.done, self.total, self.message = float(ev.done), float(ev.total), ev.message
            self.progress_changed.emit()
        elif isinstance(ev, P.Done):
            if self.job_model == self.model:
                self.result = P.EvaluateDone.from_dict(ev.results)
                self.series = {**self.result.heldout_series, **self.series}
                self.result_changed.emit()
                self.curve_changed.emit()
            self._set_state(ev.state)
        elif isinstance(ev, P.Error):
            self._set_state(ev.state or "failed")

    def _set_state(self, state: str) -> None:
        self.state = state
        self.state_changed.emit(state)

    # --- what the view shows ---------------------------------------------------------------------
    def verdict(self) -> dict[str, str] | None:
        return self.result.verdict if self.result else None

    def pairs(self) -> list[dict[str, Any]]:
        return sorted_pairs(list(self.result.pairs)) if self.result else []

    def training_copies(self) -> dict[str, Any] | None:
        """The latest copying check of the training in this window: ``step``, ``share``, ``count``,
        ``checked`` (samples drawn), the ``highest`` share so far and its step, and whether the
        training is ``live``; None before its first check."""
        training = self.app.training
        steps, shares = training.series.get("memorized_share", ([], []))
        if not steps:
            return None
        counts = training.series.get("memorized_count", ([], []))[1]
        checked = training.series.get("memorized_checked", ([], []))[1]
        top = max(range(len(shares)), key=shares.__getitem__)
        n = int(checked[-1]) if checked else CHECK_NUM
        return {
            "step": int(steps[-1]),
            "share": shares[-1],
            "count": int(counts[-1]) if counts else round(shares[-1] * n),
            "checked": n,
            "highest": shares[top],
            "highest_step": int(steps[top]),
            "live": training.live,
        }
