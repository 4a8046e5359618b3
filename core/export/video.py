"""Moved to :mod:`core.media.video`; this name stays for benchmarks/bench_video.py."""

from core.media.video import FORMATS, write_video

__all__ = ["FORMATS", "write_video"]
