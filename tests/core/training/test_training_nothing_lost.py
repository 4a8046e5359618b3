"""`noisebloom train / sample / export` never overwrite or delete what the person did not name, one
trainer per run folder, and a full disk is one line with the last checkpoint intact."""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from core.cli import main
from core.data.prepared import PreparedDataset
from core.errors import NoisebloomError
from core.metrics.metrics_log import read_metrics
from core.training.checkpoint import load_state
from tests.core.training.test_training_cli import ROOT, TINY


def _train(data_dir: Path, out: Path, *extra: str) -> int:
    return main(["train", str(data_dir), "--out", str(out), "--max-steps", "2", *TINY, *extra])


def _plain_model(path: Path) -> Path:
    """A tiny plain diffusers pipeline folder, as DDPMPipeline saves it."""
    from diffusers import DDPMPipeline

    from tests.core.sampling.conftest import scheduler_for, tiny_unet

    DDPMPipeline(unet=tiny_unet(1), scheduler=scheduler_for("eps")).save_pretrained(
        path, safe_serialization=True
    )
    return path


def _tree(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_train_refuses_a_folder_that_is_not_a_run_and_changes_nothing_in_it(tmp_path, data_dir, capsys):
    out = tmp_path / "holiday"
    out.mkdir()
    (out / "photo.jpg").write_bytes(b"\xff\xd8 a photo")
    (out / "notes.txt").write_text("keep me")
    before = _tree(out)
    for flags in ((), ("--overwrite",), ("--resume",)):
        assert _train(data_dir, out, *flags) == 2
        err = capsys.readouterr().err.strip()
        assert "\n" not in err and str(out) in err and "not a Noisebloom run" in err, err
        assert _tree(out) == before and sorted(p.name for p in out.iterdir()) == ["notes.txt", "photo.jpg"]


def test_train_refuses_an_existing_run_unless_resume_or_overwrite(tmp_path, data_dir, capsys):
    out = tmp_path / "run"
    assert _train(data_dir, out) == 0
    (out / "my-notes.txt").write_text("the person's own note beside the run")
    before = _tree(out)
    assert _train(data_dir, out) == 2
    err = capsys.readouterr().err
    assert "already holds a training run" in err and "--resume" in err and "--overwrite" in err
    assert _tree(out) == before
    assert _train(data_dir, out, "--overwrite", "--seed", "3") == 0
    assert (out / "my-notes.txt").read_text() == "the person's own note beside the run"
    assert json.loads((out / "config.json").read_text())["seed"] == 3
    steps = [r["step"] for r in read_metrics(out / "metrics.jsonl") if r.get("kind") == "train"]
    assert steps == [2]  # the old run's metrics went with it (one line per 10 steps and the last)


def test_resume_and_finish_sweep_temporary_folders_a_kill_left(tmp_path, data_dir):
    out = tmp_path / "run"
    assert _train(data_dir, out, "--checkpoint-every", "1") == 0
    for leftover in (".model.k1ll3d.tmp", ".state.k1ll3d.tmp"):
        (out / leftover).mkdir()
        (out / leftover / "diffusion_pytorch_model.safetensors").write_bytes(b"half")
    assert main(["train", str(data_dir), "--out", str(out), "--resume", "--max-steps", "3", *TINY]) == 0
    assert not list(out.glob(".*.tmp"))


def test_two_trainers_on_one_run_folder_the_second_refuses(tmp_path, data_dir):
    out = tmp_path / "run"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "core.cli", "train", str(data_dir), "--out", str(out), *TINY]
    first = subprocess.Popen(
        [*cmd, "--max-steps", "400"], cwd=ROOT, env=env, stderr=subprocess.PIPE, text=True
    )
    try:
        deadline = time.monotonic() + 120
        while not (out / "metrics.jsonl").is_file() or not (out / "metrics.jsonl").stat().st_size:
            assert first.poll() is None and time.monotonic() < deadline
            time.sleep(0.2)
        for flags in ((), ("--resume",), ("--overwrite",)):
            second = subprocess.run(
                [*cmd, "--max-steps", "5", *flags],
                cwd=ROOT,
                env=env,
                capture_output=True,
                text=True,
                timeout=120,
            )
            assert second.returncode == 2, second.stderr
            line = second.stderr.strip()
            assert "\n" not in line and f"is in use by process {first.pid}" in line
    finally:
        first.wait(timeout=300)
    assert first.returncode == 0
    steps = [r["step"] for r in read_metrics(out / "metrics.jsonl") if r.get("kind") == "train"]
    assert steps == list(range(10, 401, 10))  # the first run's lines only, each step once


def test_a_full_disk_at_a_checkpoint_is_one_line_and_the_last_checkpoint_stays(
    tmp_path, data_dir, monkeypatch
):
    from core.training import checkpoint
    from core.training.config import TrainConfig
    from core.training.trainer import train

    real = checkpoint.save_file
    calls = {"n": 0}

    def disk_fills_up(tensors, path, *a, **k):
        calls["n"] += 1
        if calls["n"] > 3:  # the first checkpoint (weights, optimizer, rng) fits, the second does not
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        return real(tensors, path, *a, **k)

    monkeypatch.setattr(checkpoint, "save_file", disk_fills_up)
    config = TrainConfig(
        preset="unet-tiny", batch_size=4, max_steps=20, max_minutes=None, device="cpu", checkpoint_every=5,
        preview_every=0, val_every=0, ema_decay=0.0, guide_at=0.0,
    )  # fmt: skip
    run = tmp_path / "run"
    with pytest.raises(NoisebloomError) as e:
        train(config, PreparedDataset.open(data_dir), run)
    message = str(e.value)
    assert message.startswith(f"disk full in {run / 'state'}"), message
    assert "the checkpoint at step 5 is intact" in message and "resume" in message and "\n" not in message
    assert load_state(run / "state").step == 5
    assert not list(run.glob(".state.*.tmp"))


def test_sample_refuses_to_replace_existing_samples_unless_overwrite(tmp_path, capsys):
    model = _plain_model(tmp_path / "model")
    out = tmp_path / "out"
    out.mkdir()
    (out / "sample_00001.png").write_bytes(b"a picture the person kept")
    args = ["sample", str(model), "--out", str(out), "--num", "2", "--steps", "2", "--device", "cpu"]
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "sample_00001.png" in err and "--overwrite" in err
    assert sorted(p.name for p in out.iterdir()) == ["sample_00001.png"]
    assert (out / "sample_00001.png").read_bytes() == b"a picture the person kept"
    assert main([*args, "--overwrite"]) == 0
    assert (out / "sample_00001.png").read_bytes()[:4] == b"\x89PNG"
    new = tmp_path / "new"
    assert main(["sample", str(model), "--out", str(new), "--num", "1", "--steps", "0"]) == 2
    assert not new.exists()  # a refused or failed run leaves no folder of its own


def test_export_refuses_to_replace_a_video_or_grid_unless_overwrite(tmp_path, capsys):
    model = _plain_model(tmp_path / "model")
    samples = tmp_path / "samples"
    assert (
        main(["sample", str(model), "--out", str(samples), "--num", "2", "--steps", "2", "--trajectory"]) == 0
    )
    video, grid = tmp_path / "mine.gif", tmp_path / "grid.png"
    video.write_bytes(b"mine")
    grid.write_bytes(b"also mine")
    capsys.readouterr()
    for flag, path in (("--video", video), ("--grid", grid)):
        assert main(["export", str(samples), flag, str(path)]) == 2
        err = capsys.readouterr().err.strip()
        assert "\n" not in err and str(path) in err and "--overwrite" in err
    assert video.read_bytes() == b"mine" and grid.read_bytes() == b"also mine"
    assert main(["export", str(samples), "--video", str(video), "--grid", str(grid), "--overwrite"]) == 0
    assert video.read_bytes()[:3] == b"GIF" and grid.read_bytes()[:4] == b"\x89PNG"


def test_sample_onto_a_full_disk_is_one_line_and_leaves_no_folder(small_disk, tmp_path, capsys):
    mount, fill = small_disk
    model = _plain_model(tmp_path / "model")
    fill()
    out = mount / "out"
    assert (
        main(["sample", str(model), "--out", str(out), "--num", "2", "--steps", "2", "--device", "cpu"]) == 2
    )
    err = capsys.readouterr().err.strip().splitlines()[-1]  # after the progress lines
    assert err.startswith("noisebloom: error: disk full in ") and str(out) in err and "\n" not in err, err
    assert not out.exists()


def test_training_onto_a_full_disk_is_one_line(small_disk, data_dir, capsys):
    mount, fill = small_disk
    fill()
    assert _train(data_dir, mount / "run") == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("noisebloom: error: disk full in ") and "\n" not in err, err
    assert "no checkpoint was saved yet" in err
