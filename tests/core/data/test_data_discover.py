"""Finding files: recursive, deterministic, no symlink loop, odd names, hidden files skipped."""

from __future__ import annotations

import json
import os

from core.data.discover import discover, sniff
from core.data.scan import dataset_id, scan_folder


def test_the_walk_is_recursive_sorted_and_skips_hidden_and_system_files(make):
    for rel in [
        "p/b.png",
        "p/a.png",
        "p/sub/z.png",
        "p/sub/deeper/c.png",
        "p/.hidden.png",
        "p/Thumbs.db",
        "p/__MACOSX/x.png",
        "p/.git/y.png",
        "p/desktop.ini",
    ]:
        make.image(rel, fmt="PNG")
    found, hidden = discover([make.root / "p"])
    assert [c.name for c in found] == ["p/a.png", "p/b.png", "p/sub/deeper/c.png", "p/sub/z.png"]
    assert hidden == 5
    assert all(c.size > 0 and c.mtime_ns > 0 and c.problem is None for c in found)


def test_a_symlink_loop_is_followed_once_and_the_scan_ends(make, cache_root, s16):
    make.image("p/a.png", seed=1)
    make.image("p/sub/b.png", seed=2)
    os.symlink("..", make.root / "p" / "sub" / "up")  # p/sub/up -> p: a loop
    os.symlink(make.root / "p" / "sub", make.root / "p" / "again")  # a second way into sub
    found, _ = discover([make.root / "p"])
    names = [c.name for c in found]
    assert sorted(names) == ["p/a.png", "p/again/b.png"] or sorted(names) == ["p/a.png", "p/sub/b.png"]
    result = scan_folder(make.root / "p", s16, cache_root=cache_root)
    assert len(result.accepted) == 2 and not result.rejected and not result.duplicates


def test_non_utf8_and_odd_names_are_scanned_and_reported_as_json(make, cache_root, s16):
    make.image("p/ok.png", seed=1)
    odd = make.image(b"p/caf\xe9 \xff.png", seed=2)  # Latin-1 bytes: not valid UTF-8
    make.image("p/spaces and ünïcødé 🎨.png", seed=3)
    make.path(b"p/bad \xfe.png").write_text("not a picture")
    assert os.path.exists(odd)
    result = scan_folder(make.root / "p", s16, cache_root=cache_root)
    assert len(result.accepted) == 3
    (bad,) = result.rejected
    assert "\ufffd" in bad.reason and "not an image" in bad.reason  # shown with a replacement character
    text = json.dumps(result.to_dict())  # the engine sends it as an event
    assert json.loads(text)["rows"] == 3
    assert "\ufffd" in result.summary()


def test_the_order_is_the_same_whatever_the_creation_order(make, tmp_path, s16):
    names = ["m.png", "a.png", "Z.png", "b/c.png", "é.png"]
    for i, n in enumerate(names):
        make.image(f"one/{n}", seed=i)
    for i, n in reversed(list(enumerate(names))):
        make.image(f"two/{n}", seed=i)
    one = scan_folder(make.root / "one", s16, cache_root=tmp_path / "w1")
    two = scan_folder(make.root / "two", s16, cache_root=tmp_path / "w2")
    assert [a.name[4:] for a in one.accepted] == [a.name[4:] for a in two.accepted]
    assert (one.open().array[:] == two.open().array[:]).all()


def test_several_folders_and_single_files_make_one_dataset(make, cache_root, s16):
    make.image("a/1.png", seed=1)
    make.image("b/2.png", seed=2)
    single = make.image("loose.jpg", seed=3)
    result = scan_folder([make.root / "a", make.root / "b", single], s16, cache_root=cache_root)
    assert [a.name for a in result.accepted] == ["a/1.png", "b/2.png", "loose.jpg"]
    assert result.dataset_id == dataset_id([make.root / "a", make.root / "b", single], s16)
    assert result.dataset_id.startswith("a-")


def test_the_workspace_inside_the_dropped_folder_is_not_scanned(make, s16):
    make.image("p/a.png")
    result = scan_folder(make.root / "p", s16, cache_root=make.root / "p" / "workspace")
    again = scan_folder(make.root / "p", s16.replace(resolution=24), cache_root=make.root / "p" / "workspace")
    assert result.stats["files"]["seen"] == 1 and again.stats["files"]["seen"] == 1


def test_sniff_names_formats_from_their_first_bytes():
    assert sniff(b"\x89PNG\r\n\x1a\n" + b"\0" * 8) == "png"
    assert sniff(b"\xff\xd8\xff\xe0") == "jpeg"
    assert sniff(b"GIF89a") == "gif"
    assert sniff(b"RIFF\0\0\0\0WEBPVP8 ") == "webp"
    assert sniff(b"RIFF\0\0\0\0AVI LIST") == "avi"
    assert sniff(b"\0\0\0\x20ftypisom") == "mp4"
    assert sniff(b"\0\0\0\x14ftypqt  ") == "mov"
    assert sniff(b"\x1a\x45\xdf\xa3") == "mkv"
    assert sniff(b"hello world") is None


def test_a_single_dropped_picture_is_a_dataset_of_one(make, cache_root, s16):
    one = make.image("IMG_0001.jpg")
    result = scan_folder(one, s16, cache_root=cache_root)
    data = result.open()
    assert data.array.shape == (1, 16, 16, 3) and data.items == ["IMG_0001.jpg"]
    assert len(data.train_indices) == 1 and len(data.val_indices) == 0


def test_a_workspace_inside_the_dropped_folder_is_skipped_with_its_samples(make, s16):
    from core.workspace.paths import datasets_dir, workspace_root

    make.image("home/photos/a.png")
    ws = workspace_root(make.root / "home" / "noisebloom")
    make.image("home/noisebloom/samples/generated.png", seed=9)  # a sample the app made: not training data
    result = scan_folder(make.root / "home", s16, cache_root=datasets_dir(ws))
    assert [a.name for a in result.accepted] == ["home/photos/a.png"]
