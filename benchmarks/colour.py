"""Colour benchmark data and the judge of colour samples (issue 23).

Two datasets that exist offline on these machines, built by this script and cached as ``.npz`` under
``/tmp/noisebloom-bench`` (never committed):

- **Icons**: the colour emoji of Unicode's list (``emoji-datasource@16.0.0``: names and categories),
  in two renderings of the same emoji: Debian's ``fonts-noto-color-emoji`` font (each glyph drawn by
  Pillow) and the 64 px PNGs of ``emoji-datasource-google@16.0.0`` (fetched with ``npm pack`` into
  the cache). Each picture is cut to its glyph's box, padded square and composited on white, so both
  renderings frame an emoji alike. Only emoji both renderings have, and that the font draws as one
  glyph, are kept. Generators train on the font rendering; the judge never sees it.
- **Photographic texture**: 64 px crops of the real photographs and video frames in Debian's
  ``opencv-doc`` sample data (colour pictures of at least 200 px), each source scaled so that its
  short side is 256 px; crops alternate between a training set and a held-out set.

The judge (:class:`EmojiJudge`) is a :class:`core.metrics.classifier.SmallClassifier` trained here
on the *other* rendering (the PNGs) to tell every emoji apart, with augmentation (scale, shift,
blur), so its features know what an emoji depicts but have never seen the generator's pictures.
FD is measured on its features against the training rendering; the scale beside it, in the same
run: the FD of the PNG rendering of the same emoji ("two artists"), and of blurred real pictures.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import tarfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from core.metrics.classifier import (  # noqa: E402
    ClassifierFeatures,
    SmallClassifier,
    predict_proba,
    train_classifier,
)
from core.metrics.frechet import frechet_distance  # noqa: E402
from core.metrics.memorization import nearest_training  # noqa: E402

CACHE = Path("/tmp/noisebloom-bench")
NOTO_FONT = Path("/usr/share/fonts/truetype/noto/NotoColorEmoji.ttf")
NOTO_SIZE = 109  # the only size the font's colour bitmaps come in
OPENCV_DATA = Path("/usr/share/doc/opencv-doc/examples/data")
NPM_NAMES = "emoji-datasource@16.0.0"
NPM_PNGS = "emoji-datasource-google@16.0.0"
DATA_VERSION = 1  # bump when the pictures change
JUDGE_VERSION = 1  # bump when the judge's network or training changes
MARGIN = 0.04  # white border around a glyph, as a fraction of the side
WHITE = 255


# --- icons ------------------------------------------------------------------------------------
def npm_package(spec: str, cache: Path = CACHE) -> Path:
    """The ``npm pack`` tarball of ``spec`` (``name@version``), fetched once into ``cache``."""
    name, _, version = spec.partition("@")
    path = cache / f"{name}-{version}.tgz"
    if not path.is_file():
        cache.mkdir(parents=True, exist_ok=True)
        r = subprocess.run(
            ["npm", "pack", spec, "--pack-destination", str(cache)], capture_output=True, text=True
        )
        if r.returncode != 0 or not path.is_file():
            raise SystemExit(
                f"npm pack {spec} failed: {r.stderr.strip()[-300:]} (needs npm and the registry)"
            )
    return path


def emoji_table(names_tgz: Path) -> list[dict]:
    """Unicode's emoji (no skin-tone variants, no bare components) with a Google image, in sort order."""
    with tarfile.open(names_tgz) as tar:
        table = json.load(tar.extractfile("package/emoji.json"))
    rows = [
        {"unified": e["unified"], "image": e["image"], "name": e["short_name"], "category": e["category"]}
        for e in table
        if e.get("has_img_google") and e["category"] != "Component"
    ]
    return sorted(rows, key=lambda e: e["unified"])


def frame_glyph(rgba, resolution: int) -> np.ndarray:
    """A glyph (RGBA Pillow image) cut to its box, padded square with a white margin, at ``resolution``."""
    from PIL import Image

    box = rgba.getbbox()
    if box is None:
        raise ValueError("empty glyph")
    glyph = rgba.crop(box)
    side = round(max(glyph.size) * (1 + 2 * MARGIN))
    canvas = Image.new("RGBA", (side, side), (WHITE, WHITE, WHITE, 255))
    canvas.alpha_composite(glyph, ((side - glyph.width) // 2, (side - glyph.height) // 2))
    small = canvas.convert("RGB").resize((resolution, resolution), Image.Resampling.LANCZOS)
    return np.asarray(small, dtype=np.uint8)


def render_noto(unified: str, resolution: int, font=None) -> np.ndarray | None:
    """The font's drawing of an emoji (code points ``"1F600"`` or ``"1F3F3-FE0F-200D-1F308"``),
    or None where the font has no single glyph for it (nothing drawn, or a sequence drawn as parts)."""
    from PIL import Image, ImageDraw, ImageFont

    font = font or ImageFont.truetype(str(NOTO_FONT), NOTO_SIZE)
    text = "".join(chr(int(c, 16)) for c in unified.split("-"))
    image = Image.new("RGBA", (480, 180), (0, 0, 0, 0))
    ImageDraw.Draw(image).text((240, 90), text, font=font, embedded_color=True, anchor="mm")
    box = image.getbbox()
    if box is None or box[2] - box[0] > 1.5 * (box[3] - box[1]):
        return None
    return frame_glyph(image, resolution)


def load_png(data: bytes, resolution: int) -> np.ndarray:
    from PIL import Image

    return frame_glyph(Image.open(io.BytesIO(data)).convert("RGBA"), resolution)


@dataclass
class Emoji:
    """Both renderings of the same emoji, row for row: uint8 (N, R, R, 3) each."""

    font: np.ndarray
    png: np.ndarray
    names: list[str]
    categories: list[str]


def load_emoji(resolution: int = 32, *, limit: int | None = None, cache: Path = CACHE) -> Emoji:
    """Every emoji both renderings have (``limit``: the first that many, for tests), cached as .npz."""
    from PIL import ImageFont

    path = cache / f"emoji_v{DATA_VERSION}_{resolution}px{'' if limit is None else f'_{limit}'}.npz"
    if path.is_file():
        with np.load(path) as z:
            return Emoji(z["font"], z["png"], list(z["names"]), list(z["categories"]))
    if not NOTO_FONT.is_file():
        raise SystemExit(f"{NOTO_FONT} is missing: apt-get install fonts-noto-color-emoji")
    rows = emoji_table(npm_package(NPM_NAMES, cache))
    font = ImageFont.truetype(str(NOTO_FONT), NOTO_SIZE)
    out_font, out_png, names, cats = [], [], [], []
    with tarfile.open(npm_package(NPM_PNGS, cache)) as tar:
        members = {m.name.rsplit("/", 1)[-1]: m for m in tar.getmembers() if "/img/google/64/" in m.name}
        for e in rows:
            if limit is not None and len(names) >= limit:
                break
            member = members.get(e["image"])
            drawn = render_noto(e["unified"], resolution, font) if member is not None else None
            if drawn is None:
                continue
            out_font.append(drawn)
            out_png.append(load_png(tar.extractfile(member).read(), resolution))
            names.append(e["name"])
            cats.append(e["category"])
    emoji = Emoji(np.stack(out_font), np.stack(out_png), names, cats)
    cache.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.stem + ".tmp.npz")
    np.savez(tmp, font=emoji.font, png=emoji.png, names=np.array(names), categories=np.array(cats))
    tmp.replace(path)
    return emoji


def subset(n: int, total: int, seed: int = 0) -> np.ndarray:
    """``n`` of ``total`` rows, sorted; the same rows for the same seed, and nested (300 within 1,000)."""
    return np.sort(np.random.default_rng(seed).permutation(total)[:n])


# --- photographic texture ----------------------------------------------------------------------
def photo_sources(data_dir: Path = OPENCV_DATA, frames_per_video: int = 12) -> list[np.ndarray]:
    """Colour photographs (at least 200 px, visibly coloured) and evenly spaced video frames, RGB uint8."""
    import cv2
    from PIL import Image

    out: list[np.ndarray] = []
    for p in sorted(data_dir.glob("*")):
        if p.suffix.lower() in (".jpg", ".jpeg", ".png"):
            try:
                img = np.asarray(Image.open(p).convert("RGB"))
            except OSError:
                continue
            if min(img.shape[:2]) >= 200 and _colourful(img):
                out.append(img)
        elif p.suffix.lower() in (".avi", ".mp4") and "bugy" not in p.name:  # Megamind_bugy: a broken copy
            cap = cv2.VideoCapture(str(p))
            n = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
            for i in np.linspace(0, max(n - 1, 0), frames_per_video).astype(int):
                cap.set(cv2.CAP_PROP_POS_FRAMES, int(i))
                ok, frame = cap.read()
                if ok and _colourful(frame):
                    out.append(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))
            cap.release()
    return out


def _colourful(img: np.ndarray) -> bool:
    x = img.astype(np.float32)
    return float(np.abs(x - x.mean(axis=2, keepdims=True)).mean()) > 6.0


def photo_crops(
    resolution: int = 32, n: int = 2400, *, seed: int = 0, cache: Path = CACHE, data_dir: Path = OPENCV_DATA
) -> np.ndarray:
    """``n`` 64 px crops (at ``resolution``), round-robin over the sources, cached as .npz."""
    from PIL import Image

    path = cache / f"photos_v{DATA_VERSION}_{resolution}px_{n}.npz"
    if path.is_file():
        with np.load(path) as z:
            return z["crops"]
    sources = []
    found = photo_sources(data_dir)
    if not found:
        raise SystemExit(f"no colour photographs under {data_dir}: apt-get install opencv-doc")
    for img in found:
        im = Image.fromarray(img)
        scale = 256 / min(im.size)
        sources.append(
            np.asarray(
                im.resize((round(im.width * scale), round(im.height * scale)), Image.Resampling.LANCZOS)
            )
        )
    rng = np.random.default_rng(seed)
    crops = np.empty((n, resolution, resolution, 3), np.uint8)
    for i in range(n):
        src = sources[i % len(sources)]
        y = rng.integers(0, src.shape[0] - 64 + 1)
        x = rng.integers(0, src.shape[1] - 64 + 1)
        crop = Image.fromarray(src[y : y + 64, x : x + 64])
        if resolution != 64:
            crop = crop.resize((resolution, resolution), Image.Resampling.LANCZOS)
        crops[i] = np.asarray(crop)
    cache.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.stem + ".tmp.npz")
    np.savez(tmp, crops=crops)
    tmp.replace(path)
    return crops


# --- judging ----------------------------------------------------------------------------------
def blurred(images: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian-blurred copies (the "blurred real pictures" of the FD scale)."""
    from PIL import Image, ImageFilter

    return np.stack(
        [np.asarray(Image.fromarray(im).filter(ImageFilter.GaussianBlur(sigma))) for im in images]
    )


def augmented_copies(images: np.ndarray, copies: int, seed: int = 0) -> np.ndarray:
    """``copies`` random variants of each picture: scale 0.8-1.1, shift up to 8%, blur 0-0.8 px of 32."""
    from PIL import Image, ImageFilter

    rng = np.random.default_rng(seed)
    n, r = len(images), images.shape[1]
    out = np.empty((n * copies, r, r, 3), np.uint8)
    for i in range(n * copies):
        im = Image.fromarray(images[i % n])
        s = rng.uniform(0.8, 1.1)
        side = max(4, round(r * s))
        scaled = im.resize((side, side), Image.Resampling.BILINEAR)
        canvas = Image.new("RGB", (r, r), (WHITE, WHITE, WHITE))
        dx, dy = (rng.uniform(-0.08, 0.08, 2) * r).round().astype(int)
        canvas.paste(scaled, ((r - side) // 2 + dx, (r - side) // 2 + dy))
        blur = rng.uniform(0, 0.8) * r / 32
        out[i] = np.asarray(canvas.filter(ImageFilter.GaussianBlur(blur)) if blur > 0.1 else canvas)
    return out


def judge_path(resolution: int, classes: int) -> Path:
    return CACHE / f"emoji_judge_v{JUDGE_VERSION}_{resolution}px_{classes}.safetensors"


def emoji_classifier(
    png: np.ndarray, *, copies: int = 12, epochs: int = 8, log=print
) -> tuple[SmallClassifier, dict]:
    """A classifier of which emoji a picture shows, trained on the PNG rendering (cached under /tmp)."""
    from safetensors.torch import load_file, save_file

    r, classes = png.shape[1], len(png)
    path = judge_path(r, classes)
    meta_path = path.with_suffix(".json")
    if path.is_file() and meta_path.is_file():
        model = SmallClassifier(channels=3, classes=classes, width=32)
        model.load_state_dict(load_file(path))
        return model.eval(), json.loads(meta_path.read_text())
    t0 = time.perf_counter()
    x = augmented_copies(png, copies)
    y = np.tile(np.arange(classes), copies)
    model = train_classifier(x, y, classes=classes, epochs=epochs, width=32, log=log)
    held = augmented_copies(png, 1, seed=99)
    meta = {
        "version": JUDGE_VERSION,
        "resolution": r,
        "classes": classes,
        "copies": copies,
        "epochs": epochs,
        "train_seconds": round(time.perf_counter() - t0, 1),
        "accuracy_png_augmented_heldout": float(
            (predict_proba(model, held).argmax(1) == np.arange(classes)).mean()
        ),
    }
    CACHE.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, tmp)
    tmp.replace(path)
    meta_path.write_text(json.dumps(meta, indent=1) + "\n")
    return model.eval(), meta


@dataclass
class EmojiJudge:
    """Scores generated pictures against a real set on the emoji classifier's features."""

    classifier: SmallClassifier
    reference: np.ndarray  # uint8 real pictures the samples are compared with (the training rendering)
    train: np.ndarray  # uint8 training pictures (memorisation)

    def __post_init__(self) -> None:
        self.features = ClassifierFeatures(self.classifier, name="emoji-classifier")
        self._ref = self.features(self.reference)

    def fd(self, images: np.ndarray) -> float:
        return float(frechet_distance(self._ref, self.features(images)))

    def score(self, images: np.ndarray) -> dict:
        mem = nearest_training(images, self.train)
        return {
            "fd": self.fd(images),
            "memorized_share": mem.share,
            "n": int(len(images)),
        }


def main(argv: list[str] | None = None) -> int:
    import argparse

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--resolution", type=int, default=32)
    p.add_argument("--threads", type=int, default=None)
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
        os.environ["OMP_NUM_THREADS"] = str(args.threads)  # fixed: the trainer's thread policy leaves it
    e = load_emoji(args.resolution)
    print(f"{len(e.names)} emoji at {args.resolution} px")
    model, meta = emoji_classifier(e.png)
    print(meta)
    crops = photo_crops(args.resolution)
    print(f"{len(crops)} photo crops")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
