"""The engine's ``export`` job for a clip model's sample set: the finished clips as MP4 / WebM / GIF
files (all, or the chosen ones) at the clip's fps, the denoising played as a clip, and bad
arguments refused before queueing with the field and the fix."""

from __future__ import annotations

import time
from pathlib import Path

import imageio.v3 as iio
import imageio_ffmpeg
import numpy as np
import pytest

from core.engine import protocol as P
from core.export.clips import read_clips
from tests.core.engine.test_engine_evaluate import InProcessEngine

FRAMES, RES = 6, 16  # the clip_model_dir fixture's clips
CLIP_FPS = 6.0


@pytest.fixture(scope="module")
def engine(tmp_path_factory, clip_model_dir):
    import torch

    torch.set_num_threads(1)
    eng = InProcessEngine(tmp_path_factory.mktemp("ws"))
    yield eng
    eng.close()


@pytest.fixture(scope="module")
def clip_set(engine, clip_model_dir) -> dict:
    """A sample set of 3 clips drawn through the engine (3 steps, trajectory recorded)."""
    cid = engine.send(
        "sample", {"model": str(clip_model_dir), "config": {"num": 3, "steps": 3, "seed": 3, "device": "cpu"}}
    )
    done = engine.wait(cid)[-1]
    assert done.type == "done", done
    return done.results


def _export(engine, args: dict) -> P.Event:
    return engine.wait(engine.send("export", args))[-1]


def _ffmpeg(path):
    gen = imageio_ffmpeg.read_frames(str(path))
    meta = next(gen)
    return meta, sum(1 for _ in gen)


@pytest.mark.parametrize("fmt", ["mp4", "webm", "gif"])
def test_the_chosen_clips_export_one_file_each_at_the_clips_fps(engine, clip_set, tmp_path, fmt):
    ss = clip_set["sample_set"]
    done = _export(
        engine,
        {
            "sample_set": ss,
            "what": "clips",
            "format": fmt,
            "indices": [0, 2],
            "scale": 2,
            "out": str(tmp_path),
        },
    )
    assert done.type == "done", done
    paths = done.results["paths"]
    assert done.results["path"] == str(tmp_path) and done.results["what"] == "clips"
    assert [p.rsplit("/", 1)[-1] for p in paths] == [f"{ss}-sample_00000.{fmt}", f"{ss}-sample_00002.{fmt}"]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(p.rsplit("/", 1)[-1] for p in paths)
    decoded = iio.imread(paths[1], index=None)
    assert decoded.shape[:3] == (FRAMES, 2 * RES, 2 * RES)  # every frame of the clip, upscaled x2
    clips, _, _ = read_clips(clip_set["out_dir"])
    err = np.abs(decoded[:, ::2, ::2, 0].astype(int) - clips[2, ..., 0].astype(int)).mean()
    assert err < 20  # clip 2, not another one (the codecs are lossy)
    if fmt == "gif":
        from PIL import Image

        with Image.open(paths[0]) as im:
            assert im.info["duration"] == 170  # the model's 6 fps, in GIF's 10 ms units
    else:
        meta, count = _ffmpeg(paths[0])
        assert count == FRAMES and meta["fps"] == pytest.approx(CLIP_FPS, rel=0.01)


def test_all_clips_export_by_default_into_the_workspace_and_delete_with_their_folder(engine, clip_set):
    done = _export(engine, {"sample_set": clip_set["sample_set"], "what": "clips", "format": "gif"})
    assert done.type == "done", done
    assert len(done.results["paths"]) == 3
    folder = done.results["path"]
    items = engine.engine.catalog.list("exports")
    assert any(x["path"] == folder and x["format"] == "gif" for x in items)
    assert Path(folder).name == done.results["export"] and Path(folder).is_dir()
    cid = engine.send("delete", {"what": "exports", "id": done.results["export"]})
    deadline = time.monotonic() + 10
    while not engine.events(cid) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert engine.events(cid)[-1].type == "result"
    assert not Path(folder).exists()


def test_the_denoising_of_a_clip_plays_the_clip_while_it_denoises(engine, clip_set, tmp_path):
    out = tmp_path / "denoising.mp4"
    done = _export(
        engine,
        {"sample_set": clip_set["sample_set"], "format": "mp4", "indices": [1], "loops": 3, "scale": 1,
         "hold_s": 0, "out": str(out)},
    )  # fmt: skip
    assert done.type == "done", done
    meta, count = _ffmpeg(out)
    # 3 plays of the clip (3 recorded steps fit in them), then the finished clip once: not the
    # image path's one frame per recorded step
    assert count == 3 * FRAMES + FRAMES
    assert meta["fps"] == pytest.approx(CLIP_FPS, rel=0.01)  # the clip's own rate by default
    assert tuple(meta["size"]) == (RES, RES)  # one clip chosen, no grid


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        ({"what": "frames"}, "argument 'what' is 'frames'; use 'denoising'"),
        ({"what": "clips", "format": "avi"}, "argument 'format' is 'avi'; use mp4, webm or gif"),
        ({"what": "clips", "indices": [0, -1]}, "argument 'indices' is [0, -1]; give a non-empty list"),
        ({"what": "clips", "indices": []}, "argument 'indices' is []"),
        ({"loops": 0}, "argument 'loops' is 0; use an integer from 1 to 100"),
        ({"fps": "fast"}, "argument 'fps' is 'fast'"),
        ({"scale": 2.5}, "argument 'scale' is 2.5"),
    ],
)
def test_bad_export_arguments_are_refused_before_queueing(engine, clip_set, args, needle):
    cid = engine.send("export", {"sample_set": clip_set["sample_set"], **args})
    evs = engine.wait(cid)
    assert [e.type for e in evs] == ["error"]  # never accepted
    assert needle in evs[0].message and "\n" not in evs[0].message


def test_clips_of_an_image_sample_set_or_a_run_are_refused(engine, tmp_path):
    folder = tmp_path / "images"
    (folder / "trajectory").mkdir(parents=True)
    np.save(folder / "trajectory" / "xt.npy", np.zeros((2, 1, 4, 4, 1), np.uint8))
    cat = engine.engine.catalog
    cat.insert("sample_sets", id="ss-img", model_id=None, model_path="/m", config={}, path=str(folder),
               n_images=1, created=time.time())  # fmt: skip
    evs = engine.wait(engine.send("export", {"sample_set": "ss-img", "what": "clips"}))
    assert evs[-1].type == "error" and "holds images, not clips" in evs[-1].message
    evs = engine.wait(engine.send("export", {"run": "r-none", "what": "clips"}))
    assert evs[-1].type == "error" and "a run has no clips to export" in evs[-1].message


def test_a_chosen_clip_that_is_not_there_fails_the_job_with_the_range(engine, clip_set, tmp_path):
    done = _export(engine, {"sample_set": clip_set["sample_set"], "what": "clips", "indices": [7],
                            "out": str(tmp_path)})  # fmt: skip
    assert done.type == "error" and "export.indices: clip 7 is not in" in done.message
    assert "pick from 0 to 2" in done.message
    assert list(tmp_path.iterdir()) == []  # nothing half-written
