"""benchmarks/bench_gpu.py's side-by-side runs on the CPU: the stacked step is N separate steps."""

from __future__ import annotations

import pytest
import torch

from benchmarks.bench_gpu import SideBySide
from core.models.presets import build


@pytest.mark.parametrize("preset", ["unet-tiny", "dit-tiny"])
def test_a_stacked_step_gives_each_copys_own_losses_gradients_and_update(preset):
    """N=3 copies trained as one (vmap over functional_call, one AdamW over the stacks) against each
    copy alone: the same losses and gradients within 1e-5 (AdamW then works element by element)."""
    n = 3

    def make() -> torch.nn.Module:
        return build(preset, 3, 16)

    runs = SideBySide(make, n, "cpu", seed=5, lr=1e-3)
    alone = []
    for i in range(n):
        torch.manual_seed(5 + i)
        alone.append(make())
    torch.manual_seed(0)
    x = torch.randn(n, 4, 3, 16, 16)
    t = torch.randint(0, 1000, (n, 4))
    target = torch.randn(n, 4, 3, 16, 16)

    losses = runs.losses(x, t, target)
    losses.sum().backward()
    for i, net in enumerate(alone):
        loss = (net(x[i], t[i]).sample.float() - target[i]).pow(2).mean()
        loss.backward()
        assert abs(float(losses[i]) - float(loss)) < 1e-5
        for name, p in net.named_parameters():
            torch.testing.assert_close(runs.params[name].grad[i], p.grad, atol=1e-5, rtol=1e-4)
    stepped = runs.step(x, t, target)  # the timed step: n finite losses, and the copies moved
    assert stepped.shape == (n,) and torch.isfinite(stepped).all()
    assert any(not torch.equal(runs.params[name][0], p) for name, p in alone[0].named_parameters())
