"""Moved to :mod:`core.media.png`; this name stays for core/engine/jobs/common.py and core/training/run.py."""

from core.media.png import png_bytes, read_png_params, write_png

__all__ = ["png_bytes", "read_png_params", "write_png"]
