"""``noisebloom selftest``: prove that this installation works, end to end, in well under a minute.

Runs the whole path a person takes, on data it makes itself and with the real core functions: it
writes a folder of small generated pictures, scans it (:func:`core.data.scan.scan_folder`, in a
pool of decoding processes, so a frozen bundle's ``multiprocessing`` start-up is exercised too),
trains the ``unet-tiny`` preset for 5 flow-matching steps (:func:`core.training.trainer.train`),
samples 5 steps with the trajectory recorded (:func:`core.sampling.sample.sample`), and exports
the denoising as a GIF (Pillow) and an MP4 (imageio-ffmpeg's ffmpeg binary)
(:func:`core.export.trajectory.export_trajectory`). Every result is checked, not just produced:
a failed check raises :class:`SelftestFailed` (``noisebloom: error: selftest: ...``, exit 2).

It is the smoke test of the PyInstaller bundle (``make package-smoke``) and a quick check for a
person who wonders whether their install is sound. Without ``--workspace`` everything is written
to a temporary folder that is removed afterwards; with it, to ``W/selftest/`` (kept).

Only argparse and the standard library are imported at the top (``noisebloom --help`` stays instant).
"""

from __future__ import annotations

import argparse
import contextlib
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.errors import NoisebloomError

N_PICTURES = 12  # >= 8, so the scan decodes in a pool of processes (scan.py runs fewer in-process)
RESOLUTION = 16
TRAIN_STEPS = 5
SAMPLE_STEPS = 5
NUM_SAMPLES = 2


class SelftestFailed(NoisebloomError):
    """One stage of the self-test produced a wrong result."""


@dataclass
class SelftestReport:
    """What each stage produced and how long it took (seconds)."""

    folder: Path
    device: str = ""
    stages: dict[str, float] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def total_s(self) -> float:
        return sum(self.stages.values())


def _check(
    ok: bool,
    stage: str,
    problem: str,
    fix: str = "run `noisebloom selftest` again; if it fails again, reinstall",
) -> None:
    if not ok:
        raise SelftestFailed(f"selftest: {stage}: {problem}", fix=fix)


def make_pictures(folder: Path, n: int = N_PICTURES, size: int = 24) -> list[Path]:
    """``n`` distinct PNG pictures (coloured gradients and stripes, ``size`` px) in ``folder``."""
    import numpy as np
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / (size - 1)
    paths = []
    for i in range(n):
        a, b = rng.uniform(0, 1, 3), rng.uniform(0, 1, 3)
        t = (xx if i % 2 else yy)[..., None]
        img = (1 - t) * a + t * b
        img[(xx * (i % 5 + 2)).astype(int) % 2 == 1] *= 0.6  # stripes: a different pattern per picture
        path = folder / f"picture_{i:02d}.png"
        Image.fromarray((img * 255).astype(np.uint8)).save(path)
        paths.append(path)
    return paths


@contextlib.contextmanager
def _stage(report: SelftestReport, name: str, log: Callable[[str], None]) -> Iterator[dict[str, Any]]:
    note: dict[str, Any] = {}
    t0 = time.perf_counter()
    yield note
    report.stages[name] = time.perf_counter() - t0
    log(f"ok  {name:<8} {report.stages[name]:6.2f} s  {note.get('say', '')}")


def run_selftest(
    workspace: str | Path | None = None,
    *,
    device: str = "auto",
    workers: int = 2,
    log: Callable[[str], None] = print,
) -> SelftestReport:
    """Scan, train, sample and export in ``workspace/selftest`` (or a temporary folder); see the module docstring."""
    if workspace is not None:
        root = Path(workspace) / "selftest"
        if root.exists():
            shutil.rmtree(root)  # a previous self-test's folder: start clean so every check means something
        return _run(root, device, workers, log)
    with tempfile.TemporaryDirectory(prefix="noisebloom-selftest-") as tmp:
        return _run(Path(tmp), device, workers, log)


def _run(root: Path, device: str, workers: int, log: Callable[[str], None]) -> SelftestReport:
    import numpy as np

    report = SelftestReport(folder=root)
    with _stage(report, "import", log) as note:
        import torch

        from core.data.prepared import PreparedDataset
        from core.data.scan import scan_folder
        from core.data.settings import DatasetSettings
        from core.export.trajectory import export_trajectory
        from core.sampling.config import SampleConfig
        from core.sampling.sample import sample
        from core.training.config import TrainConfig
        from core.training.trainer import train

        note["say"] = f"torch {torch.__version__}, {torch.get_num_threads()} threads"
        report.details["torch"] = torch.__version__

    with _stage(report, "scan", log) as note:
        pictures = make_pictures(root / "pictures")
        settings = DatasetSettings(resolution=RESOLUTION, workers=workers)
        scan = scan_folder(root / "pictures", settings, cache_root=root / "datasets")
        _check(
            scan.rows == len(pictures) and not scan.rejected,
            "scan",
            f"{scan.rows} of {len(pictures)} generated pictures accepted, {len(scan.rejected)} rejected"
            + (f" ({scan.rejected[0].reason})" if scan.rejected else ""),
        )
        fallback = [w for w in scan.warnings if "processes could not start" in w]
        _check(
            not fallback,
            "scan",
            fallback[0] if fallback else "",
            fix="multiprocessing is broken in this build",
        )
        data = PreparedDataset.open(scan.dataset_dir)
        _check(
            data.array.shape == (len(pictures), RESOLUTION, RESOLUTION, 3),
            "scan",
            f"the prepared array is {tuple(data.array.shape)}",
        )
        note["say"] = f"{scan.rows} pictures at {RESOLUTION} px, {workers} decoding processes"

    with _stage(report, "train", log) as note:
        config = TrainConfig(
            preset="unet-tiny",
            objective="flow",
            max_steps=TRAIN_STEPS,
            max_minutes=None,
            batch_size=4,
            device=device,
            warmup=0,
            preview_every=0,
            val_every=0,
            checkpoint_every=0,
        )
        result = train(config, data, root / "run")
        loss = result.metrics.get("loss")
        _check(result.steps == TRAIN_STEPS, "train", f"ran {result.steps} steps instead of {TRAIN_STEPS}")
        _check(isinstance(loss, float) and bool(np.isfinite(loss)), "train", f"the last loss is {loss!r}")
        _check(
            (result.model_dir / "model_index.json").is_file(),
            "train",
            f"{result.model_dir} has no model_index.json",
        )
        note["say"] = f"{result.steps} steps, loss {loss:.4f}"
        report.details["loss"] = loss

    with _stage(report, "sample", log) as note:
        sconfig = SampleConfig(steps=SAMPLE_STEPS, num=NUM_SAMPLES, device=device, trajectory=True)
        out = sample(result.model_dir, sconfig, out_dir=root / "samples")
        images = out.images
        _check(
            images.shape == (NUM_SAMPLES, RESOLUTION, RESOLUTION, 3) and images.dtype == np.uint8,
            "sample",
            f"got images shaped {images.shape} ({images.dtype})",
        )
        _check(
            len(out.paths) == NUM_SAMPLES and all(p.is_file() for p in out.paths), "sample", "PNGs missing"
        )
        _check(int(images.std()) > 0, "sample", "every pixel of every sample is the same value")
        _check(
            out.trajectory_dir is not None and out.trajectory_dir.is_dir(), "sample", "no trajectory recorded"
        )
        from core.sampling.model import resolve_device

        report.device = str(resolve_device(device))
        note["say"] = f"{NUM_SAMPLES} samples, {SAMPLE_STEPS} steps ({out.sampler})"

    with _stage(report, "export", log) as note:
        from PIL import Image

        gif = export_trajectory(out.trajectory_dir, root / "exports" / "denoise.gif", hold_last_s=0.0)
        with Image.open(gif) as im:
            frames = getattr(im, "n_frames", 1)
            _check(im.format == "GIF", "export", f"{gif} is {im.format}, not a GIF")
        # One frame per recorded step plus the finished samples; Pillow merges identical neighbours
        # (a flow model's last x0 is its finished sample), so the GIF may hold one frame fewer.
        _check(
            SAMPLE_STEPS <= frames <= SAMPLE_STEPS + 1,
            "export",
            f"{gif} has {frames} frames, not {SAMPLE_STEPS + 1}",
        )
        mp4 = export_trajectory(out.trajectory_dir, root / "exports" / "denoise.mp4", hold_last_s=0.0)
        head = mp4.read_bytes()[:12]
        _check(head[4:8] == b"ftyp", "export", f"{mp4} is not an MP4 file (ffmpeg failed?)")
        import imageio_ffmpeg

        n_mp4, _secs = imageio_ffmpeg.count_frames_and_secs(str(mp4))
        _check(n_mp4 == SAMPLE_STEPS + 1, "export", f"{mp4} has {n_mp4} frames, not {SAMPLE_STEPS + 1}")
        report.details.update(gif=str(gif), mp4=str(mp4), ffmpeg=imageio_ffmpeg.get_ffmpeg_exe())
        note["say"] = (
            f"GIF {frames} frames, MP4 {n_mp4} frames (ffmpeg {Path(report.details['ffmpeg']).name})"
        )
    return report


# --- the command -----------------------------------------------------------------------------------
def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "selftest",
        help="check this installation: scan, train 5 steps, sample 5 steps, export a GIF and an MP4",
        description=(
            "Generate a folder of small pictures, scan it, train the unet-tiny preset for 5 steps, "
            "sample 5 steps and export the denoising as a GIF and an MP4, checking every result. "
            "Exits 0 when everything works. Without --workspace nothing is left on disk."
        ),
    )
    p.add_argument(
        "--workspace",
        type=Path,
        default=None,
        help="write into WORKSPACE/selftest and keep it (default: a temporary folder)",
    )
    p.add_argument(
        "--device", default="auto", choices=("auto", "cpu", "cuda", "mps"), help="where to train and sample"
    )
    p.add_argument("--workers", type=int, default=2, help="decoding processes for the scan (default 2)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    t0 = time.perf_counter()
    report = run_selftest(args.workspace, device=args.device, workers=args.workers)
    where = f"; files in {report.folder}" if args.workspace else ""
    print(f"selftest passed in {time.perf_counter() - t0:.1f} s on {report.device or args.device}{where}")
    sys.stdout.flush()
    return 0
