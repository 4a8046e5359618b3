"""The entry points of issue 2: `noisebloom --version/--help`, `python -m core.engine --help`."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from core import __version__

ROOT = Path(__file__).resolve().parents[1]
NOISEBLOOM = str(Path(sys.executable).with_name("noisebloom"))


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(list(args), cwd=ROOT, capture_output=True, text=True, timeout=120)


def test_version_prints_the_package_version():
    r = run(NOISEBLOOM, "--version")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == f"noisebloom {__version__}"


def test_help_lists_the_subcommands_without_loading_torch():
    r = run(
        sys.executable,
        "-c",
        "import sys; from desktop.launcher import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        "print('TORCH' if 'torch' in sys.modules else 'NO-TORCH')",
    )
    assert r.returncode == 0, r.stderr
    assert "usage: noisebloom" in r.stdout
    assert "engine" in r.stdout
    assert r.stdout.strip().endswith("NO-TORCH")


def test_engine_module_help():
    r = run(sys.executable, "-m", "core.engine", "--help")
    assert r.returncode == 0, r.stderr
    assert "JSON" in r.stdout and "--workspace" in r.stdout
