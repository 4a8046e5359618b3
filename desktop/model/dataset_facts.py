"""What a scan report says about a dataset, in the window's words: the Data area's Statistics tab.

:func:`facts` gives (heading, sentence) pairs: files, picture sizes, shapes, colour, formats, clips,
what is stored; :func:`advice` a few modest lines on what that means for training; and
:func:`short_side_histogram` the counts behind the Statistics tab's small histogram.
"""

from __future__ import annotations

import statistics
from collections import Counter

from core.words import count
from desktop.model.scan import Picture, ScanReport

SIZE_EDGES = (16, 32, 64, 128, 256, 512, 1024, 2048)  # bins of the short side, in px
SMALL_SET = 200  # rows under this: a model tends to copy the pictures (the Health area measures it)


def _px(p: Picture) -> str:
    return f"{p.width} × {p.height} px"


def _item_word(report: ScanReport) -> str:
    return "clip" if report.kind == "clip" else "picture"


def _near_pairs(report: ScanReport) -> int:
    files = report.stats.get("files") if isinstance(report.stats.get("files"), dict) else {}
    return int(files.get("near_duplicate_pairs") or len(report.near_duplicates))


def _videos(report: ScanReport) -> dict:
    v = report.stats.get("video")
    return v if isinstance(v, dict) and v.get("videos") else {}


def _bin(side: int) -> int:
    return sum(side >= e for e in SIZE_EDGES)


def _bin_label(k: int) -> str:
    if k == 0:
        return f"< {SIZE_EDGES[0]}"
    if k == len(SIZE_EDGES):
        return f"≥ {SIZE_EDGES[-1]}"
    return f"{SIZE_EDGES[k - 1]}–{SIZE_EDGES[k] - 1}"


def short_side_histogram(pictures: list[Picture]) -> list[tuple[str, int, int | None]]:
    """(label, pictures, the bin's upper edge in px, None for the last) for each bin of the short
    side, from the smallest bin that holds a picture to the largest (empty bins between included)."""
    sides = [min(p.width, p.height) for p in pictures if p.width and p.height]
    if not sides:
        return []
    n = Counter(_bin(s) for s in sides)
    lo, hi = min(n), max(n)
    edge = [*SIZE_EDGES, None]
    return [(_bin_label(k), n.get(k, 0), edge[k]) for k in range(lo, hi + 1)]


def facts(report: ScanReport) -> list[tuple[str, str]]:
    """(heading, sentence) pairs describing the dataset; a fact the report lacks is left out."""
    out: list[tuple[str, str]] = []
    pics = [p for p in report.pictures if p.width and p.height]
    n_files = len(report.accepted)
    what = "video" if report.kind == "clip" else "file"
    bits = [f"{count(n_files, what)} accepted", f"{len(report.rejected)} rejected"]
    if report.duplicates:
        bits.append(f"{count(len(report.duplicates), 'exact duplicate')} left out (one copy is kept)")
    out.append(("Files", ", ".join(bits)))
    pairs = _near_pairs(report)
    if pairs:
        out.append(
            (
                "Near-duplicates",
                f"{count(pairs, 'pair')} of pictures that look almost the same (a resized or re-saved copy, "
                "a burst shot); both are kept, so training sees that picture about twice as often",
            )
        )
    if pics:
        by_area = sorted(pics, key=lambda p: p.width * p.height)
        mw = int(statistics.median(p.width for p in pics))
        mh = int(statistics.median(p.height for p in pics))
        sizes = (
            f"{_px(pics[0])}, all of them"
            if len({(p.width, p.height) for p in pics}) == 1
            else f"smallest {_px(by_area[0])}, median {mw} × {mh} px, largest {_px(by_area[-1])}"
        )
        out.append(("Sizes", sizes))
        aspects = [p.width / p.height for p in pics]
        shapes = [
            (sum(a > 1.05 for a in aspects), "landscape"),
            (sum(0.95 <= a <= 1.05 for a in aspects), "square"),
            (sum(a < 0.95 for a in aspects), "portrait"),
        ]
        out.append(("Shapes", ", ".join(f"{n} {w}" for n, w in shapes if n)))
        grey = sum(p.grey for p in pics)
        colour = (
            "all in colour"
            if grey == 0
            else "all greyscale"
            if grey == len(pics)
            else f"{len(pics) - grey} in colour, {grey} greyscale"
        )
        out.append(("Colour", colour))
        formats = Counter(p.format.upper() for p in pics)
        out.append(("Formats", ", ".join(f"{n} {f}" for f, n in formats.most_common())))
    v = _videos(report)
    if report.kind == "clip" and report.rows:
        rate = f" at {report.fps:g} fps" if report.fps else ""
        cut = f"cut from {count(int(v['videos']), 'video')}" if v else ""
        length = f" ({float(v['duration_s']):.1f} s in all)" if v and v.get("duration_s") else ""
        clip = f"{count(report.rows, 'clip')} of {count(report.frames or 0, 'frame')}{rate}"
        out.append(("Clips", " ".join(x for x in (clip, cut) if x) + length))
    elif v:
        out.append(("Videos", f"frames taken as pictures from {count(int(v['videos']), 'video')}"))
    if report.rows:
        res = int(report.settings.get("resolution") or 0)
        size = f" of {res} × {res} px" if res else ""
        kept = (
            f"; {report.train} for training, {report.val} held out to check for copying" if report.val else ""
        )
        tone = ", greyscale" if report.channels == 1 else ""
        out.append(("Stored", f"{count(report.rows, _item_word(report))}{size}{tone}{kept}"))
    return out


def advice(report: ScanReport) -> list[str]:
    """A few modest lines on what the dataset means for training (none when nothing stands out)."""
    lines: list[str] = []
    pics = [p for p in report.pictures if p.width and p.height]
    res = int(report.settings.get("resolution") or 0)
    n = report.rows
    word = _item_word(report)
    if n and n < SMALL_SET:
        lines.append(
            f"{count(n, word)} is a small set: a model trained on it tends to reproduce its {word}s "
            "closely rather than make new ones; the Health area shows how closely"
        )
    if pics and res:
        sides = sorted(min(p.width, p.height) for p in pics)
        median = sides[len(sides) // 2]
        if median < res:
            lines.append(
                f"Most {word}s are smaller than {res} px (median short side {median} px): "
                "they are upscaled and will look soft; a lower Resolution suits them"
            )
        elif res < 256 and sides[0] >= 4 * res:
            lines.append(
                f"Every {word} is at least {sides[0]} px on its short side and is shrunk to {res} px: "
                "a higher Resolution keeps more detail, at about four times the compute per doubling"
            )
        crop = str(report.settings.get("crop") or "center")
        wide = sum(max(p.width, p.height) >= 1.5 * min(p.width, p.height) for p in pics)
        if crop == "center" and wide * 2 >= len(pics):
            lines.append(
                f"{count(wide, word)} of {len(pics)} are far from square: the center crop cuts their "
                "edges off; Letterbox keeps the whole picture"
            )
    pairs = _near_pairs(report)
    if n and pairs >= max(3, n // 20):
        lines.append(
            f"{count(pairs, 'near-duplicate pair')}: those {word}s count twice in training; "
            "remove the copies if that is not wanted"
        )
    if pics and all(p.grey for p in pics):
        lines.append("All the pictures are greyscale: the model learns, and makes, greyscale pictures")
    if report.kind == "clip" and report.frames and report.fps:
        lines.append(
            f"Each clip shows {report.frames / report.fps:.1f} s of motion "
            f"({count(report.frames, 'frame')} at {report.fps:g} fps)"
        )
    return lines
