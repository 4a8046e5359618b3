"""packaging/linux/: the menu entry and install.sh, run for real against a stand-in app in a temporary HOME."""

from __future__ import annotations

import configparser
import os
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LINUX = ROOT / "packaging" / "linux"


def _unpacked_tarball(tmp: Path) -> Path:
    """The tarball's layout, with a shell script standing in for the 1 GB bundle."""
    top = tmp / "noisebloom-0.1.0-linux-x86_64"
    app = top / "noisebloom"
    (app / "_internal").mkdir(parents=True)
    exe = app / "noisebloom"
    exe.write_text('#!/bin/sh\necho stand-in noisebloom "$@"\n')
    exe.chmod(0o755)
    for name in ("install.sh", "noisebloom.desktop"):
        (top / name).write_bytes((LINUX / name).read_bytes())
    (top / "install.sh").chmod(0o755)
    for size in ("48x48", "256x256"):
        icon = top / "icons" / "hicolor" / size / "apps" / "noisebloom.png"
        icon.parent.mkdir(parents=True)
        icon.write_bytes(b"\x89PNG stand-in")
    return top


def _run(script: Path, home: Path, *args: str) -> subprocess.CompletedProcess:
    env = {"HOME": str(home), "PATH": os.environ["PATH"]}
    return subprocess.run(["sh", str(script), *args], env=env, capture_output=True, text=True, timeout=60)


def test_desktop_entry_names_the_app_its_command_and_its_icon():
    entry = configparser.ConfigParser(interpolation=None)
    entry.optionxform = str
    entry.read(LINUX / "noisebloom.desktop")
    d = entry["Desktop Entry"]
    assert d["Type"] == "Application" and d["Name"] == "Noisebloom"
    assert d["Exec"] == "noisebloom" and d["Icon"] == "noisebloom"
    assert d["Terminal"] == "false"
    assert d["Categories"].endswith(";")


def test_install_puts_app_command_menu_entry_and_icons_in_place_and_uninstall_removes_them(tmp_path):
    top = _unpacked_tarball(tmp_path / "unpacked")
    home = tmp_path / "home"
    home.mkdir()
    r = _run(top / "install.sh", home)
    assert r.returncode == 0, r.stderr
    app_dir = home / ".local" / "opt" / "noisebloom"
    command = home / ".local" / "bin" / "noisebloom"
    assert subprocess.run([str(command), "selftest"], capture_output=True, text=True).stdout.strip() == (
        "stand-in noisebloom selftest"
    )
    assert command.resolve() == (app_dir / "noisebloom").resolve()
    desktop = (home / ".local" / "share" / "applications" / "noisebloom.desktop").read_text()
    assert f"Exec={app_dir}/noisebloom\n" in desktop  # the full path: ~/.local/bin may not be on PATH
    assert (home / ".local" / "share" / "icons" / "hicolor" / "256x256" / "apps" / "noisebloom.png").is_file()

    # Installing again replaces the app whole (no stale files from the previous version).
    (app_dir / "_internal" / "stale.txt").write_text("old")
    assert _run(top / "install.sh", home).returncode == 0
    assert not (app_dir / "_internal" / "stale.txt").exists()

    r = _run(top / "install.sh", home, "--uninstall")
    assert r.returncode == 0, r.stderr
    assert not app_dir.exists() and not command.is_symlink()
    assert not (home / ".local" / "share" / "applications" / "noisebloom.desktop").exists()
    assert not list((home / ".local" / "share" / "icons").rglob("noisebloom.png"))


def test_install_refuses_a_folder_without_the_app(tmp_path):
    top = _unpacked_tarball(tmp_path / "unpacked")
    (top / "noisebloom" / "noisebloom").unlink()
    r = _run(top / "install.sh", tmp_path)
    assert r.returncode == 1
    assert "noisebloom/noisebloom is missing" in r.stderr
    assert not (tmp_path / ".local" / "opt" / "noisebloom").exists()
