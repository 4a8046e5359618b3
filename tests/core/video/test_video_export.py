"""Sampled clips export as MP4 / WebM / GIF at the clip's fps; the denoising of a clip plays as a video."""

from __future__ import annotations

import imageio.v3 as iio
import imageio_ffmpeg
import numpy as np
import pytest

from core.cli import main
from core.errors import NoisebloomError
from core.export.clips import clip_denoising_frames, read_clips
from core.sampling.trajectory import open_trajectory

FRAMES, RES = 6, 16


@pytest.fixture(scope="module")
def sampled(clip_model_dir, tmp_path_factory):
    """A sample folder of 2 clips with their trajectory (3 flow_euler steps)."""
    out = tmp_path_factory.mktemp("clips") / "s"
    assert main(["sample", str(clip_model_dir), "--out", str(out), "--num", "2", "--steps", "3",
                 "--device", "cpu", "--trajectory", "--seed", "3"]) == 0  # fmt: skip
    return out


def _ffmpeg_count(path):
    gen = imageio_ffmpeg.read_frames(str(path))
    meta = next(gen)
    return meta, sum(1 for _ in gen)


@pytest.mark.parametrize("fmt", ["mp4", "webm", "gif"])
def test_export_clips_round_trips_with_frame_count_size_and_fps(sampled, tmp_path, fmt, capsys):
    out = tmp_path / "v"
    assert main(["export", str(sampled), "--clips", fmt, "--clips-dir", str(out), "--scale", "2"]) == 0
    paths = sorted(out.glob(f"*.{fmt}"))
    assert [p.name for p in paths] == [f"sample_00000.{fmt}", f"sample_00001.{fmt}"]
    clips, fps, _ = read_clips(sampled)
    decoded = iio.imread(paths[1])
    assert decoded.shape[:3] == (FRAMES, 2 * RES, 2 * RES)
    small = decoded[:, ::2, ::2, 0].astype(int)
    err = np.abs(small - clips[1, ..., 0].astype(int)).mean()
    assert err == 0 if fmt == "gif" else err < 20  # the codecs are lossy, the GIF of a gray clip is not
    if fmt == "gif":
        from PIL import Image

        with Image.open(paths[0]) as im:
            assert im.info["duration"] == 170  # the model's 6 fps
    else:
        meta, count = _ffmpeg_count(paths[0])
        assert count == FRAMES and meta["fps"] == pytest.approx(6.0, rel=0.01)


def test_clips_read_from_the_gifs_equal_the_lossless_trajectory(sampled, tmp_path):
    lossless, fps, names = read_clips(sampled)
    assert lossless.shape == (2, FRAMES, RES, RES, 1) and fps == 6.0 and names[0] == "sample_00000"
    gifs_only = tmp_path / "g"
    gifs_only.mkdir()
    for p in sampled.glob("sample_*.gif"):
        (gifs_only / p.name).write_bytes(p.read_bytes())
    from_gifs, gif_fps, _ = read_clips(gifs_only)
    np.testing.assert_array_equal(from_gifs, lossless)
    assert gif_fps == pytest.approx(1000 / 170)


def test_the_denoising_video_plays_the_clip_while_it_denoises(sampled):
    traj = open_trajectory(sampled)
    rows = traj.x0.shape[0]
    frames = list(clip_denoising_frames(sampled, indices=[1], loops=2))
    total = 2 * FRAMES  # at least 2 plays; 3 recorded steps fit in them
    assert len(frames) == total + FRAMES  # then the finished clip plays once
    x0 = np.asarray(traj.x0)
    # frame k shows clip frame k mod T, at a denoising step going from the first to the last
    np.testing.assert_array_equal(frames[0], x0[0, 1, 0])
    np.testing.assert_array_equal(
        frames[FRAMES + 1], x0[round((FRAMES + 1) * (rows - 1) / (total - 1)), 1, 1]
    )
    np.testing.assert_array_equal(frames[total - 1], x0[rows - 1, 1, FRAMES - 1])
    for f in range(FRAMES):
        np.testing.assert_array_equal(frames[total + f], traj.final[1, f])


def test_export_video_of_a_clip_trajectory_runs_at_the_clip_fps(sampled, tmp_path, capsys):
    from PIL import Image

    path = tmp_path / "d.gif"
    assert (
        main(["export", str(sampled), "--video", str(path), "--loops", "3", "--hold", "0", "--scale", "1"])
        == 0
    )
    frames = iio.imread(path)
    assert frames.shape[0] == 3 * FRAMES + FRAMES
    assert frames.shape[1:3] == (RES + 4, 2 * RES + 6)  # 2 clips side by side in a grid with 2 px padding
    with Image.open(path) as im:
        assert im.info["duration"] == 170


def test_export_clips_of_a_folder_without_clips_says_what_to_do(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    with pytest.raises(NoisebloomError, match="no sampled clips") as e:
        read_clips(tmp_path / "empty")
    assert "noisebloom sample" in str(e.value)
    assert main(["export", str(tmp_path / "empty"), "--clips", "mp4"]) == 2
    err = capsys.readouterr().err
    assert "empty: no sampled clips" in err and err.count("\n") == 1


def test_a_filmstrip_slices_back_into_the_clip_frames():
    from core.media.grid import filmstrip

    clip = np.random.default_rng(0).integers(0, 256, (5, 4, 3, 2), dtype=np.uint8)
    strip = filmstrip(clip)
    assert strip.shape == (4, 15, 2)
    for t in range(5):
        np.testing.assert_array_equal(strip[:, 3 * t : 3 * t + 3], clip[t])
