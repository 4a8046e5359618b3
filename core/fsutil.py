"""Atomic file writes: write to a temporary name in the same folder, fsync, rename into place.

A process killed at any moment leaves either the previous file or the new one, never half of
one (docs/architecture.md, "The workspace on disk"). Directories are replaced the same way: build
the new one beside the old, then swap with two renames.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path


def _fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, 0o666 & ~_umask())  # mkstemp makes 0600; a saved file gets the usual mode
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_dir(path.parent)


def atomic_write_text(path: str | Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


@contextlib.contextmanager
def atomic_directory(path: str | Path) -> Iterator[Path]:
    """Yield a fresh temporary folder; on success it replaces ``path`` (old contents removed).

    On an exception the temporary folder is removed and ``path`` is untouched. A kill between
    the two renames leaves ``path.old-*`` beside ``path``; :func:`recover_directory` restores it.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    try:
        yield tmp
        for root, _dirs, files in os.walk(tmp):
            for name in files:
                with open(os.path.join(root, name), "rb") as f:
                    os.fsync(f.fileno())
        old = None
        if path.exists():
            old = path.with_name(f".{path.name}.old-{os.getpid()}")
            if old.exists():
                shutil.rmtree(old)
            os.replace(path, old)
        os.replace(tmp, path)
        _fsync_dir(path.parent)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def recover_directory(path: str | Path) -> None:
    """Undo a swap interrupted between its two renames, and drop stale temporary folders."""
    path = Path(path)
    parent = path.parent
    if not parent.is_dir():
        return
    olds = sorted(parent.glob(f".{path.name}.old-*"))
    if not path.exists() and olds:
        os.replace(olds[-1], path)
        olds = olds[:-1]
    for stale in olds + list(parent.glob(f".{path.name}.*.tmp")):
        if stale.is_dir():
            shutil.rmtree(stale, ignore_errors=True)
        else:
            with contextlib.suppress(OSError):
                stale.unlink()


def refuse_existing(paths: Iterable[str | Path], *, fix: str) -> None:
    """Raise :class:`~core.errors.OutputExists` when any of ``paths`` exists (nothing is replaced
    that the person did not ask to replace); the error lists every one of them."""
    from core.errors import OutputExists

    existing = [Path(p) for p in paths if os.path.lexists(p)]
    if existing:
        more = f" and {len(existing) - 1} more" if len(existing) > 1 else ""
        raise OutputExists(
            f"{existing[0]}{more}: already exist{'s' if not more else ''}", fix=fix, paths=existing
        )
