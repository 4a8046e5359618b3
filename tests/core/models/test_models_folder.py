"""The model-folder contract: save / load round trip, diffusers compatibility, refusals."""

from __future__ import annotations

import json

import pytest
import torch

from core.errors import ModelFolderError
from core.models.folder import load_model_folder, save_model_folder
from core.models.presets import build


def _net(preset: str = "unet-tiny", channels: int = 1, resolution: int = 16) -> torch.nn.Module:
    torch.manual_seed(0)
    net = build(preset, channels, resolution)
    with torch.no_grad():  # make the output depend on every weight (DiT starts at zero)
        for p in net.parameters():
            p.add_(torch.randn_like(p) * 0.02)
    return net.eval()


@pytest.mark.parametrize(
    ("preset", "objective"),
    [("unet-tiny", "eps"), ("unet-tiny", "flow"), ("pixel-cpu", "flow"), ("dit-tiny", "v")],
)
def test_round_trip_gives_identical_outputs(tmp_path, preset, objective):
    net = _net(preset)
    save_model_folder(
        net, objective, {"preset": preset, "trained_steps": 7}, tmp_path / "m", schedule="cosine"
    )
    loaded = load_model_folder(tmp_path / "m")
    x = torch.randn(2, 1, 16, 16, generator=torch.Generator().manual_seed(1))
    t = torch.tensor([10, 900])
    with torch.no_grad():
        assert torch.equal(net(x, t).sample, loaded.network(x, t).sample)
    assert loaded.objective == objective
    assert loaded.info["preset"] == preset and loaded.info["trained_steps"] == 7
    assert loaded.info["resolution"] == 16 and loaded.info["channels"] == 1
    assert loaded.info["schedule"] == (None if objective == "flow" else "cosine")
    want = "FlowMatchEulerDiscreteScheduler" if objective == "flow" else "DDPMScheduler"
    assert loaded.scheduler_config["_class_name"] == want
    assert type(loaded.make_scheduler()).__name__ == want


@pytest.mark.slow  # a fresh interpreter importing diffusers: 15-60 s on a loaded 2-core machine
def test_diffusers_loads_and_samples_our_folders_without_noisebloom(tmp_path):
    import subprocess
    import sys

    objectives = ("eps", "v", "x0", "flow")
    for objective in objectives:
        save_model_folder(_net(), objective, {"preset": "unet-tiny"}, tmp_path / objective)
    code = (
        "import sys, torch\n"
        "from diffusers import DiffusionPipeline\n"
        f"for name in {objectives!r}:\n"
        f"    p = DiffusionPipeline.from_pretrained({str(tmp_path)!r} + '/' + name)\n"
        "    out = p(batch_size=2, num_inference_steps=3, output_type='np', generator=torch.manual_seed(0)).images\n"
        "    assert out.shape == (2, 16, 16, 1), out.shape\n"
        "    print(type(p.scheduler).__name__, p.scheduler.config.get('prediction_type', '-'))\n"
        "assert not any(m == 'core' or m.startswith('core.') for m in sys.modules), 'noisebloom was imported'\n"
    )
    r = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300, cwd=tmp_path
    )
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout.split() == [
        "DDPMScheduler",
        "epsilon",
        "DDPMScheduler",
        "v_prediction",
        "DDPMScheduler",
        "sample",
        "FlowMatchEulerDiscreteScheduler",
        "-",
    ]


def test_plain_diffusers_folder_loads_with_inferred_info(tmp_path):
    from diffusers import DDPMPipeline, DDPMScheduler

    net = _net(resolution=24)
    sched = DDPMScheduler(prediction_type="v_prediction", beta_schedule="squaredcos_cap_v2")
    DDPMPipeline(unet=net, scheduler=sched).save_pretrained(tmp_path / "plain", safe_serialization=True)
    loaded = load_model_folder(tmp_path / "plain")
    assert loaded.objective == "v"
    assert loaded.info["schedule"] == "cosine"
    assert loaded.info["resolution"] == 24 and loaded.info["network"] == "unet"


def test_save_replaces_an_existing_folder_atomically(tmp_path):
    save_model_folder(_net(), "eps", {"trained_steps": 1}, tmp_path / "m")
    save_model_folder(_net(), "flow", {"trained_steps": 2}, tmp_path / "m")
    assert load_model_folder(tmp_path / "m").info["trained_steps"] == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m"]  # no temporary folders left behind


def test_folder_that_is_not_a_model_is_refused_in_one_line(tmp_path):
    (tmp_path / "pics").mkdir()
    with pytest.raises(ModelFolderError) as e:
        load_model_folder(tmp_path / "pics")
    assert "not a model folder" in str(e.value) and str(tmp_path / "pics") in str(e.value)
    assert "\n" not in str(e.value) and e.value.fix


def test_run_folder_error_points_at_its_model(tmp_path):
    save_model_folder(_net(), "eps", {}, tmp_path / "run" / "model")
    with pytest.raises(ModelFolderError, match=r"run/model"):
        load_model_folder(tmp_path / "run")


def test_pickle_weights_are_refused_and_never_unpickled(tmp_path):
    save_model_folder(_net(), "eps", {}, tmp_path / "m")
    unet = tmp_path / "m" / "unet"
    (unet / "diffusion_pytorch_model.safetensors").unlink()

    class Boom:
        def __reduce__(self):
            return (exec, ("raise SystemExit('unpickled!')",))

    import pickle

    (unet / "diffusion_pytorch_model.bin").write_bytes(pickle.dumps(Boom()))
    with pytest.raises(ModelFolderError) as e:
        load_model_folder(tmp_path / "m")
    assert "pickle" in str(e.value) and "diffusion_pytorch_model.bin" in str(e.value)
    assert "safetensors" in str(e.value) and "\n" not in str(e.value)


def test_unknown_denoiser_class_is_refused(tmp_path):
    save_model_folder(_net(), "eps", {}, tmp_path / "m")
    index = json.loads((tmp_path / "m" / "model_index.json").read_text())
    index["unet"] = ["os", "system"]
    (tmp_path / "m" / "model_index.json").write_text(json.dumps(index))
    with pytest.raises(ModelFolderError, match="not a network Noisebloom can load"):
        load_model_folder(tmp_path / "m")


def test_pixel_unet_folder_names_its_shipped_network_and_pipeline(tmp_path):
    """Plain diffusers loads it with trust_remote_code (tests/core/models/test_models_plain_diffusers.py)."""
    net = _net("pixel-cpu")
    save_model_folder(net, "flow", {"preset": "pixel-cpu"}, tmp_path / "m")
    index = json.loads((tmp_path / "m" / "model_index.json").read_text())
    assert index["_class_name"] == ["pipeline", "NoisebloomPipeline"]
    assert index["unet"] == ["noisebloom_pixel_unet", "NoisebloomPixelUNet"]
    assert (tmp_path / "m" / "unet" / "noisebloom_pixel_unet.py").is_file()
    assert load_model_folder(tmp_path / "m").info["network"] == "pixel-unet"
