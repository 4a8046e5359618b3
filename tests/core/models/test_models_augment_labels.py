"""Networks that take augment labels (core.training.augment): a fresh one computes what the network
without them does, the labels change the output once their map has learned, and model folders with
and without ``augment_dim`` load."""

from __future__ import annotations

import json

import pytest
import torch

from core.errors import ConfigError, ModelFolderError
from core.models.folder import load_model_folder, save_model_folder
from core.models.presets import build
from core.training.augment import AUGMENT_DIM

LABELLED = ["pixel-small", "dit-tiny"]


def _inputs(n: int = 3) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(n, 1, 16, 16, generator=g)
    labels = torch.randn(n, AUGMENT_DIM, generator=g)
    return x, torch.tensor([100.0, 500.0, 900.0][:n]), labels


@pytest.mark.parametrize("preset", LABELLED)
def test_a_fresh_network_with_augment_labels_computes_what_one_without_does(preset):
    torch.manual_seed(0)
    plain = build(preset, 1, 16)
    torch.manual_seed(0)
    told = build(preset, 1, 16, AUGMENT_DIM)
    x, t, labels = _inputs()
    with torch.no_grad():
        want = plain(x, t).sample
        assert torch.equal(told(x, t).sample, want)
        assert torch.equal(told(x, t, augment_labels=labels).sample, want)  # the map starts at zero
        assert torch.equal(told(x, t, augment_labels=torch.zeros_like(labels)).sample, want)


@pytest.mark.parametrize("preset", LABELLED)
def test_once_the_map_has_learned_the_labels_change_the_output_and_none_means_zero(preset):
    torch.manual_seed(0)
    net = build(preset, 1, 16, AUGMENT_DIM)
    with torch.no_grad():
        net.augment_embed.weight.normal_()
        if preset.startswith("dit"):  # adaLN-Zero: make the conditioning matter at all
            for p in net.parameters():
                if not p.any():
                    p.normal_(std=0.02)
        x, t, labels = _inputs()
        none = net(x, t).sample
        assert torch.equal(net(x, t, augment_labels=torch.zeros_like(labels)).sample, none)
        assert not torch.allclose(net(x, t, augment_labels=labels).sample, none)


def test_a_network_without_augment_dim_refuses_labels_and_a_unet_preset_cannot_have_them():
    x, t, labels = _inputs()
    with pytest.raises(ValueError, match="augment_dim 0"):
        build("pixel-small", 1, 16)(x, t, augment_labels=labels)
    with pytest.raises(ConfigError, match=r"train\.augment: unet-tiny"):
        build("unet-tiny", 1, 16, AUGMENT_DIM)


@pytest.mark.parametrize(("preset", "sub"), [("pixel-small", "unet"), ("dit-tiny", "transformer")])
def test_folders_with_augment_dim_round_trip_and_folders_from_before_it_load(tmp_path, preset, sub):
    torch.manual_seed(0)
    net = build(preset, 1, 16, AUGMENT_DIM)
    with torch.no_grad():
        net.augment_embed.weight.normal_()
    save_model_folder(net, "flow", {"preset": preset}, tmp_path / "told")
    loaded = load_model_folder(tmp_path / "told").network
    assert loaded.config.augment_dim == AUGMENT_DIM
    assert torch.equal(loaded.augment_embed.weight, net.augment_embed.weight)

    torch.manual_seed(0)
    old = build(preset, 1, 16)
    save_model_folder(old, "flow", {"preset": preset}, tmp_path / "old")
    path = tmp_path / "old" / sub / "config.json"
    config = json.loads(path.read_text())
    del config["augment_dim"]  # written before the field existed
    path.write_text(json.dumps(config))
    back = load_model_folder(tmp_path / "old").network
    assert back.augment_embed is None
    x, t, _ = _inputs()
    with torch.no_grad():
        assert torch.equal(back(x, t).sample, old.eval()(x, t).sample)


def test_an_augment_dim_out_of_bounds_is_refused_before_the_network_is_built(tmp_path):
    save_model_folder(build("pixel-small", 1, 16), "flow", {"preset": "pixel-small"}, tmp_path / "m")
    path = tmp_path / "m" / "unet" / "config.json"
    path.write_text(json.dumps({**json.loads(path.read_text()), "augment_dim": 10**6}))
    with pytest.raises(ModelFolderError, match="'augment_dim' is 1000000"):
        load_model_folder(tmp_path / "m")
