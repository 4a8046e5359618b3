"""Errors a person can act on.

Every failure that reaches a person (CLI, engine ``error`` event, GUI) is a
:class:`NoisebloomError`: one line that names the file or field and says what to do about it.
Anything else escaping a job is a bug; the engine reports it with its traceback as log detail.
"""

from __future__ import annotations


class NoisebloomError(Exception):
    """A one-line, actionable failure: ``"<what>: <problem>; <fix>"``."""

    def __init__(self, message: str, *, fix: str | None = None) -> None:
        self.problem = message.strip()
        self.fix = fix.strip() if fix else None
        super().__init__(self.problem if not self.fix else f"{self.problem}; {self.fix}")


class ConfigError(NoisebloomError, ValueError):
    """A configuration value is invalid. The message names the field and the fix."""


class DataError(NoisebloomError):
    """A dataset cannot be used (for example: nothing in it can be trained on)."""


class ModelFolderError(NoisebloomError):
    """A folder is not a model Noisebloom can load, or holds unsafe (pickle) weights."""


class OutputExists(NoisebloomError):
    """An output would replace files the person did not ask to replace; ``paths`` lists them all."""

    def __init__(self, message: str, *, fix: str | None = None, paths: list | None = None) -> None:
        super().__init__(message, fix=fix)
        self.paths = list(paths or [])


class Cancelled(Exception):
    """Raised inside a job when the person cancelled it; never shown as an error."""


_DISK_FULL = (28, 122)  # ENOSPC, EDQUOT (Linux); the numbers keep this module free of imports
_NO_PERMISSION = (1, 13, 30)  # EPERM, EACCES, EROFS


def resource_error(
    e: BaseException, where: object, *, intact: str | None = None, fix: str | None = None
) -> NoisebloomError | None:
    """A disk-full, out-of-memory or permission failure as one line naming ``where`` and what is intact
    ("disk full in RUN/state; the checkpoint at step 10 is intact; free space and resume"); None
    for any other error, which stays a bug to report. Safetensors and SQLite report a full disk
    in their message, not as an ``OSError``, so the text is read as well."""
    text = str(e)
    errno = getattr(e, "errno", None) if isinstance(e, OSError) else None
    lowered = text.lower()
    if errno in _DISK_FULL or "no space left" in lowered or "database or disk is full" in lowered:
        problem, default_fix = "disk full", "free some space and try again"
    elif errno in _NO_PERMISSION or (errno is None and "permission denied" in lowered):
        problem = "read-only file system" if errno == 30 else "no permission to write"
        default_fix = "choose a folder you can write, or change its permissions"
    elif isinstance(e, MemoryError) or (
        type(e).__name__ in ("OutOfMemoryError", "RuntimeError")
        and ("out of memory" in lowered or "can't allocate memory" in lowered)
    ):
        problem, default_fix = "out of memory", "use a smaller batch, fewer samples or a smaller model"
    else:
        return None
    filename = getattr(e, "filename", None)
    place = f"{where}" + (f" ({filename})" if filename and str(filename) != str(where) else "")
    message = f"{problem} in {place}" + (f"; {intact}" if intact else "")
    return NoisebloomError(message, fix=fix or default_fix)
