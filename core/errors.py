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


class Cancelled(Exception):
    """Raised inside a job when the person cancelled it; never shown as an error."""
