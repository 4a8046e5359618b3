"""Model folders from outside are bounded: every JSON file is read bounded and checked, and the
denoiser's size is estimated from its config before anything is built. Each refusal is one
``ModelFolderError`` line naming the file (and the field)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
import torch

from core.errors import ModelFolderError
from core.models import folder, folder_checks
from core.models.folder import DENOISER_CLASSES, load_model_folder, save_model_folder
from core.models.folder_checks import MAX_JSON_BYTES, MAX_PARAMS, denoiser_size
from core.models.presets import PRESETS, build, count_params


def _save(path: Path, preset: str = "unet-tiny", **info: Any) -> Path:
    """A tiny real model folder of ``preset`` at 16 px, grayscale."""
    torch.manual_seed(0)
    save_model_folder(build(preset, 1, 16), "eps", {"preset": preset, **info}, path)
    return path


def _clip(path: Path) -> Path:
    return _save(path, "clip-tiny", kind="clip", frames=4, fps=8.0)


def _edit(path: Path, **changes: Any) -> None:
    data = json.loads(path.read_text(encoding="utf-8"))
    data.update(changes)
    path.write_text(json.dumps(data), encoding="utf-8")


def _refused(model: Path, file: Path, field: str | None, *, load: Any = load_model_folder) -> str:
    """The one-line refusal of loading ``model``, which names ``file`` and ``field``."""
    with pytest.raises(ModelFolderError) as e:
        load(model)
    message = str(e.value)
    assert str(file) in message, message
    if field is not None:
        assert repr(field) in message, message
    assert "\n" not in message and e.value.fix, message
    return message


@pytest.fixture
def never_built(monkeypatch):
    """Fail the test if a network is constructed or weights are read: a refusal comes before any
    costly step (checked by these events, not by the wall clock)."""

    def boom(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("built a network or read weights before refusing the folder")

    from diffusers import UNet2DModel

    from core.models.dit import NoisebloomDiT

    monkeypatch.setattr(folder, "_load_weights", boom)
    for cls in (UNet2DModel, NoisebloomDiT):
        monkeypatch.setattr(cls, "from_config", classmethod(boom))


def test_resolution_of_100000_is_refused(tmp_path):
    m = _save(tmp_path / "m")
    _edit(m / "noisebloom.json", resolution=100000)
    message = _refused(m, m / "noisebloom.json", "resolution")
    assert "is 100000; a model works at 16 to 256 px" in message
    assert message.endswith("this folder is not a model Noisebloom can load")


def test_sample_size_of_the_denoiser_is_refused(tmp_path, never_built):
    m = _save(tmp_path / "m")
    _edit(m / "unet" / "config.json", sample_size=100000)
    _refused(m, m / "unet" / "config.json", "sample_size")


def test_channels_of_1e6_are_refused(tmp_path, never_built):
    m = _save(tmp_path / "m")
    _edit(m / "noisebloom.json", channels=1e6)
    assert "is 1000000.0; a model has 1 to 4 channels" in _refused(m, m / "noisebloom.json", "channels")
    m2 = _save(tmp_path / "m2")
    _edit(m2 / "unet" / "config.json", in_channels=1000000)
    _refused(m2, m2 / "unet" / "config.json", "in_channels")


def test_frames_of_1e6_are_refused(tmp_path):
    m = _clip(tmp_path / "m")
    assert load_model_folder(m).info["frames"] == 4  # the folder loads before the edit
    _edit(m / "noisebloom.json", frames=1e6)
    _refused(m, m / "noisebloom.json", "frames")
    _edit(m / "noisebloom.json", frames=4)
    _edit(m / "transformer" / "config.json", num_frames=1000000)
    _refused(m, m / "transformer" / "config.json", "num_frames")


def test_layers_per_block_of_1e6_is_refused_without_building(tmp_path, never_built):
    m = _save(tmp_path / "m")
    _edit(m / "unet" / "config.json", layers_per_block=1000000)
    _refused(m, m / "unet" / "config.json", "layers_per_block")


@pytest.mark.parametrize(
    ("preset", "changes", "field"),
    [
        ("unet-tiny", {"block_out_channels": [100000, 100000]}, "block_out_channels"),
        ("unet-tiny", {"block_out_channels": [16, 16] * 10**5}, "block_out_channels"),
        ("dit-tiny", {"depth": 1000000}, "depth"),
        ("dit-tiny", {"hidden_size": 1000000}, "hidden_size"),
        ("dit-tiny", {"num_heads": 0}, "num_heads"),  # would divide by zero
        ("dit-tiny", {"patch_size": 3}, "patch_size"),  # does not divide 16 px
    ],
)
def test_absurd_network_fields_are_refused_without_building(tmp_path, never_built, preset, changes, field):
    m = _save(tmp_path / "m", preset)
    sub = "unet" if PRESETS[preset].network == "unet" else "transformer"
    _edit(m / sub / "config.json", **changes)
    _refused(m, m / sub / "config.json", field)


@pytest.mark.parametrize(
    ("preset", "changes", "fields"),
    [
        (
            "unet-tiny",
            {"block_out_channels": [16384, 16384], "norm_num_groups": 8},
            ("block_out_channels", "layers_per_block"),
        ),
        ("dit-tiny", {"hidden_size": 8192, "depth": 1024}, ("hidden_size", "depth")),
    ],
)
def test_a_network_above_the_size_cap_is_refused_by_its_estimate(
    tmp_path, never_built, preset, changes, fields
):
    m = _save(tmp_path / "m", preset)
    sub = "unet" if PRESETS[preset].network == "unet" else "transformer"
    _edit(m / sub / "config.json", **changes)
    message = _refused(m, m / sub / "config.json", fields[0])
    assert all(repr(f) in message for f in fields) and f"at most {MAX_PARAMS:,}" in message


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="needs /dev/zero")
@pytest.mark.parametrize("name", ["unet/config.json", "noisebloom.json", "model_index.json"])
def test_json_file_linked_to_dev_zero_is_refused_without_reading_it(tmp_path, name):
    m = _save(tmp_path / "m")
    (m / name).unlink()
    (m / name).symlink_to("/dev/zero")
    assert "not a regular file" in _refused(m, m / name, None)


def test_config_of_10_mb_is_refused(tmp_path):
    m = _save(tmp_path / "m")
    config = m / "unet" / "config.json"
    # still valid JSON: read in full it would load
    config.write_text(config.read_text(encoding="utf-8") + " " * (10 * 2**20), encoding="utf-8")
    assert config.stat().st_size > MAX_JSON_BYTES
    assert "larger than 4 MB" in _refused(m, config, None)


def test_bounded_read_refuses_a_file_larger_than_its_stat_said(tmp_path, monkeypatch):
    m = _save(tmp_path / "m")
    config = m / "unet" / "config.json"
    config.write_text(config.read_text(encoding="utf-8") + " " * (MAX_JSON_BYTES + 1), encoding="utf-8")
    # a file that grew after its stat
    monkeypatch.setattr(folder_checks, "_check_regular", lambda path, st: None)
    assert "larger than 4 MB" in _refused(m, config, None)


def test_info_holding_a_list_is_refused_by_load_and_by_fine_tune(tmp_path):
    from core.training.config import TrainConfig
    from core.training.trainer import adopt_parent

    m = _save(tmp_path / "m")
    (m / "noisebloom.json").write_text("[1, 2, 3]\n", encoding="utf-8")
    assert "holds a JSON list, not an object" in _refused(m, m / "noisebloom.json", None)
    _refused(m, m / "noisebloom.json", None, load=lambda path: adopt_parent(TrainConfig(), path))


def test_fine_tune_refuses_an_out_of_range_info_field(tmp_path):
    from core.training.config import TrainConfig
    from core.training.trainer import adopt_parent

    m = _save(tmp_path / "m")
    _edit(m / "noisebloom.json", objective=["eps"])
    _refused(m, m / "noisebloom.json", "objective", load=lambda path: adopt_parent(TrainConfig(), path))


@pytest.mark.parametrize("value", ["2", 2.0, 1e6, True, -1, 0, [2], None, {"n": 2}])
def test_a_value_that_is_not_a_whole_number_in_range_is_refused(tmp_path, never_built, value):
    m = _save(tmp_path / "m")
    _edit(m / "unet" / "config.json", layers_per_block=value)
    _refused(m, m / "unet" / "config.json", "layers_per_block")


@pytest.mark.parametrize(
    ("file", "changes", "field"),
    [
        ("noisebloom.json", {"resolution": "32"}, "resolution"),
        ("noisebloom.json", {"fps": "fast"}, "fps"),
        ("noisebloom.json", {"kind": "movie"}, "kind"),
        ("noisebloom.json", {"guide": {"trained_steps": 1.5}}, "guide.trained_steps"),
        ("scheduler/scheduler_config.json", {"num_train_timesteps": 10**9}, "num_train_timesteps"),
        ("scheduler/scheduler_config.json", {"prediction_type": ["epsilon"]}, "prediction_type"),
        ("scheduler/scheduler_config.json", {"_class_name": "UNet2DModel"}, "_class_name"),
        ("model_index.json", {}, None),
    ],
)
def test_other_json_fields_are_checked(tmp_path, file, changes, field):
    m = _save(tmp_path / "m")
    if changes:
        _edit(m / file, **changes)
    else:
        (m / file).write_text('"a string"', encoding="utf-8")
    _refused(m, m / file, field)


def test_every_denoiser_kind_has_checked_fields_and_an_estimate():
    kinds = set(DENOISER_CLASSES.values())
    assert (
        kinds
        == set(folder_checks.DENOISER_FIELDS)
        == set(folder_checks.SIZE_FIELDS)
        == set(folder_checks._ESTIMATES)
    )


@pytest.mark.parametrize("resolution", [16, 256])
@pytest.mark.parametrize("preset", list(PRESETS))
def test_size_estimate_is_close_to_every_presets_real_size(tmp_path, preset, resolution):
    """Built on the meta device (no memory, so unet-gpu at 256 px costs nothing) and its config.json
    written by ``save_config``, which is what ``save_model_folder`` writes through ``save_pretrained``."""
    for channels in (1, 3):
        with torch.device("meta"):
            net = build(preset, channels, resolution)
        net.save_config(tmp_path / preset)
        path = tmp_path / preset / "config.json"
        kind = PRESETS[preset].network
        assert kind in DENOISER_CLASSES.values()
        estimate = denoiser_size(kind, type(net), json.loads(path.read_text()), path)
        real = count_params(net) + sum(b.numel() for b in net.buffers())  # DiT's position table
        assert 0.5 * real <= estimate <= 4 * real, (preset, resolution, channels, estimate, real)


@pytest.mark.parametrize("preset", ["unet-tiny", "pixel-small", "dit-tiny", "clip-tiny"])
def test_each_network_kind_still_loads(tmp_path, preset):
    info = {"kind": "clip", "frames": 4, "fps": 8.0} if PRESETS[preset].data_kind == "clip" else {}
    loaded = load_model_folder(_save(tmp_path / "m", preset, **info))
    assert count_params(loaded.network) == count_params(build(preset, 1, 16))
