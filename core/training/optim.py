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

Matrices of one shape are orthogonalised together, one batched product per shape (pixel-small's 63
hidden matrices come in 23 shapes). On this 2-core CPU, pixel-small at batch 32 on two threads
(``benchmarks/bench_optim.py``, ``benchmarks/results/optim.json``, load 1.7 at the start): AdamW 3.81
steps/s, Muon 3.22 (0.85x), Muon one matrix at a time 2.80 (0.73x); on a quiet machine before this
was committed the same script gave 4.37 / 3.67 (0.84x) / 3.43 (0.79x).
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


def orthogonalise(
    g: torch.Tensor, steps: int = NS_STEPS, eps: float = 1e-7, dtype: torch.dtype = torch.float32
) -> torch.Tensor:
    """The Newton-Schulz iteration of ``torch.optim._muon`` (quintic, its coefficients) in ``dtype``:
    float32 by default, bfloat16 for a run that trains in bf16 (as Keller Jordan's reference Muon
    always does; the iteration only needs the singular values brought near 1, which bf16 does; digits
    quality unchanged, ``benchmarks/results/colour_digits_32px_precision_bf16_ns_bf16.json``).
    ``g`` is one (m, n) matrix or a stack (k, m, n) of them, each normalised and orthogonalised on its
    own: one batched product per stack costs about 0.6x the same products one matrix at a time on a
    2-core CPU."""
    a, b, c = NS_COEFFICIENTS
    single = g.ndim == 2
    x = g.to(dtype).unsqueeze(0) if single else g.to(dtype)
    tall = x.size(1) > x.size(2)
    if tall:
        x = x.mT
    x = x / x.flatten(1).norm(dim=1).clamp(min=eps)[:, None, None]
    for _ in range(steps):
        gram = x @ x.mT
        x = torch.baddbmm(x, torch.baddbmm(gram, gram, gram, beta=b, alpha=c), x, beta=a)
    x = x.mT if tall else x
    return x[0] if single else x


def is_hidden_matrix(p: torch.Tensor) -> bool:
    """Muon's share: convolution and linear weights whose both sides are wider than the pixels."""
    return p.ndim >= 2 and p.shape[0] > MIN_SIDE and p.shape[1] > MIN_SIDE


class MuonAdamW(torch.optim.Optimizer):
    """Muon for hidden matrices (group 0), AdamW for every other parameter (group 1).

    Both groups take the same ``lr`` (the trainer's schedule sets it on every group) and
    ``weight_decay`` (decoupled, as AdamW's). ``betas`` and ``eps`` are AdamW's. ``ns_dtype``: the
    Newton-Schulz iteration's precision (:func:`orthogonalise`), the trainer's choice per run; the
    momentum and the weights stay float32.
    """

    def __init__(
        self,
        params: Iterable[torch.Tensor],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        weight_decay: float = 0.0,
        eps: float = 1e-8,
        momentum: float = MOMENTUM,
        ns_dtype: torch.dtype = torch.float32,
    ) -> None:
        self.ns_dtype = ns_dtype
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
            params = [p for p in group["params"] if p.grad is not None]
            if not params:
                continue
            lr, wd = group["lr"], group["weight_decay"]
            if wd:
                torch._foreach_mul_(params, 1 - lr * wd)
            if group["muon"]:
                self._muon(params, lr, group["momentum"])
            else:
                self._adamw(params, lr, group["betas"], group["eps"])
        return loss

    def _muon(self, params: list[torch.Tensor], lr: float, momentum: float) -> None:
        grads = [p.grad for p in params]
        bufs = []
        for p in params:
            state = self.state[p]
            if "momentum_buffer" not in state:
                state["momentum_buffer"] = torch.zeros_like(p)
            bufs.append(state["momentum_buffer"])
        torch._foreach_lerp_(bufs, grads, 1 - momentum)
        nesterov = torch._foreach_lerp(grads, bufs, momentum)  # as torch.optim.Muon
        by_shape: dict[tuple[int, int], list[int]] = {}
        for i, p in enumerate(params):
            by_shape.setdefault((p.shape[0], p[0].numel()), []).append(i)
        for shape, idx in by_shape.items():  # one batched orthogonalisation per matrix shape
            stack = torch.stack([nesterov[i].reshape(shape) for i in idx])
            updates = orthogonalise(stack, dtype=self.ns_dtype)
            scale = -lr * 0.2 * math.sqrt(max(shape))
            for i, u in zip(idx, updates, strict=True):
                params[i].add_(u.to(params[i].dtype).reshape(params[i].shape), alpha=scale)

    def _adamw(self, params: list[torch.Tensor], lr: float, betas: tuple[float, float], eps: float) -> None:
        """torch.optim.AdamW's update (no amsgrad), over all of the group's tensors at once."""
        grads = [p.grad for p in params]
        states = []
        for p in params:
            state = self.state[p]
            if not state:
                state["step"] = torch.zeros((), dtype=torch.float32)
                state["exp_avg"] = torch.zeros_like(p)
                state["exp_avg_sq"] = torch.zeros_like(p)
            states.append(state)
        steps = [s["step"] for s in states]
        exp_avg, exp_avg_sq = [s["exp_avg"] for s in states], [s["exp_avg_sq"] for s in states]
        b1, b2 = betas
        torch._foreach_add_(steps, 1)
        ts = [float(t) for t in steps]
        torch._foreach_lerp_(exp_avg, grads, 1 - b1)
        torch._foreach_mul_(exp_avg_sq, b2)
        torch._foreach_addcmul_(exp_avg_sq, grads, grads, value=1 - b2)
        denom = torch._foreach_sqrt(exp_avg_sq)
        torch._foreach_div_(denom, [math.sqrt(1 - b2**t) for t in ts])
        torch._foreach_add_(denom, eps)
        torch._foreach_addcdiv_(params, exp_avg, denom, [-lr / (1 - b1**t) for t in ts])


def kind_of_state(state_dict: dict) -> str:
    """ "muon" for a :class:`MuonAdamW` state dict (its groups carry the ``muon`` flag), else "adamw"."""
    groups = state_dict.get("param_groups", [])
    return "muon" if groups and "muon" in groups[0] else "adamw"


def fused_for(device: torch.device | str | None, params: list[torch.Tensor]) -> bool:
    """Whether torch's AdamW runs fused (one kernel for every tensor's update) rather than foreach:
    on a CUDA device only. ``device`` is where the network will train; the trainer builds the optimizer
    before accelerate moves the network there, so the parameters' own device (the fallback when
    ``device`` is None) may still be the CPU. Elsewhere torch's default stays (foreach on other GPUs,
    one tensor at a time on the CPU, what the CPU figures were measured with)."""
    if device is not None:
        return torch.device(device).type == "cuda"
    return bool(params) and all(p.device.type == "cuda" for p in params)


def make_optimizer(
    kind: str,
    params: Iterable[torch.Tensor],
    *,
    lr: float,
    betas: tuple[float, float],
    weight_decay: float,
    device: torch.device | str | None = None,
    bf16: bool = False,
) -> torch.optim.Optimizer:
    """``kind`` "adamw" (torch's, fused on CUDA: :func:`fused_for`) or "muon" (:class:`MuonAdamW`,
    orthogonalising in bfloat16 when ``bf16``: the run trains in bf16). ``device``: where the
    parameters will train."""
    params = list(params)
    if kind == "muon":
        ns_dtype = torch.bfloat16 if bf16 else torch.float32
        return MuonAdamW(params, lr=lr, betas=betas, weight_decay=weight_decay, ns_dtype=ns_dtype)
    fused = fused_for(device, params)
    return torch.optim.AdamW(params, lr=lr, betas=betas, weight_decay=weight_decay, fused=fused or None)


def skips_on_device(optimizer: torch.optim.Optimizer) -> bool:
    """Whether ``optimizer`` can skip a step on the device: torch's fused Adam and AdamW read a
    ``found_inf`` tensor attribute (as ``torch.amp.GradScaler`` sets it) and leave the weights, the
    moments and the step count as they were where it is 1, without the host reading the flag."""
    return isinstance(optimizer, torch.optim.Adam | torch.optim.AdamW) and all(
        g.get("fused") for g in optimizer.param_groups
    )
