"""The layering rule of docs/architecture.md ("Layers"), checked two ways: statically (import-linter)
and at run time."""

from __future__ import annotations

import os
import pkgutil
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _bin(name: str) -> str:
    return str(Path(sys.executable).with_name(name))


def test_import_linter_contracts_hold():
    r = subprocess.run([_bin("lint-imports")], cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "Contracts: 4 kept, 0 broken" in r.stdout, r.stdout


@pytest.mark.parametrize(
    ("module", "imports", "reported"),
    [
        ("core/sneaky.py", "import PySide6", "core.sneaky -> PySide6"),
        # an arrow upward: sampling is below training
        (
            "core/sampling/sneaky.py",
            "import core.training.trainer",
            "core.sampling.sneaky -> core.training.trainer",
        ),
        # a circle: export imports sampling, so sampling importing export closes one
        ("core/sampling/sneaky.py", "import core.export.clips", "core.sampling.sneaky -> core.export.clips"),
        # the window's models are below its areas
        ("desktop/model/sneaky.py", "import desktop.ui.images", "desktop.model.sneaky -> desktop.ui.images"),
    ],
)
def test_import_linter_catches_a_broken_layer(tmp_path, module, imports, reported):
    """A copy of the tree with one import added against the layering must break a contract."""
    dst = tmp_path / "tree"
    for pkg in ("core", "desktop"):
        shutil.copytree(ROOT / pkg, dst / pkg, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", dst / "pyproject.toml")
    (dst / module).write_text(imports + "\n")
    env = dict(os.environ, PYTHONPATH=str(dst))
    r = subprocess.run([_bin("lint-imports")], cwd=dst, capture_output=True, text=True, env=env)
    assert r.returncode != 0
    assert reported in r.stdout, r.stdout


def _all_modules(package: str) -> list[str]:
    base = ROOT / package
    names = [package]
    for info in pkgutil.walk_packages([str(base)], prefix=f"{package}."):
        if not info.name.endswith("__main__"):
            names.append(info.name)
    return names


@pytest.mark.parametrize(
    ("package", "forbidden"),
    [("core", ("PySide6", "pyqtgraph", "desktop")), ("desktop", ("torch", "diffusers", "accelerate"))],
)
def test_importing_a_layer_loads_nothing_it_must_not(package, forbidden):
    modules = [m for m in _all_modules(package) if m != "desktop.launcher"]
    code = textwrap.dedent(
        f"""
        import importlib, sys
        for m in {modules!r}:
            importlib.import_module(m)
        bad = sorted(n for n in sys.modules if n.split('.')[0] in {forbidden!r})
        print(','.join(bad))
        """
    )
    r = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=dict(os.environ, QT_QPA_PLATFORM="offscreen"),
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "", f"{package} loaded {r.stdout.strip()}"
