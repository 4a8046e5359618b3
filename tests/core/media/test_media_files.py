"""MP4 / WebM / GIF writers decode back with the right frame count and size; PNG chunks; grids."""

from __future__ import annotations

import imageio.v3 as iio
import imageio_ffmpeg
import numpy as np
import pytest

from core.errors import ConfigError
from core.media.grid import make_grid
from core.media.png import read_png_params, write_png
from core.media.video import write_video


def _frames(t=6, h=9, w=11, c=3):
    rng = np.random.default_rng(0)
    frames = np.zeros((t, h, w, c), dtype=np.uint8)
    for i in range(t):  # a moving bright square, distinct per frame
        frames[i] = rng.integers(0, 40, (h, w, c), dtype=np.uint8)
        frames[i, 2:5, i : i + 3] = 250
    return frames


def _decode_ffmpeg(path):
    gen = imageio_ffmpeg.read_frames(str(path))
    meta = next(gen)
    return meta, sum(1 for _ in gen)


@pytest.mark.parametrize("suffix", [".mp4", ".webm"])
def test_ffmpeg_videos_decode_back_with_frame_count_and_even_size(tmp_path, suffix):
    path = write_video(_frames(), tmp_path / f"a{suffix}", fps=10, hold_last_s=0.5, scale=3)
    meta, count = _decode_ffmpeg(path)
    assert count == 6 + 5  # 6 frames + 0.5 s held at 10 fps
    assert tuple(meta["size"]) == (34, 28)  # 33 x 27 padded to even for yuv420p
    codec = meta.get("codec", "")
    assert ("h264" in codec) if suffix == ".mp4" else ("vp9" in codec)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp file left


def test_mp4_keeps_the_picture(tmp_path):
    frames = _frames(t=3, h=16, w=16)
    path = write_video(frames, tmp_path / "a.mp4", fps=5, scale=4)
    decoded = iio.imread(path)
    small = decoded[:, ::4, ::4].astype(int)
    assert np.abs(small - frames.astype(int)).mean() < 12  # lossy, but the square is where it was


def test_gif_decodes_back_with_frame_count_size_and_held_last_frame(tmp_path):
    path = write_video(_frames(c=1), tmp_path / "a.gif", fps=10, hold_last_s=1.0, scale=2, resample="lanczos")
    frames = iio.imread(path)
    assert frames.shape[:3] == (6, 18, 22)
    from PIL import Image

    with Image.open(path) as im:
        im.seek(5)
        assert im.info["duration"] == 1100
        im.seek(0)
        assert im.info["duration"] == 100


def test_nearest_upscaling_keeps_pixels_crisp(tmp_path):
    frames = _frames(t=2, h=4, w=4)
    path = write_video(frames, tmp_path / "a.gif", fps=4, scale=4)
    decoded = iio.imread(path)
    assert decoded.shape[1:3] == (16, 16)
    block = decoded[0, 8:12, 8:12]
    assert (block == block[0, 0]).all()


def test_bad_video_arguments_are_refused_with_the_fix(tmp_path):
    with pytest.raises(ConfigError, match=r"unknown video format '\.avi'"):
        write_video(_frames(), tmp_path / "a.avi", fps=10)
    with pytest.raises(ConfigError, match="export.scale"):
        write_video(_frames(), tmp_path / "a.mp4", fps=10, scale=0)
    assert list(tmp_path.iterdir()) == []


def test_png_text_chunks_round_trip(tmp_path):
    img = _frames(t=1)[0]
    path = write_png(tmp_path / "a.png", img, {"sampler": "ddim", "steps": 50, "karras": False, "seed": 7})
    assert read_png_params(path) == {"sampler": "ddim", "steps": "50", "karras": "false", "seed": "7"}
    np.testing.assert_array_equal(iio.imread(path), img)


def test_grid_places_images_row_by_row():
    imgs = np.stack([np.full((4, 5, 3), 10 * (k + 1), np.uint8) for k in range(5)])
    grid = make_grid(imgs, nrow=3, pad=1)
    assert grid.shape == (2 * 5 + 1, 3 * 6 + 1, 3)
    assert grid[1, 1, 0] == 10 and grid[1, 1 + 6 * 2, 0] == 30 and grid[1 + 5, 1 + 6, 0] == 50
    assert grid[1 + 5, 1 + 12, 0] == 0  # the empty sixth cell stays padding
