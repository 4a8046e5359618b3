"""The pixel UNet's ``prediction="sample"``: the network predicts the clean picture and returns the
flow velocity it implies, so training and every sampler still see a velocity."""

from __future__ import annotations

import pytest
import torch

from core.models.pixel_unet import MIN_NOISE_LEVEL, NoisebloomPixelUNet, velocity_from_sample


def _net(prediction: str) -> NoisebloomPixelUNet:
    torch.manual_seed(0)
    return NoisebloomPixelUNet(
        sample_size=16, in_channels=3, patch_size=4, block_out_channels=(16, 32),
        down_block_types=("DownBlock2D", "DownBlock2D"), up_block_types=("UpBlock2D", "UpBlock2D"),
        norm_num_groups=8, prediction=prediction,
    )  # fmt: skip


def test_the_velocity_of_the_true_clean_picture_is_the_true_velocity():
    g = torch.Generator().manual_seed(1)
    x0, noise = torch.randn(3, 3, 8, 8, generator=g), torch.randn(3, 3, 8, 8, generator=g)
    s = torch.tensor([0.9, 0.5, 0.2])
    x_t = (1 - s.view(-1, 1, 1, 1)) * x0 + s.view(-1, 1, 1, 1) * noise
    torch.testing.assert_close(velocity_from_sample(x_t, s * 1000, x0), noise - x0)


def test_a_sample_predicting_network_returns_the_velocity_of_what_its_unet_predicts():
    vel, smp = _net("velocity"), _net("sample")  # same seed: the same weights
    x, t = torch.randn(2, 3, 16, 16), torch.tensor([600.0, 10.0])
    with torch.no_grad():
        x0 = vel(x, t).sample  # what the UNet itself outputs
        out = smp(x, t).sample
    s = torch.tensor([0.6, MIN_NOISE_LEVEL]).view(-1, 1, 1, 1)  # 10 / 1000 is kept at the floor
    torch.testing.assert_close(out, (x - x0) / s)
    assert smp.config.prediction == "sample"


def test_an_unknown_prediction_is_refused():
    with pytest.raises(ValueError, match="prediction 'noise'"):
        _net("noise")
