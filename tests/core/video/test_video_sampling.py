"""Clip models sample (N, T, C, H, W) clips with the same samplers and per-step callbacks."""

from __future__ import annotations

import imageio.v3 as iio
import numpy as np
import pytest

from core.models.folder import load_model_folder
from core.sampling.config import SampleConfig
from core.sampling.sample import sample

FRAMES, RES = 6, 16


@pytest.mark.parametrize("sampler", ["flow_euler", "flow_heun"])
def test_sampling_a_clip_model_gives_clips_and_calls_back_every_step(clip_model_dir, sampler):
    model = load_model_folder(clip_model_dir)
    seen = []
    result = sample(
        model,
        SampleConfig(sampler=sampler, steps=3, num=3, batch_size=2, device="cpu"),
        callback=lambda info: seen.append((info.i, info.n, tuple(info.x0.shape), tuple(info.x_t.shape))),
    )
    assert result.images.shape == (3, FRAMES, RES, RES, 1) and result.images.dtype == np.uint8
    # two batches (2 + 1 clips), 3 steps each; the previews are whole clips (B, T, C, H, W)
    assert [s[0] for s in seen] == [0, 1, 2, 0, 1, 2] and {s[1] for s in seen} == {3}
    assert seen[0][2] == seen[0][3] == (2, FRAMES, 1, RES, RES) and seen[-1][2] == (1, FRAMES, 1, RES, RES)


def test_clip_k_of_a_seed_is_the_same_in_any_batch(clip_model_dir):
    model = load_model_folder(clip_model_dir)
    cfg = SampleConfig(sampler="flow_euler", steps=2, num=3, batch_size=3, device="cpu", seed=7)
    together = sample(model, cfg).images
    alone = sample(model, cfg.replace(num=1, first_index=2)).images
    np.testing.assert_array_equal(together[2], alone[0])
    assert not np.array_equal(together[0], together[1])


def test_the_sample_command_writes_each_clip_as_a_gif_at_the_clip_fps(clip_model_dir, tmp_path, capsys):
    from PIL import Image

    from core.cli import main

    assert main(["sample", str(clip_model_dir), "--out", str(tmp_path / "s"), "--num", "2", "--steps", "2",
                 "--device", "cpu"]) == 0  # fmt: skip
    gifs = sorted((tmp_path / "s").glob("sample_*.gif"))
    assert [g.name for g in gifs] == ["sample_00000.gif", "sample_00001.gif"]
    frames = iio.imread(gifs[0])
    assert frames.shape[:3] == (FRAMES, RES, RES)
    with Image.open(gifs[0]) as im:
        assert im.info["duration"] == 170  # 6 fps, in GIF's 10 ms units
