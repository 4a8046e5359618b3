"""What the bundle carries besides Python modules, as PyInstaller ``(source, destination folder)`` pairs.

Read by ``packaging/noisebloom.spec`` and checked by ``tests/packaging/test_packaging_spec.py``:

- ``resources/`` (icons, the demo model, anything added later) under ``resources/`` in the bundle,
  where ``desktop/ui/images.py`` and ``desktop/ui/theme.py`` look for it (two folders above their
  own module); the README's screenshots stay out.
- imageio-ffmpeg's ffmpeg binary under ``imageio_ffmpeg/binaries/``, where
  ``imageio_ffmpeg.get_ffmpeg_exe()`` finds it in a frozen app (MP4 / WebM export). The
  pyinstaller-hooks-contrib hook collects it too; naming it here makes the bundle's need explicit
  and testable.

Only the standard library and imageio_ffmpeg are imported, so the test runs without PyInstaller.
"""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXCLUDED_RESOURCES = ("screenshots",)  # README pictures, not used by the app


def resource_datas(root: Path = ROOT) -> list[tuple[str, str]]:
    """One ``(file, destination folder)`` pair per file under ``root/resources``, screenshots excepted."""
    res = root / "resources"
    pairs = []
    for folder, dirs, files in os.walk(res):
        rel = Path(folder).relative_to(res)
        dirs[:] = sorted(d for d in dirs if not (rel == Path(".") and d in EXCLUDED_RESOURCES))
        for name in sorted(files):
            pairs.append((str(Path(folder) / name), str(Path("resources") / rel)))
    return pairs


def ffmpeg_datas() -> list[tuple[str, str]]:
    """imageio-ffmpeg's bundled ffmpeg executable, placed where imageio_ffmpeg looks for it."""
    import imageio_ffmpeg

    exe = Path(imageio_ffmpeg.get_ffmpeg_exe()).resolve()
    package_binaries = Path(imageio_ffmpeg.__file__).resolve().parent / "binaries"
    if exe.parent != package_binaries:
        raise SystemExit(
            f"ffmpeg is {exe}, not imageio-ffmpeg's own binary (IMAGEIO_FFMPEG_EXE is set?); "
            "unset IMAGEIO_FFMPEG_EXE and reinstall imageio-ffmpeg from a wheel that ships ffmpeg"
        )
    return [(str(exe), "imageio_ffmpeg/binaries")]


def bundle_datas(root: Path = ROOT) -> list[tuple[str, str]]:
    return resource_datas(root) + ffmpeg_datas()
