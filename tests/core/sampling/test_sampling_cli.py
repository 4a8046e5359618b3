"""`noisebloom sample` on a plain diffusers pipeline folder; a PNG's parameters regenerate the same image."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
from PIL import Image

from core.cli import main
from core.media.png import read_png_params
from core.models.folder import load_model_folder
from core.sampling.sample import config_from_png_params, sample

ROOT = Path(__file__).resolve().parents[3]


def _pixels(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path))


def test_sample_command_writes_numbered_pngs_and_the_trajectory(model_dir, tmp_path, capsys):
    out = tmp_path / "out"
    rc = main(
        [
            "sample",
            str(model_dir),
            "--out",
            str(out),
            "--num",
            "3",
            "--steps",
            "4",
            "--sampler",
            "euler_a",
            "--seed",
            "5",
            "--batch-size",
            "2",
            "--device",
            "cpu",
            "--trajectory",
        ]
    )
    assert rc == 0
    assert sorted(p.name for p in out.glob("*.png")) == [
        "sample_00000.png",
        "sample_00001.png",
        "sample_00002.png",
    ]
    assert (out / "trajectory" / "xt.npy").is_file()
    captured = capsys.readouterr()
    assert "sample_00002.png" in captured.out and "step 4/4" in captured.err


def test_png_parameters_regenerate_the_same_image(model_dir, tmp_path):
    out = tmp_path / "out"
    assert (
        main(
            [
                "sample",
                str(model_dir),
                "--out",
                str(out),
                "--num",
                "3",
                "--steps",
                "5",
                "--sampler",
                "ddpm",
                "--seed",
                "42",
                "--device",
                "cpu",
            ]
        )
        == 0
    )
    png = out / "sample_00002.png"
    params = read_png_params(png)
    assert params["model"] == str(model_dir) and params["index"] == "2"
    # in-process, from the chunks alone: model folder, sampler, steps, seed, index
    again = sample(load_model_folder(params["model"]), config_from_png_params(params, device="cpu"))
    np.testing.assert_array_equal(again.images[0][..., 0], _pixels(png))
    # and through the command line
    assert (
        main(
            [
                "sample",
                params["model"],
                "--out",
                str(tmp_path / "re"),
                "--from-png",
                str(png),
                "--device",
                "cpu",
            ]
        )
        == 0
    )
    np.testing.assert_array_equal(_pixels(tmp_path / "re" / "sample_00002.png"), _pixels(png))


def test_sample_command_refuses_a_folder_that_is_not_a_model(tmp_path, capsys):
    rc = main(["sample", str(tmp_path), "--out", str(tmp_path / "o"), "--device", "cpu"])
    assert rc == 2
    err = capsys.readouterr().err
    assert err.startswith("noisebloom: error: ") and "not a model folder" in err and str(tmp_path) in err


def test_sample_command_refuses_a_step_count_with_a_one_line_fix(model_dir, tmp_path, capsys):
    rc = main(["sample", str(model_dir), "--out", str(tmp_path / "o"), "--steps", "2000", "--device", "cpu"])
    assert rc == 2
    assert "sample.steps: 2000 is out of range; use 1 to 1000" in capsys.readouterr().err


def test_sample_then_export_as_real_subprocesses(model_dir, tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    out = tmp_path / "out"
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "core.cli",
            "sample",
            str(model_dir),
            "--out",
            str(out),
            "--num",
            "2",
            "--steps",
            "3",
            "--device",
            "cpu",
            "--trajectory",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    assert r.returncode == 0, r.stderr
    video = tmp_path / "d.gif"
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "core.cli",
            "export",
            str(out),
            "--video",
            str(video),
            "--show",
            "both",
            "--scale",
            "2",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    assert r.returncode == 0, r.stderr
    import imageio.v3 as iio

    frames = iio.imread(video)
    assert frames.shape[0] == 4  # 3 steps + the finished samples
