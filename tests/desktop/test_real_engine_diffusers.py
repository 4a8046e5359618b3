"""A diffusers pipeline folder in the window against the real engine: opened as a model folder,
then a folder of pictures dropped on it fine-tunes it (the settings show the model's own objective
and schedule, which the engine keeps whatever is sent), and the new run records it as its parent."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from desktop.engine_client import EngineClient
from desktop.model.app import AppModel
from tests.desktop.conftest import delete_now

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]


def _diffusers_folder(path: Path) -> Path:
    """A tiny DDPMPipeline folder saved by diffusers itself, made in another process (the window's
    never imports torch)."""
    code = (
        "import sys; from pathlib import Path\n"
        "from tests.core.models.test_models_diffusers_in import _pipeline\n"
        "_pipeline(Path(sys.argv[1]), 'DDPMScheduler', 'epsilon')\n"
    )
    subprocess.run([sys.executable, "-c", code, str(path)], cwd=ROOT, check=True, timeout=300)
    return path


def test_a_drop_on_a_diffusers_model_fine_tunes_it_and_records_the_parent(qapp, qtbot, tmp_path):
    from PySide6.QtCore import QSettings

    from desktop.main_window import MainWindow

    model_dir = _diffusers_folder(tmp_path / "ddpm-cifar10-32")
    pics = tmp_path / "pics"
    pics.mkdir()
    rng = np.random.default_rng(0)
    for k in range(8):
        Image.fromarray(rng.integers(0, 255, (16, 16, 3), dtype=np.uint8)).save(pics / f"p{k}.png")

    ws = tmp_path / "ws"
    client = EngineClient(ws)
    app = AppModel(client)
    win = MainWindow(
        app, QSettings(str(tmp_path / "gui.ini"), QSettings.Format.IniFormat), start_engine=False
    )
    try:
        with qtbot.waitSignal(client.hello_received, timeout=120_000):
            client.start()
        app.open_model_folder(str(model_dir))
        qtbot.waitUntil(
            lambda: any(m["path"] == str(model_dir) for m in app.library.items["models"]), timeout=60_000
        )
        model_id = next(m["id"] for m in app.library.items["models"] if m["path"] == str(model_dir))

        app.scan.set_setting("resolution", 16)
        app.finetune_from_drop(model_id, [str(pics)])
        tm = app.training
        qtbot.waitUntil(lambda: tm.base_model == model_id and tm.dataset_id is not None, timeout=120_000)
        assert (tm.config["objective"], tm.config["schedule"]) == ("eps", "linear")  # the model's own
        tm.set_config("batch_size", 4)
        tm.set_budget("steps", 2)
        tm.start()
        qtbot.waitUntil(lambda: tm.state in ("done", "stopped", "failed"), timeout=180_000)
        assert tm.state == "done", win.message.text.text()

        run = Path(ws / "runs" / tm.run_id)
        info = json.loads((run / "model" / "noisebloom.json").read_text())
        assert info["parent"] == str(model_dir.resolve())
        assert (info["objective"], info["schedule"], info["resolution"]) == ("eps", "linear", 16)
        app.library.refresh("runs")
        qtbot.waitUntil(lambda: any(r["id"] == tm.run_id for r in app.library.items["runs"]), timeout=30_000)
        row = next(r for r in app.library.items["runs"] if r["id"] == tm.run_id)
        assert row["parent_model_id"] == model_id
    finally:
        client.auto_restart = False
        client.shutdown()
        delete_now(win)
