"""The per-file cache, cancellation, progress, the process pool, and the loader over the cache."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

from core.data.scan import MANIFEST_NAME, scan_folder
from core.data.torch_data import make_loader
from core.errors import Cancelled


def folder_of(make, n: int = 6, rel: str = "p") -> None:
    for i in range(n):
        make.image(f"{rel}/img{i:02d}.png", seed=i)
    make.path(f"{rel}/broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")


def test_rescanning_an_unchanged_folder_decodes_nothing_and_rewrites_nothing(make, cache_root, s16):
    folder_of(make)
    first = scan_folder(make.root / "p", s16, cache_root=cache_root)
    assert first.processed == 7 and first.reused == 0
    data_file = first.dataset_dir / "data.u8"
    stamp = data_file.stat().st_mtime_ns
    again = scan_folder(make.root / "p", s16, cache_root=cache_root)
    assert again.processed == 0 and again.reused == 7
    assert again.dataset_id == first.dataset_id and data_file.stat().st_mtime_ns == stamp
    assert [r.reason for r in again.rejected] == [r.reason for r in first.rejected]
    assert (np.asarray(again.open().array) == np.asarray(first.open().array)).all()


def test_a_changed_or_added_file_is_the_only_one_decoded_again(make, cache_root, s16):
    folder_of(make)
    first = scan_folder(make.root / "p", s16, cache_root=cache_root)
    before = np.asarray(first.open().array).copy()
    make.image("p/img03.png", seed=100)  # new content (and size/mtime)
    st = (make.root / "p" / "img03.png").stat()
    os.utime(make.root / "p" / "img03.png", ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    make.image("p/new.png", seed=200)
    second = scan_folder(make.root / "p", s16, cache_root=cache_root)
    assert second.processed == 2 and second.reused == 6
    after = np.asarray(second.open().array)
    assert after.shape[0] == before.shape[0] + 1
    names = [a.name for a in second.accepted]
    assert names == [
        "p/img00.png",
        "p/img01.png",
        "p/img02.png",
        "p/img03.png",
        "p/img04.png",
        "p/img05.png",
        "p/new.png",
    ]
    assert (after[:3] == before[:3]).all() and (after[4:6] == before[4:6]).all()
    assert not (after[3] == before[3]).all()
    # the result equals a scan from nothing
    fresh = scan_folder(make.root / "p", s16, cache_root=cache_root.parent / "fresh")
    assert (np.asarray(fresh.open().array) == after).all()


def test_a_removed_original_promotes_its_duplicate(make, cache_root, s16):
    a = make.image("p/a.png", seed=1)
    make.path("p/b.png").write_bytes(a.read_bytes())
    first = scan_folder(make.root / "p", s16, cache_root=cache_root)
    assert [d.name for d in first.duplicates] == ["p/b.png"]
    row = np.asarray(first.open().array[0]).copy()
    a.unlink()
    second = scan_folder(make.root / "p", s16, cache_root=cache_root)
    assert [x.name for x in second.accepted] == ["p/b.png"] and not second.duplicates
    assert (np.asarray(second.open().array[0]) == row).all()


def test_different_settings_use_a_different_cache(make, cache_root, s16):
    folder_of(make, 2)
    a = scan_folder(make.root / "p", s16, cache_root=cache_root)
    b = scan_folder(make.root / "p", s16.replace(resolution=24), cache_root=cache_root)
    c = scan_folder(make.root / "p", s16.replace(workers=2), cache_root=cache_root)
    assert a.dataset_id != b.dataset_id and b.open().resolution == 24
    assert c.dataset_id == a.dataset_id and c.processed == 0  # workers only change the speed


def test_progress_reports_every_file_and_stopping_leaves_the_previous_cache(make, cache_root, s16):
    folder_of(make)
    seen: list[tuple[int, int, str]] = []
    first = scan_folder(
        make.root / "p", s16, cache_root=cache_root, progress=lambda d, t, n: seen.append((d, t, n))
    )
    assert [d for d, _, _ in seen] == list(range(1, 8)) and {t for _, t, _ in seen} == {7}
    assert seen[0][2] == "p/broken.jpg"
    manifest = (first.dataset_dir / MANIFEST_NAME).read_text()

    make.image("p/zz_new.png", seed=50)
    calls = {"n": 0}

    def stop() -> bool:
        calls["n"] += 1
        return calls["n"] > 3

    with pytest.raises(Cancelled):
        scan_folder(make.root / "p", s16, cache_root=cache_root, should_stop=stop)
    assert (first.dataset_dir / MANIFEST_NAME).read_text() == manifest  # untouched
    assert sorted(p.name for p in cache_root.iterdir()) == [first.dataset_id]  # no half-written folder

    def cancel(done: int, total: int, name: str) -> None:
        if done == 2:
            raise Cancelled()

    with pytest.raises(Cancelled):
        scan_folder(make.root / "p", s16, cache_root=cache_root, progress=cancel)
    assert sorted(p.name for p in cache_root.iterdir()) == [first.dataset_id]


def test_the_process_pool_gives_the_same_dataset_as_in_process_decoding(make, tmp_path, s16):
    folder_of(make, 10)
    make.video("p/clip.mp4", n=12)
    make.huge_png("p/bomb.png", 60_000, 60_000)
    s = s16.replace(as_frames=True)
    one = scan_folder(make.root / "p", s, cache_root=tmp_path / "w1")
    two = scan_folder(make.root / "p", s.replace(workers=2), cache_root=tmp_path / "w2")
    assert one.rows == two.rows == 10 + 3  # 12 frames at 10 fps, 2 per second: frames 0, 5, 10
    assert (np.asarray(one.open().array) == np.asarray(two.open().array)).all()
    assert [r.reason for r in one.rejected] == [r.reason for r in two.rejected]
    assert one.open().items == two.open().items


def test_the_loader_reads_the_cache_with_a_held_out_split(make, cache_root, s16):
    folder_of(make, 12)
    result = scan_folder(make.root / "p", s16, cache_root=cache_root)
    data = result.open()
    assert isinstance(data.array, np.memmap)  # training reads the memmap, not a copy
    assert len(data.train_indices) == 11 and len(data.val_indices) == 1
    assert not set(data.train_indices.tolist()) & set(data.val_indices.tolist())
    batch = next(iter(make_loader(data, 4, seed=0)))
    assert tuple(batch.shape) == (4, 3, 16, 16) and batch.dtype.is_floating_point
    val = next(iter(make_loader(data, 4, split="val", shuffle=False)))
    assert val.shape[0] == 1


def test_the_report_is_json_and_reads_back(make, cache_root, s16):
    folder_of(make, 3)
    result = scan_folder(make.root / "p", s16, cache_root=cache_root)
    d = json.loads(json.dumps(result.to_dict()))
    assert d["rows"] == 3 and d["dataset_id"] == result.dataset_id and len(d["rejected"]) == 1
    assert d["stats"]["files"] == {**d["stats"]["files"], "seen": 4, "accepted": 3, "rejected": 1}
    back = type(result).from_dict(d)
    assert back.to_dict() == result.to_dict()
    saved = json.loads((result.dataset_dir / "report.json").read_text())
    assert saved["accepted"] == d["accepted"]


def test_a_changed_dataset_kind_decodes_the_videos_again_as_clips(make, cache_root, s16):
    make.video("v/a.mp4", n=12)
    make.image("v/still.png")
    s = s16.replace(clip_frames=4)
    first = scan_folder(make.root / "v", s, cache_root=cache_root)
    assert first.kind == "image" and [r.name for r in first.rejected] == ["v/a.mp4"]
    (make.root / "v" / "still.png").unlink()  # now only a video: auto gives clips
    second = scan_folder(make.root / "v", s, cache_root=cache_root)
    assert second.dataset_id == first.dataset_id
    assert second.kind == "clip" and second.rows == 3 and not second.rejected and second.processed == 1
    make.image("v/still.png")  # and back: the video is refused again, the picture decoded
    third = scan_folder(make.root / "v", s, cache_root=cache_root)
    assert third.kind == "image" and third.rows == 1 and [r.name for r in third.rejected] == ["v/a.mp4"]
