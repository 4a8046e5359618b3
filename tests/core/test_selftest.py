"""``noisebloom selftest`` (core/selftest.py): every stage runs on the real core functions and is checked."""

from __future__ import annotations

import os
from pathlib import Path

import imageio_ffmpeg
import pytest
from PIL import Image

import core.selftest as selftest
from core.cli import main
from core.export.trajectory import trajectory_frames


@pytest.mark.slow  # trains and samples for real: 15-90 s on the shared 2-core CPU, by its load
def test_selftest_scans_trains_samples_and_exports_a_checked_gif_and_mp4(tmp_path, capsys):
    rc = main(["selftest", "--workspace", str(tmp_path), "--workers", "1", "--device", "cpu"])
    out = capsys.readouterr().out
    assert rc == 0, out
    for stage in ("import", "scan", "train", "sample", "export"):
        assert f"ok  {stage}" in out
    assert "selftest passed" in out
    root = tmp_path / "selftest"
    assert len(list((root / "pictures").glob("*.png"))) == selftest.N_PICTURES
    assert (root / "run" / "model" / "model_index.json").is_file()
    assert len(list((root / "samples").glob("*.png"))) == selftest.NUM_SAMPLES
    with Image.open(root / "exports" / "denoise.gif") as gif:
        assert gif.format == "GIF"
        first = next(trajectory_frames(root / "samples" / "trajectory"))  # the samples side by side
        assert gif.size == (first.shape[1] * 4, first.shape[0] * 4)  # export's default 4x scale
        assert gif.n_frames >= selftest.SAMPLE_STEPS
    frames, _ = imageio_ffmpeg.count_frames_and_secs(str(root / "exports" / "denoise.mp4"))
    assert frames == selftest.SAMPLE_STEPS + 1


def test_a_failed_check_is_a_one_line_error_and_the_temporary_folder_is_removed(
    tmp_path, monkeypatch, capsys
):
    real = selftest.make_pictures

    def one_truncated(folder: Path, *args, **kwargs):
        paths = real(folder, *args, **kwargs)
        paths[3].write_bytes(paths[3].read_bytes()[:40])  # a PNG cut short: the scan must reject it
        return paths

    monkeypatch.setattr(selftest, "make_pictures", one_truncated)
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    rc = main(["selftest", "--workers", "1", "--device", "cpu"])
    err = capsys.readouterr().err.strip()
    assert rc == 2
    assert len(err.splitlines()) == 1
    assert err.startswith(
        "noisebloom: error: selftest: scan: 11 of 12 generated pictures accepted, 1 rejected"
    )
    assert "picture_03.png" in err
    assert os.listdir(tmp_path) == []  # the temporary workspace went away with the failure
