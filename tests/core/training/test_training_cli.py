"""`noisebloom train`: in-process runs, a real SIGKILL mid-run and --resume, two gloo processes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from core.cli import main
from core.metrics.metrics_log import read_metrics
from core.models.folder import load_model_folder

ROOT = Path(__file__).resolve().parents[3]
TINY = ["--preset", "unet-tiny", "--batch-size", "4", "--device", "cpu", "--quiet", "--preview-every", "0",
        "--val-every", "0"]  # fmt: skip


def test_train_command_writes_the_model(tmp_path, data_dir, capsys):
    rc = main(["train", str(data_dir), "--out", str(tmp_path / "run"), "--max-steps", "2", *TINY])
    out = capsys.readouterr().out
    assert rc == 0, out
    assert "trained 2 steps, loss" in out and str(tmp_path / "run" / "model") in out
    assert load_model_folder(tmp_path / "run" / "model").info["trained_steps"] == 2
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["max_steps"] == 2 and config["max_minutes"] is None and config["objective"] == "flow"


def test_train_command_scans_a_folder_of_pictures(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("NOISEBLOOM_HOME", str(tmp_path / "ws"))
    pics = tmp_path / "pics"
    pics.mkdir()
    rng = np.random.default_rng(1)
    for i in range(6):
        Image.fromarray((rng.random((40, 40, 3)) * 255).astype(np.uint8)).save(pics / f"p{i}.png")
    (pics / "broken.png").write_bytes(b"not a png")
    rc = main(
        ["train", str(pics), "--out", str(tmp_path / "run"), "--max-steps", "1", "--resolution", "16", *TINY]
    )
    err = capsys.readouterr().err
    assert rc == 0, err
    assert "skipped" in err and "broken.png" in err  # named with its reason, even with --quiet
    info = load_model_folder(tmp_path / "run" / "model").info
    assert (info["resolution"], info["channels"]) == (16, 3)


def test_train_command_upscales_small_pictures_when_asked(tmp_path, capsys, monkeypatch):
    # the rejection names --small upscale as the fix; noisebloom train takes it like dataset scan does
    monkeypatch.setenv("NOISEBLOOM_HOME", str(tmp_path / "ws"))
    pics = tmp_path / "pics"
    pics.mkdir()
    for i in range(4):
        Image.fromarray(np.full((12, 12), 40 * i, np.uint8)).save(pics / f"d{i}.png")
    run = ["train", str(pics), "--max-steps", "1", "--resolution", "16", *TINY]
    assert main([*run, "--out", str(tmp_path / "a")]) != 0
    err = capsys.readouterr().err
    assert "smaller than the 16 px training resolution" in err and "--small upscale" in err
    assert main([*run, "--out", str(tmp_path / "b"), "--small", "upscale"]) == 0
    assert load_model_folder(tmp_path / "b" / "model").info["resolution"] == 16


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (
            ["--resolution", "7"],
            "noisebloom: error: train.resolution: 7 is not a multiple of 8; use 16..256 in steps of 8",
        ),
        (["--batch-size", "0"], "noisebloom: error: train.batch_size: 0 is outside 1..4096"),
        (
            ["--preset", "unet-xxl"],
            "noisebloom: error: train.preset: unknown preset 'unet-xxl'; use one of unet-tiny",
        ),
    ],
)
def test_bad_arguments_give_one_line_errors(tmp_path, data_dir, capsys, extra, message):
    args = ["train", str(data_dir), "--out", str(tmp_path / "run"), "--max-steps", "1", *TINY[4:], *extra]
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(message) and "\n" not in err, err


def test_init_from_a_folder_that_is_not_a_model(tmp_path, data_dir, capsys):
    (tmp_path / "notamodel").mkdir()
    rc = main(["train", str(data_dir), "--out", str(tmp_path / "run"), "--init-from", str(tmp_path / "notamodel"),
               "--max-steps", "1", *TINY])  # fmt: skip
    err = capsys.readouterr().err.strip()
    assert rc == 2 and "notamodel: not a model folder (no model_index.json); pass a model folder" in err


def _env() -> dict[str, str]:
    return {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}


@pytest.mark.slow
def test_kill_9_mid_run_leaves_a_loadable_checkpoint_and_resume_continues(tmp_path, data_dir):
    run = tmp_path / "run"
    cmd = [sys.executable, "-m", "core.cli", "train", str(data_dir), "--out", str(run), *TINY,
           "--checkpoint-every", "3", "--log-every", "1"]  # fmt: skip
    proc = subprocess.Popen([*cmd, "--max-steps", "1000"], cwd=ROOT, env=_env(),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # fmt: skip
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            records = read_metrics(run / "metrics.jsonl")
            if records and records[-1]["step"] >= 7:  # two checkpoints written, a third on its way
                break
            assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    saved = load_model_folder(run / "model").info["trained_steps"]
    state_step = json.loads((run / "state" / "trainer.json").read_text())["step"]
    assert saved >= 3 and saved % 3 == 0 and state_step % 3 == 0
    r = subprocess.run([*cmd, "--max-steps", str(state_step + 4), "--resume"], cwd=ROOT, env=_env(),
                       capture_output=True, text=True, timeout=300)  # fmt: skip
    assert r.returncode == 0, r.stderr[-2000:]
    steps = [rec["step"] for rec in read_metrics(run / "metrics.jsonl") if rec["kind"] == "train"]
    assert steps == list(
        range(1, state_step + 5)
    )  # the curve continues from the checkpoint, no gap, no repeat
    assert load_model_folder(run / "model").info["trained_steps"] == state_step + 4


@pytest.mark.slow
def test_two_gloo_processes_end_with_identical_weights(tmp_path, data_dir):
    torchrun = Path(sys.executable).with_name("torchrun")
    r = subprocess.run(
        [str(torchrun), "--nproc_per_node", "2", "-m", "core.cli", "train", str(data_dir), "--out",
         str(tmp_path / "run"), "--max-steps", "3", *TINY],
        cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr[-3000:]
    line = next(ln for ln in r.stdout.splitlines() if "processes, weights" in ln)
    assert line.startswith("2 processes, weights identical: ")
    a, b = line.split(": ")[1].split()
    assert a == b
    state = json.loads((tmp_path / "run" / "state" / "trainer.json").read_text())
    assert state["extra"]["world"] == 2 and state["position"] == 3 * 4 * 2  # each process took its own 4 rows


def test_the_help_states_the_trainers_own_defaults():
    """Every "default X" in `noisebloom train --help` is TrainConfig's value (the help is written out
    by hand so that --help never imports the trainer)."""
    import re

    from core.cli import build_parser
    from core.training.config import TrainConfig

    train = build_parser()._subparsers._group_actions[0].choices["train"]
    stated = {}
    for action in train._actions:
        m = re.search(r"default ([\w.]+)", action.help or "")
        if m and action.dest in TrainConfig.__dataclass_fields__:
            stated[action.dest] = m.group(1)
    defaults = TrainConfig()
    assert {"batch_size", "max_minutes", "ema_decay", "adam_beta2", "guide_at", "objective"} <= set(stated)
    for field, text in stated.items():
        value = getattr(defaults, field)
        assert text == (f"{value:g}" if isinstance(value, float) else str(value)), field
    assert "pixel-small (default)" in next(a.help for a in train._actions if a.dest == "preset")
    assert defaults.preset == "pixel-small"
