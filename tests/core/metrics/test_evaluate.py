from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from core.cli import main


@pytest.fixture
def prepared_dir(tmp_path, blob_dataset):
    folder = tmp_path / "prepared"
    blob_dataset.save(folder)
    return folder


def test_evaluate_prints_every_figure_and_a_verdict(tiny_model_dir, prepared_dir, capsys):
    code = main(["evaluate", str(tiny_model_dir), "--data", str(prepared_dir), "--num", "4", "--steps", "2"])
    out = capsys.readouterr().out
    assert code == 0
    for label in ("SWD x1e3", "FD ", "KID ", "memorised ", "held-out loss", "verdict "):
        assert label in out, out
    # an untrained network denoises no better than predicting zeros
    assert "not learning — check the learning rate" in out
    card = (tiny_model_dir / "README.md").read_text(encoding="utf-8")  # the model card says it too
    assert (
        "- Memorised share (last health check): " in card and "of 4 samples copy a training picture" in card
    )


def test_evaluate_json_has_the_figures_and_matches_the_metrics(
    tiny_model_dir, prepared_dir, blob_dataset, capsys
):
    code = main(
        ["evaluate", str(tiny_model_dir), "--data", str(prepared_dir), "--num", "4", "--steps", "2", "--json"]
    )
    doc = json.loads(capsys.readouterr().out)
    assert code == 0
    assert doc["num_samples"] == 4 and doc["steps"] == 2 and doc["sampler"] == "ddim"
    assert doc["guidance"] == 0.0  # the folder has no guide network
    assert doc["reference_split"] == "val" and doc["reference_count"] == 3 and doc["train_count"] == 27
    assert doc["swd"]["swd"] > 0 and doc["fd"] > 0
    assert doc["fd_noise"] > doc["fd_real"]
    assert 0.0 <= doc["memorized_share"] <= 1.0 and len(doc["memorization"]["nearest"]) == 4
    assert len(doc["heldout_loss"]["loss"]) == 4
    assert doc["verdict"]["label"] == "not_learning"


def test_evaluate_samples_a_model_with_a_guide_guided_and_says_so(tmp_path, prepared_dir, capsys):
    from core.models.folder import save_model_folder
    from tests.core.metrics.conftest import tiny_unet

    path = tmp_path / "guided"
    save_model_folder(
        tiny_unet(), "eps", {"resolution": 16, "channels": 1}, path, guide=tiny_unet().state_dict()
    )
    code = main(["evaluate", str(path), "--data", str(prepared_dir), "--num", "4", "--steps", "2"])
    assert code == 0
    assert "samples   4 with ddim, 2 steps, autoguidance 1.5" in capsys.readouterr().out


def test_evaluate_scans_a_plain_folder_of_pictures(tiny_model_dir, tmp_path, capsys, make_blobs):
    pics = tmp_path / "pics"
    pics.mkdir()
    for i, im in enumerate(make_blobs(12, size=24, seed=4)):
        Image.fromarray(im[..., 0]).save(pics / f"p{i:02d}.png")
    code = main(["evaluate", str(tiny_model_dir), "--data", str(pics), "--num", "3", "--steps", "1",
                 "--workspace", str(tmp_path / "ws"), "--json"])  # fmt: skip
    doc = json.loads(capsys.readouterr().out)
    assert code == 0
    assert doc["reference_count"] + doc["train_count"] == 12


def test_evaluate_upscales_small_pictures_when_asked_as_train_does(
    tiny_model_dir, tmp_path, capsys, make_blobs
):
    pics = tmp_path / "small"
    pics.mkdir()
    for i, im in enumerate(make_blobs(12, size=12, seed=5)):  # the model is 16 px
        Image.fromarray(im[..., 0]).save(pics / f"p{i:02d}.png")
    (pics / "notes.png").write_text("not a picture")
    args = ["evaluate", str(tiny_model_dir), "--data", str(pics), "--num", "3", "--steps", "1",
            "--workspace", str(tmp_path / "ws")]  # fmt: skip
    assert main(args) == 2
    assert "--small upscale" in capsys.readouterr().err  # the fix it names is one evaluate takes
    assert main([*args, "--small", "upscale", "--json"]) == 0
    out = capsys.readouterr()
    doc = json.loads(out.out)
    assert doc["reference_count"] + doc["train_count"] == 12
    assert "skipped small/notes.png: is not an image" in out.err  # named, even with --json


def test_evaluate_names_a_folder_that_is_not_a_model(tmp_path, prepared_dir, capsys):
    code = main(["evaluate", str(tmp_path), "--data", str(prepared_dir)])
    assert code == 2
    assert "not a model folder" in capsys.readouterr().err


def test_compare_two_folders(tmp_path, capsys, make_blobs):
    for name, seed in (("a", 0), ("b", 1)):
        (tmp_path / name).mkdir()
        for i, im in enumerate(make_blobs(6, size=16, seed=seed)):
            Image.fromarray(np.repeat(im, 3, -1)).save(tmp_path / name / f"{i}.png")
    code = main(["compare", str(tmp_path / "a"), str(tmp_path / "a"), "--resolution", "16",
                 "--workspace", str(tmp_path / "ws"), "--json"])  # fmt: skip
    same = json.loads(capsys.readouterr().out)
    main(
        [
            "compare",
            str(tmp_path / "a"),
            str(tmp_path / "b"),
            "--resolution",
            "16",
            "--workspace",
            str(tmp_path / "ws"),
            "--json",
        ]
    )
    other = json.loads(capsys.readouterr().out)
    assert code == 0
    assert same["swd"] == pytest.approx(0.0, abs=1e-9) and same["fd"] == pytest.approx(0.0, abs=1e-6)
    assert other["swd"] > 0 and other["fd"] > 0


def test_heldout_history_comes_from_the_runs_metrics_file(tiny_model_dir):
    from core.metrics.evaluate import heldout_history

    lines = [
        {"step": 1, "loss": 0.9},
        {"step": 10, "kind": "val", "val_loss": 0.5},
        {"step": 20, "val_loss": 0.6},
    ]
    (tiny_model_dir.parent / "metrics.jsonl").write_text(
        "".join(json.dumps(r) + "\n" for r in lines) + '{"torn'
    )
    assert heldout_history(tiny_model_dir) == [0.5, 0.6]
