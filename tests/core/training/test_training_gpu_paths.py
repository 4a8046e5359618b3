"""The trainer's GPU code paths on the CPU: each decision per device, and the CPU runs of the paths
that a CUDA machine would take (the deferred finite check with torch's fused AdamW, channels-last,
torch.compile reached with the mode asked for)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from core.data.prepared import PreparedDataset
from core.errors import NoisebloomError
from core.metrics.metrics_log import read_metrics
from core.training import gpu
from core.training.config import TrainConfig
from core.training.optim import MuonAdamW, fused_for, make_optimizer, skips_on_device
from core.training.trainer import train
from tests.core.training.conftest import toy_squares

FAST = dict(preset="unet-tiny", batch_size=4, max_minutes=None, device="cpu", preview_every=0, val_every=0,
            checkpoint_every=0, log_every=1, warmup=2, memorization_every=0)  # fmt: skip
CUDA, CPU = torch.device("cuda"), torch.device("cpu")


def _toy(n: int = 8, res: int = 16) -> PreparedDataset:
    return toy_squares(n, res)


def _params() -> list[torch.nn.Parameter]:
    return list(torch.nn.Linear(3, 2).parameters())  # on the CPU, as before accelerate moves them


def test_adamw_is_fused_only_for_a_cuda_device():
    assert fused_for(CUDA, _params()) and fused_for("cuda:1", _params())
    assert not fused_for(CPU, _params()) and not fused_for("mps", _params())
    assert not fused_for(None, _params())  # no device given: the parameters' own (the CPU here)
    kw = dict(lr=1e-3, betas=(0.9, 0.99), weight_decay=0.0)
    on_cuda = make_optimizer("adamw", _params(), device=CUDA, **kw)
    on_cpu = make_optimizer("adamw", _params(), device=CPU, **kw)
    assert on_cuda.param_groups[0]["fused"] and not on_cpu.param_groups[0]["fused"]
    assert skips_on_device(on_cuda) and not skips_on_device(on_cpu)
    assert isinstance(make_optimizer("muon", _params(), device=CUDA, **kw), MuonAdamW)
    assert gpu.defers(CUDA, on_cuda) and not gpu.defers(CPU, on_cuda) and not gpu.defers(CUDA, on_cpu)
    assert not gpu.defers(CUDA, make_optimizer("muon", _params(), device=CUDA, **kw))


def test_the_deferred_check_skips_a_nan_step_on_the_device_and_counts_it():
    """torch's fused AdamW (it runs on the CPU too) leaves the weights, moments, step count and the
    EMA's weights as they were on a flagged step; the counters say how many and how many in a row."""
    from diffusers.training_utils import EMAModel

    torch.manual_seed(0)
    net = torch.nn.Linear(4, 3)
    opt = torch.optim.AdamW(net.parameters(), lr=1e-2, weight_decay=0.1, fused=True)
    check = gpu.DeferredCheck(opt, CPU, sync_every=4)
    ema = EMAModel(net.parameters(), decay=0.9, foreach=True)
    x = torch.randn(8, 4)

    def step(poison: bool) -> None:
        loss = net(x).pow(2).mean() * (float("nan") if poison else 1.0)
        loss.backward()
        norm = torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
        check.mark(norm)
        opt.step()
        opt.zero_grad(set_to_none=True)
        ema.step(net.parameters())

    step(False)
    weights = [p.detach().clone() for p in net.parameters()]
    moments = [opt.state[p]["exp_avg"].clone() for p in net.parameters()]
    shadow = [s.clone() for s in ema.shadow_params]
    step(True)
    for p, w, m in zip(net.parameters(), weights, moments, strict=True):
        assert torch.equal(p, w) and torch.equal(opt.state[p]["exp_avg"], m)
        assert float(opt.state[p]["step"]) == 1
    # the EMA moved only towards the unchanged weights: still finite, and between its old value and them
    for s, old, w in zip(ema.shadow_params, shadow, weights, strict=True):
        assert torch.isfinite(s).all() and torch.all((s - old).abs() <= (w - old).abs() + 1e-7)
    step(False)
    assert not torch.equal(next(net.parameters()), weights[0])  # a good step trains again
    assert check.read() == (1, 1)
    for _ in range(3):
        step(True)
    step(False)
    step(True)
    assert check.read() == (4, 3)  # four skipped, three of them in a row
    assert check.read() == (0, 1)  # the run of one goes on into the next window


def test_the_trainer_defers_the_check_where_told_and_stops_after_max_bad_steps(tmp_path, monkeypatch):
    """The deferred path through the trainer on the CPU: the flags are read every log_every steps,
    every skipped step gets its row, the train rows leave them out, and max_bad_steps in a row stop."""
    import core.diffusion.weighting as weighting
    import core.training.optim as optim
    import core.training.run as run_module

    monkeypatch.setattr(optim, "fused_for", lambda device, params: True)
    monkeypatch.setattr(run_module, "defers", lambda device, optimizer: True)
    real, calls = weighting.weighted_mse, {"n": 0}

    def poisoned(pred, target, weights):
        calls["n"] += 1
        loss = real(pred, target, weights)
        return loss * float("nan") if calls["n"] > 2 else loss

    monkeypatch.setattr(weighting, "weighted_mse", poisoned)
    cfg = TrainConfig(**{**FAST, "max_steps": 50, "log_every": 4, "max_bad_steps": 3, "checkpoint_every": 3})
    with pytest.raises(NoisebloomError) as e:
        train(cfg, _toy(), tmp_path / "run")
    assert "NaN or infinite for 6 steps in a row at step 8" in str(e.value)
    saved = load_file(
        tmp_path / "run" / "state" / "weights.safetensors"
    )  # step 6's: the skipped ones left out
    assert all(torch.isfinite(w).all() for w in saved.values())
    rows = read_metrics(tmp_path / "run" / "metrics.jsonl")
    assert len([r for r in rows if r["kind"] == "skipped"]) == 6
    (train_row,) = [r for r in rows if r["kind"] == "train"]  # step 4: steps 1-2 good, 3-4 skipped
    assert train_row["step"] == 4 and np.isfinite(train_row["loss"]) and train_row["loss"] > 0
    assert train_row["grad_norm"] is None  # the last step's norm was NaN


def test_the_check_stays_per_step_on_the_cpu(tmp_path, monkeypatch):
    import core.training.gpu as gpu_module

    made = []
    monkeypatch.setattr(gpu_module.DeferredCheck, "__init__", lambda *a, **k: made.append(a))
    train(TrainConfig(**{**FAST, "max_steps": 2}), _toy(), tmp_path / "run")
    assert made == []


@pytest.mark.parametrize(
    ("choice", "device", "kind", "expected"),
    [
        ("auto", CUDA, "unet", torch.channels_last),
        ("auto", CUDA, "pixel-unet", torch.channels_last),
        ("auto", CUDA, "dit", torch.contiguous_format),
        ("auto", CUDA, "video", torch.contiguous_format),
        ("auto", CPU, "pixel-unet", torch.contiguous_format),
        ("channels_last", CPU, "unet", torch.channels_last),
        ("channels_last", CUDA, "dit", torch.contiguous_format),
        ("contiguous", CUDA, "unet", torch.contiguous_format),
    ],
)
def test_memory_format_per_device_and_network(choice, device, kind, expected):
    assert gpu.memory_format_for(choice, device, kind) is expected


@pytest.mark.parametrize(
    ("choice", "device", "minutes", "steps", "expected"),
    [
        ("auto", CUDA, 10, None, "default"),
        ("auto", CUDA, 30, 100_000, "default"),
        ("auto", CUDA, None, 5_000, "default"),
        ("auto", CUDA, 5, None, None),  # too short to repay the warm-up
        ("auto", CUDA, 30, 1_000, None),  # the step budget ends it first
        ("auto", CPU, 60, None, None),  # never on the CPU
        ("no", CUDA, 60, None, None),
        ("yes", CPU, 1, 10, "default"),
        ("reduce-overhead", CUDA, 1, None, "reduce-overhead"),
        ("max-autotune", CPU, None, 3, "max-autotune"),
    ],
)
def test_compile_per_device_and_budget(monkeypatch, choice, device, minutes, steps, expected):
    monkeypatch.setattr(gpu, "_has_triton", lambda: True)
    seconds = minutes * 60 if minutes is not None else None
    assert gpu.compile_mode_for(choice, device, seconds, steps) == expected


def test_auto_never_compiles_where_triton_is_missing(monkeypatch):
    monkeypatch.setattr(gpu, "_has_triton", lambda: False)
    assert gpu.compile_mode_for("auto", CUDA, 60 * 60, None) is None
    assert gpu.compile_mode_for("yes", CUDA, 60 * 60, None) == "default"  # asked for by name: tried


@pytest.mark.parametrize(
    ("choice", "modes"), [("auto", []), ("max-autotune", ["max-autotune"]), ("yes", ["default"])]
)
def test_the_compile_option_reaches_torch_compile_and_saving_uses_the_plain_network(
    tmp_path, monkeypatch, choice, modes
):
    seen = []

    def fake_compile(module, mode=None):
        seen.append(mode)
        return module

    monkeypatch.setattr(torch, "compile", fake_compile)
    result = train(TrainConfig(**{**FAST, "max_steps": 2, "compile": choice}), _toy(), tmp_path / "run")
    assert seen == modes
    assert not any("_orig_mod" in k for k in load_file(tmp_path / "run" / "state" / "weights.safetensors"))
    assert result.steps == 2


def test_channels_last_trains_as_contiguous_does(tmp_path):
    losses = {}
    for fmt in ("contiguous", "channels_last"):
        cfg = TrainConfig(**{**FAST, "max_steps": 3, "memory_format": fmt})
        train(cfg, _toy(), tmp_path / fmt)
        losses[fmt] = [
            r["loss"] for r in read_metrics(tmp_path / fmt / "metrics.jsonl") if r["kind"] == "train"
        ]
    assert len(losses["contiguous"]) == 3
    np.testing.assert_allclose(losses["channels_last"], losses["contiguous"], rtol=1e-4)


# --- the batch that fills a GPU ---------------------------------------------------------------------


def test_the_batch_doubles_while_the_gpu_is_not_full():
    """Flat step times grow the batch to the top; a doubling that costs 1.5x or more stops it; a batch
    that does not fit stops it one below; the learning rate grows with the square root."""
    flat = gpu.fill_batch(64, 1024, lambda b: 0.010)
    assert flat.batch_size == 1024 and flat.lr_scale == pytest.approx(4.0) and "largest" in flat.reason
    assert sorted(flat.seconds) == [64, 128, 256, 512, 1024]
    # full from 256 on: 64 and 128 cost the same, 256 costs 1.6x a step of 128
    knee = gpu.fill_batch(64, 1024, lambda b: 0.010 if b <= 128 else 0.016 * b / 256)
    assert knee.batch_size == 128 and knee.lr_scale == pytest.approx(2**0.5) and "full" in knee.reason
    out_of_memory = gpu.fill_batch(64, 1024, lambda b: 0.010 if b < 512 else None)
    assert out_of_memory.batch_size == 256 and "512 does not fit" in out_of_memory.reason
    nothing_fits = gpu.fill_batch(64, 1024, lambda b: None)
    assert (nothing_fits.batch_size, nothing_fits.lr_scale) == (64, 1.0)
    linear = gpu.fill_batch(64, 1024, lambda b: b * 1e-4)  # already full: twice the batch, twice the time
    assert linear.batch_size == 64


def test_the_largest_batch_stays_within_the_folder_the_factor_and_the_maximum():
    assert gpu.largest_batch(64, 100_000, 4096) == 64 * gpu.FILL_MAX_FACTOR
    assert gpu.largest_batch(64, 300, 4096) == 256  # a batch larger than the folder repeats its pictures
    assert gpu.largest_batch(64, 40, 4096) == 64  # never below the batch asked for
    assert gpu.largest_batch(64, 100_000, 128) == 128
    assert gpu.fills_batch("auto", CUDA) and not gpu.fills_batch("auto", CPU)
    assert not gpu.fills_batch("fixed", CUDA)


def test_the_probe_times_a_pass_and_leaves_the_network_as_it_was():
    from core.models.presets import build

    torch.manual_seed(0)
    net = build("unet-tiny", 1, 16)
    before = {k: v.clone() for k, v in net.state_dict().items()}
    step_s = gpu.probe_step(net, (1, 16, 16), CPU, autocast=lambda: torch.autocast("cpu", enabled=False))
    seconds = step_s(4)
    assert seconds is not None and 0 < seconds < 10
    assert all(p.grad is None for p in net.parameters())
    assert all(torch.equal(before[k], v) for k, v in net.state_dict().items())


def test_a_run_that_fills_the_gpu_trains_records_and_resumes_at_the_chosen_batch(tmp_path, monkeypatch):
    """The trainer's path where ``gpu_batch`` is auto on CUDA, run on the CPU with the device test and
    the probe replaced: the run trains at the batch chosen with the rate scaled, says so in a
    ``batch`` row and config.json, and a resume keeps both without probing again."""
    probed: list[int] = []

    def fake_probe(network, sample_shape, device, *, autocast):
        def step_s(batch: int) -> float:
            probed.append(batch)
            return 0.01 if batch <= 16 else 0.1

        return step_s

    monkeypatch.setattr(gpu, "fills_batch", lambda choice, device: choice == "auto")
    monkeypatch.setattr(gpu, "probe_step", fake_probe)
    config = TrainConfig(**{**FAST, "max_steps": 3, "lr": 1e-3})
    run = tmp_path / "run"
    result = train(config, _toy(n=40), run)
    assert result.steps == 3 and probed == [4, 8, 16, 32]
    saved = TrainConfig.load(run / "config.json")
    assert saved.batch_size == 16 and saved.lr == pytest.approx(2e-3)
    rows = [r for r in read_metrics(run / "metrics.jsonl") if r["kind"] == "batch"]
    assert len(rows) == 1 and rows[0]["batch_size"] == 16 and "full" in rows[0]["reason"]
    train_rows = [r for r in read_metrics(run / "metrics.jsonl") if r["kind"] == "train"]
    assert train_rows[0]["lr"] > 0 and max(r["lr"] for r in train_rows) <= 2e-3 + 1e-12

    probed.clear()
    resumed = train(config.replace(max_steps=5), _toy(n=40), run, resume=True)
    assert resumed.steps == 5 and probed == []
    again = TrainConfig.load(run / "config.json")
    assert (again.batch_size, again.lr) == (16, pytest.approx(2e-3))
    fixed = train(config.replace(gpu_batch="fixed"), _toy(n=40), tmp_path / "fixed")
    assert fixed.steps == 3 and TrainConfig.load(tmp_path / "fixed" / "config.json").batch_size == 4


def test_on_the_cpu_the_batch_is_the_one_asked_for(tmp_path, monkeypatch):
    def no_probe(*a, **k):
        raise AssertionError("a CPU run does not probe batches")

    monkeypatch.setattr(gpu, "probe_step", no_probe)
    train(TrainConfig(**{**FAST, "max_steps": 2}), _toy(), tmp_path / "run")
    assert TrainConfig.load(tmp_path / "run" / "config.json").batch_size == 4
    assert not [r for r in read_metrics(tmp_path / "run" / "metrics.jsonl") if r["kind"] == "batch"]
