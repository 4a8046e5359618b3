"""The trainer's optimizers: AdamW, or Muon for the hidden weights with AdamW for the rest.

Muon (Jordan et al. 2024, "Muon: an optimizer for hidden layers") replaces each hidden weight
matrix's momentum update by its nearest semi-orthogonal matrix (five Newton-Schulz iterations), so
every direction of the layer learns at the same rate. ``torch.optim.Muon`` implements it for 2-D
parameters only and refuses the 4-D weights of a convolution; here a convolution's (out, in, k, k)
weight is orthogonalised as the (out, in*k*k) matrix, as Keller Jordan's CIFAR-10 speed runs do,
with torch's Newton-Schulz coefficients, Nesterov momentum 0.95 and Moonshot's update scale
(``adjust_lr_fn="match_rms_adamw"``: 0.2 * sqrt(max(A, B)) times the learning rate, so AdamW's
learning rate and schedule carry over). Parameters that are not hidden matrices (biases, norms,
and the first and last layers, whose in or out side is the few channels of the pixels) stay with
AdamW, as Muon's authors advise. Written here because no library has Muon for convolutions; the
AdamW half is torch's update rule, held in the same optimizer so that one ``param_groups`` list,
one state_dict and one checkpoint cover both.

On a CPU the orthogonalisation costs about a fifth of pixel-small's step (0.74-0.88x AdamW's steps/s
on two threads). Measured in ``benchmarks/bench_quality.py posthoc`` (issue 8; the figures are in
:mod:`core.models.presets`): at equal CPU time Muon's held-out loss was 5% lower than AdamW's.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import torch

NS_COEFFICIENTS = (3.4445, -4.775, 2.0315)  # torch.optim.Muon's (a, b, c)
NS_STEPS = 5
MOMENTUM = 0.95
MIN_SIDE = 8
"""A weight goes to Muon when both its out and in sides exceed this (the pixels' channels do not)."""


def orthogonalise(g: torch.Tensor, steps: int = NS_STEPS, eps: float = 1e-7) -> torch.Tensor:
    """The Newton-Schulz iteration of ``torch.optim._muon`` (quintic, its coefficients), in float32:
    a CPU has no fast bfloat16, and these matrices are small."""
    a, b, c = NS_COEFFICIENTS
    x = g.float()
    tall = x.size(0) > x.size(1)
    if tall:
        x = x.T
    x = x / x.norm().clamp(min=eps)
    for _ in range(steps):
        gram = x @ x.T
        x = torch.addmm(x, torch.addmm(gram, gram, gram, beta=b, alpha=c), x, beta=a)
    return x.T if tall else x


def is_hidden_matrix(p: torch.Tensor) -> bool:
    """Muon's share: convolution and linear weights whose both sides are wider than the pixels."""
    return p.ndim >= 2 and p.shape[0] > MIN_SIDE and p.shape[1] > MIN_SIDE


class MuonAdamW(torch.optim.Optimizer):
    """Muon for hidden matrices (group 0), AdamW for every other parameter (group 1).

    Both groups take the same ``lr`` (the trainer's schedule sets it on every group) and
    ``weight_decay`` (decoupled, as AdamW's). ``betas`` and ``eps`` are AdamW's.
    """

    def __init__(
        self,
        params: Iterable[torch.Tensor],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        weight_decay: float = 0.0,
        eps: float = 1e-8,
        momentum: float = MOMENTUM,
    ) -> None:
        params = list(params)
        groups = [
            {"params": [p for p in params if is_hidden_matrix(p)], "muon": True},
            {"params": [p for p in params if not is_hidden_matrix(p)], "muon": False},
        ]
        defaults = {"lr": lr, "betas": betas, "weight_decay": weight_decay, "eps": eps, "momentum": momentum}
        super().__init__(groups, defaults)

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            lr, wd = group["lr"], group["weight_decay"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                if wd:
                    p.mul_(1 - lr * wd)
                if group["muon"]:
                    self._muon(p, lr, group["momentum"])
                else:
                    self._adamw(p, lr, group["betas"], group["eps"])
        return loss

    def _muon(self, p: torch.Tensor, lr: float, momentum: float) -> None:
        state = self.state[p]
        if "momentum_buffer" not in state:
            state["momentum_buffer"] = torch.zeros_like(p)
        buf = state["momentum_buffer"]
        buf.lerp_(p.grad, 1 - momentum)
        g = p.grad.lerp(buf, momentum).reshape(p.shape[0], -1)  # Nesterov, as torch.optim.Muon
        update = orthogonalise(g).to(p.dtype).reshape(p.shape)
        p.add_(update, alpha=-lr * 0.2 * math.sqrt(max(g.shape)))

    def _adamw(self, p: torch.Tensor, lr: float, betas: tuple[float, float], eps: float) -> None:
        state = self.state[p]
        if not state:
            state["step"] = torch.zeros((), dtype=torch.float32)
            state["exp_avg"] = torch.zeros_like(p)
            state["exp_avg_sq"] = torch.zeros_like(p)
        b1, b2 = betas
        state["step"] += 1
        t = float(state["step"])
        state["exp_avg"].lerp_(p.grad, 1 - b1)
        state["exp_avg_sq"].mul_(b2).addcmul_(p.grad, p.grad, value=1 - b2)
        denom = (state["exp_avg_sq"].sqrt() / math.sqrt(1 - b2**t)).add_(eps)
        p.addcdiv_(state["exp_avg"], denom, value=-lr / (1 - b1**t))


def kind_of_state(state_dict: dict) -> str:
    """ "muon" for a :class:`MuonAdamW` state dict (its groups carry the ``muon`` flag), else "adamw"."""
    groups = state_dict.get("param_groups", [])
    return "muon" if groups and "muon" in groups[0] else "adamw"


def make_optimizer(
    kind: str, params: Iterable[torch.Tensor], *, lr: float, betas: tuple[float, float], weight_decay: float
) -> torch.optim.Optimizer:
    """``kind`` "adamw" (torch's) or "muon" (:class:`MuonAdamW`)."""
    if kind == "muon":
        return MuonAdamW(params, lr=lr, betas=betas, weight_decay=weight_decay)
    return torch.optim.AdamW(params, lr=lr, betas=betas, weight_decay=weight_decay)
