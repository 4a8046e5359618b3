"""Evaluate a trained model against its dataset: the figures of ``noisebloom evaluate`` and the health panel.

Samples N images (:func:`core.sampling.sample.sample`), then against the dataset:

- SWD (:mod:`core.metrics.swd`) between the held-out pictures and the samples;
- FD and KID (:mod:`core.metrics.frechet`) on the default random-conv features
  (:mod:`core.metrics.features`), with two anchors measured the same way: FD between a set of
  training pictures and the held-out pictures ("real", the best one can expect) and between
  random noise images and the held-out pictures ("noise", the worst);
- the memorised share (Gu et al. 2023, :mod:`core.metrics.memorization`) against the training split;
- the held-out denoising loss by timestep band (the trainer's, :mod:`core.metrics.heldout`);
- the verdict (:mod:`core.metrics.verdict`), which also reads the held-out loss history of
  ``RUN_DIR/metrics.jsonl`` when the model sits in a run folder.

A dataset with no held-out split (under 10 pictures) is compared with its training pictures, and
the report says so. Clips are compared frame by frame (SWD, FD, KID) and clip by clip (memorisation).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from core.data.prepared import PreparedDataset
from core.metrics.folders import as_frames, match_images
from core.metrics.memorization import RowView
from core.metrics.verdict import Verdict, noise_fraction, verdict

Log = Callable[[str], None]


@dataclass
class EvaluationReport:
    model: str
    dataset: str
    num_samples: int
    sampler: str
    steps: int
    reference_split: str  # "val" or "train" (no held-out pictures)
    reference_count: int
    train_count: int
    swd: dict[str, Any]
    fd: float | None
    fd_real: float | None
    fd_noise: float | None
    kid: float | None
    kid_std: float | None
    features: str
    memorized_share: float
    memorization: dict[str, Any]
    heldout: dict[str, Any] | None
    heldout_history: list[float]
    verdict: Verdict
    guidance: float = 0.0
    seconds: dict[str, float] = field(default_factory=dict)
    samples: np.ndarray | None = field(default=None, repr=False)

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "dataset": self.dataset,
            "num_samples": self.num_samples,
            "sampler": self.sampler,
            "steps": self.steps,
            "guidance": self.guidance,
            "reference_split": self.reference_split,
            "reference_count": self.reference_count,
            "train_count": self.train_count,
            "swd": self.swd,
            "fd": self.fd,
            "fd_real": self.fd_real,
            "fd_noise": self.fd_noise,
            "kid": self.kid,
            "kid_std": self.kid_std,
            "features": self.features,
            "memorized_share": self.memorized_share,
            "memorization": self.memorization,
            "heldout_loss": self.heldout,
            "heldout_history": self.heldout_history,
            "verdict": self.verdict.to_dict(),
            "seconds": self.seconds,
        }

    def summary(self) -> str:
        """The plain-text report ``noisebloom evaluate`` prints."""
        ref = "held-out" if self.reference_split == "val" else "training (no held-out pictures)"
        lines = [
            f"model     {self.model}",
            f"data      {self.dataset}: {self.reference_count} {ref} pictures, {self.train_count} training",
            f"samples   {self.num_samples} with {self.sampler}, {self.steps} steps"
            + (f", autoguidance {self.guidance:g}" if self.guidance else ""),
            "",
            f"SWD x1e3  {self.swd['swd']:.2f}  (per level "
            + ", ".join(f"{k} px {v:.2f}" for k, v in self.swd["per_level"].items())
            + ")",
        ]
        if self.fd is not None:
            lines.append(
                f"FD        {self.fd:.4g}  (real pictures {_fmt(self.fd_real)}, noise {_fmt(self.fd_noise)}; "
                f"{self.features})"
            )
            lines.append(f"KID       {self.kid:.4g} +- {self.kid_std:.2g}")
        lines.append(
            f"memorised {self.memorized_share:.1%} of samples (nearest training picture under 1/3 of the second nearest)"
        )
        if self.heldout:
            bands = ", ".join(
                f"t {lo:.2f}-{hi:.2f}: {loss:.4f}"
                for (lo, hi), loss in zip(self.heldout["bands"], self.heldout["loss"], strict=True)
            )
            lines.append(f"held-out loss {self.heldout['mean']:.4f}  ({bands})")
            lines.append(f"          {self.heldout['ratio']:.2f} of the loss of predicting nothing")
        lines += ["", f"verdict   {self.verdict.message}", f"          {self.verdict.reason}"]
        return "\n".join(lines)


def _fmt(v: float | None) -> str:
    return "n/a" if v is None or not math.isfinite(v) else f"{v:.4g}"


def heldout_curve(model_dir: Path) -> list[tuple[int, float]]:
    """(step, ``val_loss``) of the run the model folder belongs to (RUN_DIR/model), if any."""
    from core.metrics.metrics_log import read_metrics

    for path in (model_dir / "metrics.jsonl", model_dir.parent / "metrics.jsonl"):
        if path.is_file():
            return [
                (int(r.get("step", k)), float(r["val_loss"]))
                for k, r in enumerate(read_metrics(path))
                if isinstance(r.get("val_loss"), (int, float))
            ]
    return []


def heldout_history(model_dir: Path) -> list[float]:
    """The ``val_loss`` series of the run the model folder belongs to (RUN_DIR/model), if any."""
    return [v for _, v in heldout_curve(model_dir)]


def _trained_steps(info: dict[str, Any]) -> int | None:
    """The optimizer steps the model folder records (noisebloom.json ``trained_steps``); None when
    it records none (a folder from elsewhere), so the verdict does not guess."""
    try:
        steps = int(info["trained_steps"])
    except (KeyError, TypeError, ValueError):
        return None
    return steps if steps > 0 else None


def evaluate_model(
    model: Any,
    data: PreparedDataset,
    *,
    num: int = 64,
    steps: int | None = None,
    sampler: str | None = None,
    seed: int = 0,
    batch_size: int = 16,
    device: str = "auto",
    extractor: Any = None,
    kid_subsets: int = 100,
    log: Log | None = None,
    should_stop: Callable[[], bool] | None = None,
    callback: Callable[[Any], None] | None = None,
) -> EvaluationReport:
    """Sample ``num`` images from ``model`` (a LoadedModel) and measure them against ``data``.

    ``log(message)`` is called as each stage begins, ``callback(StepInfo)`` at every sampling step
    (:func:`core.sampling.sample.sample`), ``should_stop()`` between steps and training chunks."""
    import time

    from core.metrics.features import default_extractor
    from core.metrics.frechet import frechet_distance, kid
    from core.metrics.heldout import heldout_loss_by_band
    from core.metrics.memorization import nearest_training
    from core.metrics.swd import swd
    from core.sampling.config import SampleConfig
    from core.sampling.model import resolve_device
    from core.sampling.sample import sample

    say = log or (lambda _m: None)
    seconds: dict[str, float] = {}
    info = model.info or {}
    resolution = int(info.get("resolution") or data.resolution)
    channels = int(info.get("channels") or data.channels)
    if data.resolution != resolution or data.channels != channels:
        # a dataset prepared at another size: bring all of it to the model's shape once
        say(f"resizing the dataset to the model's {resolution} px, {channels} channel(s)")
        data = PreparedDataset(
            array=match_images(np.asarray(data.array), resolution, channels),
            kind=data.kind,
            train_indices=data.train_indices,
            val_indices=data.val_indices,
            path=data.path,
        )
    arr = data.array
    split = "val" if len(data.val_indices) else "train"
    ref_rows = np.sort(data.val_indices if split == "val" else data.train_indices)
    train_rows = np.sort(data.train_indices)
    reference = np.asarray(arr[ref_rows])
    train = RowView(arr, train_rows)  # read in chunks, never whole

    t0 = time.perf_counter()
    cfg = {"num": num, "seed": seed, "batch_size": batch_size, "device": device, "sampler": sampler}
    if steps is not None:
        cfg["steps"] = steps
    config = SampleConfig(**cfg)
    say(f"sampling {num} images ({config.sampler or 'default sampler'}, {config.steps} steps)")
    result = sample(model, config, callback=callback, should_stop=should_stop)
    samples = result.images
    seconds["sample"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    say("measuring SWD, FD, KID")
    ref_frames, sample_frames = as_frames(reference), as_frames(samples)
    swd_result = swd(ref_frames, sample_frames)
    fd = fd_real = fd_noise = kid_mean = kid_std = None
    ext = extractor or default_extractor()
    if len(ref_frames) >= 2 and len(sample_frames) >= 2:
        f_ref, f_s = ext(ref_frames), ext(sample_frames)
        fd = frechet_distance(f_ref, f_s)
        k = kid(f_ref, f_s, subsets=kid_subsets)
        kid_mean, kid_std = k.mean, k.std
        rng = np.random.default_rng(seed)
        if len(train_rows) >= 2:  # as many real pictures as samples (FD is biased by set size)
            pick = rng.choice(len(train_rows), min(len(train_rows), max(2, len(samples))), replace=False)
            real = as_frames(np.asarray(arr[np.sort(train_rows[pick])]))
            fd_real = frechet_distance(f_ref, ext(real))
        noise = rng.integers(0, 256, size=sample_frames.shape, dtype=np.uint8)
        fd_noise = frechet_distance(f_ref, ext(noise))
    seconds["quality"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    say("finding each sample's nearest training pictures")
    mem = nearest_training(samples, train, k=3, should_stop=should_stop) if len(train) >= 2 else None
    memorization = mem.to_dict() if mem is not None else {}
    if mem is not None:  # dataset row numbers, for showing each sample beside its nearest pictures
        memorization["nearest_rows"] = train_rows[mem.indices].tolist()
    seconds["memorization"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    say("measuring the held-out loss by noise level")
    bands = heldout_loss_by_band(model, data, device=resolve_device(device))
    seconds["heldout"] = time.perf_counter() - t0

    history = heldout_history(Path(model.path)) if getattr(model, "path", None) else []
    frac = noise_fraction(fd, fd_real, fd_noise) if None not in (fd, fd_real, fd_noise) else None
    share = mem.share if mem is not None else 0.0
    v = verdict(
        loss_ratio=bands.ratio if bands is not None else None,
        memorized_share=share if mem is not None else None,
        heldout_history=history,
        noise_frac=frac,
        trained_steps=_trained_steps(info),
    )
    return EvaluationReport(
        model=str(getattr(model, "path", "") or "model"),
        dataset=str(data.path or "in-memory dataset"),
        num_samples=num,
        sampler=result.sampler,
        steps=config.steps,
        guidance=float(result.config.guidance or 0.0),
        reference_split=split,
        reference_count=len(ref_rows),
        train_count=len(data.train_indices),
        swd=swd_result.to_dict(),
        fd=fd,
        fd_real=fd_real,
        fd_noise=fd_noise,
        kid=kid_mean,
        kid_std=kid_std,
        features=ext.name,
        memorized_share=share,
        memorization=memorization,
        heldout=bands.to_dict() if bands is not None else None,
        heldout_history=history,
        verdict=v,
        seconds={k: round(s, 2) for k, s in seconds.items()},
        samples=samples,
    )
