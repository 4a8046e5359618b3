"""Trajectory recording (every step, or a stride), PNG outputs, clips, and branching from step k."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from core.errors import ConfigError
from core.media.png import read_png_params
from core.sampling.config import SampleConfig
from core.sampling.sample import branch, config_from_png_params, sample
from core.sampling.trajectory import open_trajectory, recorded_steps


def test_trajectory_records_every_steps_xt_and_x0_and_the_final_images(models, tmp_path):
    seen = []
    cfg = SampleConfig(sampler="ddim", steps=6, num=3, batch_size=2, device="cpu", trajectory=True)
    r = sample(models["eps"], cfg, out_dir=tmp_path, callback=seen.append)
    traj = open_trajectory(tmp_path)
    assert traj.xt.shape == traj.x0.shape == (6, 3, 16, 16, 1) and traj.xt.dtype == np.uint8
    assert traj.steps == list(range(6))
    np.testing.assert_array_equal(traj.final, r.images)
    # the recorded x0 of image 2 at step 4 is what the callback saw for it (second batch, row 0)
    info = [s for s in seen if s.i == 4 and s.indices == (2,)][0]
    expect = ((info.x0[0].clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).movedim(0, -1).numpy()
    np.testing.assert_array_equal(traj.x0[4, 2], expect)
    assert traj.meta["t"][0] > traj.meta["t"][5]
    assert [p.name for p in r.paths] == ["sample_00000.png", "sample_00001.png", "sample_00002.png"]
    assert json.loads((tmp_path / "sample.json").read_text())["config"]["steps"] == 6


def test_long_trajectories_keep_a_stride_with_first_and_last_step(models, tmp_path):
    cfg = SampleConfig(
        sampler="euler", steps=20, num=1, device="cpu", trajectory=True, trajectory_max_frames=5
    )
    sample(models["eps"], cfg, out_dir=tmp_path)
    traj = open_trajectory(tmp_path / "trajectory")
    assert traj.steps == [0, 5, 10, 14, 19] and traj.xt.shape[0] == 5
    assert recorded_steps(1000, 1000) == list(range(1000))


def test_pngs_carry_the_sampling_parameters(models, tmp_path):
    cfg = SampleConfig(sampler="ddim", steps=3, num=2, seed=11, first_index=5, eta=0.25, device="cpu")
    r = sample(models["eps"], cfg, out_dir=tmp_path)
    params = read_png_params(r.paths[1])
    assert params["sampler"] == "ddim" and params["steps"] == "3" and params["seed"] == "11"
    assert params["index"] == "6" and params["eta"] == "0.25" and params["model"] == "tiny-eps"
    assert r.paths[1].name == "sample_00006.png"


class ClipNet(torch.nn.Module):
    """A toy space-time network: its output mixes each frame with the clip mean (shape-agnostic test only)."""

    def __init__(self):
        super().__init__()
        self.w = torch.nn.Parameter(torch.tensor(0.3))

    def forward(self, x, t):
        assert x.ndim == 5 and t.shape == (x.shape[0],)
        return type("Out", (), {"sample": self.w * (x + x.mean(dim=1, keepdim=True))})()


def test_clips_sample_as_b_t_c_h_w_and_record_a_6d_trajectory(models, tmp_path):
    m = models["eps"]
    info = {"resolution": 8, "channels": 3, "kind": "clip", "frames": 4, "fps": 6}
    clip_model = type(m)(ClipNet(), m.scheduler_config, "eps", info, m.path)
    shapes = []
    cfg = SampleConfig(sampler="dpmpp_2m", steps=3, num=2, device="cpu", trajectory=True)
    r = sample(clip_model, cfg, out_dir=tmp_path, callback=lambda s: shapes.append(tuple(s.x0.shape)))
    assert r.images.shape == (2, 4, 8, 8, 3)
    assert shapes == [(2, 4, 3, 8, 8)] * 3
    assert open_trajectory(tmp_path).xt.shape == (3, 2, 4, 8, 8, 3)
    assert [p.suffix for p in r.paths] == [".gif", ".gif"]


def test_branch_with_the_same_seed_replays_the_original(models, tmp_path):
    for name in ("ddim", "ddpm"):
        out = tmp_path / name
        cfg = SampleConfig(sampler=name, steps=8, num=2, seed=3, device="cpu", trajectory=True)
        original = sample(models["eps"], cfg, out_dir=out)
        again = branch(out, 4, model=models["eps"], out_dir=tmp_path / f"{name}-b")
        # float16 state at step 4 -> a pixel level or two at most
        assert np.abs(again.images.astype(int) - original.images.astype(int)).max() <= 3
        assert open_trajectory(tmp_path / f"{name}-b").steps == [0, 1, 2, 3]


@pytest.mark.parametrize("name,objective", [("heun", "eps"), ("flow_heun", "flow")])
def test_a_second_order_branch_restarts_at_step_k_and_replays_the_original(models, tmp_path, name, objective):
    # The restart position comes from SamplerSpec.order; it was once read off a fresh scheduler,
    # where FlowMatchHeun does not yet say it is second order, and flow_heun restarted one step early.
    cfg = SampleConfig(sampler=name, steps=5, num=1, seed=3, device="cpu", trajectory=True)
    original = sample(models[objective], cfg, out_dir=tmp_path / "a")
    seen = []
    again = branch(tmp_path / "a", 2, model=models[objective], callback=lambda s: seen.append((s.i, s.n)))
    assert seen == [(2, 5), (3, 5), (4, 5)] and again.steps_run == 3
    assert np.abs(again.images.astype(int) - original.images.astype(int)).max() <= 3


def test_branch_with_a_new_seed_changes_a_stochastic_samplers_result(models, tmp_path):
    cfg = SampleConfig(sampler="ddpm", steps=8, num=1, seed=3, device="cpu", trajectory=True)
    original = sample(models["eps"], cfg, out_dir=tmp_path / "a")
    other = branch(tmp_path / "a", 2, seed=99, model=models["eps"], out_dir=tmp_path / "b")
    assert np.abs(other.images.astype(int) - original.images.astype(int)).mean() > 3
    params = read_png_params(other.paths[0])
    assert params["seed"] == "99" and params["branch_step"] == "3"  # step 2 counted from 1
    with pytest.raises(ConfigError, match="continues the trajectory"):
        config_from_png_params(params)  # a branch cannot be regenerated from scratch: say so


@pytest.mark.parametrize(
    "name,objective", [("ddpm", "eps"), ("dpmpp_2m", "eps"), ("euler", "v"), ("flow_euler", "flow")]
)
def test_branch_with_a_new_step_count_starts_at_step_ks_noise_level(models, tmp_path, name, objective):
    cfg = SampleConfig(sampler=name, steps=10, num=1, device="cpu", trajectory=True)
    sample(models[objective], cfg, out_dir=tmp_path / "a")
    t_k = open_trajectory(tmp_path / "a").meta["t"][5]
    seen = []
    r = branch(
        tmp_path / "a", 5, steps=3, model=models[objective], out_dir=tmp_path / "b", callback=seen.append
    )
    assert [s.i for s in seen] == [0, 1, 2] and r.images.shape == (1, 16, 16, 1)
    assert seen[0].t == pytest.approx(t_k, rel=0.02, abs=1.0)
    assert seen[0].t > seen[1].t > seen[2].t


def test_branch_refuses_what_it_cannot_do(models, tmp_path):
    cfg = SampleConfig(sampler="ddim", steps=6, num=1, device="cpu", trajectory=True, trajectory_max_frames=3)
    sample(models["eps"], cfg, out_dir=tmp_path / "a")
    assert open_trajectory(tmp_path / "a").steps == [0, 2, 5]
    with pytest.raises(ConfigError, match="step 1 was not recorded.*e.g. 0"):
        branch(tmp_path / "a", 1, model=models["eps"])
    with pytest.raises(ConfigError, match="'ddim' cannot take over mid-way"):
        branch(tmp_path / "a", 2, steps=4, model=models["eps"])
    assert branch(tmp_path / "a", 2, model=models["eps"]).images.shape == (1, 16, 16, 1)


def test_branch_with_another_sampler_takes_over_the_steps_left(models, tmp_path):
    cfg = SampleConfig(sampler="ddim", steps=6, num=1, seed=3, device="cpu", trajectory=True)
    original = sample(models["eps"], cfg, out_dir=tmp_path / "a")
    seen = []
    other = branch(
        tmp_path / "a", 2, sampler="euler", model=models["eps"], callback=lambda s: seen.append(s.i)
    )
    assert other.config.sampler == "euler" and len(seen) == 4  # the 4 steps left, by Euler
    assert not np.array_equal(other.images, original.images)
    with pytest.raises(ConfigError, match="'unipc' cannot take over mid-way"):
        branch(tmp_path / "a", 2, sampler="unipc", model=models["eps"])
