"""Every kind of bad file is rejected with a one-line reason that names it; nothing crashes the scan."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from core.data.result import OVER_PIXEL_BUDGET
from core.data.scan import QUARANTINE_NAME, REPORT_NAME, NothingToTrainOn, scan_folder
from core.errors import DataError


def reasons(result) -> dict[str, str]:
    return {Path(r.name).name: r.reason for r in result.rejected}


def test_a_mixed_folder_accepts_the_good_and_quarantines_each_bad_file_with_its_reason(make, cache_root, s16):
    make.image("photos/good1.jpg", seed=1)
    make.image("photos/sub/good2.png", seed=2)
    make.path("photos/empty.jpg").write_bytes(b"")
    make.path("photos/notes.png").write_text("this is not a picture\n")
    whole = io.BytesIO()
    Image.fromarray(make.noise(64, 64, 3)).save(whole, "JPEG", quality=95)
    make.path("photos/cut.jpg").write_bytes(whole.getvalue()[: len(whole.getvalue()) * 6 // 10])
    whole = io.BytesIO()
    Image.fromarray(make.noise(64, 64, 4)).save(whole, "PNG")
    make.path("photos/cut.png").write_bytes(whole.getvalue()[: len(whole.getvalue()) // 2])
    make.image("photos/tiny.jpg", size=(10, 8), seed=5)
    make.path("photos/readme.txt").write_text("hello")

    result = scan_folder(make.root / "photos", s16, cache_root=cache_root)

    assert sorted(Path(a.name).name for a in result.accepted) == ["good1.jpg", "good2.png"]
    why = reasons(result)
    assert set(why) == {"empty.jpg", "notes.png", "cut.jpg", "cut.png", "tiny.jpg", "readme.txt"}
    assert "empty file" in why["empty.jpg"]
    assert "not an image despite its .png extension" in why["notes.png"] and "text" in why["notes.png"]
    assert "truncated or corrupt" in why["cut.jpg"]
    assert "truncated or corrupt" in why["cut.png"]
    assert "10x8" in why["tiny.jpg"] and "16 px" in why["tiny.jpg"] and "--small upscale" in why["tiny.jpg"]
    assert "not a picture or video" in why["readme.txt"]
    for name, reason in why.items():  # one line, naming the file, saying what to do
        assert "\n" not in reason and reason.startswith("photos/") and name in reason and ";" in reason
    quarantine = json.loads((result.dataset_dir / QUARANTINE_NAME).read_text())
    assert sorted(Path(f["name"]).name for f in quarantine["files"]) == sorted(why)
    assert result.open().array.shape == (2, 16, 16, 3)


def test_a_png_renamed_jpg_is_read_as_png_with_a_warning(make, cache_root, s16):
    make.image("d/really_png.jpg", fmt="PNG")
    result = scan_folder(make.root / "d", s16, cache_root=cache_root)
    assert len(result.accepted) == 1 and result.accepted[0].format == "png"
    assert any("is a PNG file with a .jpg extension" in w for w in result.warnings)


def test_a_huge_declared_size_is_refused_without_decoding(make, cache_root, s16):
    make.image("d/ok.png")
    bomb = make.huge_png("d/bomb.png", 100_000, 100_000)
    assert bomb.stat().st_size < 200  # nothing to decode: a decode attempt would say "truncated"
    result = scan_folder(make.root / "d", s16, cache_root=cache_root)
    why = reasons(result)["bomb.png"]
    assert "MP budget" in why and "refused without decoding" in why and "truncated" not in why
    assert {r.name: r.code for r in result.rejected} == {"d/bomb.png": OVER_PIXEL_BUDGET}
    # under Pillow's own bomb limit but over ours: our budget decides, from the header alone
    make.huge_png("e/big.png", 5000, 5000)
    with pytest.raises(DataError):
        scan_folder(make.root / "e", s16.replace(pixel_budget=1_000_000), cache_root=cache_root)
    report = json.loads(next(cache_root.glob("e-*/" + REPORT_NAME)).read_text())
    assert "5000x5000 pixels (25 MP), over the 1 MP budget" in report["rejected"][0]["reason"]
    assert report["rejected"][0]["code"] == OVER_PIXEL_BUDGET


def test_small_pictures_are_upscaled_with_a_warning_when_asked(make, cache_root, s16):
    make.image("d/tiny.jpg", size=(10, 8))
    result = scan_folder(make.root / "d", s16.replace(small_policy="upscale"), cache_root=cache_root)
    assert len(result.accepted) == 1 and result.rows == 1
    assert any("upscaled to 16 px" in w for w in result.warnings)
    assert result.stats["files"]["upscaled"] == 1


def test_a_folder_of_only_bad_files_is_a_clear_error_after_the_report_is_written(make, cache_root, s16):
    make.path("bad/a.jpg").write_bytes(b"")
    make.path("bad/b.png").write_text("nope")
    with pytest.raises(NothingToTrainOn) as info:
        scan_folder(make.root / "bad", s16, cache_root=cache_root)
    message = str(info.value)
    assert "nothing to train on" in message and "none of 2 files" in message and "\n" not in message
    assert QUARANTINE_NAME in message
    assert len(info.value.result.rejected) == 2
    folder = info.value.result.dataset_dir
    assert len(json.loads((folder / QUARANTINE_NAME).read_text())["files"]) == 2
    assert (folder / REPORT_NAME).is_file() and not (folder / "data.u8").exists()


def test_the_refusal_leads_with_the_reason_most_files_share(make, cache_root, s16):
    make.path("few/a.png").write_text("nope")  # sorts first, but is not why the folder fails
    for name in ("b", "c", "d"):
        make.image(f"few/{name}.png", size=(10, 8))
    with pytest.raises(NothingToTrainOn) as info:
        scan_folder(make.root / "few", s16, cache_root=cache_root)
    message = str(info.value)
    assert "none of 4 files is usable (3 of them like this: few/" in message, message
    assert "smaller than the 16 px training resolution" in message and "--small upscale" in message


def test_an_empty_folder_is_a_clear_error(make, cache_root, s16):
    (make.root / "empty").mkdir(parents=True)
    (make.root / "empty" / ".DS_Store").write_bytes(b"junk")
    with pytest.raises(DataError, match=r"no pictures or videos found \(1 hidden or system files skipped\)"):
        scan_folder(make.root / "empty", s16, cache_root=cache_root)
    assert list(cache_root.glob("empty-*/" + REPORT_NAME))


def test_a_missing_source_is_a_clear_error(tmp_path, cache_root, s16):
    with pytest.raises(DataError, match="no such folder or file"):
        scan_folder(tmp_path / "nowhere", s16, cache_root=cache_root)


def test_heic_and_pdf_files_are_refused_with_what_to_do(make, cache_root, s16):
    make.image("d/ok.png")
    make.path("d/IMG_1.HEIC").write_bytes(b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + b"\x00" * 64)
    make.path("d/scan.pdf").write_bytes(b"%PDF-1.4\n%....\n")
    why = reasons(scan_folder(make.root / "d", s16, cache_root=cache_root))
    assert "HEIC picture" in why["IMG_1.HEIC"] and "export it as JPEG or PNG" in why["IMG_1.HEIC"]
    assert "PDF document" in why["scan.pdf"]


def test_a_video_with_an_unknown_codec_is_refused_naming_the_codec(make, cache_root, s16):
    import cv2

    make.video("v/good.mp4", n=16)
    p = make.path("v/weird.avi")
    w = cv2.VideoWriter(str(p), cv2.VideoWriter_fourcc(*"MJPG"), 10, (32, 24))
    for i in range(12):
        w.write(np.full((24, 32, 3), i * 20, np.uint8))
    w.release()
    p.write_bytes(p.read_bytes().replace(b"MJPG", b"ZQZQ"))  # a codec no decoder knows
    make.path("v/garbage.mp4").write_bytes(b"\x00\x00\x00\x20ftypisom" + os.urandom(2000))
    result = scan_folder(make.root / "v", s16, cache_root=cache_root)
    why = reasons(result)
    assert "video codec 'ZQZQ'" in why["weird.avi"] and "libx264" in why["weird.avi"]
    assert "garbage.mp4" in why and (
        "corrupt" in why["garbage.mp4"] or "could not be decoded" in why["garbage.mp4"]
    )
    assert [Path(a.name).name for a in result.accepted] == ["good.mp4"]


def test_pipes_broken_links_and_link_loops_are_reported_not_hung_on(make, cache_root, s16):
    make.image("d/ok.png")
    os.mkfifo(make.path("d/pipe.jpg"))  # opening it would block forever
    os.symlink(make.root / "d" / "gone.png", make.path("d/broken.png"))
    os.symlink("loop_b.png", make.path("d/loop_a.png"))
    os.symlink("loop_a.png", make.path("d/loop_b.png"))
    why = reasons(scan_folder(make.root / "d", s16, cache_root=cache_root))
    assert "named pipe" in why["pipe.jpg"]
    assert "broken link" in why["broken.png"]
    assert "symbolic link loop" in why["loop_a.png"] and "symbolic link loop" in why["loop_b.png"]


PERMISSION_SCRIPT = """
import os, sys, json
from pathlib import Path
from core.data.scan import scan_folder
from core.data.settings import DatasetSettings
settings = DatasetSettings(resolution=16, workers=1)
# Scan once as root, so every lazily imported module is loaded: the Python install sits under /root.
assert not scan_folder(Path(sys.argv[1]), settings, cache_root=Path(sys.argv[2]) / "as-root").rejected
os.setgid(65534); os.setuid(65534)
r = scan_folder(Path(sys.argv[1]), settings, cache_root=Path(sys.argv[2]) / "as-nobody")
print(json.dumps({x.name: x.reason for x in r.rejected}))
"""


def test_an_unreadable_file_is_reported_as_permission_denied():
    # The tests run as root, whom chmod 000 does not stop. So the scan runs in a child process that
    # drops to the unprivileged user 'nobody' (uid 65534) first: the permission check is the kernel's.
    base = Path(os.environ.get("TMPDIR", "/tmp")) / f"noisebloom-perm-{os.getpid()}"
    shutil.rmtree(base, ignore_errors=True)
    (base / "d").mkdir(parents=True)
    try:
        Image.new("RGB", (32, 32), "red").save(base / "d" / "ok.png")
        Image.new("RGB", (32, 32), "blue").save(base / "d" / "secret.png")
        (base / "ws").mkdir()
        os.chmod(base / "ws", 0o777)
        os.chmod(base, 0o755)
        os.chmod(base / "d", 0o755)
        os.chmod(base / "d" / "ok.png", 0o644)
        os.chmod(base / "d" / "secret.png", 0o000)
        if os.geteuid() != 0:
            pytest.skip("needs root to drop to another user; as a normal user chmod 000 is enough")
        root_dir = Path(__file__).resolve().parents[3]
        out = subprocess.run(
            [sys.executable, "-c", PERMISSION_SCRIPT, str(base / "d"), str(base / "ws")],
            capture_output=True,
            text=True,
            cwd=root_dir,
            timeout=120,
            env={**os.environ, "PYTHONPATH": str(root_dir), "HOME": str(base)},
        )
        assert out.returncode == 0, out.stderr
        why = json.loads(out.stdout.strip().splitlines()[-1])
        assert list(why) == ["d/secret.png"]
        assert "permission denied" in why["d/secret.png"] and "chmod" in why["d/secret.png"]
    finally:
        shutil.rmtree(base, ignore_errors=True)
