"""Make it fast: the few-step map's training, its folder, and sampling with it (tiny flow models)."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import torch

from core.errors import Cancelled, ConfigError, ModelFolderError
from core.models.folder import load_model_folder, save_model_folder
from core.sampling.config import SampleConfig
from core.sampling.fewstep import levels_for
from core.sampling.sample import branch, config_from_png_params, sample
from core.training.fewstep import FastConfig, make_fast
from tests.core.sampling.conftest import tiny_unet


def _folder(path, *, guide: bool = True, objective: str = "flow"):
    net = tiny_unet(0)
    extra = {"guide": tiny_unet(1).state_dict(), "guide_steps": 3} if guide else {}
    save_model_folder(net, objective, {"trained_steps": 12, "resolution": 16, "channels": 1}, path, **extra)
    return path


FAST = FastConfig(steps=30, minutes=None, batch_size=16, pool=32, lr=1e-3, teacher_steps=4, device="cpu")


@pytest.fixture(scope="module")
def fast_dir(tmp_path_factory):
    torch.set_num_threads(1)
    path = _folder(tmp_path_factory.mktemp("fast") / "m")
    result = make_fast(path, FAST)
    return path, result


def test_the_distillation_loss_falls_and_the_map_is_saved_beside_the_network(fast_dir):
    path, result = fast_dir
    assert result.steps == 30 and result.pool == 32
    assert result.last_loss < 0.5 * result.first_loss
    info = json.loads((path / "noisebloom.json").read_text())
    assert info["fewstep"]["levels"] == pytest.approx([1.0, 0.75, 0.5, 0.25], abs=1e-2)
    assert info["fewstep"]["guidance"] == 1.5 and info["fewstep"]["route"] == "distil"
    assert info["trained_steps"] == 12 and info["guide"] == {"trained_steps": 3}  # the rest is kept
    model = load_model_folder(path)
    assert model.fewstep is not None and model.guide is not None
    student = model.fewstep.state_dict()
    assert any(not torch.equal(v, model.network.state_dict()[k]) for k, v in student.items())


def test_the_consistency_route_trains_and_saves_its_map(tmp_path):
    path = _folder(tmp_path / "m")
    result = make_fast(path, FAST.replace(route="consistency", steps=8))
    assert result.steps == 8 and np.isfinite(result.last_loss)
    assert load_model_folder(path).info["fewstep"]["route"] == "consistency"


def test_a_few_step_model_samples_identically_for_a_seed_in_any_batch_size(fast_dir):
    model = load_model_folder(fast_dir[0])
    cfg = SampleConfig(sampler="fewstep", steps=2, num=4, seed=7, device="cpu")
    whole = sample(model, cfg.replace(batch_size=4)).images
    one_by_one = sample(model, cfg.replace(batch_size=1)).images
    assert np.array_equal(whole, one_by_one)
    assert not np.array_equal(whole[0], whole[1])


def test_two_steps_pick_the_map_and_the_png_regenerates_the_same_image(fast_dir, tmp_path):
    from core.media.png import read_png_params

    model = load_model_folder(fast_dir[0])
    result = sample(model, SampleConfig(steps=2, num=2, seed=3, device="cpu"), out_dir=tmp_path / "s")
    assert result.sampler == "fewstep" and result.config.guidance == 1.5
    params = read_png_params(result.paths[1])
    assert params["sampler"] == "fewstep" and params["steps"] == "2"
    again = sample(model, config_from_png_params(params, device="cpu"))
    assert np.array_equal(again.images[0], result.images[1])
    # above FEWSTEP_AUTO_STEPS the network's own velocity samples, as before
    assert sample(model, SampleConfig(steps=8, num=1, device="cpu")).sampler == "unipc"


def test_the_map_keeps_the_guidance_it_was_made_with(fast_dir):
    model = load_model_folder(fast_dir[0])
    with pytest.raises(ConfigError, match=r"made with guidance 1.5.*use guidance 1.5"):
        sample(model, SampleConfig(sampler="fewstep", steps=1, num=1, guidance=3.0, device="cpu"))


def test_a_folder_without_a_map_samples_as_before_and_refuses_the_few_step_sampler(tmp_path):
    path = _folder(tmp_path / "old")
    model = load_model_folder(path)
    assert model.fewstep is None
    assert sample(model, SampleConfig(steps=2, num=1, device="cpu")).sampler == "unipc"
    with pytest.raises(ConfigError, match=r"has no few-step map.*noisebloom make-fast"):
        sample(model, SampleConfig(sampler="fewstep", steps=2, num=1, device="cpu"))


def test_a_branch_of_a_few_step_trajectory_replays_it(fast_dir, tmp_path):
    model = load_model_folder(fast_dir[0])
    cfg = SampleConfig(sampler="fewstep", steps=4, num=2, seed=5, trajectory=True, device="cpu")
    first = sample(model, cfg, out_dir=tmp_path / "a")
    same = branch(first.trajectory_dir, 2, model=model)  # the recorded state is float16: within a level
    assert same.steps_run == 2
    assert np.abs(same.images.astype(int) - first.images.astype(int)).max() <= 1
    other = sample(model, cfg.replace(seed=99, trajectory=False))  # the seed sets the starting noise
    assert np.abs(other.images.astype(int) - first.images.astype(int)).mean() > 3


def test_the_grid_is_an_even_subset_of_the_trained_levels_and_too_many_steps_are_refused():
    levels = [1.0, 0.875, 0.75, 0.625, 0.5, 0.375, 0.25, 0.125]
    assert levels_for(levels, 1) == [1.0]
    assert levels_for(levels, 2) == [1.0, 0.5]
    assert levels_for(levels, 4) == [1.0, 0.75, 0.5, 0.25]
    assert levels_for(levels, 8) == levels
    with pytest.raises(ConfigError, match=r"runs 1 to 8 steps on this model \(got 9\)"):
        levels_for(levels, 9)


def test_a_cancelled_phase_leaves_the_folder_as_it_was(tmp_path):
    path = _folder(tmp_path / "m")
    before = {p.name: p.read_bytes() for p in path.rglob("*") if p.is_file()}
    calls = []

    def cancel():  # the engine's cancel raises from inside the check
        calls.append(1)
        if len(calls) > 3:
            raise Cancelled()
        return False

    with pytest.raises(Cancelled):
        make_fast(path, FAST, should_stop=cancel)
    assert {p.name: p.read_bytes() for p in path.rglob("*") if p.is_file()} == before
    assert not (path / "fewstep").exists()


def test_stop_ends_the_phase_early_and_keeps_what_the_map_learnt(tmp_path):
    path = _folder(tmp_path / "m")
    calls = []

    def stop():
        calls.append(1)
        return len(calls) > 6

    result = make_fast(path, FAST, should_stop=stop)
    assert 1 <= result.steps < FAST.steps
    assert load_model_folder(path).info["fewstep"]["trained_steps"] == result.steps


def test_ddpm_models_and_damaged_maps_get_a_message_naming_the_fix(tmp_path, fast_dir):
    eps = _folder(tmp_path / "eps", guide=False, objective="eps")
    with pytest.raises(ConfigError, match=r"eps-prediction model.*train with the flow objective"):
        make_fast(eps, FAST)
    import shutil

    broken = tmp_path / "broken"
    shutil.copytree(fast_dir[0], broken)
    (broken / "fewstep" / "model.safetensors").write_bytes(b"not weights")
    with pytest.raises(ModelFolderError, match=r"damaged few-step weights.*without the few-step map"):
        load_model_folder(broken)


def test_the_command_line_makes_a_model_fast_and_sample_says_which_sampler_ran(tmp_path):
    path = _folder(tmp_path / "m")
    cmd = [sys.executable, "-m", "core.cli"]
    made = subprocess.run(
        [*cmd, "make-fast", str(path), "--steps", "3", "--device", "cpu"], capture_output=True, text=True
    )
    assert made.returncode == 0, made.stderr
    assert "few-step map" in made.stderr and "--steps 2" in made.stderr
    out = subprocess.run(
        [*cmd, "sample", str(path), "--steps", "2", "--num", "1", "--out", str(tmp_path / "s")],
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stderr
    assert "fewstep 2 steps, guidance 1.5" in out.stderr


def test_a_fast_folder_still_loads_and_samples_in_plain_diffusers(fast_dir):
    from diffusers import DiffusionPipeline

    pipe = DiffusionPipeline.from_pretrained(fast_dir[0])  # fewstep/ and guide/ are not components
    out = pipe(batch_size=1, num_inference_steps=2, output_type="np").images
    assert out.shape == (1, 16, 16, 1) and np.isfinite(out).all()
