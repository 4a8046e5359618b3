"""Clip models train, save, load back and fine-tune through the same trainer and model folders."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from core.data.prepared import PreparedDataset
from core.errors import ConfigError
from core.metrics.metrics_log import read_metrics
from core.models.folder import load_model_folder
from core.models.video import NoisebloomVideoNet
from core.training.config import TrainConfig
from core.training.trainer import train

FRAMES, RES = 6, 16  # the clips of conftest.moving_squares


def test_a_tiny_clip_model_trains_and_its_folder_loads_back_as_a_clip_model(clip_model_dir, clip_data):
    run = clip_model_dir.parent
    losses = [r["loss"] for r in read_metrics(run / "metrics.jsonl") if r["kind"] == "train"]
    assert len(losses) == 4 and all(np.isfinite(losses))
    info = json.loads((clip_model_dir / "noisebloom.json").read_text())
    assert info["kind"] == "clip" and info["frames"] == FRAMES and info["fps"] == 6.0
    assert info["network"] == "video" and info["preset"] == "clip-tiny" and info["trained_steps"] == 4
    assert (clip_model_dir / "transformer" / "diffusion_pytorch_model.safetensors").is_file()
    assert not list(clip_model_dir.rglob("*.bin"))
    loaded = load_model_folder(clip_model_dir)
    assert isinstance(loaded.network, NoisebloomVideoNet) and loaded.objective == "flow"
    x = torch.from_numpy(np.asarray(clip_data.array[:2])).permute(0, 1, 4, 2, 3).float() / 127.5 - 1
    out = loaded.network(x, torch.tensor([500.0, 500.0])).sample
    assert out.shape == (2, FRAMES, 1, RES, RES) and out.abs().sum() > 0  # trained: no longer all zero


def test_fine_tuning_a_clip_model_continues_from_its_weights_and_records_the_parent(
    clip_model_dir, tmp_path, fast, squares
):
    data = PreparedDataset.from_array(squares(8, seed=5), "clip", val_fraction=0.0, fps=6.0)
    cfg = TrainConfig(**{**fast, "preset": "unet-tiny"}, max_steps=2, init_from=str(clip_model_dir))
    result = train(cfg, data, tmp_path / "ft")
    info = json.loads((result.model_dir / "noisebloom.json").read_text())
    assert info["parent"] == str(clip_model_dir.resolve()) and info["preset"] == "clip-tiny"
    assert info["kind"] == "clip" and result.steps == 2


def test_an_image_preset_on_clips_is_refused_naming_the_clip_presets(clip_data, tmp_path, fast):
    with pytest.raises(ConfigError, match="unet-tiny is a network for images") as e:
        train(TrainConfig(**{**fast, "preset": "unet-tiny"}, max_steps=1), clip_data, tmp_path / "r")
    assert "clip-tiny" in e.value.fix and "clip-cpu" in e.value.fix
