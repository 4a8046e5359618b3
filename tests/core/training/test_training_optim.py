"""core.training.optim: Muon for hidden matrices (convolutions too), torch's AdamW rule for the rest."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

from core.training.optim import MuonAdamW, is_hidden_matrix, make_optimizer, orthogonalise


def _net() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(4, 16, 3, padding=1),  # pixels in: AdamW
        nn.GroupNorm(4, 16),
        nn.SiLU(),
        nn.Conv2d(16, 24, 3, padding=1),  # hidden: Muon
        nn.SiLU(),
        nn.Conv2d(24, 4, 3, padding=1),  # pixels out: AdamW
    )


def _loss(net: nn.Module, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(8, 4, 8, 8, generator=g)
    return (net(x) - x.flip(1)).pow(2).mean()


def test_hidden_convolutions_go_to_muon_and_the_pixel_layers_norms_and_biases_to_adamw():
    net = _net()
    opt = MuonAdamW(net.parameters(), lr=1e-3)
    muon, adam = opt.param_groups
    assert [tuple(p.shape) for p in muon["params"]] == [(24, 16, 3, 3)]
    assert {tuple(p.shape) for p in adam["params"]} == {(16, 4, 3, 3), (4, 24, 3, 3), (16,), (24,), (4,)}
    assert not is_hidden_matrix(torch.zeros(64)) and is_hidden_matrix(torch.zeros(32, 16))


def test_the_adamw_half_matches_torch_adamw_step_for_step():
    net = nn.Sequential(nn.Linear(4, 6), nn.Linear(6, 3))  # every side <= 8: all AdamW
    ref = copy.deepcopy(net)
    ours = MuonAdamW(net.parameters(), lr=3e-3, betas=(0.9, 0.99), weight_decay=0.01)
    theirs = torch.optim.AdamW(ref.parameters(), lr=3e-3, betas=(0.9, 0.99), weight_decay=0.01)
    x = torch.randn(5, 4)
    for _ in range(5):
        for model, opt in ((net, ours), (ref, theirs)):
            opt.zero_grad()
            model(x).pow(2).sum().backward()
            opt.step()
    for a, b in zip(net.parameters(), ref.parameters(), strict=True):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)


def _beside_torch_muon(make_ours) -> tuple[nn.Parameter, nn.Parameter, torch.optim.Optimizer]:
    """(our weight, torch.optim.Muon's weight, our optimizer) after three steps of the same gradients
    from the same (32, 48) start; ``make_ours(params)`` builds our optimizer at lr 0.02."""
    torch.manual_seed(1)
    w = nn.Parameter(torch.randn(32, 48) * 0.1)
    ref = nn.Parameter(w.detach().clone())
    ours = make_ours([w])
    theirs = torch.optim.Muon([ref], lr=0.02, weight_decay=0.0, adjust_lr_fn="match_rms_adamw")
    for i in range(3):
        g = torch.randn(32, 48, generator=torch.Generator().manual_seed(i))
        w.grad, ref.grad = g.clone(), g.clone()
        ours.step()
        theirs.step()
    return w, ref, ours


def test_the_muon_half_matches_torch_muon_on_a_matrix():
    w, ref, _ = _beside_torch_muon(lambda params: MuonAdamW(params, lr=0.02))
    # torch orthogonalises in bfloat16, this module in float32: equal to bfloat16's precision
    torch.testing.assert_close(w, ref, rtol=0.0, atol=2e-3)
    assert not torch.equal(w, torch.zeros_like(w))


def test_a_bf16_run_orthogonalises_in_bf16_as_torch_muon_does_and_keeps_float32_weights():
    kw = dict(lr=0.02, betas=(0.9, 0.99), weight_decay=0.0)
    w, ref, ours = _beside_torch_muon(lambda params: make_optimizer("muon", params, bf16=True, **kw))
    assert ours.ns_dtype == torch.bfloat16
    assert make_optimizer("muon", [w], **kw).ns_dtype == torch.float32
    assert w.dtype == torch.float32 and ours.state[w]["momentum_buffer"].dtype == torch.float32
    torch.testing.assert_close(w, ref, rtol=0.0, atol=2e-4)  # the same iteration in the same precision
    s = torch.linalg.svdvals(orthogonalise(torch.randn(16, 40), dtype=torch.bfloat16).float())
    assert s.min() > 0.5 and s.max() < 1.3


def test_the_trainer_orthogonalises_in_bf16_exactly_when_the_run_trains_in_bf16(tmp_path, monkeypatch):
    from core.training import run as run_module
    from core.training.config import TrainConfig
    from core.training.trainer import train
    from tests.core.training.conftest import toy_squares

    made: list[bool] = []
    real = run_module.make_optimizer

    def spy(kind, params, **kw):
        made.append(kw.get("bf16", False))
        return real(kind, params, **kw)

    monkeypatch.setattr(run_module, "make_optimizer", spy)
    fast = dict(preset="unet-tiny", optimizer="muon", batch_size=4, max_steps=1, max_minutes=None, device="cpu",
                preview_every=0, val_every=0, checkpoint_every=0, memorization_every=0)  # fmt: skip
    for precision in ("bf16", "no"):
        train(TrainConfig(**fast, mixed_precision=precision), toy_squares(8, 16), tmp_path / precision)
    assert made == [True, False]


def test_orthogonalise_flattens_singular_values_towards_one():
    g = torch.randn(16, 40) @ torch.diag(torch.linspace(0.01, 10, 40))
    s = torch.linalg.svdvals(orthogonalise(g))
    assert s.min() > 0.5 and s.max() < 1.3  # Newton-Schulz's band, as torch's docstring says
    assert orthogonalise(g.T).shape == (40, 16)


def test_a_stack_of_matrices_is_orthogonalised_each_on_its_own():
    g = torch.randn(3, 12, 30)
    g[1] *= 100.0  # each matrix is normalised by its own norm, not the stack's
    stacked = orthogonalise(g)
    for i in range(3):
        torch.testing.assert_close(stacked[i], orthogonalise(g[i]), rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(orthogonalise(g.mT), stacked.mT, rtol=1e-5, atol=1e-5)


def test_matrices_of_one_shape_step_as_if_each_were_alone():
    torch.manual_seed(2)
    ws = [nn.Parameter(torch.randn(16, 24) * 0.1) for _ in range(3)]
    alone = [nn.Parameter(w.detach().clone()) for w in ws]
    together = MuonAdamW(ws, lr=0.01)
    each = [MuonAdamW([w], lr=0.01) for w in alone]
    for i in range(3):
        for k, (w, a) in enumerate(zip(ws, alone, strict=True)):
            g = torch.randn(16, 24, generator=torch.Generator().manual_seed(10 * i + k))
            w.grad, a.grad = g.clone(), g.clone()
        together.step()
        for opt in each:
            opt.step()
    for w, a in zip(ws, alone, strict=True):
        torch.testing.assert_close(w, a, rtol=1e-5, atol=1e-6)


def test_muon_adamw_learns_and_its_state_round_trips():
    net = _net()
    opt = make_optimizer("muon", net.parameters(), lr=3e-3, betas=(0.9, 0.99), weight_decay=0.0)
    first = _loss(net, 0).item()
    for i in range(30):
        opt.zero_grad()
        _loss(net, i % 3).backward()
        opt.step()
    assert _loss(net, 0).item() < 0.5 * first
    # a checkpoint restores both halves: the next step is identical
    twin = copy.deepcopy(net)
    other = make_optimizer("muon", twin.parameters(), lr=3e-3, betas=(0.9, 0.99), weight_decay=0.0)
    other.load_state_dict(copy.deepcopy(opt.state_dict()))
    for model, o in ((net, opt), (twin, other)):
        o.zero_grad()
        _loss(model, 5).backward()
        o.step()
    for a, b in zip(net.parameters(), twin.parameters(), strict=True):
        assert torch.equal(a, b)


@pytest.mark.parametrize("kind", ["adamw", "muon"])
def test_make_optimizer_builds_each_kind(kind):
    opt = make_optimizer(kind, _net().parameters(), lr=1e-3, betas=(0.9, 0.99), weight_decay=0.0)
    assert isinstance(opt, MuonAdamW if kind == "muon" else torch.optim.AdamW)
    assert all(g["lr"] == 1e-3 for g in opt.param_groups)
