"""Find the files in what a person dropped, and tell what each one really is.

:func:`discover` walks folders recursively in a deterministic order (file names sorted by their
bytes), follows symbolic links but never twice into the same folder (no symlink loop can trap it),
keeps non-UTF-8 names intact (``os.fsdecode``'s surrogate escapes), and skips hidden and system
files (dot files, ``Thumbs.db``, ``__MACOSX``, ...). Entries that cannot be files to read (broken
links, pipes, folders it may not list) come back with the problem already written down.

:func:`sniff` reads the first bytes of a file and names its real format from its signature, so a
PNG renamed ``.jpg`` is read as a PNG and a text file renamed ``.png`` is refused as not an image.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

IMAGE_EXTENSIONS = frozenset(
    {".png", ".jpg", ".jpeg", ".jpe", ".jfif", ".webp", ".bmp", ".dib", ".tif", ".tiff", ".gif"}
)
VIDEO_EXTENSIONS = frozenset({".mp4", ".m4v", ".mov", ".qt", ".avi", ".mkv", ".webm"})
# Pictures people have in their folders that this build cannot read: refused with a fix, not ignored.
UNSUPPORTED_IMAGE_EXTENSIONS = {
    ".heic": "HEIC",
    ".heif": "HEIF",
    ".avif": "AVIF",
    ".jxl": "JPEG XL",
    ".psd": "Photoshop",
    ".svg": "SVG",
    ".cr2": "camera raw",
    ".cr3": "camera raw",
    ".nef": "camera raw",
    ".arw": "camera raw",
    ".dng": "camera raw",
    ".raf": "camera raw",
    ".orf": "camera raw",
    ".rw2": "camera raw",
}
SYSTEM_NAMES = frozenset(
    {
        "thumbs.db",
        "desktop.ini",
        "ehthumbs.db",
        "__macosx",
        "$recycle.bin",
        "system volume information",
        "@eadir",
        "icon\r",
    }
)
IMAGE_FORMATS = frozenset({"png", "jpeg", "gif", "webp", "bmp", "tiff"})
VIDEO_FORMATS = frozenset({"mp4", "mov", "avi", "mkv"})


def display_name(path: str | os.PathLike[str]) -> str:
    """A printable form of a path: undecodable bytes of a non-UTF-8 name show as U+FFFD."""
    return os.fsencode(path).decode("utf-8", "replace")


@dataclass(frozen=True)
class Candidate:
    """One entry found in the sources. ``problem`` is set when it cannot be read at all."""

    path: str  # absolute; may hold surrogate escapes (non-UTF-8 names)
    name: str  # shown to people: relative to the dropped folder's parent, e.g. "photos/IMG_1.jpg"
    size: int = 0
    mtime_ns: int = 0
    problem: str | None = None


def _hidden(name: str) -> bool:
    return name.startswith((".", "~$")) or name.lower() in SYSTEM_NAMES


def _sort_key(entry: os.DirEntry[str]) -> bytes:
    return os.fsencode(entry.name)


# The refusal of a file that cannot be read for want of permission (code NO_READ_PERMISSION).
NO_PERMISSION = "cannot be read (permission denied); give yourself read permission (chmod u+r) or remove it"


def _entry_problem(path: str, err: OSError) -> str:
    if isinstance(err, PermissionError):
        return NO_PERMISSION
    if err.errno == 40:  # ELOOP
        return "is a symbolic link loop; remove the link"
    if os.path.islink(path):
        return f"is a broken link (its target {display_name(os.readlink(path))} is missing); restore the target or remove the link"
    return f"cannot be read ({err.strerror}); check the disk or remove it"


_KIND_NAMES = {
    stat.S_IFIFO: "a named pipe",
    stat.S_IFSOCK: "a socket",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
}


def _file_candidate(path: str, name: str) -> Candidate:
    try:
        st = os.stat(path)  # follows links
    except OSError as e:
        return Candidate(path, name, problem=_entry_problem(path, e))
    if not stat.S_ISREG(st.st_mode):
        what = _KIND_NAMES.get(stat.S_IFMT(st.st_mode), "not a regular file")
        return Candidate(
            path, name, problem=f"is {what}, not a file that can be read; remove it from the folder"
        )
    return Candidate(path, name, size=st.st_size, mtime_ns=st.st_mtime_ns)


def discover(sources: Sequence[Path], *, exclude: Sequence[Path] = ()) -> tuple[list[Candidate], int]:
    """All candidate files under ``sources`` in a deterministic order, and the count of hidden ones skipped."""
    excluded = set()
    for p in exclude:
        try:
            st = os.stat(p)
            excluded.add((st.st_dev, st.st_ino))
        except OSError:
            pass
    out: list[Candidate] = []
    hidden = 0
    visited: set[tuple[int, int]] = set()
    for source in sources:
        source_str = os.fspath(source)
        base = os.path.basename(source_str.rstrip(os.sep)) or source_str
        if not os.path.isdir(source_str):
            out.append(_file_candidate(source_str, base))
            continue
        stack: list[tuple[str, str]] = [(source_str, base)]
        while stack:
            folder, rel = stack.pop()
            try:
                st = os.stat(folder)
            except OSError as e:
                out.append(Candidate(folder, rel + "/", problem=_entry_problem(folder, e)))
                continue
            key = (st.st_dev, st.st_ino)
            if key in visited or key in excluded:
                continue  # a symlink loop, a folder reached twice, or the workspace itself
            visited.add(key)
            try:
                with os.scandir(folder) as it:
                    entries = sorted(it, key=_sort_key)
            except OSError as e:
                out.append(Candidate(folder, rel + "/", problem=_entry_problem(folder, e)))
                continue
            subfolders = []
            for entry in entries:
                if _hidden(entry.name):
                    hidden += 1
                    continue
                path = os.path.join(folder, entry.name)
                name = f"{rel}/{entry.name}"
                try:
                    is_dir = entry.is_dir(follow_symlinks=True)
                except OSError:
                    is_dir = False
                if is_dir:
                    subfolders.append((path, name))
                else:
                    out.append(_file_candidate(path, name))
            stack.extend(reversed(subfolders))  # depth first, in name order
    # One global order: by source, then by name (see name_key).
    order = {os.fspath(s): i for i, s in enumerate(sources)}
    out.sort(key=lambda c: (_source_index(c.path, order), name_key(c.name)))
    return out, hidden


def name_key(name: str) -> list[bytes]:
    """Sort key: folder by folder, then the file's stem before its extension, all as bytes.

    So ``IMG_1.jpg`` comes before ``IMG_1 (1).jpg`` (and is the copy an exact duplicate keeps).
    """
    parts = os.fsencode(name).split(b"/")
    stem, dot, ext = parts[-1].rpartition(b".")
    return parts[:-1] + ([stem, ext] if dot and stem else [parts[-1], b""])


def _source_index(path: str, order: dict[str, int]) -> int:
    for src, i in order.items():
        if path == src or path.startswith(src.rstrip(os.sep) + os.sep):
            return i
    return len(order)


def sniff(head: bytes) -> str | None:
    """The real format from a file's first bytes: an image or video format name, or None."""
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "gif"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    if head[:4] == b"RIFF" and head[8:12] == b"AVI ":
        return "avi"
    if head.startswith(b"BM") and len(head) >= 14:
        return "bmp"
    if head.startswith((b"II*\x00", b"MM\x00*")):
        return "tiff"
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return "mkv"
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand in (b"heic", b"heix", b"hevc", b"heim", b"heis", b"mif1", b"msf1"):
            return "heic"
        if brand in (b"avif", b"avis"):
            return "avif"
        return "mov" if brand == b"qt  " else "mp4"
    if head[4:8] in (b"moov", b"mdat", b"wide", b"free", b"skip", b"pnot"):
        return "mov"
    return None


def describe_content(head: bytes) -> str:
    """A few words about bytes that are no known image or video (for the rejection reason)."""
    if head.startswith(b"%PDF"):
        return "it is a PDF document"
    if head.startswith(b"PK\x03\x04"):
        return "it is a ZIP archive or office document"
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        return "its content is no known picture or video format"
    if text and all(ch.isprintable() or ch in "\r\n\t" for ch in text):
        return "it contains text"
    return "its content is no known picture or video format"
