"""benchmarks/footage.py and bench_video.py --data footage: the real-footage clip builder on a short
video written here with the project's video writer, its split, and the memorised share of clips."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[3]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks import bench_video, footage  # noqa: E402

FRAMES, W, H = 48, 64, 48


@pytest.fixture(scope="module")
def square_video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An MP4 of 48 frames, 64x48: a white 6x16 bar moving 1 px per frame right over a grey floor."""
    from core.media.video import write_video

    frames = np.full((FRAMES, H, W, 3), 90, np.uint8)
    for t in range(FRAMES):
        frames[t, 16:32, t : 6 + t] = 255
    return write_video(frames, tmp_path_factory.mktemp("video") / "square.mp4", 12.0)


def test_a_decoded_video_gives_every_frame_centre_cropped_at_the_resolution(square_video):
    frames, fps = footage.decode_frames(square_video, 16)
    assert frames.shape == (FRAMES, 16, 16, 3) and frames.dtype == np.uint8
    assert fps == pytest.approx(12.0)
    # the centre 48x48 square (x 8..56) is kept: the bar starts left of it (x 0..6), then enters it
    assert frames[0].max() < 150 and frames[FRAMES // 2].max() > 200


def test_clips_have_the_right_shape_and_the_held_out_ones_are_later_footage(square_video):
    data = footage.build_footage([square_video], 16, 4, heldout_share=0.25, cache=None)
    assert data.train.shape[1:] == (4, 16, 16, 3) and data.heldout.shape[1:] == (4, 16, 16, 3)
    assert len(data.train) >= 6 and len(data.heldout) >= 2
    (src,) = data.sources
    assert src["train_frames"][1] + 4 <= src["heldout_frames"][0]  # a clip's length apart
    # no held-out frame is a training frame (the square is somewhere else in every frame)
    train = data.train_frames.reshape(len(data.train_frames), -1).astype(np.int16)
    for f in data.heldout_frames.reshape(len(data.heldout_frames), -1).astype(np.int16):
        assert np.abs(train - f).max(axis=1).min() > 40


def test_the_split_takes_consecutive_frames_and_leaves_a_gap():
    frames = np.arange(100, dtype=np.uint8).reshape(100, 1, 1, 1)
    train, held, info = footage.split_clips(frames, 8, heldout_share=0.2)
    assert train.shape == (9, 8, 1, 1, 1) and held.shape == (2, 8, 1, 1, 1)
    assert train[0].ravel().tolist() == list(range(8)) and train[-1].ravel()[-1] == 71
    assert held[0].ravel()[0] == 80 and info["heldout_frames"] == [80, 96]
    with pytest.raises(ValueError, match="too few"):
        footage.split_clips(frames[:20], 8)


def test_a_copied_training_clip_counts_as_memorised_and_a_new_clip_does_not():
    rng = np.random.default_rng(0)
    train = rng.integers(0, 256, (20, 4, 8, 8, 3), dtype=np.uint8)
    copy = train[[3]]
    near_copy = np.clip(train[[5]].astype(int) + rng.integers(-3, 4, train[[5]].shape), 0, 255).astype(
        np.uint8
    )
    new = rng.integers(0, 256, (2, 4, 8, 8, 3), dtype=np.uint8)
    assert footage.clip_memorised_share(copy, train) == 1.0
    assert footage.clip_memorised_share(near_copy, train) == 1.0
    assert footage.clip_memorised_share(new, train) == 0.0


def test_frame_quality_is_zero_for_the_held_out_frames_themselves_and_grows_for_others():
    rng = np.random.default_rng(1)
    held = rng.integers(0, 256, (40, 16, 16, 3), dtype=np.uint8)
    same = footage.frame_quality(held, held)
    other = footage.frame_quality(np.full_like(held, 128), held)
    assert same["swd"] == pytest.approx(0.0, abs=1e-6) and same["fd"] == pytest.approx(0.0, abs=1e-3)
    assert other["fd"] > 1.0 and other["swd"] > 1.0 and other["n"] == 40


def test_real_only_measures_the_real_clips_without_training(square_video, monkeypatch, tmp_path):
    import json

    data = footage.build_footage([square_video], 16, 4, heldout_share=0.25, cache=None)
    monkeypatch.setattr(footage, "load_footage", lambda r, f: data)
    out = tmp_path / "figures.json"
    argv = ["--data", "footage", "--resolution", "32", "--frames", "4", "--real-only", "--no-write"]
    assert bench_video.main([*argv, "--json-out", str(out)]) == 0
    figures = json.loads(out.read_text())
    assert set(figures) == {"data", "real", "total_s"}
    moving = figures["real"]["heldout"]["motion"]
    assert moving["mafd"] > 0 and moving["flow_px"] > 0.05  # the bar moves a third of a pixel a frame
    assert figures["data"]["heldout_clips"] == len(data.heldout)
    summary = bench_video.footage_summary(figures)
    assert "real held-out MAFD / flow px / flicker" in summary


def test_real_only_needs_the_footage():
    with pytest.raises(SystemExit):
        bench_video.main(["--real-only"])


def test_the_targets_are_ratios_to_the_real_clips_measured_in_the_same_run():
    def fig(mafd, flow, flicker, fd, memorised=0.0):
        motion = {"mafd": mafd, "flow_px": flow, "flicker": flicker}
        return {"motion": motion, "frames": {"fd": fd, "swd": 1.0}, "memorised_share": memorised}

    real = {"heldout": fig(0.01, 0.2, 0.005, None), "train": fig(0.01, 0.2, 0.005, 0.5)}
    near = fig(0.012, 0.16, 0.007, 2.0)  # +20%, -20%, 1.4x; FD 1.33x the image model's
    r = bench_video.footage_ratios(real, near, fig(0, 0, 0, 1.5))
    assert r["mafd"] == pytest.approx(1.2) and r["flow_px"] == pytest.approx(0.8)
    assert r["fd_vs_real_frames"] == pytest.approx(4.0) and r["fd_vs_image_model"] == pytest.approx(4 / 3)
    assert all(bench_video.footage_targets(r, near).values())
    far = fig(0.013, 0.2, 0.008, 3.1, memorised=0.02)  # +30%, flicker 1.6x, FD 2.07x, 2% memorised
    missed = bench_video.footage_targets(bench_video.footage_ratios(real, far, fig(0, 0, 0, 1.5)), far)
    assert [k for k, ok in missed.items() if not ok] == [
        "mafd within 25%",
        "flicker at most 1.5x",
        "memorised under 1%",
        "per-frame FD within 1.5x the image model's",
    ]
