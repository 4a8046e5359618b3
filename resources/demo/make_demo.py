"""Make Noisebloom's demo: a dataset of synthetic blossoms and a small model trained on it.

    .venv/bin/python resources/demo/make_demo.py dataset     # writes resources/demo/blossoms/*.png
    .venv/bin/python resources/demo/make_demo.py model [--minutes M]

``dataset`` draws 256 flower-like 32 px pictures (petals around a yellow centre on a green
background, each with its own colour, petal count and position; deterministic, seed 0) with
numpy and Pillow: nothing is downloaded. ``model`` trains on them with the project's own CLI,

    noisebloom train resources/demo/blossoms --out <tmp>/run --preset unet-tiny --objective flow
        --resolution 32 --max-minutes M --seed 0

and copies ``<tmp>/run/model`` (a diffusers pipeline folder, safetensors) to
``resources/demo/model``. The app lists that folder as the built-in demo model in Generate and
offers the pictures as the demo dataset in Data. The command actually used is written to
``resources/demo/model/COMMAND.txt``.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]


def make_dataset(n: int = 256) -> Path:
    sys.path.insert(0, str(ROOT))
    from PIL import Image

    from desktop.screenshot import blossoms

    out = HERE / "blossoms"
    out.mkdir(exist_ok=True)
    for k, img in enumerate(blossoms(n, 32, seed=0)):
        Image.fromarray(img).save(out / f"blossom_{k:03d}.png", optimize=True)
    return out


def make_model(minutes: float, preset: str = "unet-tiny") -> Path:
    data = HERE / "blossoms"
    if not data.is_dir():
        make_dataset()
    with tempfile.TemporaryDirectory() as tmp:
        run = Path(tmp) / "run"
        cmd = [
            sys.executable,
            "-m",
            "core.cli",
            "train",
            str(data),
            "--out",
            str(run),
            "--preset",
            preset,
            "--objective",
            "flow",
            "--resolution",
            "32",
            "--max-minutes",
            str(minutes),
            "--seed",
            "0",
            "--workspace",
            str(Path(tmp) / "ws"),
        ]
        subprocess.run(cmd, cwd=ROOT, check=True)
        dst = HERE / "model"
        if dst.exists():
            shutil.rmtree(dst)
        shutil.copytree(run / "model", dst)
        shown = " ".join(["noisebloom", *cmd[3:]]).replace(str(ROOT) + "/", "").replace(tmp, "<tmp>")
        (dst / "COMMAND.txt").write_text(shown + "\n")
    return dst


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("what", choices=("dataset", "model"))
    ap.add_argument("--minutes", type=float, default=15.0)
    ap.add_argument(
        "--preset", default="unet-tiny", help="network preset (unet-tiny keeps the model under 1 MB)"
    )
    a = ap.parse_args()
    print(make_dataset() if a.what == "dataset" else make_model(a.minutes, a.preset))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
