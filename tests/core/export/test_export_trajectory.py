"""A recorded trajectory exports as x_t, x0 or both, for one or many samples; `noisebloom export`."""

from __future__ import annotations

import imageio.v3 as iio
import pytest

from core.cli import main
from core.errors import ConfigError
from core.export.trajectory import export_trajectory, trajectory_frames
from core.sampling.trajectory import TrajectoryWriter


def _fake_trajectory(folder, steps=4, num=3, shape=(1, 6, 8)):
    """A trajectory written by the recorder itself, from known tensors."""
    w = TrajectoryWriter(folder, steps, num, shape, max_frames=100)
    for i in range(steps):
        level = -1 + 2 * i / steps
        w.record(
            i,
            999.0 - i,
            1.0,
            torch_full((num, *shape), level),
            torch_full((num, *shape), -level),
            slice(0, num),
        )
    w.record_final(torch_full((num, *shape), 1.0), slice(0, num))
    w.close({"model": "", "objective": "eps", "sample_config": {}})
    return folder


def torch_full(shape, v):
    import torch

    return torch.full(shape, float(v))


@pytest.mark.parametrize("show,width", [("x0", 8), ("xt", 8), ("both", 8 + 2 + 8)])
def test_frames_show_xt_x0_or_both_side_by_side(tmp_path, show, width):
    folder = _fake_trajectory(tmp_path / "t")
    frames = list(trajectory_frames(folder, show=show, indices=[1]))
    assert len(frames) == 4 + 1 and frames[0].shape == (6, width, 1)
    if show == "both":
        assert frames[0][0, 0, 0] == 0 and frames[0][0, -1, 0] == 255  # x_t at -1 left, x0 at +1 right
    assert (frames[-1][:, :8] == 255).all() and (
        frames[-1][:, -8:] == 255
    ).all()  # ends on the finished sample


def test_many_samples_tile_into_a_grid(tmp_path):
    folder = _fake_trajectory(tmp_path / "t")
    frames = list(trajectory_frames(folder, show="x0", nrow=3))
    assert frames[0].shape == (2 + 6 + 2, 2 + 3 * (8 + 2), 1)


@pytest.mark.parametrize("suffix", [".mp4", ".webm", ".gif"])
def test_export_trajectory_decodes_back_with_frame_count_and_size(tmp_path, suffix):
    folder = _fake_trajectory(tmp_path / "t")
    path = export_trajectory(
        folder, tmp_path / f"d{suffix}", show="both", fps=8, scale=2, hold_last_s=0.5, indices=[0]
    )
    frames = iio.imread(path)
    hold = 0 if suffix == ".gif" else 4
    assert frames.shape[:3] == (5 + hold, 12, 36)


def test_export_refuses_unknown_samples_and_non_trajectory_folders(tmp_path):
    folder = _fake_trajectory(tmp_path / "t")
    with pytest.raises(ConfigError, match="sample 7 is not in"):
        list(trajectory_frames(folder, indices=[7]))
    rc = main(["export", str(tmp_path), "--video", str(tmp_path / "x.mp4")])
    assert rc == 2 and not (tmp_path / "x.mp4").exists()


def test_export_command_writes_video_and_grid(tmp_path, capsys):
    folder = _fake_trajectory(tmp_path / "t")
    rc = main(
        [
            "export",
            str(folder),
            "--video",
            str(tmp_path / "a.webm"),
            "--grid",
            str(tmp_path / "g.png"),
            "--show",
            "xt",
            "--scale",
            "2",
            "--fps",
            "6",
            "--hold",
            "0",
        ]
    )
    assert rc == 0
    assert iio.imread(tmp_path / "a.webm").shape[0] == 5
    grid = iio.imread(tmp_path / "g.png")
    assert grid.shape[:2] == (
        2 * (2 + 2 * (6 + 2)),
        2 * (2 + 2 * (8 + 2)),
    )  # 3 samples, 2 per row and np.asarray(grid).max() == 255
    assert "a.webm" in capsys.readouterr().out
