"""Preprocessing: modes normalised, EXIF orientation applied, crop policies, duplicates and near duplicates."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from core.data.preprocess import dhash_pil, hamming, plan_crop
from core.data.scan import scan_folder


def rows_by_name(result) -> dict[str, np.ndarray]:
    arr = np.asarray(result.open().array)
    return {a.name.split("/")[-1]: arr[a.first_row] for a in result.accepted}


def test_sixteen_bit_cmyk_palette_alpha_and_one_bit_inputs_become_8_bit_rgb(make, cache_root, s16):
    import cv2

    ramp16 = np.tile(np.linspace(0, 65535, 32), (32, 1)).astype(np.uint16)
    Image.fromarray(ramp16).save(make.path("d/grey16.png"))  # mode I;16
    rgb16 = np.zeros((32, 32, 3), np.uint16)
    rgb16[..., 2] = 65535  # OpenCV writes BGR: this is pure red
    cv2.imwrite(str(make.path("d/red48.png")), rgb16)
    Image.new("CMYK", (32, 32), (0, 255, 255, 0)).save(make.path("d/cmyk_red.jpg"), quality=95)  # red in CMYK
    pal = Image.new("P", (32, 32), 0)
    pal.putpalette([0, 0, 255] + [0, 255, 0] * 255)
    pal.info["transparency"] = 0  # index 0 (blue) is transparent: over white it must be white
    pal.save(make.path("d/transparent.png"), transparency=0)
    rgba = Image.new("RGBA", (32, 32), (0, 0, 0, 0))
    rgba.save(make.path("d/clear.png"))
    Image.new("1", (32, 32), 1).save(make.path("d/onebit.png"))

    result = scan_folder(make.root / "d", s16, cache_root=cache_root)
    assert not result.rejected, result.rejected
    rows = rows_by_name(result)
    assert result.channels == 3
    g = rows["grey16.png"][8, :, 0].astype(int)
    assert g[0] < 20 and g[-1] > 235 and (np.diff(g) >= 0).all()  # the ramp survives, scaled to 8 bits
    assert (rows["red48.png"][8, 8] == [255, 0, 0]).all()
    r, gg, b = rows["cmyk_red.jpg"][8, 8].astype(int)
    assert r > 200 and gg < 60 and b < 60
    assert (rows["transparent.png"] == 255).all()
    assert (rows["clear.png"] == 255).all()
    assert (rows["onebit.png"] == 255).all()
    grey = {a.name.split("/")[-1]: a.grey for a in result.accepted}
    assert grey["grey16.png"] and grey["onebit.png"] and not grey["cmyk_red.jpg"]


def test_a_folder_of_greyscale_pictures_gives_one_channel(make, cache_root, s16):
    make.array_image("g/a.png", make.noise(24, 24, 1, channels=1))
    rgb_grey = np.repeat(make.noise(24, 24, 2, channels=1)[..., None], 3, -1)
    make.array_image("g/b.png", rgb_grey)  # saved as RGB, but grey
    result = scan_folder(make.root / "g", s16, cache_root=cache_root)
    data = result.open()
    assert result.channels == 1 and data.channels == 1 and data.array.shape == (2, 16, 16, 1)
    assert result.stats["colour"] == {"greyscale": 2, "colour": 0}
    make.image("g/colour.png", seed=3)
    assert scan_folder(make.root / "g", s16, cache_root=cache_root).channels == 3


def test_exif_orientation_is_applied(make, cache_root, s16):
    stored = np.zeros((20, 40, 3), np.uint8)  # landscape as stored: left half red, right half blue
    stored[:, :20, 0] = 255
    stored[:, 20:, 2] = 255
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 clockwise to display": the left half ends up on top
    Image.fromarray(stored).save(make.path("e/rotated.jpg"), quality=95, exif=exif)
    Image.fromarray(stored).save(make.path("e/plain.jpg"), quality=95)
    result = scan_folder(make.root / "e", s16, cache_root=cache_root)
    rows = rows_by_name(result)
    rot = rows["rotated.jpg"].astype(int)
    assert rot[1, 8, 0] > 200 and rot[1, 8, 2] < 60  # top: red
    assert rot[14, 8, 2] > 200 and rot[14, 8, 0] < 60  # bottom: blue
    assert {(a.width, a.height) for a in result.accepted} == {(20, 40), (40, 20)}
    plain = rows["plain.jpg"].astype(int)
    assert plain[8, 1, 0] > 200 and plain[8, 14, 2] > 200  # unrotated: left red, right blue


def test_crop_policies(make, cache_root, s16):
    wide = np.zeros((32, 64, 3), np.uint8)
    wide[:, :16] = [255, 0, 0]  # red band at the left edge, green middle, blue band at the right edge
    wide[:, 16:48] = [0, 255, 0]
    wide[:, 48:] = [0, 0, 255]
    make.array_image("c/wide.png", wide)
    center = rows_by_name(scan_folder(make.root / "c", s16, cache_root=cache_root))["wide.png"]
    assert (center[:, :, 1] > 240).all()  # the centred square is all green
    box = rows_by_name(scan_folder(make.root / "c", s16.replace(crop="letterbox"), cache_root=cache_root))[
        "wide.png"
    ]
    assert (box[:4] == 0).all() and (box[-4:] == 0).all()  # black bars above and below
    assert box[8, 0, 0] > 200 and box[8, -1, 2] > 200 and box[8, 8, 1] > 200  # the whole picture in between
    rnd = scan_folder(make.root / "c", s16.replace(crop="random"), cache_root=cache_root)
    again = scan_folder(
        make.root / "c", s16.replace(crop="random", workers=1), cache_root=cache_root / "other"
    )
    assert (
        rows_by_name(rnd)["wide.png"] == rows_by_name(again)["wide.png"]
    ).all()  # drawn once, from the content


def test_random_crops_vary_between_pictures_and_stay_inside():
    rng = np.random.default_rng(0)
    boxes = [plan_crop(400, 300, 32, "random", rng).box for _ in range(20)]
    assert len({b[:2] for b in boxes}) == 20
    for left, top, right, bottom in boxes:
        assert 0 <= left and 0 <= top and right <= 400 + 1e-6 and bottom <= 300 + 1e-6
        assert 0.8 * 300 - 1e-6 <= right - left <= 300 + 1e-6


def test_exact_duplicates_keep_one_and_are_reported(make, cache_root, s16):
    a = make.image("d/a.png", seed=1)
    make.path("d/sub/copy.png").write_bytes(a.read_bytes())
    make.image("d/b.png", seed=2)
    result = scan_folder(make.root / "d", s16, cache_root=cache_root)
    assert [x.name for x in result.accepted] == ["d/a.png", "d/b.png"]
    assert [(d.name, d.duplicate_of) for d in result.duplicates] == [("d/sub/copy.png", "d/a.png")]
    assert result.rows == 2 and result.stats["files"]["duplicates"] == 1


def test_near_duplicates_are_reported_and_kept(make, cache_root, s16):
    base = np.asarray(Image.fromarray(make.noise(12, 16, 7)).resize((64, 48), Image.Resampling.BICUBIC))
    make.array_image("n/photo.png", base)
    make.array_image("n/photo_small.jpg", np.asarray(Image.fromarray(base).resize((48, 36))), quality=80)
    make.image("n/other.png", size=(64, 48), seed=99)
    result = scan_folder(make.root / "n", s16, cache_root=cache_root)
    assert result.rows == 3
    pairs = {(n.a, n.b) for n in result.near_duplicates}
    assert pairs == {("n/photo.png", "n/photo_small.jpg")}
    assert result.near_duplicates[0].distance <= s16.near_duplicate_distance


def test_dhash_is_stable_under_resizing_and_different_for_different_pictures():
    rng = np.random.default_rng(0)
    img = Image.fromarray((rng.random((30, 40, 3)) * 255).astype(np.uint8)).resize((200, 150))
    other = Image.fromarray((rng.random((30, 40, 3)) * 255).astype(np.uint8)).resize((200, 150))
    h = np.array([dhash_pil(img), dhash_pil(img.resize((100, 75))), dhash_pil(other)], dtype=np.uint64)
    d = hamming(h[:, None], h[None, :])
    assert d[0, 1] <= 4 and d[0, 2] > 16


@pytest.mark.parametrize("crop", ["center", "letterbox"])
def test_flip_is_recorded_for_training_and_off_by_default(make, cache_root, s16, crop):
    make.image("f/a.png")
    assert scan_folder(make.root / "f", s16.replace(crop=crop), cache_root=cache_root).open().flip is False
    assert (
        scan_folder(make.root / "f", s16.replace(crop=crop, flip=True), cache_root=cache_root).open().flip
        is True
    )
