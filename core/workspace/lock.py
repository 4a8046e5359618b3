"""One writer per folder: an OS lock on ``<folder>/.lock`` for the engine's workspace and a trainer's run.

The lock is the operating system's advisory lock (``fcntl.flock`` on POSIX, ``msvcrt.locking`` on
Windows) on an open file, so the OS releases it when the process ends in any way, ``kill -9``
included: a stale lock cannot outlive its holder. The holder writes its process id into the file
so that a refusal can name it. Written by hand rather than with the ``filelock`` package because
filelock truncates the file on every attempt to lock it, which erases the holder's process id.

Within one process the lock is re-entrant (:func:`hold` counts), so the command line can take a run
folder's lock before it checks the folder and the trainer can take it again.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

from core.errors import NoisebloomError

LOCK_NAME = ".lock"
_PID_OFFSET = 64  # the pid is written past the locked byte (Windows locks byte ranges, not files)


class FolderLocked(NoisebloomError):
    """Another live process holds the folder's lock; ``pid`` names it when it could be read."""

    def __init__(self, message: str, *, fix: str | None = None, pid: int | None = None) -> None:
        super().__init__(message, fix=fix)
        self.pid = pid


def _try_lock(fd: int) -> bool:
    if sys.platform == "win32":  # pragma: no cover - exercised on Windows only
        import msvcrt

        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True
    import fcntl

    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _read_pid(fd: int) -> int | None:
    try:
        os.lseek(fd, _PID_OFFSET, os.SEEK_SET)
        raw = os.read(fd, 32)
        return int(raw.split(b"\n")[0].strip() or b"x")
    except (OSError, ValueError):
        return None


class _Held:
    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.count = 1


_held: dict[Path, _Held] = {}
_guard = threading.Lock()


def _key(folder: Path) -> Path:
    return (Path(folder).expanduser().resolve()) / LOCK_NAME


def acquire(folder: str | os.PathLike[str], what: str, fix: str) -> None:
    """Lock ``folder`` for this process or raise :class:`FolderLocked` naming the holder's pid."""
    path = _key(Path(folder))
    with _guard:
        if path in _held:
            _held[path].count += 1
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        if not _try_lock(fd):
            pid = _read_pid(fd)
            os.close(fd)
            holder = f"process {pid}" if pid else "another process"
            raise FolderLocked(f"{what} {path.parent} is in use by {holder}", fix=fix, pid=pid)
        with contextlib.suppress(OSError):
            os.ftruncate(fd, _PID_OFFSET)
            os.lseek(fd, _PID_OFFSET, os.SEEK_SET)
            os.write(fd, f"{os.getpid()}\n".encode())
        _held[path] = _Held(fd)


def release(folder: str | os.PathLike[str]) -> None:
    path = _key(Path(folder))
    with _guard:
        held = _held.get(path)
        if held is None:
            return
        held.count -= 1
        if held.count == 0:
            del _held[path]
            os.close(held.fd)  # closing the descriptor releases the OS lock


@contextlib.contextmanager
def hold(folder: str | os.PathLike[str], what: str, fix: str) -> Iterator[None]:
    acquire(folder, what, fix)
    try:
        yield
    finally:
        release(folder)


def holder(folder: str | os.PathLike[str]) -> int | None:
    """The pid of another live process that holds ``folder``'s lock (0 if it cannot be read), else None."""
    path = _key(Path(folder))
    with _guard:
        if path in _held:
            return None
    try:
        fd = os.open(path, os.O_RDWR)
    except OSError:
        return None
    try:
        if _try_lock(fd):
            return None  # nobody holds it (closing the descriptor releases our test lock)
        return _read_pid(fd) or 0
    finally:
        os.close(fd)
