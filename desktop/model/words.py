"""The window's wording helpers: counts with the right plural ("1 step", "2 steps")."""

from __future__ import annotations


def count(n: float, word: str, plural: str | None = None) -> str:
    """``n`` and ``word`` in the singular for exactly 1, else ``plural`` (default ``word + "s"``).
    Whole numbers get thousands separators ("2,814 steps")."""
    one = n == 1
    shown = f"{int(n):,}" if float(n).is_integer() else f"{n:,}"
    return f"{shown} {word if one else (plural or word + 's')}"
