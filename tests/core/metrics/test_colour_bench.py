"""benchmarks/colour.py: the colour benchmarks' data builders, on a handful of generated pictures
(and on a few real glyphs where Debian's colour emoji font is installed)."""

from __future__ import annotations

import io
import json
import sys
import tarfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

ROOT = Path(__file__).resolve().parents[3]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks import colour  # noqa: E402


def _glyph(fill: tuple[int, int, int], size: int = 64, box: tuple[int, int, int, int] = (8, 16, 40, 48)):
    im = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    ImageDraw.Draw(im).ellipse(box, fill=(*fill, 255))
    return im


def _png_bytes(im: Image.Image) -> bytes:
    buf = io.BytesIO()
    im.save(buf, format="PNG")
    return buf.getvalue()


def test_a_glyph_is_framed_centred_on_white_whatever_its_position():
    a = colour.frame_glyph(_glyph((0, 0, 255), box=(4, 4, 30, 30)), 32)
    b = colour.frame_glyph(_glyph((0, 0, 255), box=(30, 20, 56, 46)), 32)
    assert a.shape == (32, 32, 3) and a.dtype == np.uint8
    assert (a[0, 0] == 255).all() and (a[16, 16] == (0, 0, 255)).all()  # white corner, blue centre
    assert np.abs(a.astype(int) - b.astype(int)).max() <= 2  # the same glyph, wherever it was drawn


def test_emoji_table_keeps_emoji_with_a_google_image_and_drops_components(tmp_path):
    table = [
        {
            "unified": "1F600",
            "image": "1f600.png",
            "short_name": "grinning",
            "category": "Smileys & Emotion",
            "has_img_google": True,
        },
        {
            "unified": "1F3FB",
            "image": "1f3fb.png",
            "short_name": "skin-tone-2",
            "category": "Component",
            "has_img_google": True,
        },
        {
            "unified": "1F4A9",
            "image": "1f4a9.png",
            "short_name": "hankey",
            "category": "Smileys & Emotion",
            "has_img_google": False,
        },
    ]
    tgz = tmp_path / "names.tgz"
    data = json.dumps(table).encode()
    with tarfile.open(tgz, "w:gz") as tar:
        info = tarfile.TarInfo("package/emoji.json")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    assert [e["name"] for e in colour.emoji_table(tgz)] == ["grinning"]


def test_png_rendering_composites_alpha_on_white():
    im = colour.load_png(_png_bytes(_glyph((0, 200, 0))), 16)
    assert im.shape == (16, 16, 3) and (im[0, 0] == 255).all() and im[8, 8, 1] > 150 and im[8, 8, 0] < 60


def test_subsets_are_nested_and_augmented_copies_are_deterministic():
    small, large = colour.subset(300, 1855), colour.subset(1000, 1855)
    assert len(small) == 300 and set(small) <= set(large)
    pics = np.stack([colour.frame_glyph(_glyph(c), 16) for c in ((255, 0, 0), (0, 0, 255))])
    a, b = colour.augmented_copies(pics, 3, seed=1), colour.augmented_copies(pics, 3, seed=1)
    assert a.shape == (6, 16, 16, 3) and (a == b).all()
    assert not (a[0] == a[2]).all()  # two variants of one picture differ


def test_photo_crops_come_from_colour_pictures_only(tmp_path):
    src = tmp_path / "data"
    src.mkdir()
    rng = np.random.default_rng(0)
    stripes = np.zeros((240, 300, 3), np.uint8)
    stripes[:, ::40] = (255, 0, 0)
    stripes[::30, :] = (0, 0, 255)
    Image.fromarray(stripes).save(src / "colour.png")
    Image.fromarray(np.full((240, 300, 3), 128, np.uint8)).save(src / "grey.png")
    Image.fromarray(rng.integers(0, 256, (100, 100, 3), dtype=np.uint8)).save(src / "small.png")
    assert len(colour.photo_sources(src)) == 1
    crops = colour.photo_crops(16, 6, cache=tmp_path / "cache", data_dir=src)
    assert crops.shape == (6, 16, 16, 3) and crops[..., 0].std() > 5
    with pytest.raises(SystemExit, match="opencv-doc"):
        colour.photo_crops(16, 6, cache=tmp_path / "other", data_dir=tmp_path / "missing")


@pytest.mark.skipif(not colour.NOTO_FONT.is_file(), reason="fonts-noto-color-emoji is not installed")
def test_the_font_draws_single_glyphs_and_refuses_sequences_it_lacks():
    heart = colour.render_noto("2764-FE0F", 32)
    blue = colour.render_noto("1F499", 32)
    assert heart is not None and heart.shape == (32, 32, 3) and (heart[0, 0] == 255).all()
    assert heart[16, 16, 0] > 150 and blue[16, 16, 2] > 150  # a red heart and a blue one
    assert colour.render_noto("1F600-1F600-1F600", 32) is None  # three faces are not one glyph
