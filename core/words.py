"""Wording helpers for what Noisebloom says to a person, in the window, the CLI and model cards:
counts with the right plural ("1 step", "2,814 steps") and durations ("3 min 12 s")."""

from __future__ import annotations


def count(n: float, word: str, plural: str | None = None) -> str:
    """``n`` and ``word`` in the singular for exactly 1, else ``plural`` (default ``word + "s"``).
    Whole numbers get thousands separators ("2,814 steps")."""
    one = n == 1
    shown = f"{int(n):,}" if float(n).is_integer() else f"{n:,}"
    return f"{shown} {word if one else (plural or word + 's')}"


def format_duration(seconds: float) -> str:
    """``42 s``, ``3 min 12 s``, ``2 h 05 min``."""
    s = int(round(seconds))
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60:02d} s"
    return f"{s // 3600} h {(s % 3600) // 60:02d} min"
