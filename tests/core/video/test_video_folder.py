"""A dropped folder of clips: damaged videos are rejected with reasons, the rest trains a clip model."""

from __future__ import annotations

import json
from pathlib import Path

import imageio.v3 as iio
import numpy as np

from core.cli import main
from core.data.scan import scan_folder
from core.data.settings import DatasetSettings


def _video(path: Path, n: int = 12, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    frames = (rng.random((n, 32, 48, 3)) * 60).astype(np.uint8)
    for i in range(n):
        frames[i, 8:16, 2 * i : 2 * i + 8] = 255
    path.parent.mkdir(parents=True, exist_ok=True)
    iio.imwrite(path, frames, fps=10, extension=path.suffix)
    return path


def _folder(root: Path) -> Path:
    clips = root / "clips"
    _video(clips / "a.mp4", seed=1)
    _video(clips / "b.mp4", seed=2)
    good = _video(root / "tmp" / "c.mp4", seed=3).read_bytes()
    (clips / "truncated.mp4").write_bytes(good[: len(good) // 8])
    (clips / "notes.mp4").write_text("this is not a video\n")
    (clips / "empty.mov").write_bytes(b"")
    _video(clips / "short.mp4", n=2, seed=4)
    return clips


def test_damaged_videos_in_a_folder_are_rejected_each_with_a_reason(tmp_path):
    clips = _folder(tmp_path)
    settings = DatasetSettings(resolution=16, workers=1, dataset_kind="clip", clip_frames=4)
    result = scan_folder(clips, settings, cache_root=tmp_path / "ws" / "datasets")
    assert {a.name for a in result.accepted} == {"clips/a.mp4", "clips/b.mp4"}
    reasons = {r.name.removeprefix("clips/"): r.reason for r in result.rejected}
    assert set(reasons) == {"truncated.mp4", "notes.mp4", "empty.mov", "short.mp4"}
    for name, reason in reasons.items():
        assert (
            reason.startswith(f"clips/{name}") and ";" in reason
        )  # names the file, says what is wrong and the fix
    assert "a clip needs 4" in reasons["short.mp4"]
    quarantine = json.loads((result.dataset_dir / "quarantine.json").read_text())
    assert {f["name"] for f in quarantine["files"]} == {f"clips/{n}" for n in reasons}
    data = result.open()
    assert data.kind == "clip" and data.array.shape[1:] == (4, 16, 16, 3)


def test_noisebloom_train_on_a_folder_of_clips_picks_the_clip_preset(tmp_path, capsys):
    clips = _folder(tmp_path)
    run = tmp_path / "run"
    code = main(["train", str(clips), "--out", str(run), "--max-steps", "1", "--batch-size", "2", "--resolution",
                 "16", "--workspace", str(tmp_path / "ws"), "--quiet", "--preview-every", "0", "--val-every", "0"])  # fmt: skip
    assert code == 0
    info = json.loads((run / "model" / "noisebloom.json").read_text())
    assert info["preset"] == "clip-cpu" and info["kind"] == "clip" and info["frames"] == 8
