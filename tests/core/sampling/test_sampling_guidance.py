"""Autoguidance: the formula, the default weight, the refusal without a guide, PNG round trips and
the guide's place in the model folder."""

from __future__ import annotations

from dataclasses import replace
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from core.catalogue.samplers import DEFAULT_GUIDANCE
from core.errors import ConfigError, ModelFolderError
from core.media.png import read_png_params
from core.models.folder import load_model_folder, save_model_folder
from core.sampling.config import SampleConfig
from core.sampling.guidance import GUIDE_BANDS, GuidedNetwork, band_factors, guided
from core.sampling.sample import config_from_png_params, sample
from tests.core.sampling.conftest import make_tiny_model, tiny_unet


class _Const(torch.nn.Module):
    def __init__(self, value: float):
        super().__init__()
        self.value = value

    def forward(self, x, t):
        return SimpleNamespace(sample=torch.full_like(x, self.value))


def test_guided_output_extrapolates_away_from_the_guide():
    x, t = torch.zeros(2, 1, 4, 4), torch.tensor([500, 500])
    out = GuidedNetwork(_Const(3.0), _Const(1.0), 0.5)(x, t).sample
    assert torch.allclose(out, torch.full_like(x, 3.0 + 0.5 * (3.0 - 1.0)))
    net = _Const(3.0)
    assert guided(net, _Const(1.0), 0.0) is net and guided(net, None, 2.0) is net


class _Counting(_Const):
    calls = 0

    def forward(self, x, t):
        type(self).calls += 1
        return super().forward(x, t)


def test_guidance_acts_only_between_its_noise_levels_and_skips_the_guide_outside():
    x = torch.zeros(3, 1, 4, 4)
    net = GuidedNetwork(_Const(3.0), _Counting(1.0), 1.0, bands=((0.2, 0.8, 1.0),))
    mixed = net(x, torch.tensor([100, 500, 900])).sample  # levels 0.1, 0.5, 0.9
    assert mixed[:, 0, 0, 0].tolist() == [3.0, 5.0, 3.0]
    assert net(x, torch.tensor(200.0)).sample.eq(5.0).all() and net(x, 800).sample.eq(5.0).all()  # inclusive
    before = _Counting.calls
    assert net(x, torch.tensor([999, 999, 999])).sample.eq(3.0).all() and _Counting.calls == before
    assert GUIDE_BANDS == guided(_Const(3.0), _Const(1.0), 1.0).bands


def test_each_band_scales_the_weight_and_the_first_band_holding_a_level_wins():
    bands = ((0.5, 0.9, 1.0), (0.15, 0.5, 0.4))
    levels = torch.tensor([0.1, 0.15, 0.3, 0.5, 0.7, 0.9, 0.95], dtype=torch.float64)
    assert band_factors(levels, bands).tolist() == [0.0, 0.4, 0.4, 1.0, 1.0, 1.0, 0.0]
    net = GuidedNetwork(_Const(3.0), _Const(1.0), 2.5, bands=bands)
    out = net(torch.zeros(3, 1, 2, 2), torch.tensor([300, 700, 950])).sample[:, 0, 0, 0]
    torch.testing.assert_close(out, torch.tensor([3.0 + 1.0 * 2, 3.0 + 2.5 * 2, 3.0]))  # 0.4 w, w, none
    assert GUIDE_BANDS[0][2] == 1.0  # the weight a person sets is the weight at the noisiest guided levels


def _guided_model(objective: str = "flow"):
    model = make_tiny_model(objective)
    return replace(model, guide=tiny_unet(seed=5))


def test_a_model_with_a_guide_is_guided_by_default_and_zero_turns_it_off():
    model = _guided_model()
    cfg = SampleConfig(num=2, steps=4, device="cpu")
    by_default = sample(model, cfg)
    assert by_default.config.guidance == DEFAULT_GUIDANCE
    explicit = sample(model, cfg.replace(guidance=DEFAULT_GUIDANCE))
    off = sample(model, cfg.replace(guidance=0.0))
    alone = sample(replace(model, guide=None), cfg)
    assert np.array_equal(by_default.images, explicit.images)
    assert np.array_equal(off.images, alone.images) and alone.config.guidance == 0.0
    assert not np.array_equal(by_default.images, off.images)


def test_guidance_without_a_guide_is_refused_in_one_line():
    with pytest.raises(ConfigError, match=r"sample.guidance: 1 asked, but this model has no guide network"):
        sample(make_tiny_model("flow"), SampleConfig(num=1, steps=2, device="cpu", guidance=1.0))
    with pytest.raises(ConfigError, match=r"sample.guidance: -1.0 is out of range"):
        SampleConfig(guidance=-1.0)


def test_png_parameters_regenerate_a_guided_sample(tmp_path):
    model = _guided_model()
    first = sample(
        model, SampleConfig(num=2, steps=3, seed=4, guidance=1.5, device="cpu"), out_dir=tmp_path / "a"
    )
    params = read_png_params(first.paths[1])
    assert params["guidance"] == "1.5"
    again = sample(model, config_from_png_params(params, device="cpu"))
    assert np.array_equal(again.images[0], first.images[1])
    # PNGs from before autoguidance carry no guidance field: they were made without it
    old = {k: v for k, v in params.items() if k != "guidance"}
    assert config_from_png_params(old).guidance == 0.0


def test_the_guide_is_saved_beside_the_network_and_loaded_back(tmp_path):
    net, guide = tiny_unet(0), tiny_unet(3)
    save_model_folder(
        net, "flow", {"trained_steps": 8}, tmp_path / "m", guide=guide.state_dict(), guide_steps=2
    )
    model = load_model_folder(tmp_path / "m")
    assert model.info["guide"] == {"trained_steps": 2}
    x, t = torch.randn(1, 1, 16, 16), torch.tensor([300])
    with torch.no_grad():
        assert torch.equal(model.guide(x, t).sample, guide(x, t).sample)
    save_model_folder(net, "flow", {}, tmp_path / "plain")
    assert load_model_folder(tmp_path / "plain").guide is None


def test_a_damaged_guide_names_the_file_and_the_way_out(tmp_path):
    save_model_folder(
        tiny_unet(0), "flow", {}, tmp_path / "m", guide=tiny_unet(1).state_dict(), guide_steps=1
    )
    (tmp_path / "m" / "guide" / "model.safetensors").write_bytes(b"not weights")
    with pytest.raises(
        ModelFolderError, match=r"guide/model.safetensors: damaged guide weights .*delete the folder"
    ):
        load_model_folder(tmp_path / "m")


def test_eight_unipc_steps_of_a_flow_model_evaluate_the_guide_six_times():
    model = _guided_model("flow")
    calls = []
    model.guide.register_forward_hook(lambda module, args, out: calls.append(args[1]))
    sample(model, SampleConfig(num=2, steps=8, device="cpu", sampler="unipc"))
    levels = [round(float(torch.as_tensor(t).reshape(-1)[0]) / 1000, 3) for t in calls]
    assert levels == [0.875, 0.75, 0.625, 0.5, 0.375, 0.25]  # 0.999 and 0.125 run unguided
