"""The space-time network: clip in, clip out; time is really mixed; presets state params and FLOPs."""

from __future__ import annotations

import pytest
import torch

from core.models.presets import PRESETS, build, describe
from core.models.video import NoisebloomVideoNet


def _randomised(net: torch.nn.Module) -> torch.nn.Module:
    """The zero-initialised output layers made non-zero, so every path contributes."""
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for p in net.parameters():
            if p.abs().sum() == 0:
                p.copy_(torch.randn(p.shape, generator=g) * 0.05)
    return net.eval()


def test_a_clip_comes_out_with_the_shape_it_went_in():
    net = build("clip-tiny", 3, 16)
    x = torch.randn(2, 5, 3, 16, 16)
    out = net(x, torch.tensor([10, 900])).sample
    assert out.shape == x.shape
    with pytest.raises(ValueError, match=r"clips \(B, T, C, H, W\)"):
        net(torch.randn(2, 3, 16, 16), torch.tensor([1, 2]))


def test_changing_the_first_frame_changes_the_last_frame_of_the_output():
    """Frames generated independently would leave the last frame untouched: the network mixes time."""
    net = _randomised(build("clip-tiny", 1, 16))
    x = torch.randn(1, 6, 1, 16, 16)
    y = x.clone()
    y[:, 0] += 1.0
    t = torch.tensor([500])
    with torch.no_grad():
        a, b = net(x, t).sample, net(y, t).sample
    assert (a[:, -1] - b[:, -1]).abs().max() > 1e-4
    # and a network with the temporal layers switched to identity does not: that is what they add
    frozen = _randomised(build("clip-tiny", 1, 16))
    for m in frozen.modules():
        if type(m).__name__ in ("TemporalConv", "TemporalAttention"):
            m.forward = lambda x, frames: x
    with torch.no_grad():
        a, b = frozen(x, t).sample, frozen(y, t).sample
    assert torch.equal(a[:, -1], b[:, -1])


def test_clip_presets_are_clip_networks_with_params_and_flops_per_clip():
    for name in ("clip-tiny", "clip-cpu"):
        assert PRESETS[name].data_kind == "clip" and PRESETS[name].network == "video"
    d8, d16 = describe("clip-tiny", 1, 16, frames=8), describe("clip-tiny", 1, 16, frames=16)
    assert d8["params"] == d16["params"] > 0
    assert 1.8 < d16["flops_per_clip"] / d8["flops_per_clip"] < 2.2  # cost grows with the frame count
    assert isinstance(build("clip-cpu", 1, 32), NoisebloomVideoNet)
