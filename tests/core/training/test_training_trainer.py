"""The training loop: learning, exact resume, hooks, budgets, NaN handling, fine-tuning."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from core.data.prepared import PreparedDataset
from core.errors import Cancelled, ConfigError, NoisebloomError
from core.metrics.metrics_log import read_metrics
from core.models.folder import load_model_folder
from core.training.config import TrainConfig
from core.training.trainer import train
from tests.core.training.conftest import toy_squares

FAST = dict(preset="unet-tiny", batch_size=4, max_minutes=None, device="cpu", preview_every=0, val_every=0,
            checkpoint_every=0, log_every=1, warmup=2)  # fmt: skip


_toy = toy_squares


def test_loss_falls_on_a_toy_problem(tmp_path):
    cfg = TrainConfig(**{**FAST, "max_steps": 30, "lr": 3e-3, "batch_size": 8, "objective": "x0", "schedule": "linear",
                         "t_sampling": "uniform"})  # fmt: skip
    train(cfg, _toy(), tmp_path / "run")
    losses = [r["loss"] for r in read_metrics(tmp_path / "run" / "metrics.jsonl") if r["kind"] == "train"]
    assert len(losses) == 30
    assert np.mean(losses[-10:]) < 0.6 * np.mean(losses[:3])


@pytest.mark.parametrize(("preset", "objective"), [("unet-tiny", "eps"), ("unet-tiny", "v"), ("unet-tiny", "x0"),
                                                   ("unet-tiny", "flow"), ("dit-tiny", "flow"), ("dit-tiny", "eps")])  # fmt: skip
def test_every_objective_trains_and_saves_a_loadable_model(tmp_path, preset, objective):
    cfg = TrainConfig(**{**FAST, "preset": preset, "objective": objective, "max_steps": 2, "ema_decay": 0.9})
    result = train(cfg, _toy(8, channels=3), tmp_path / "run")
    assert result.steps == 2 and not result.stopped_early
    loaded = load_model_folder(result.model_dir)
    assert loaded.objective == objective and loaded.info["trained_steps"] == 2
    assert loaded.info["preset"] == preset and loaded.info["channels"] == 3
    ema = load_file(tmp_path / "run" / "state" / "ema.safetensors")
    saved = dict(loaded.network.named_parameters())
    # the model folder holds the EMA weights, not the raw ones
    assert torch.equal(list(saved.values())[0], ema["0"])


@pytest.mark.parametrize(
    "preset",
    [
        "unet-cpu",
        "unet-laptop",
        pytest.param("unet-gpu", marks=pytest.mark.slow),
        pytest.param("dit-s", marks=pytest.mark.slow),
    ],
)
def test_every_preset_runs_a_training_step(preset):
    from core.diffusion.objectives import make_objective, noisy_batch
    from core.models.presets import build

    torch.manual_seed(0)
    net = build(preset, 3, 16)
    opt = torch.optim.AdamW(net.parameters(), lr=1e-4)
    nb = noisy_batch(
        make_objective("flow"), torch.rand(2, 3, 16, 16) * 2 - 1, torch.Generator().manual_seed(0)
    )
    loss = (net(nb.x_t, nb.timesteps).sample - nb.target).pow(2).mean()
    loss.backward()
    before = [p.detach().clone() for p in net.parameters()]
    opt.step()
    assert torch.isfinite(loss)
    changed = sum(not torch.equal(a, b) for a, b in zip(before, net.parameters(), strict=True))
    # a DiT starts with zero gates (adaLN-Zero), so only its modulation and output layers move at first
    assert changed > (0.05 if preset.startswith("dit") else 0.9) * len(before)


def test_resume_continues_exactly_where_the_checkpoint_left_off(tmp_path):
    data = _toy()
    cfg = TrainConfig(**{**FAST, "max_steps": 6, "checkpoint_every": 3})
    train(cfg, data, tmp_path / "straight")
    steps = []  # stop the split run after 3 of its 6 steps (same budget, so the same LR schedule)
    train(cfg, data, tmp_path / "split", should_stop=lambda: len(steps) >= 3,
          on_progress=lambda step, total, m: steps.append(step))  # fmt: skip
    train(cfg, data, tmp_path / "split", resume=True)
    a = load_file(tmp_path / "straight" / "state" / "weights.safetensors")
    b = load_file(tmp_path / "split" / "state" / "weights.safetensors")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    ga = load_file(
        tmp_path / "straight" / "state" / "guide.safetensors"
    )  # kept at step 2 of 6, before the split
    gb = load_file(tmp_path / "split" / "state" / "guide.safetensors")
    assert ga.keys() == gb.keys() and all(torch.equal(ga[k], gb[k]) for k in ga)
    ma = [
        (r["step"], r.get("loss"), r["kind"]) for r in read_metrics(tmp_path / "straight" / "metrics.jsonl")
    ]
    mb = [(r["step"], r.get("loss"), r["kind"]) for r in read_metrics(tmp_path / "split" / "metrics.jsonl")]
    assert ma == mb and [s for s, _, kind in mb if kind == "train"] == [1, 2, 3, 4, 5, 6]
    assert [s for s, _, kind in mb if kind == "guide"] == [2]


def test_adam_beta2_reaches_the_optimizer_and_its_checkpoint(tmp_path):
    import json

    assert TrainConfig().adam_beta2 == 0.99
    train(
        TrainConfig(**{**FAST, "max_steps": 2, "checkpoint_every": 2, "adam_beta2": 0.95}),
        _toy(8),
        tmp_path / "r",
    )
    groups = json.loads((tmp_path / "r" / "state" / "trainer.json").read_text())["param_groups"]
    assert [g["betas"] for g in groups] == [[0.9, 0.95]]


def test_muon_and_the_ema_power_reach_the_checkpoint_and_a_resume_keeps_the_runs_optimizer(
    tmp_path, monkeypatch
):
    import dataclasses
    import json

    from core.models.presets import PRESETS

    cfg = TrainConfig(
        **{**FAST, "max_steps": 2, "checkpoint_every": 2, "optimizer": "muon", "ema_power": 0.8}
    )
    train(cfg, _toy(8), tmp_path / "r")
    state = json.loads((tmp_path / "r" / "state" / "trainer.json").read_text())
    assert [g["muon"] for g in state["param_groups"]] == [True, False]
    assert all(len(g["params"]) for g in state["param_groups"])
    assert state["ema"]["power"] == 0.8
    # unset: the resume takes the run's optimizer; another one is refused
    again = train(cfg.replace(optimizer=None, max_steps=4), _toy(8), tmp_path / "r", resume=True)
    assert again.steps == 4
    with pytest.raises(ConfigError, match="train.optimizer: 'adamw' differs from the run being resumed"):
        train(cfg.replace(optimizer="adamw", max_steps=6), _toy(8), tmp_path / "r", resume=True)
    # a run from before the field (AdamW) resumes as AdamW under a preset whose default became Muon
    old = TrainConfig(**{**FAST, "max_steps": 2, "checkpoint_every": 2})
    train(old, _toy(8), tmp_path / "old")
    monkeypatch.setitem(
        PRESETS, "unet-tiny", dataclasses.replace(PRESETS["unet-tiny"], default_optimizer="muon")
    )
    assert old.optimizer_kind() == "muon"
    resumed = train(old.replace(max_steps=3), _toy(8), tmp_path / "old", resume=True)
    assert resumed.steps == 3
    state = json.loads((tmp_path / "old" / "state" / "trainer.json").read_text())
    assert len(state["param_groups"]) == 1 and "muon" not in state["param_groups"][0]


def test_training_again_into_a_run_folder_needs_resume(tmp_path):
    cfg = TrainConfig(**{**FAST, "max_steps": 1})
    train(cfg, _toy(8), tmp_path / "run")
    with pytest.raises(NoisebloomError, match="already holds a training run; pass --resume"):
        train(cfg, _toy(8), tmp_path / "run")
    with pytest.raises(ConfigError, match="train.objective: 'eps' differs from the run being resumed"):
        train(cfg.replace(objective="eps", max_steps=2), _toy(8), tmp_path / "run", resume=True)


def test_should_stop_finishes_the_step_and_saves(tmp_path):
    seen = []
    cfg = TrainConfig(**{**FAST, "max_steps": 100})
    result = train(cfg, _toy(8), tmp_path / "run", should_stop=lambda: len(seen) >= 3,
                   on_progress=lambda step, total, m: seen.append((step, total, m)))  # fmt: skip
    assert result.stopped_early and result.steps == 3
    assert [s[0] for s in seen] == [1, 2, 3] and seen[0][1] == 100
    assert {"loss", "lr", "img_per_s", "eta_s"} <= set(seen[-1][2])
    assert load_model_folder(result.model_dir).info["trained_steps"] == 3


def test_cancel_from_a_callback_propagates_and_writes_no_model(tmp_path):
    def cancel(step, total, metrics):
        if step == 2:
            raise Cancelled()

    with pytest.raises(Cancelled):
        train(TrainConfig(**{**FAST, "max_steps": 10}), _toy(8), tmp_path / "run", on_progress=cancel)
    assert not (tmp_path / "run" / "model").exists() and not (tmp_path / "run" / "state").exists()


def test_previews_and_held_out_losses_are_reported_and_written(tmp_path):
    previews, metrics = [], []
    cfg = TrainConfig(**{**FAST, "max_steps": 4, "preview_every": 2, "val_every": 2, "preview_seeds": (0, 1, 2),
                         "preview_steps": 2})  # fmt: skip
    train(cfg, _toy(20), tmp_path / "run", on_preview=lambda s, im: previews.append((s, im)),
          on_metric=lambda s, m: metrics.append((s, m)))  # fmt: skip
    assert [s for s, _ in previews] == [2, 4]
    assert previews[0][1].shape == (3, 16, 16, 1) and previews[0][1].dtype == np.uint8
    assert sorted(p.name for p in (tmp_path / "run" / "samples").iterdir()) == [
        "step_0000002.png",
        "step_0000004.png",
    ]
    assert [s for s, _ in metrics] == [2, 4]
    assert {"val_loss", "val_loss_t0-250", "val_loss_t750-1000"} <= set(metrics[0][1])
    val = [r for r in read_metrics(tmp_path / "run" / "metrics.jsonl") if r["kind"] == "val"]
    assert [r["step"] for r in val] == [2, 4]


def test_the_copying_check_counts_samples_that_are_training_pictures_and_not_new_ones():
    from core.metrics.folders import match_images
    from core.training.copying import CHECK_SAMPLES, CHECK_SEEDS, memorized_share

    data = _toy(20)
    train_rows = np.asarray(data.array)[data.train_indices]
    copies = train_rows[np.arange(CHECK_SAMPLES) % len(train_rows)]
    asked = []

    def draw_copies(seeds):
        asked.append(tuple(seeds))
        return copies

    result = memorized_share(draw_copies, data, 16)
    assert asked == [CHECK_SEEDS]  # the same fixed seeds at every check
    assert result == {
        "memorized_share": 1.0,
        "memorized_count": CHECK_SAMPLES,
        "memorized_checked": CHECK_SAMPLES,
    }
    noise = np.random.default_rng(1).integers(0, 256, (CHECK_SAMPLES, 16, 16, 1), dtype=np.uint8)
    assert memorized_share(lambda seeds: noise, data, 16)["memorized_share"] == 0.0
    # a run that trains at 8 px compares with its pictures at 8 px
    assert memorized_share(lambda seeds: match_images(copies, 8, 1), data, 8)["memorized_share"] == 1.0


def test_the_copying_check_is_skipped_without_drawing_for_clips_and_tiny_sets():
    from core.training.copying import memorized_share

    def draw(seeds):
        raise AssertionError("nothing to compare with: nothing should be drawn")

    clips = PreparedDataset.from_array(np.zeros((4, 2, 16, 16, 1), np.uint8), kind="clip")
    assert memorized_share(draw, clips, 16) == {}
    assert memorized_share(draw, _toy(1), 16) == {}


@pytest.mark.parametrize("every", [2, 0])
def test_the_memorised_share_is_written_and_reported_every_memorization_every_steps(tmp_path, every):
    from core.training.copying import CHECK_SAMPLES

    metrics = []
    cfg = TrainConfig(**{**FAST, "max_steps": 5, "memorization_every": every, "preview_steps": 2})
    train(cfg, _toy(20), tmp_path / "run", on_metric=lambda s, m: metrics.append((s, m)))
    logged = [r for r in read_metrics(tmp_path / "run" / "metrics.jsonl") if r["kind"] == "memorization"]
    want = [2, 4] if every else []
    assert [r["step"] for r in logged] == want
    assert [s for s, m in metrics if "memorized_share" in m] == want
    for r in logged:
        assert 0.0 <= r["memorized_share"] <= 1.0 and r["memorized_checked"] == CHECK_SAMPLES
        assert r["memorized_count"] == round(r["memorized_share"] * CHECK_SAMPLES)


def test_flow_previews_are_what_the_default_sampler_makes_from_the_same_noise(tmp_path):
    from core.sampling.guidance import DEFAULT_GUIDANCE, guided
    from core.sampling.loop import run_loop
    from core.sampling.samplers import build_scheduler, default_sampler
    from core.sampling.trajectory import tensor_to_uint8 as to_uint8
    from core.training.preview import preview_samples

    previews = []
    cfg = TrainConfig(
        **{**FAST, "max_steps": 6, "preview_every": 6, "preview_seeds": (0, 1), "preview_steps": 4}
    )
    result = train(cfg, _toy(16), tmp_path / "run", on_preview=lambda s, im: previews.append(im))
    model = load_model_folder(result.model_dir)
    assert default_sampler("flow") == "unipc"
    assert model.guide is not None and model.info["guide"] == {"trained_steps": 2}  # kept at 2 of 6 steps
    network = guided(model.network, model.guide, DEFAULT_GUIDANCE)  # what Generate samples by default
    scheduler = build_scheduler("unipc", model.scheduler_config, "flow")
    scheduler.set_timesteps(4)
    noise = torch.stack(
        [torch.randn((1, 16, 16), generator=torch.Generator().manual_seed(s)) for s in (0, 1)]
    )
    with torch.no_grad():
        expected = to_uint8(run_loop(network, scheduler, noise, flow=True))
        again = preview_samples(network, "flow", None, (0, 1), 4, (1, 16, 16))
    assert np.array_equal(again, expected)
    assert np.abs(previews[-1].astype(int) - expected.astype(int)).max() <= 1  # EMA copy vs saved weights


def test_time_budget_is_honoured_including_the_final_save(tmp_path, monkeypatch):
    """On a clock where every look costs 10 ms and the final save 1.5 s, a 6-s run stops stepping
    early enough that the save ends inside the budget."""
    import core.models.folder as folder
    import core.training.run as run_module

    clock = [0.0]

    def now() -> float:
        clock[0] += 0.01
        return clock[0]

    real_save = folder.save_model_folder

    def slow_save(*args, **kwargs):
        clock[0] += 1.5
        return real_save(*args, **kwargs)

    monkeypatch.setattr(run_module, "now", now)
    monkeypatch.setattr(folder, "save_model_folder", slow_save)
    cfg = TrainConfig(**{**FAST, "max_minutes": 0.1, "log_every": 5})
    result = train(cfg, _toy(), tmp_path / "run")
    assert result.steps > 10 and (tmp_path / "run" / "model" / "model_index.json").is_file()
    assert 3.0 < clock[0] <= 6.0, clock[0]  # used most of the budget, and the save fit inside it


def test_repeated_nan_losses_stop_with_a_clear_error_and_keep_the_checkpoint(tmp_path, monkeypatch):
    import core.diffusion.weighting as weighting

    real = weighting.weighted_mse
    calls = {"n": 0}

    def poisoned(pred, target, weights):
        calls["n"] += 1
        loss = real(pred, target, weights)
        return loss * float("nan") if calls["n"] > 2 else loss

    monkeypatch.setattr(weighting, "weighted_mse", poisoned)
    cfg = TrainConfig(**{**FAST, "max_steps": 50, "checkpoint_every": 2, "max_bad_steps": 3})
    with pytest.raises(NoisebloomError) as e:
        train(cfg, _toy(8), tmp_path / "run")
    assert "NaN or infinite for 3 steps in a row at step 2" in str(e.value)
    assert "lower the learning rate" in str(e.value) and "\n" not in str(e.value)
    assert load_model_folder(tmp_path / "run" / "model").info["trained_steps"] == 2
    skipped = [r for r in read_metrics(tmp_path / "run" / "metrics.jsonl") if r["kind"] == "skipped"]
    assert len(skipped) == 3


def test_fine_tune_records_its_parent_and_starts_from_its_weights(tmp_path):
    from core.training.trainer import adopt_parent

    parent = train(TrainConfig(**{**FAST, "max_steps": 3, "objective": "v", "schedule": "cosine"}), _toy(8),
                   tmp_path / "parent")  # fmt: skip
    cfg = adopt_parent(TrainConfig(**{**FAST, "max_steps": 1}), parent.model_dir)
    assert (cfg.objective, cfg.schedule, cfg.preset) == ("v", "cosine", "unet-tiny")
    lrs = []
    child = train(cfg, _toy(8, seed=5), tmp_path / "child", on_progress=lambda s, t, m: lrs.append(m["lr"]))
    info = load_model_folder(child.model_dir).info
    assert info["parent"] == str(parent.model_dir.resolve())
    assert lrs[0] == pytest.approx(1e-4 * 0.5)  # a tenth of the preset's 1e-3, first of 2 warmup steps
    with pytest.raises(ConfigError, match="trained with objective v, not flow"):
        train(cfg.replace(objective="flow"), _toy(8), tmp_path / "child2")


def test_resolution_other_than_the_data_resizes_batches(tmp_path):
    result = train(TrainConfig(**{**FAST, "max_steps": 1, "resolution": 24}), _toy(8), tmp_path / "run")
    assert load_model_folder(result.model_dir).info["resolution"] == 24


def test_clips_with_an_image_network_are_refused_in_one_line(tmp_path):
    clips = PreparedDataset.from_array(np.zeros((4, 3, 16, 16, 1), np.uint8), kind="clip")
    with pytest.raises(ConfigError) as e:
        train(TrainConfig(**{**FAST, "max_steps": 1}), clips, tmp_path / "run")
    assert str(e.value).startswith(
        "train.preset: unet-tiny is a network for images, and this dataset holds clips"
    )


def test_previews_come_on_the_clock_too_the_first_early(tmp_path, monkeypatch):
    """A slow run (4 s a step here, previews every 1,000 steps) still shows previews: the first
    after 10 s, then every 30 s, and one of the last step."""
    import core.training.run as run_module

    clock = [0.0]
    monkeypatch.setattr(run_module, "now", lambda: clock[0])

    def stepped(step, total, metrics):  # noqa: ANN001, ARG001
        clock[0] += 4.0

    shown: list[int] = []
    cfg = TrainConfig(**{**FAST, "max_steps": 12, "preview_every": 1000})
    train(
        cfg,
        _toy(8),
        tmp_path / "run",
        on_progress=stepped,
        on_preview=lambda step, images: shown.append(step),
    )
    assert shown == [3, 11, 12]
    assert sorted(p.name for p in (tmp_path / "run" / "samples").glob("*.png")) == [
        f"step_{s:07d}.png" for s in shown
    ]
