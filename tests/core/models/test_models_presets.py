"""Presets: every one builds, shapes work from 16 to 256 px, grey and RGB."""

from __future__ import annotations

import pytest
import torch

from core.errors import ConfigError
from core.models.presets import PRESETS, build, count_params, get_preset


def test_every_preset_builds_for_grey_32_px_pictures():
    for name in PRESETS:
        with torch.device("meta"):  # no memory, no init cost: only the shapes
            assert count_params(build(name, 1, 32)) > 0, name


@pytest.mark.parametrize("preset", ["unet-tiny", "unet-cpu", "pixel-cpu", "dit-tiny"])
@pytest.mark.parametrize(("channels", "resolution"), [(1, 16), (3, 24), (3, 40)])
def test_networks_keep_the_input_shape(preset, channels, resolution):
    net = build(preset, channels, resolution).eval()
    x = torch.randn(2, channels, resolution, resolution)
    with torch.no_grad():
        assert net(x, torch.tensor([3, 700])).sample.shape == x.shape


def test_256_px_works_for_the_cpu_presets():
    for name in ("unet-cpu", "pixel-cpu", "dit-tiny"):
        with torch.device("meta"):
            net = build(name, 3, 256)
            assert net(torch.empty(1, 3, 256, 256), torch.tensor([1])).sample.shape == (1, 3, 256, 256)


def test_unknown_preset_names_the_known_ones():
    with pytest.raises(
        ConfigError, match=r"train.preset: unknown preset 'big'; use one of unet-tiny, unet-cpu"
    ):
        get_preset("big")
