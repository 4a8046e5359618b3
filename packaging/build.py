"""Build the Linux app: the PyInstaller bundle, its icon set and menu entry, and the tarball.

    .venv/bin/python packaging/build.py [--skip-pyinstaller] [--no-tarball]

(``make package`` runs this.) Produces:

- ``dist/noisebloom/``: the one-folder bundle (``dist/noisebloom/noisebloom`` is the app, the engine
  and the command line), from ``packaging/noisebloom.spec``;
- ``build/linux/``: ``install.sh``, ``noisebloom.desktop``, ``icons/hicolor/...`` and ``INSTALL.txt``;
- ``dist/noisebloom-<version>-linux-<arch>.tar.gz``: one folder holding all of the above, which a
  person unpacks and either runs in place (``./noisebloom/noisebloom``) or installs (``./install.sh``).

The bundle holds whatever torch this environment has (CPU by default; a CUDA wheel installed in
its place gives a CUDA bundle). dist/ and build/ are git-ignored.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DIST = ROOT / "dist"
BUNDLE = DIST / "noisebloom"
WORK = ROOT / "build" / "pyinstaller"
EXTRAS = ROOT / "build" / "linux"


def version() -> str:
    sys.path.insert(0, str(ROOT))
    from core import __version__

    return __version__


def tarball_name() -> str:
    return f"noisebloom-{version()}-linux-{platform.machine()}"


def run_pyinstaller() -> None:
    cmd = [
        sys.executable,
        "-m",
        "PyInstaller",
        str(HERE / "noisebloom.spec"),
        "--distpath",
        str(DIST),
        "--workpath",
        str(WORK),
        "--noconfirm",
        "--log-level",
        "WARN",
    ]
    print("$", " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True, cwd=ROOT)


def check_bundle() -> None:
    exe = BUNDLE / "noisebloom"
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    out = subprocess.run([str(exe), "--version"], capture_output=True, text=True, env=env, timeout=120)
    if out.returncode != 0 or not out.stdout.startswith("noisebloom "):
        raise SystemExit(f"{exe} --version failed ({out.returncode}): {out.stderr.strip()[-500:]}")
    print(f"bundle answers: {out.stdout.strip()}", flush=True)


def stage_extras() -> None:
    if EXTRAS.exists():
        shutil.rmtree(EXTRAS)
    EXTRAS.mkdir(parents=True)
    shutil.copy2(HERE / "linux" / "install.sh", EXTRAS / "install.sh")
    os.chmod(EXTRAS / "install.sh", 0o755)
    shutil.copy2(HERE / "linux" / "noisebloom.desktop", EXTRAS / "noisebloom.desktop")
    shutil.copy2(HERE / "linux" / "INSTALL.txt", EXTRAS / "INSTALL.txt")
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    subprocess.run(
        [sys.executable, str(HERE / "make_icons.py"), str(EXTRAS / "icons")],
        check=True,
        env=env,
        stdout=subprocess.DEVNULL,
    )


def make_tarball() -> Path:
    name = tarball_name()
    out = DIST / f"{name}.tar.gz"
    tmp = out.with_suffix(".tmp")
    # One top folder: the bundle as noisebloom/, the installer, menu entry and icons beside it.
    cmd = [
        "tar",
        "-czf",
        str(tmp),
        "--owner=0",
        "--group=0",
        f"--transform=s,^,{name}/,",
        "-C",
        str(DIST),
        "noisebloom",
        "-C",
        str(EXTRAS),
        "install.sh",
        "noisebloom.desktop",
        "INSTALL.txt",
        "icons",
    ]
    print("$", " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True)
    tmp.replace(out)
    return out


def du_bytes(path: Path) -> int:
    total = 0
    for folder, _dirs, files in os.walk(path):
        for f in files:
            p = os.path.join(folder, f)
            if not os.path.islink(p):
                total += os.path.getsize(p)
    return total


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--skip-pyinstaller", action="store_true", help="reuse dist/noisebloom as it is")
    ap.add_argument("--no-tarball", action="store_true", help="stop after the bundle and build/linux")
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    if not args.skip_pyinstaller:
        run_pyinstaller()
    if not (BUNDLE / "noisebloom").is_file():
        raise SystemExit(f"{BUNDLE / 'noisebloom'} is missing; run without --skip-pyinstaller")
    check_bundle()
    stage_extras()
    print(f"bundle: {BUNDLE} ({du_bytes(BUNDLE) / 2**20:.0f} MiB)")
    if not args.no_tarball:
        tar = make_tarball()
        print(f"tarball: {tar} ({tar.stat().st_size / 2**20:.0f} MiB)")
    print(f"packaged in {time.perf_counter() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
