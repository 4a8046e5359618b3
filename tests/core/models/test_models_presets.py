"""Presets: the documented table matches the networks, shapes work from 16 to 256 px, grey and RGB."""

from __future__ import annotations

import re

import pytest
import torch

import core.models.presets as presets
from core.errors import ConfigError
from core.models.presets import PRESETS, build, count_params, get_preset


def _table() -> dict[str, int]:
    rows = re.findall(r"^(\S+)\s+([\d,]+)\s+[\d.]+\s+[\d.]+\s", presets.__doc__, flags=re.M)
    return {name: int(params.replace(",", "")) for name, params in rows}


def test_preset_table_in_the_docstring_states_the_true_parameter_counts():
    table = _table()
    assert set(table) == set(PRESETS)
    for name, params in table.items():
        with torch.device("meta"):  # no memory, no init cost: only the shapes
            assert count_params(build(name, 1, 32)) == params, name


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
