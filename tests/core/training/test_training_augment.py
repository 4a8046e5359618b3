"""Non-leaking augmentation: the transforms and their labels, the labels reaching the network in
training and never in sampling, the automatic setting, validation, and reproducible, resumable runs."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from core.data.prepared import PreparedDataset
from core.errors import ConfigError
from core.models.dit import NoisebloomDiT
from core.sampling.config import SampleConfig
from core.sampling.sample import sample
from core.training import augment as aug
from core.training.config import (
    AUTO_AUGMENT,
    AUTO_AUGMENT_MAX_PICTURES,
    AUTO_AUGMENT_SMALL,
    AUTO_AUGMENT_SMALL_PICTURES,
    TrainConfig,
)
from core.training.trainer import train
from tests.core.training.conftest import toy_squares

FAST = dict(preset="unet-tiny", batch_size=4, max_minutes=None, device="cpu", preview_every=0, val_every=0,
            checkpoint_every=0, log_every=1, warmup=2)  # fmt: skip
AUGMENTED = {**FAST, "preset": "dit-tiny", "augment": 1.0}  # dit-tiny: the smallest network that takes labels


def _toy(n: int = 24, res: int = 16) -> PreparedDataset:
    return toy_squares(n, res)


def _batch(n: int = 64, side: int = 16, seed: int = 0) -> torch.Tensor:
    return torch.rand(n, 3, side, side, generator=torch.Generator().manual_seed(seed)) * 2 - 1


def test_probability_zero_leaves_pictures_untouched_and_one_changes_every_picture():
    x = _batch()
    same, labels = aug.augment(x, 0.0, torch.Generator().manual_seed(0))
    assert torch.equal(same, x) and labels.shape == (64, aug.AUGMENT_DIM) and not labels.any()
    moved, labels = aug.augment(x, 1.0, torch.Generator().manual_seed(0))
    assert moved.shape == x.shape and (moved != x).flatten(1).any(1).all()
    assert labels[:, :4].any(1).all()  # a flip or a quarter turn on every picture at p = 1
    assert moved.min() >= -1 and moved.max() <= 1  # reflected borders and bilinear zooms stay in range


def test_the_labels_say_which_flips_and_quarter_turns_were_applied():
    x = _batch(256)
    y, labels = aug.augment(x, 0.5, torch.Generator().manual_seed(1))
    plain = (labels[:, 4:] == 0).all(1)  # no shift, no zoom: flips and turns can be undone exactly
    assert 20 < int(plain.sum()) < 256
    for i in plain.nonzero().flatten().tolist():
        a, b = bool(labels[i, 2]), bool(labels[i, 3])
        k = {(False, False): 0, (True, False): 1, (True, True): 2, (False, True): 3}[(a, b)]
        back = torch.rot90(y[i], -k, dims=(-2, -1))
        if labels[i, 1]:
            back = back.flip(-2)
        if labels[i, 0]:
            back = back.flip(-1)
        assert torch.equal(back, x[i]), (i, labels[i])


def test_shifts_reflect_the_picture_at_its_border():
    x = _batch(4, side=8)
    dx, dy = torch.tensor([2, -3, 0, 1]), torch.tensor([0, 1, -2, 3])
    got = aug._shift(x, dx, dy)
    for i in range(4):
        padded = np.pad(x[i].numpy(), ((0, 0), (4, 4), (4, 4)), mode="reflect")
        want = padded[:, 4 - int(dy[i]) : 12 - int(dy[i]), 4 - int(dx[i]) : 12 - int(dx[i])]
        assert np.array_equal(got[i].numpy(), want)


def test_the_same_seed_augments_the_same_way_and_another_seed_differently():
    x = _batch()
    a = aug.augment(x, 0.3, torch.Generator().manual_seed(5))
    b = aug.augment(x, 0.3, torch.Generator().manual_seed(5))
    c = aug.augment(x, 0.3, torch.Generator().manual_seed(6))
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    assert not torch.equal(a[1], c[1])
    assert (
        aug.batch_seed(0, 8, 0)
        == aug.batch_seed(0, 8, 0)
        != aug.batch_seed(0, 16, 0)
        != aug.batch_seed(0, 8, 1)
    )


@pytest.mark.parametrize(
    ("augment", "pictures", "takes", "want"),
    [
        (None, 300, True, AUTO_AUGMENT_SMALL),
        (None, AUTO_AUGMENT_SMALL_PICTURES - 1, True, AUTO_AUGMENT_SMALL),
        (None, AUTO_AUGMENT_SMALL_PICTURES, True, AUTO_AUGMENT),
        (None, AUTO_AUGMENT_MAX_PICTURES - 1, True, AUTO_AUGMENT),
        (None, AUTO_AUGMENT_MAX_PICTURES, True, 0.0),
        (None, 300, False, 0.0),
        (0.0, 300, False, 0.0),
        (0.4, 50_000, True, 0.4),
    ],
)
def test_auto_augments_small_folders_on_networks_that_take_labels(augment, pictures, takes, want):
    assert aug.resolve_augment(augment, pictures, takes, "net") == want


@pytest.mark.parametrize("bad", [-0.1, 1.5])
def test_an_augment_probability_outside_0_1_is_one_line_naming_the_field(bad):
    with pytest.raises(ConfigError) as e:
        TrainConfig(augment=bad)
    assert str(e.value).startswith("train.augment:") and "\n" not in str(e.value) and e.value.fix


def test_augmenting_a_network_that_cannot_be_told_is_refused(tmp_path):
    with pytest.raises(ConfigError, match=r"train\.augment: unet-tiny cannot be told"):
        train(TrainConfig(**{**FAST, "max_steps": 1, "augment": 0.5}), _toy(8), tmp_path / "r")


def test_the_run_records_what_auto_resolved_to_and_builds_the_network_for_it(tmp_path):
    train(TrainConfig(**{**FAST, "preset": "dit-tiny", "max_steps": 1}), _toy(8), tmp_path / "dit")
    assert json.loads((tmp_path / "dit" / "config.json").read_text())["augment"] == AUTO_AUGMENT_SMALL
    saved = json.loads((tmp_path / "dit" / "model" / "transformer" / "config.json").read_text())
    assert saved["augment_dim"] == aug.AUGMENT_DIM
    train(TrainConfig(**{**FAST, "max_steps": 1}), _toy(8), tmp_path / "unet")  # auto: off, no refusal
    assert json.loads((tmp_path / "unet" / "config.json").read_text())["augment"] == 0.0


def _spy_on_dit(monkeypatch) -> list[tuple[bool, torch.Tensor | None, int]]:
    """Every NoisebloomDiT call: (in training mode, augment_labels, id of the network)."""
    calls: list[tuple[bool, torch.Tensor | None, int]] = []
    forward = NoisebloomDiT.forward

    def spy(self, sample, timestep, return_dict=True, *, augment_labels=None):
        calls.append((self.training, augment_labels, id(self)))
        return forward(self, sample, timestep, return_dict, augment_labels=augment_labels)

    monkeypatch.setattr(NoisebloomDiT, "forward", spy)
    return calls


def test_labels_reach_the_network_in_training_and_previews_and_held_out_losses_get_none(
    tmp_path, monkeypatch
):
    calls = _spy_on_dit(monkeypatch)
    batches: list[tuple[torch.Tensor, torch.Tensor]] = []
    augment = aug.augment

    def recording(x, p, generator):
        out = augment(x, p, generator)
        batches.append((x.clone(), out[0]))
        return out

    monkeypatch.setattr(aug, "augment", recording)
    cfg = TrainConfig(**{**AUGMENTED, "max_steps": 4, "preview_every": 2, "val_every": 2, "preview_steps": 2})
    train(cfg, _toy(16), tmp_path / "r")
    training = [labels for is_training, labels, _ in calls if is_training]
    sampling = [labels for is_training, labels, _ in calls if not is_training]
    assert len(training) == 4 and all(labels is not None and labels.any() for labels in training)
    assert len(batches) == 4 and all(not torch.equal(before, after) for before, after in batches)
    assert sampling and all(labels is None for labels in sampling)  # previews (guided) and held-out losses
    assert len({net for is_training, _, net in calls if not is_training}) >= 2  # the guide was sampled too


def test_sampling_a_model_trained_with_augmentation_passes_no_labels_to_it_or_its_guide(
    tmp_path, monkeypatch
):
    result = train(TrainConfig(**{**AUGMENTED, "max_steps": 4}), _toy(8), tmp_path / "r")
    calls = _spy_on_dit(monkeypatch)
    sample(result.model_dir, SampleConfig(num=2, steps=4, guidance=1.5, device="cpu"))
    assert calls and all(labels is None for _, labels, _ in calls)
    assert len({net for _, _, net in calls}) == 2  # the network and its guide


def test_two_augmented_runs_with_one_seed_end_with_identical_weights(tmp_path):
    cfg = TrainConfig(**{**AUGMENTED, "augment": 0.5, "max_steps": 3})
    train(cfg, _toy(), tmp_path / "a")
    train(cfg, _toy(), tmp_path / "b")
    train(cfg.replace(seed=1), _toy(), tmp_path / "c")
    a, b, c = (
        load_file(tmp_path / r / "model" / "transformer" / "diffusion_pytorch_model.safetensors")
        for r in "abc"
    )
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not torch.equal(a["augment_embed.weight"], c["augment_embed.weight"])
    assert a["augment_embed.weight"].any()  # the labels' map has learned something


def test_an_augmented_run_resumes_exactly_and_keeps_its_probability(tmp_path):
    data = _toy()
    cfg = TrainConfig(**{**AUGMENTED, "augment": None, "max_steps": 6, "checkpoint_every": 3})
    train(cfg, data, tmp_path / "straight")
    steps: list[int] = []
    train(cfg, data, tmp_path / "split", should_stop=lambda: len(steps) >= 3,
          on_progress=lambda step, total, m: steps.append(step))  # fmt: skip
    with pytest.raises(ConfigError, match=r"train\.augment: 0\.5 differs"):
        train(cfg.replace(augment=0.5), data, tmp_path / "split", resume=True)
    train(cfg, data, tmp_path / "split", resume=True)
    a = load_file(tmp_path / "straight" / "state" / "weights.safetensors")
    b = load_file(tmp_path / "split" / "state" / "weights.safetensors")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert json.loads((tmp_path / "split" / "config.json").read_text())["augment"] == AUTO_AUGMENT_SMALL


def test_a_run_from_before_augmentation_resumes_without_it(tmp_path):
    cfg = TrainConfig(**{**FAST, "preset": "dit-tiny", "augment": 0.0, "max_steps": 4, "checkpoint_every": 2})
    steps: list[int] = []
    train(cfg, _toy(8), tmp_path / "r", on_progress=lambda step, total, m: steps.append(step),
          should_stop=lambda: len(steps) >= 2)  # fmt: skip
    path = tmp_path / "r" / "config.json"
    old = json.loads(path.read_text())
    del old["augment"]  # as written before the field existed
    path.write_text(json.dumps(old))
    result = train(cfg.replace(augment=None), _toy(8), tmp_path / "r", resume=True)  # auto would say 0.25
    assert result.steps == 4 and json.loads(path.read_text())["augment"] == 0.0


def test_the_automatic_setting_counts_the_pictures_the_run_uses_not_the_rows_it_was_given(tmp_path):
    """A dataset whose array holds more rows than its split uses (the digits benchmark keeps all 5,000
    and trains on 300) is a small folder: the run augments it."""
    big = _toy(AUTO_AUGMENT_MAX_PICTURES + 10)
    used = np.arange(12)
    data = PreparedDataset(array=big.array, kind="image", train_indices=used[:10], val_indices=used[10:])
    cfg = TrainConfig(**{**FAST, "preset": "dit-tiny", "augment": None, "max_steps": 1})
    train(cfg, data, tmp_path / "small")
    assert json.loads((tmp_path / "small" / "config.json").read_text())["augment"] == AUTO_AUGMENT_SMALL
    train(cfg, big, tmp_path / "big")  # every row is a picture of the folder
    assert json.loads((tmp_path / "big" / "config.json").read_text())["augment"] == 0.0
