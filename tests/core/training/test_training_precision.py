"""CPU mixed precision: bf16 only where the processor has it and it measures faster, float32 attention
under it, numerically close to float32, recorded for a resume; never a timed assertion."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from core.models.presets import build
from core.training import precision as P
from core.training.config import TrainConfig


def _data(n: int = 8, size: int = 16, channels: int = 3):
    from core.data.prepared import PreparedDataset

    return PreparedDataset.from_array(
        (np.random.default_rng(0).random((n, size, size, channels)) * 255).astype(np.uint8)
    )


def _config(**kw) -> TrainConfig:
    base = dict(
        preset="unet-tiny", batch_size=4, max_steps=3, max_minutes=None, device="cpu", preview_every=0,
        val_every=0, checkpoint_every=0, memorization_every=0,
    )  # fmt: skip
    return TrainConfig(**{**base, **kw})


def _attention_kinds(net: torch.nn.Module) -> set[str]:
    from diffusers.models.attention_processor import Attention

    return {type(m.processor).__name__ for m in net.modules() if isinstance(m, Attention)}


def test_a_processor_without_native_bf16_trains_in_float32_without_timing_anything(monkeypatch):
    monkeypatch.setattr(P, "step_seconds", lambda *a, **k: pytest.fail("timed on a CPU without bf16"))
    net = build("pixel-small", 3, 32)
    choice = P.choose_cpu_precision(net, (3, 32, 32), 8, native=False)
    assert choice.mixed_precision == "no" and "no native bf16" in choice.reason
    assert _attention_kinds(net) == {"AttnProcessor2_0"}


@pytest.mark.parametrize(
    ("fp32_s", "bf16_s", "chosen", "kinds"),
    [(0.10, 0.05, "bf16", {"Float32Attention"}), (0.10, 0.095, "no", {"AttnProcessor2_0"}), (0.001, None, "no", {"AttnProcessor2_0"})],
)  # fmt: skip
def test_bf16_is_chosen_only_when_it_measures_enough_faster_on_a_network_big_enough(
    monkeypatch, tmp_path, fp32_s, bf16_s, chosen, kinds
):
    monkeypatch.setattr(P, "cache_path", lambda: tmp_path / "precision.json")
    times = iter([fp32_s, bf16_s])
    monkeypatch.setattr(P, "step_seconds", lambda *a, **k: next(times))
    net = build("pixel-small", 3, 32)
    choice = P.choose_cpu_precision(net, (3, 32, 32), 8, native=True)
    assert choice.mixed_precision == chosen and _attention_kinds(net) == kinds
    assert choice.bf16_s == bf16_s and choice.float32_s == fp32_s
    if bf16_s is None:
        assert "too small" in choice.reason


def test_the_probe_leaves_weights_gradients_and_global_random_state_alone():
    net = build("pixel-small", 3, 16)
    before = {k: v.clone() for k, v in net.state_dict().items()}
    x = torch.randn(2, 3, 16, 16)
    state = torch.get_rng_state()
    P.step_seconds(net, x, torch.tensor([10, 500]), bf16=True, repeats=1)
    assert torch.equal(torch.get_rng_state(), state)
    assert all(torch.equal(before[k], v) for k, v in net.state_dict().items())
    assert all(p.grad is None for p in net.parameters())


def test_float32_attention_computes_what_diffusers_does_and_stays_float32_under_autocast():
    torch.manual_seed(0)
    net = build("pixel-small", 3, 16).eval()
    x, t = torch.randn(2, 3, 16, 16), torch.tensor([100, 700])
    with torch.no_grad():
        plain = net(x, t).sample
        replaced = P.keep_attention_float32(net)
        assert replaced and _attention_kinds(net) == {"Float32Attention"}
        ours = net(x, t).sample
        assert torch.allclose(plain, ours, atol=1e-5)
        seen = []
        hook = replaced[0][0].register_forward_hook(lambda m, i, o: seen.append(o.dtype))
        with torch.autocast("cpu", dtype=torch.bfloat16):
            net(x, t)
        hook.remove()
        assert seen == [torch.float32]
    P.restore_attention(replaced)
    assert _attention_kinds(net) == {"AttnProcessor2_0"}


def test_bf16_training_on_the_cpu_follows_float32_closely(tmp_path):
    losses = {}
    for mp in ("no", "bf16"):
        rows = []
        config = _config(preset="pixel-small", mixed_precision=mp, max_steps=4, log_every=1, lr=1e-3)
        from core.training.trainer import train

        train(config, _data(16), tmp_path / mp, on_progress=lambda s, n, m, rows=rows: rows.append(m["loss"]))
        losses[mp] = np.array(rows[1:], dtype=float)  # the loss logged at each step
        assert json.loads((tmp_path / mp / "config.json").read_text())["mixed_precision"] == mp
    assert np.all(np.isfinite(losses["bf16"]))
    assert np.allclose(losses["bf16"], losses["no"], rtol=0.05, atol=0.02), losses


def test_auto_records_its_choice_and_a_resume_keeps_it_without_measuring_again(tmp_path, monkeypatch):
    from core.training.trainer import train

    calls = []

    def choose(net, shape, batch, native=None):
        calls.append((shape, batch))
        return P.Choice("bf16", "bf16 measured 1.50x as fast as float32", 0.3, 0.2)

    monkeypatch.setattr(P, "choose_cpu_precision", choose)
    run = tmp_path / "run"
    train(_config(max_steps=2, checkpoint_every=1), _data(), run)
    assert calls == [((3, 16, 16), 4)]
    assert json.loads((run / "config.json").read_text())["mixed_precision"] == "bf16"
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["reason"] for r in rows if r.get("kind") == "precision"] == [
        "bf16 measured 1.50x as fast as float32"
    ]
    train(_config(max_steps=3, checkpoint_every=1), _data(), run, resume=True)
    assert len(calls) == 1  # the resume trains as the run chose
    assert json.loads((run / "config.json").read_text())["mixed_precision"] == "bf16"


def test_the_speed_estimate_measures_in_the_precision_the_trainer_would_choose(monkeypatch):
    from core.training.estimate import estimate_training

    assert estimate_training("unet-tiny", 1, 16, 4, bf16=False).mixed_precision == "no"
    monkeypatch.setattr(P, "MIN_STEP_S", 0.0)
    monkeypatch.setattr(P, "MIN_SPEEDUP", 0.0)  # whatever it measures counts as faster
    est = estimate_training("pixel-small", 3, 16, 4, bf16=True)
    assert est.mixed_precision == "bf16" and est.img_per_s > 0


def test_the_choice_is_measured_once_per_setup_and_reused_with_its_attention(monkeypatch, tmp_path):
    monkeypatch.setattr(P, "cache_path", lambda: tmp_path / "cache" / "precision.json")
    timed = []

    def seconds(net, x, t, *, bf16, repeats=2):
        timed.append((len(x), bf16))
        return 0.05 if bf16 else 0.1

    monkeypatch.setattr(P, "step_seconds", seconds)
    first = P.choose_cpu_precision(build("pixel-small", 3, 32), (3, 32, 32), 8, native=True)
    net = build("pixel-small", 3, 32)
    again = P.choose_cpu_precision(net, (3, 32, 32), 8, native=True)
    assert timed == [(8, False), (8, True)] and again == first and first.mixed_precision == "bf16"
    assert _attention_kinds(net) == {"Float32Attention"}  # a remembered bf16 keeps attention float32
    P.choose_cpu_precision(build("pixel-small", 3, 32), (3, 32, 32), 16, native=True)
    assert timed[2:] == [(16, False), (16, True)]  # another batch is another setup
    (tmp_path / "cache" / "precision.json").write_text("not json")
    assert (
        P.choose_cpu_precision(net, (3, 32, 32), 8, native=True) == first
    )  # a broken cache is measured anew
