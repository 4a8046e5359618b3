"""Diffusers models come in: a pipeline folder that diffusers' own ``DDPMPipeline.save_pretrained``
wrote (as a downloaded ``google/ddpm-cifar10-32`` is) samples with its own scheduler config and
fine-tunes in Noisebloom, which records it as the parent. Nothing is downloaded: the folders are a
tiny ``UNet2DModel`` saved here."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from core.cli import main
from core.media.png import read_png_params
from tests.core.metrics.conftest import tiny_unet

FAST = ["--device", "cpu", "--quiet", "--batch-size", "4", "--preview-every", "0", "--val-every", "0",
        "--memorization-every", "0", "--guide-at", "0"]  # fmt: skip


def _pipeline(
    path: Path,
    scheduler: str = "DDPMScheduler",
    prediction: str = "epsilon",
    channels: int = 3,
    size: int = 16,
    save: dict | None = None,
    **scheduler_args: object,
) -> Path:
    """A tiny unconditional diffusers pipeline folder, written by diffusers itself."""
    import diffusers

    torch.manual_seed(0)
    unet = tiny_unet(size, channels)
    args = {"num_train_timesteps": 1000, "prediction_type": prediction, **scheduler_args}
    if scheduler != "PNDMScheduler":
        args.setdefault("clip_sample", True)
    sched = getattr(diffusers, scheduler)(**args)
    diffusers.DDPMPipeline(unet=unet, scheduler=sched).save_pretrained(path, **(save or {}))
    return path


def _pictures(folder: Path, size: int = 16, mode: str = "RGB", n: int = 8) -> Path:
    folder.mkdir()
    rng = np.random.default_rng(0)
    for k in range(n):
        a = rng.integers(0, 255, (size, size, 3), dtype=np.uint8)
        Image.fromarray(a).convert(mode).save(folder / f"p{k}.png")
    return folder


@pytest.mark.parametrize(
    ("scheduler", "prediction", "channels", "size", "save", "objective"),
    [
        ("DDPMScheduler", "epsilon", 3, 16, {"safe_serialization": True}, "eps"),
        ("DDPMScheduler", "epsilon", 3, 16, {}, "eps"),  # the installed diffusers' default save
        ("DDIMScheduler", "v_prediction", 1, 32, {}, "v"),
        ("PNDMScheduler", "sample", 3, 16, {}, "x0"),
    ],
)
def test_a_diffusers_pipeline_folder_samples_with_its_own_scheduler(
    tmp_path, capsys, scheduler, prediction, channels, size, save, objective
):
    model = _pipeline(tmp_path / "m", scheduler, prediction, channels, size, save)
    assert (model / "unet" / "diffusion_pytorch_model.safetensors").is_file()
    assert not (model / "noisebloom.json").exists()
    out = tmp_path / "out"
    assert (
        main(["sample", str(model), "--out", str(out), "--num", "2", "--steps", "3", "--device", "cpu"]) == 0
    )
    printed = capsys.readouterr()
    assert "2 samples, ddim 3 steps, seed 0" in printed.err  # the sampler that ran
    png = out / "sample_00001.png"
    assert printed.out.split() == [str(out / "sample_00000.png"), str(png)]
    with Image.open(png) as im:
        assert im.size == (size, size) and im.mode == ("L" if channels == 1 else "RGB")
    params = read_png_params(png)
    assert params["model"] == str(model) and params["objective"] == objective
    assert (params["sampler"], params["steps"], params["index"]) == ("ddim", "3", "1")


def test_the_samplers_take_the_folders_own_betas_and_prediction_type(tmp_path):
    from core.models.folder import load_model_folder
    from core.sampling.samplers import build_scheduler

    model = _pipeline(
        tmp_path / "m", "DDIMScheduler", "v_prediction", beta_schedule="scaled_linear", beta_end=0.012
    )
    loaded = load_model_folder(model)
    ddim = build_scheduler("ddim", loaded.scheduler_config, loaded.objective)
    assert ddim.config.prediction_type == "v_prediction" and ddim.config.clip_sample is True
    assert ddim.config.beta_schedule == "scaled_linear" and ddim.config.beta_end == 0.012


def test_pickle_weights_are_refused_in_one_line_that_says_how_to_convert_them(tmp_path, capsys):
    model = _pipeline(tmp_path / "m", save={"safe_serialization": False})
    weights = model / "unet" / "diffusion_pytorch_model.bin"
    assert weights.is_file()
    assert main(["sample", str(model), "--out", str(tmp_path / "out"), "--num", "1", "--steps", "2"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert err.startswith(f"noisebloom: error: {weights}: pickle weights, which Noisebloom never opens")
    assert f'UNet2DModel.from_pretrained("{model / "unet"}").save_pretrained("{model / "unet"}")' in err
    assert not (tmp_path / "out").exists()

    from diffusers import UNet2DModel  # doing what the message says makes the folder load

    UNet2DModel.from_pretrained(model / "unet").save_pretrained(model / "unet")
    assert main(["sample", str(model), "--out", str(tmp_path / "out"), "--num", "1", "--steps", "2"]) == 0


def test_a_diffusers_folder_fine_tunes_records_its_parent_and_the_result_samples(
    tmp_path, monkeypatch, capsys
):
    monkeypatch.setenv("NOISEBLOOM_HOME", str(tmp_path / "ws"))
    parent = _pipeline(tmp_path / "ddpm-cifar10-32", "DDIMScheduler", "v_prediction")
    data = _pictures(tmp_path / "pics")
    run = tmp_path / "run"
    # no --resolution: the 16 px folder is scanned at the 16 px model's size
    assert (
        main(["train", str(data), "--out", str(run), "--init-from", str(parent), "--max-steps", "2", *FAST])
        == 0
    )
    assert "trained 2 steps" in capsys.readouterr().out
    info = json.loads((run / "model" / "noisebloom.json").read_text())
    assert info["parent"] == str(parent.resolve())
    assert (info["objective"], info["schedule"], info["resolution"], info["channels"]) == (
        "v",
        "linear",
        16,
        3,
    )
    config = json.loads((run / "config.json").read_text())
    assert config["init_from"] == str(parent) and config["preset"] == "unet-gpu"  # AdamW, the UNet's lr

    out = tmp_path / "out"
    assert main(["sample", str(run / "model"), "--out", str(out), "--num", "1", "--steps", "2"]) == 0
    assert read_png_params(out / "sample_00000.png")["objective"] == "v"


def test_the_window_s_settings_give_way_to_the_parent_s_objective_and_schedule(tmp_path):
    from core.training.config import TrainConfig
    from core.training.trainer import adopt_parent

    parent = _pipeline(tmp_path / "m", prediction="sample")
    sent = TrainConfig(preset="pixel-small", objective="flow", schedule="cosine")  # the window's defaults
    config = adopt_parent(sent, parent)
    assert (config.preset, config.objective, config.schedule) == ("unet-gpu", "x0", "linear")
    assert config.init_from == str(parent)


def test_a_model_of_another_size_and_colour_mode_is_refused_naming_its_size(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("NOISEBLOOM_HOME", str(tmp_path / "ws"))
    parent = _pipeline(tmp_path / "m", size=32)
    data = _pictures(tmp_path / "grey", size=16, mode="L")
    args = ["train", str(data), "--init-from", str(parent), "--max-steps", "1", *FAST]
    assert main([*args, "--out", str(tmp_path / "r1"), "--resolution", "16"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == (
        f"noisebloom: error: train.init_from: {parent} is a 32 px RGB model and the data is 16 px grayscale; "
        "fine-tune it on RGB pictures of 32 px or more, or train a new model on this data"
    )
    assert main([*args, "--out", str(tmp_path / "r2")]) == 2  # scanned at the model's 32 px: all too small
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert f"(the folder is scanned at 32 px, the size of the model {parent})" in err
    assert err.endswith("or fine-tune at another size with --resolution N")


def test_a_folder_with_other_betas_samples_but_is_not_fine_tuned(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("NOISEBLOOM_HOME", str(tmp_path / "ws"))
    parent = _pipeline(tmp_path / "m", beta_schedule="scaled_linear", beta_start=0.00085, beta_end=0.012)
    out = tmp_path / "out"
    assert (
        main(["sample", str(parent), "--out", str(out), "--num", "1", "--steps", "2", "--device", "cpu"]) == 0
    )
    capsys.readouterr()
    data = _pictures(tmp_path / "pics")
    args = [
        "train",
        str(data),
        "--out",
        str(tmp_path / "run"),
        "--init-from",
        str(parent),
        "--max-steps",
        "1",
    ]
    assert main([*args, *FAST]) == 2
    err = capsys.readouterr().err.strip()
    assert err == (
        f"noisebloom: error: train.init_from: {parent}: its scheduler noises with scaled_linear betas 0.00085 "
        "to 0.012 over 1000 steps, not the linear or cosine schedule of 1,000 steps that Noisebloom "
        "fine-tunes with; "
        "sample it as it is, or train a new model"
    )


def test_noisebloom_finetune_is_train_init_from_with_the_model_first(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("NOISEBLOOM_HOME", str(tmp_path / "ws"))
    parent = _pipeline(tmp_path / "ddpm-cifar10-32", "DDPMScheduler", "epsilon")
    run = tmp_path / "run"
    args = ["finetune", str(parent), str(_pictures(tmp_path / "pics")), "--out", str(run), "--max-steps", "2"]
    assert main([*args, *FAST]) == 0, capsys.readouterr().err
    assert json.loads((run / "model" / "noisebloom.json").read_text())["parent"] == str(parent.resolve())
    assert json.loads((run / "config.json").read_text())["init_from"] == str(parent)
