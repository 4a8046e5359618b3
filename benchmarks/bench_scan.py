"""Benchmark: first scan of 1,000 camera-sized JPEGs (4000x3000) to 64 px, re-scan, peak memory.

    .venv/bin/python benchmarks/bench_scan.py [--count 1000] [--resolution 64]

The JPEGs are made once (scikit-image sample photographs, upscaled, each with its own shift,
colour balance and sensor-like noise, saved at quality 90, about 2-3 MB each) and kept under
``/tmp/noisebloom-bench-jpegs`` for later runs. The measurement itself runs in a fresh process so
its peak memory is the scan's alone: ``resource.getrusage`` for the process and its pool children,
plus the summed resident memory of the whole process tree sampled every 100 ms. The single-file
reference (one reduced-size decode on one core, Pillow ``draft``) is measured in the same run, so
the ratio to what the hardware allows is honest. Other jobs sharing the CPU slow the wall-clock
figures, so the CPU time the scan used (process + pool children) is recorded too, with the rate
it gives when both cores are free. Results go to ``benchmarks/results/scan.json`` (through
``benchmarks.common.write_result``).
Needs the ``bench`` extra (scikit-image) to make the pictures.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

PICTURES = Path("/tmp/noisebloom-bench-jpegs")
SIZE = (4000, 3000)


# --- the pictures ------------------------------------------------------------------------------------
def _bases() -> list[np.ndarray]:
    from PIL import Image
    from skimage import data

    out = []
    for name in (
        "astronaut",
        "coffee",
        "chelsea",
        "rocket",
        "immunohistochemistry",
        "retina",
        "cat",
        "hubble_deep_field",
    ):
        img = getattr(data, name)()
        if img.ndim == 2:
            img = np.stack([img] * 3, -1)
        img = Image.fromarray(img[..., :3]).resize((SIZE[0] + 200, SIZE[1] + 200), Image.Resampling.BICUBIC)
        out.append(np.asarray(img))
    return out


_BASES: list[np.ndarray] = []
_NOISE: list[np.ndarray] = []


def _make(i: int) -> int:
    from PIL import Image

    if not _BASES:
        _BASES.extend(_bases())
        grain = np.random.default_rng(12345).normal(0, 4.5, (SIZE[1] // 2 + 64, SIZE[0] // 2 + 64, 1))
        _NOISE.append(grain.astype(np.int16).repeat(2, 0).repeat(2, 1))  # sensor-like grain, 2x2 pixels
    rng = np.random.default_rng(i)
    base = _BASES[i % len(_BASES)]
    dx, dy = rng.integers(0, 200, 2)
    nx, ny = rng.integers(0, 128, 2)
    lut = np.clip(np.arange(256)[:, None] * rng.uniform(0.85, 1.15, 3), 0, 255).astype(
        np.uint8
    )  # colour balance
    crop = base[dy : dy + SIZE[1], dx : dx + SIZE[0]]
    crop = np.stack([lut[crop[..., c], c] for c in range(3)], -1).astype(np.int16)
    crop += _NOISE[0][ny : ny + SIZE[1], nx : nx + SIZE[0]]
    path = PICTURES / f"IMG_{i:04d}.jpg"
    buf = io.BytesIO()
    Image.fromarray(np.clip(crop, 0, 255).astype(np.uint8)).save(buf, "JPEG", quality=90)
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(buf.getvalue())
    tmp.replace(path)
    return len(buf.getvalue())


VARIANT_TAG = b"noisebloom-bench copy of "


def _variant(i: int, distinct: int) -> None:
    """IMG_i as a copy of photo ``i % distinct`` with its own JPEG comment: not an exact duplicate,
    and the same decoding work as a distinct photo (the comment sits before the image data)."""
    src = (PICTURES / f"IMG_{i % distinct:04d}.jpg").read_bytes()
    comment = VARIANT_TAG + f"{i % distinct:04d} #{i}".encode()
    segment = b"\xff\xfe" + (len(comment) + 2).to_bytes(2, "big") + comment
    tmp = PICTURES / f"IMG_{i:04d}.tmp"
    tmp.write_bytes(src[:2] + segment + src[2:])
    tmp.replace(PICTURES / f"IMG_{i:04d}.jpg")


def ensure_pictures(count: int, distinct: int | None = None) -> list[Path]:
    """``count`` JPEGs; photos ``0..distinct-1`` are made (once), the others are comment-variant copies."""
    PICTURES.mkdir(parents=True, exist_ok=True)
    for stray in PICTURES.glob("*.tmp"):
        stray.unlink()
    distinct = min(distinct or count, count)
    missing = [i for i in range(distinct) if not (PICTURES / f"IMG_{i:04d}.jpg").is_file()]
    if missing:
        print(f"making {len(missing)} JPEGs of {SIZE[0]}x{SIZE[1]} in {PICTURES} (once) ...", flush=True)
        t = time.perf_counter()
        with ProcessPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
            for n, _ in enumerate(pool.map(_make, missing, chunksize=4), 1):
                if n % 100 == 0:
                    print(f"  {n}/{len(missing)} ({time.perf_counter() - t:.0f} s)", flush=True)
    for i in range(distinct, count):
        if not (PICTURES / f"IMG_{i:04d}.jpg").is_file():
            _variant(i, distinct)
    for extra in PICTURES.glob("IMG_*.jpg"):  # the folder holds exactly the files measured
        if int(extra.stem[4:]) >= count:
            extra.unlink()
    return [PICTURES / f"IMG_{i:04d}.jpg" for i in range(count)]


def count_variants(files: list[Path]) -> int:
    n = 0
    for p in files:
        with open(p, "rb") as f:
            n += VARIANT_TAG in f.read(64)
    return n


# --- the measurement (in a fresh process) ----------------------------------------------------------
def _tree_rss() -> int:
    """Resident bytes of this process and all its descendants (Linux /proc)."""
    page = os.sysconf("SC_PAGE_SIZE")
    total, todo = 0, [os.getpid()]
    while todo:
        pid = todo.pop()
        try:
            with open(f"/proc/{pid}/statm") as f:
                total += int(f.read().split()[1]) * page
            for task in os.listdir(f"/proc/{pid}/task"):
                with open(f"/proc/{pid}/task/{task}/children") as f:
                    todo.extend(int(c) for c in f.read().split())
        except (OSError, ValueError):
            continue
    return total


def _cpu_seconds() -> float:
    """CPU time (user + system) of this process and its finished children."""
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def reference_decode(files: list[Path], resolution: int) -> dict[str, float]:
    """One reduced-size decode (Pillow draft, as the scanner asks for it) and one full decode, on one core."""
    from PIL import Image

    cpu: list[float] = []

    def reduced(p: Path) -> float:
        data = p.read_bytes()
        t, c = time.perf_counter(), time.process_time()
        img = Image.open(io.BytesIO(data))
        short = min(img.size)
        img.draft("RGB", (img.width * resolution // short + 1, img.height * resolution // short + 1))
        img.load()
        cpu.append(time.process_time() - c)
        return time.perf_counter() - t

    def full(p: Path) -> float:
        data = p.read_bytes()
        t = time.perf_counter()
        Image.open(io.BytesIO(data)).load()
        return time.perf_counter() - t

    sample = files[:: max(1, len(files) // 20)][:20]
    reduced(sample[0])
    red = [reduced(p) for p in sample]
    ful = [full(p) for p in sample[:5]]
    return {
        "reduced_decode_ms": statistics.median(red) * 1e3,
        "reduced_decode_cpu_ms": statistics.median(cpu[1 : 1 + len(red)]) * 1e3,
        "full_decode_ms": statistics.median(ful) * 1e3,
    }


def measure(count: int, resolution: int, distinct: int | None) -> dict[str, object]:
    from core.data.scan import scan_folder
    from core.data.settings import DatasetSettings

    files = ensure_pictures(count, distinct)
    for p in files:  # read once, so every measured scan starts with the same (warm) page cache
        p.read_bytes()
    ref = reference_decode(files, resolution)
    peak = {"tree": 0}
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            peak["tree"] = max(peak["tree"], _tree_rss())
            stop.wait(0.1)

    sampler = threading.Thread(target=sample, daemon=True)
    cache_root = Path(tempfile.mkdtemp(prefix="noisebloom-bench-ws-"))
    try:
        settings = DatasetSettings(resolution=resolution)
        load_before = os.getloadavg()
        sampler.start()
        cpu0 = _cpu_seconds()
        t = time.perf_counter()
        first = scan_folder(PICTURES, settings, cache_root=cache_root)
        first_s = time.perf_counter() - t
        first_cpu = _cpu_seconds() - cpu0  # the pool has been joined: its children are counted
        stop.set()
        sampler.join()
        load_after = os.getloadavg()
        t = time.perf_counter()
        again = scan_folder(PICTURES, settings, cache_root=cache_root)
        rescan_s = time.perf_counter() - t
        # one changed file: only it is decoded again
        victim = PICTURES / "IMG_0000.jpg"
        os.utime(victim, ns=(victim.stat().st_atime_ns, victim.stat().st_mtime_ns + 1_000_000))
        t = time.perf_counter()
        changed = scan_folder(PICTURES, settings, cache_root=cache_root)
        changed_s = time.perf_counter() - t
    finally:
        shutil.rmtree(cache_root, ignore_errors=True)
    self_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    child_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    n = first.stats["files"]["seen"]
    return {
        "files": n,
        "accepted": len(first.accepted),
        "comment_variant_copies": count_variants(files),
        "mean_file_mb": round(sum(p.stat().st_size for p in files) / len(files) / 1e6, 2),
        "resolution": resolution,
        "workers": settings.workers or min(os.cpu_count() or 1, 8),
        "first_scan_s": round(first_s, 2),
        "first_scan_files_per_s": round(n / first_s, 1),
        "first_scan_cpu_ms_per_file": round(first_cpu * 1e3 / n, 1),
        "first_scan_files_per_s_if_both_cores_were_free": round((os.cpu_count() or 1) * n / first_cpu, 1),
        "reference_reduced_decode_ms_one_core": round(ref["reduced_decode_ms"], 1),
        "reference_reduced_decode_cpu_ms": round(ref["reduced_decode_cpu_ms"], 1),
        "reference_full_decode_ms_one_core": round(ref["full_decode_ms"], 1),
        "cpu_fraction_of_reference": round(ref["reduced_decode_cpu_ms"] / (first_cpu * 1e3 / n), 3),
        "reference_files_per_s_all_cores": round((os.cpu_count() or 1) * 1e3 / ref["reduced_decode_ms"], 1),
        "fraction_of_reference": round(
            (n / first_s) / ((os.cpu_count() or 1) * 1e3 / ref["reduced_decode_ms"]), 3
        ),
        "rescan_unchanged_s": round(rescan_s, 3),
        "rescan_unchanged_decoded": again.processed,
        "rescan_one_changed_s": round(changed_s, 3),
        "rescan_one_changed_decoded": changed.processed,
        "peak_rss_tree_mb": round(peak["tree"] / 2**20, 1),
        "peak_rss_scan_process_mb": round(self_kb / 1024, 1),
        "peak_rss_largest_worker_mb": round(child_kb / 1024, 1),
        "loadavg_before": [round(x, 2) for x in load_before],
        "loadavg_after": [round(x, 2) for x in load_after],
    }


NOTES = (
    "page cache warm (the JPEGs were read before). Other jobs may share the CPU (see loadavg): "
    "then the wall-clock rate is below what the machine allows, and the CPU-time figures "
    "(first_scan_cpu_ms_per_file, cpu_fraction_of_reference) are the fair comparison."
)


def summarize(figures: dict) -> dict:
    """The README table's rows for one run's figures."""
    return {
        "files": figures["files"],
        "first scan s": figures["first_scan_s"],
        "first scan files/s": figures["first_scan_files_per_s"],
        "first scan CPU ms/file": figures["first_scan_cpu_ms_per_file"],
        "fraction of reference decode rate, wall / CPU": (
            f"{figures['fraction_of_reference']:.3f} / {figures['cpu_fraction_of_reference']:.3f}"
        ),
        "rescan unchanged s": figures["rescan_unchanged_s"],
        "rescan one changed s": figures["rescan_one_changed_s"],
        "peak memory MB (process tree)": figures["peak_rss_tree_mb"],
    }


def main() -> int:
    global PICTURES
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--count", type=int, default=1000)
    ap.add_argument("--resolution", type=int, default=64)
    ap.add_argument(
        "--distinct",
        type=int,
        default=None,
        help="make only this many distinct photos; the rest are comment-variant copies",
    )
    ap.add_argument(
        "--pictures", type=Path, default=PICTURES, help=f"where the JPEGs are kept (default {PICTURES})"
    )
    ap.add_argument("--measure", action="store_true", help=argparse.SUPPRESS)  # the fresh child process
    args = ap.parse_args()
    PICTURES = args.pictures
    if args.measure:
        print(json.dumps(measure(args.count, args.resolution, args.distinct)))
        return 0
    from benchmarks.common import load_average, write_result  # not in the measured child process

    load0 = load_average()
    ensure_pictures(args.count, args.distinct)
    extra = ["--distinct", str(args.distinct)] if args.distinct else []
    sizes = ["--count", str(args.count), "--resolution", str(args.resolution), *extra]
    if args.pictures != Path("/tmp/noisebloom-bench-jpegs"):
        sizes += ["--pictures", str(args.pictures)]
    child = subprocess.run(
        [sys.executable, __file__, "--measure", *sizes],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    if child.returncode != 0:
        print(child.stdout, child.stderr, file=sys.stderr)
        return child.returncode
    figures = json.loads(child.stdout.strip().splitlines()[-1])
    path = write_result(
        "scan",
        figures,
        summary=summarize(figures),
        notes=NOTES,
        load_at_start=load0,
        command=" ".join(["python benchmarks/bench_scan.py", *sizes]),
    )
    print(json.dumps(json.loads(path.read_text()), indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
