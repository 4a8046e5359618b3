"""Videos and animated GIFs: clips of T frames with a stride, fps recorded, bag of frames, mixed folders."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from core.data.result import VIDEO_IN_IMAGE_DATASET
from core.data.scan import scan_folder
from core.data.torch_data import make_loader


def gif(make, rel: str, n: int = 8, duration_ms: int = 50, seed: int = 0) -> Path:
    frames = []
    for i in range(n):
        a = make.noise(24, 32, seed + i) // 3
        a[4:12, 2 * i : 2 * i + 8] = 255
        frames.append(Image.fromarray(a))
    p = make.path(rel)
    frames[0].save(p, save_all=True, append_images=frames[1:], duration=duration_ms, loop=0)
    return p


def test_a_folder_of_videos_gives_clips_with_frames_stride_and_fps(make, cache_root, s16):
    make.video("v/a.mp4", n=20, fps=10, seed=1)
    make.video("v/b.mkv", n=20, fps=10, seed=2)
    s = s16.replace(clip_frames=4, clip_stride=2)
    result = scan_folder(make.root / "v", s, cache_root=cache_root)
    assert result.kind == "clip" and result.frames == 4 and result.fps == pytest.approx(5.0)
    data = result.open()
    # 20 frames, a clip spans 4 frames taken every 2nd: clips start at 0 and 8 (16 would need frame 22)
    assert data.kind == "clip" and data.array.shape == (4, 4, 16, 16, 3) and data.fps == pytest.approx(5.0)
    assert data.items[:2] == ["v/a.mp4#frame=0", "v/a.mp4#frame=8"]
    assert result.stats["video"]["videos"] == 2 and result.stats["video"]["fps"] == [10.0]
    # the moving square moves between the frames of a clip
    clip = np.asarray(data.array[0]).astype(int)
    assert np.abs(clip[0] - clip[-1]).mean() > 5
    batch = next(iter(make_loader(data, 2, split="all", shuffle=False)))
    assert tuple(batch.shape) == (2, 4, 3, 16, 16) and batch.min() >= -1 and batch.max() <= 1


def test_a_video_too_short_for_one_clip_is_rejected_with_the_numbers(make, cache_root, s16):
    make.video("v/long.mp4", n=20)
    make.video("v/short.mp4", n=5)
    result = scan_folder(make.root / "v", s16.replace(clip_frames=8), cache_root=cache_root)
    (r,) = result.rejected
    assert (
        r.name == "v/short.mp4"
        and "has 5 usable frames, a clip needs 8" in r.reason
        and "--frames" in r.reason
    )


def test_a_video_both_readers_stop_early_on_keeps_what_decodes_and_says_so(make, cache_root, s16):
    p = make.video("v/cut.mkv", n=60, fps=10, seed=3)
    data = p.read_bytes()
    p.write_bytes(data[: len(data) * 6 // 10])  # the header still says 60 frames
    make.video("v/fine.mkv", n=60, fps=10, seed=4)
    result = scan_folder(make.root / "v", s16.replace(clip_frames=4), cache_root=cache_root)
    names = {a.name: a.rows for a in result.accepted}
    assert names["v/fine.mkv"] == 15
    # OpenCV and ffmpeg both stop where the file ends: the clips before it are kept, and a warning says so
    assert 0 < names["v/cut.mkv"] < 15
    (warning,) = [w for w in result.warnings if "cut.mkv" in w]
    assert "decoding stopped at frame" in warning and "of 60 (corrupt data)" in warning


def test_a_video_damaged_in_the_middle_is_read_on_by_ffmpeg_where_opencv_stops(make, cache_root, s16):
    p = make.video("v/damaged.mp4", n=60, fps=10, seed=3)
    data = bytearray(p.read_bytes())
    mid = len(data) // 2
    data[mid : mid + len(data) // 5] = (
        np.random.default_rng(0).integers(0, 256, len(data) // 5, dtype=np.uint8).tobytes()
    )
    p.write_bytes(bytes(data))
    result = scan_folder(make.root / "v", s16.replace(clip_frames=4), cache_root=cache_root)
    (a,) = result.accepted
    assert a.rows == 15 and not result.warnings


def test_a_video_opencv_stops_early_on_is_read_whole_by_ffmpeg(make, cache_root, s16, monkeypatch):
    from core.data import decode

    make.video("v/a.mp4", n=60, fps=10, seed=5)
    s = s16.replace(clip_frames=4)
    whole = np.asarray(scan_folder(make.root / "v", s, cache_root=cache_root / "whole").open().array)
    assert whole.shape[0] == 15

    read_by_opencv: list[int] = []
    opencv_frames = decode._frames_cv2

    def stops_at_frame_20(cap, wanted, last):  # what OpenCV does with some codecs (cinepak)
        for i, frame in opencv_frames(cap, wanted, last):
            if i >= 20:
                return
            read_by_opencv.append(i)
            yield i, frame

    monkeypatch.setattr(decode, "_frames_cv2", stops_at_frame_20)
    result = scan_folder(make.root / "v", s, cache_root=cache_root / "cut")
    assert read_by_opencv == list(range(20))
    # ffmpeg read on: every frame is held, the same pixels as a whole read, and no warning
    assert result.rows == 15 and not result.warnings
    np.testing.assert_array_equal(np.asarray(result.open().array), whole)


def test_an_animated_gif_is_a_clip_in_a_clip_dataset_and_its_first_frame_in_an_image_dataset(
    make, cache_root, s16
):
    gif(make, "g/anim.gif", n=8, duration_ms=50)
    result = scan_folder(make.root / "g", s16.replace(clip_frames=4), cache_root=cache_root)
    assert result.kind == "clip" and result.rows == 2 and result.fps == pytest.approx(20.0)

    gif(make, "m/anim.gif", n=8, duration_ms=50)
    make.image("m/still.png")
    mixed = scan_folder(make.root / "m", s16, cache_root=cache_root)
    assert mixed.kind == "image" and mixed.rows == 2
    first = np.asarray(Image.open(make.root / "m" / "anim.gif").convert("RGB").resize((16, 16)))
    got = np.asarray(mixed.open().array[0]).astype(int)
    assert np.abs(got - first.astype(int)).mean() < 40  # the first frame, not another one
    assert any(a.name == "m/anim.gif" for a in mixed.accepted)


def test_a_mixed_folder_is_an_image_dataset_and_its_videos_are_reported_not_dropped(make, cache_root, s16):
    make.image("mix/photo.jpg", seed=1)
    make.video("mix/movie.mp4", n=10)
    result = scan_folder(make.root / "mix", s16, cache_root=cache_root)
    assert result.kind == "image" and result.rows == 1
    (r,) = result.rejected
    assert (
        r.name == "mix/movie.mp4"
        and "is a video, and this is an image dataset" in r.reason
        and "--as-frames" in r.reason
        and r.code == VIDEO_IN_IMAGE_DATASET
    )
    frames = scan_folder(
        make.root / "mix", s16.replace(as_frames=True, frames_per_second=5), cache_root=cache_root
    )
    # 10 frames at 10 fps, 5 taken per second: frames 0, 2, 4, 6, 8, plus the photo
    assert frames.kind == "image" and frames.rows == 6 and not frames.rejected
    assert frames.open().items[:3] == [
        "mix/movie.mp4#frame=0",
        "mix/movie.mp4#frame=2",
        "mix/movie.mp4#frame=4",
    ]


def test_a_clip_dataset_refuses_still_images_with_a_reason(make, cache_root, s16):
    make.image("mix/photo.jpg", seed=1)
    make.video("mix/movie.mp4", n=10)
    result = scan_folder(
        make.root / "mix", s16.replace(dataset_kind="clip", clip_frames=4), cache_root=cache_root
    )
    assert result.kind == "clip" and result.rows == 2
    (r,) = result.rejected
    assert r.name == "mix/photo.jpg" and "still image" in r.reason and "--kind image" in r.reason


def test_a_video_folder_serves_as_a_bag_of_frames_for_an_image_model(make, cache_root, s16):
    make.video("v/a.mp4", n=20, fps=10)
    result = scan_folder(
        make.root / "v", s16.replace(as_frames=True, frames_per_second=2), cache_root=cache_root
    )
    assert result.kind == "image" and result.rows == 4  # frames 0, 5, 10, 15
    assert result.open().array.shape == (4, 16, 16, 3)


def test_clips_of_one_file_stay_on_one_side_of_the_held_out_split(make, cache_root, s16):
    for i in range(10):
        gif(make, f"g/{i}.gif", n=8, seed=10 * i)
    result = scan_folder(make.root / "g", s16.replace(clip_frames=4), cache_root=cache_root)
    data = result.open()
    assert result.rows == 20 and len(data.val_indices) == 2 and result.val == 2
    val = set(data.val_indices.tolist())
    for a in result.accepted:
        rows = set(range(a.first_row, a.first_row + a.rows))
        assert rows <= val or not rows & val


def test_every_listed_container_and_picture_format_is_read(make, cache_root, s16):
    for ext in ("mp4", "mov", "mkv", "webm", "avi"):
        make.video(f"v/clip.{ext}", n=10, seed=len(ext) + ord(ext[0]))
    result = scan_folder(make.root / "v", s16.replace(clip_frames=4), cache_root=cache_root)
    assert not result.rejected, result.rejected
    assert sorted(a.name for a in result.accepted) == [
        f"v/clip.{e}" for e in ("avi", "mkv", "mov", "mp4", "webm")
    ]
    for i, fmt in enumerate(("PNG", "JPEG", "WEBP", "BMP", "TIFF", "GIF")):
        make.image(f"i/pic.{fmt.lower()}", seed=i, fmt=fmt)
    result = scan_folder(make.root / "i", s16, cache_root=cache_root)
    assert not result.rejected and result.rows == 6
    assert sorted(result.stats["formats"]) == ["bmp", "gif", "jpeg", "png", "tiff", "webp"]
