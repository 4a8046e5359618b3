"""Near-duplicates tell colours apart (a 4x4 CIELAB signature beside the grey difference hash) and
ignore the flat steps of the hash, whose bits are noise."""

from __future__ import annotations

import io
import json

import numpy as np
from PIL import Image, ImageDraw, ImageEnhance

from core.data.near_duplicates import find_near_duplicates
from core.data.preprocess import signature_pil, structure_distance
from core.data.scan import MANIFEST_NAME, scan_folder

BLUE, GREEN, ORANGE = (30, 90, 230), (40, 180, 60), (240, 150, 30)


def shape(colour: tuple[int, int, int], size: int = 48) -> Image.Image:
    """A heart-like shape (two discs over a triangle) in one colour, on a transparent background."""
    img = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    d = ImageDraw.Draw(img)
    u = size / 48
    d.ellipse((6 * u, 8 * u, 26 * u, 28 * u), fill=colour)
    d.ellipse((22 * u, 8 * u, 42 * u, 28 * u), fill=colour)
    d.polygon([(7 * u, 22 * u), (41 * u, 22 * u), (24 * u, 42 * u)], fill=colour)
    return img


def picture(size: int = 48) -> Image.Image:
    """A colour picture with several regions, composited on white (JPEG has no alpha)."""
    img = Image.new("RGB", (size, size), "white")
    img.paste(shape(BLUE, size), (0, 0), shape(BLUE, size))
    d = ImageDraw.Draw(img)
    u = size / 48
    d.rectangle((30 * u, 30 * u, 46 * u, 46 * u), fill=ORANGE)
    d.ellipse((2 * u, 32 * u, 14 * u, 44 * u), fill=GREEN)
    return img


def jpeg75(img: Image.Image) -> Image.Image:
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=75)
    return Image.open(io.BytesIO(buf.getvalue()))


def pairs(result) -> set[frozenset[str]]:
    return {frozenset((n.a.split("/")[-1], n.b.split("/")[-1])) for n in result.near_duplicates}


def test_a_blue_and_a_green_copy_of_one_shape_are_not_near_duplicates(make, cache_root, s16):
    shape(BLUE).save(make.path("p/blue.png"))
    shape(GREEN).save(make.path("p/green.png"))
    result = scan_folder(make.root / "p", s16, cache_root=cache_root)
    files = json.loads((result.dataset_dir / MANIFEST_NAME).read_text())["files"]
    a, b = (int(f["dhash"], 16) for f in files)
    assert bin(a ^ b).count("1") <= s16.near_duplicate_distance  # the grey hash alone calls them alike
    assert result.near_duplicate_pairs == 0 and not result.near_duplicates


def test_a_resaved_resized_or_brightened_colour_picture_is_still_a_near_duplicate(make, cache_root, s16):
    img = picture(64)
    img.save(make.path("p/orig.png"))
    jpeg75(img).save(make.path("p/jpeg.png"))  # PNG of the JPEG: a different file, JPEG's artefacts
    img.resize((58, 58), Image.Resampling.LANCZOS).save(make.path("p/small.png"))
    ImageEnhance.Brightness(img).enhance(1.03).save(make.path("p/bright.png"))
    result = scan_folder(make.root / "p", s16, cache_root=cache_root)
    found = pairs(result)
    for copy in ("jpeg.png", "small.png", "bright.png"):
        assert frozenset(("orig.png", copy)) in found, (copy, found)


def speckled(seed: int) -> Image.Image:
    """A blue shape on a near-white background whose 8x8 blocks (the hash's cells) vary by +-1 level."""
    rng = np.random.default_rng(seed)
    background = 250 + rng.integers(-1, 2, (8, 9, 1)).repeat(8, 0).repeat(8, 1).repeat(3, 2)
    img = Image.fromarray(background.astype(np.uint8))
    blue = shape(BLUE, 40)
    img.paste(blue, (16, 12), blue)
    return img


def test_faint_background_noise_does_not_hide_a_copy(make, cache_root, s16):
    a, b = signature_pil(speckled(1)), signature_pil(speckled(2))
    plain = bin(a.dhash ^ b.dhash).count("1")
    assert plain > s16.near_duplicate_distance  # the plain hash sees the noise, not the picture
    assert structure_distance(*(np.uint64(v) for v in (a.dhash, a.flat, b.dhash, b.flat))) <= 2
    speckled(1).save(make.path("p/one.png"))
    speckled(2).save(make.path("p/two.png"))
    assert pairs(scan_folder(make.root / "p", s16, cache_root=cache_root)) == {
        frozenset(("one.png", "two.png"))
    }


def test_structure_distance_counts_half_a_bit_for_an_edge_against_flat():
    d = np.uint64(0b1010)
    assert structure_distance(d, np.uint64(0), np.uint64(0b0110), np.uint64(0)) == 4  # two opposite edges
    assert structure_distance(d, np.uint64(0b0001), d, np.uint64(0)) == 1  # flat against an edge
    assert structure_distance(d, np.uint64(0b1100), np.uint64(0b0110), np.uint64(0b1100)) == 0  # flat both


def test_grey_pictures_are_judged_by_the_grey_hash_alone(make, cache_root, s16):
    grey = np.asarray(picture(48).convert("L"))
    make.array_image("p/light.png", grey)
    make.array_image("p/dark.png", (grey * 0.6).astype(np.uint8))  # same structure, much darker
    result = scan_folder(make.root / "p", s16, cache_root=cache_root)
    assert pairs(result) == {frozenset(("light.png", "dark.png"))}


def test_a_file_without_a_colour_signature_falls_back_to_the_grey_hash():
    files = [
        {"name": "a.png", "dhash": "00ff00ff00ff00ff", "grey": False, "colour": "00" * 48},
        {"name": "b.png", "dhash": "00ff00ff00ff00ff", "grey": False, "colour": "ff" * 48},
        {"name": "c.png", "dhash": "00ff00ff00ff00ff", "grey": False},
    ]
    near, count = find_near_duplicates(files, 6)
    assert count == 2 and {(n.a, n.b) for n in near} == {("a.png", "c.png"), ("b.png", "c.png")}


def test_an_old_manifest_without_colour_or_flat_fields_loads_and_the_scan_still_works(make, cache_root, s16):
    shape(BLUE).save(make.path("p/blue.png"))
    shape(GREEN).save(make.path("p/green.png"))
    img = picture(64)
    img.save(make.path("p/orig.png"))
    jpeg75(img).save(make.path("p/jpeg.png"))
    first = scan_folder(make.root / "p", s16, cache_root=cache_root)
    manifest_path = first.dataset_dir / MANIFEST_NAME
    manifest = json.loads(manifest_path.read_text())
    for f in manifest["files"]:
        f.pop("colour"), f.pop("flat")
    manifest_path.write_text(json.dumps(manifest))  # as an earlier version wrote it: dhash only

    again = scan_folder(make.root / "p", s16, cache_root=cache_root)
    assert len(again.accepted) == 4 and again.processed == 4  # re-decoded once to gain the signature
    assert pairs(again) == pairs(first) == {frozenset(("orig.png", "jpeg.png"))}
    assert all(
        len(f["colour"]) == 96 and len(f["flat"]) == 16
        for f in json.loads(manifest_path.read_text())["files"]
    )

    third = scan_folder(make.root / "p", s16, cache_root=cache_root)
    assert third.processed == 0 and third.reused == 4 and pairs(third) == pairs(first)
