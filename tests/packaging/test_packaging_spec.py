"""The PyInstaller build (packaging/): what the bundle must carry, and how the frozen app finds its engine.

No bundle is built here (``make package`` / ``make package-smoke`` do that); these tests check the
inputs of the build and the frozen code paths that can run from source.
"""

from __future__ import annotations

import ast
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import imageio_ffmpeg

ROOT = Path(__file__).resolve().parents[2]
PACKAGING = ROOT / "packaging"


def _bundle_data():
    # Loaded by path: the folder is not a Python package (and `packaging` is also a PyPI module's name).
    spec = importlib.util.spec_from_file_location("noisebloom_bundle_data", PACKAGING / "bundle_data.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_bundle_carries_every_resource_file_where_the_desktop_looks_for_it():
    datas = _bundle_data().bundle_datas(ROOT)
    carried = {(Path(src).resolve(), dest) for src, dest in datas}
    resources = ROOT / "resources"
    expected = [
        p for p in resources.rglob("*") if p.is_file() and p.relative_to(resources).parts[0] != "screenshots"
    ]
    assert any(p.name == "noisebloom.svg" for p in expected)
    for path in expected:
        dest = str(Path("resources") / path.parent.relative_to(resources))
        assert (path.resolve(), dest) in carried, f"{path} is not in the bundle"
    assert not any("screenshots" in Path(src).parts for src, _ in datas)
    # desktop/ui/images.py looks two folders above its own module: <bundle>/resources in the bundle.
    images_py = (ROOT / "desktop" / "ui" / "images.py").read_text()
    assert 'parents[2] / "resources"' in images_py


def test_bundle_carries_imageio_ffmpegs_binary_in_the_folder_imageio_ffmpeg_searches():
    datas = _bundle_data().ffmpeg_datas()
    assert len(datas) == 1
    src, dest = datas[0]
    assert Path(src).is_file() and os.access(src, os.X_OK)
    assert Path(src).samefile(imageio_ffmpeg.get_ffmpeg_exe())
    assert dest == "imageio_ffmpeg/binaries"  # imageio_ffmpeg._utils: files("imageio_ffmpeg.binaries")


def test_spec_builds_one_executable_from_the_entry_script_with_the_data_list_and_hooks():
    text = (PACKAGING / "noisebloom.spec").read_text()
    tree = ast.parse(text)  # a spec is Python: it must at least parse
    calls = {n.func.id: n for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)}
    analysis = calls["Analysis"]
    assert "entry.py" in ast.unparse(analysis.args[0])
    keywords = {k.arg: ast.unparse(k.value) for k in analysis.keywords}
    assert keywords["datas"] == "bundle_datas(ROOT)"
    assert "collect_submodules('core')" in keywords["hiddenimports"]
    assert "hooks" in keywords["hookspath"]
    assert "'torch': 'pyz+py'" in keywords["module_collection_mode"]  # TorchScript needs the sources
    names = {ast.unparse(k.value) for c in ("EXE", "COLLECT") for k in calls[c].keywords if k.arg == "name"}
    assert names == {"'noisebloom'"}
    for hook in ("hook-diffusers.py", "hook-accelerate.py", "hook-huggingface_hub.py"):
        hook_tree = ast.parse((PACKAGING / "hooks" / hook).read_text())
        assigned = {
            t.id
            for n in ast.walk(hook_tree)
            if isinstance(n, ast.Assign)
            for t in n.targets
            if isinstance(t, ast.Name)
        }
        assert {"hiddenimports", "datas"} <= assigned, hook


def test_frozen_app_runs_its_engine_as_its_own_engine_subcommand(monkeypatch):
    from desktop.engine_client import default_engine_command

    monkeypatch.delenv("NOISEBLOOM_ENGINE_COMMAND", raising=False)
    assert default_engine_command()[1:] == ["-m", "core.engine"]
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setattr(sys, "executable", "/opt/noisebloom/noisebloom")
    assert default_engine_command() == ["/opt/noisebloom/noisebloom", "engine"]


def test_entry_script_hands_subcommands_to_the_command_line():
    r = subprocess.run(
        [sys.executable, str(PACKAGING / "entry.py"), "--version"],
        cwd=ROOT,
        env=dict(os.environ, PYTHONPATH=str(ROOT)),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("noisebloom ")


def test_startup_probe_reports_the_first_paint_without_torch_then_the_engines_hello(tmp_path):
    # A stand-in engine that says hello and waits for stdin to close, so no torch is loaded here.
    hello = "from core.engine import protocol as P; import sys; print(P.Hello(id=None, device='stand-in').to_json(), flush=True); sys.stdin.read()"
    env = dict(
        os.environ,
        PYTHONPATH=str(ROOT),
        QT_QPA_PLATFORM="offscreen",
        NOISEBLOOM_STARTUP_PROBE="1",
        NOISEBLOOM_STARTUP_PROBE_TIMEOUT="60",
        NOISEBLOOM_ENGINE_COMMAND=f"{sys.executable} -c {json.dumps(hello)}",
        XDG_CONFIG_HOME=str(tmp_path),
    )
    r = subprocess.run(
        [sys.executable, str(PACKAGING / "entry.py")],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0, r.stderr[-2000:]
    lines = [line.split() for line in r.stdout.splitlines() if line.strip()]
    assert [parts[0] for parts in lines] == ["SHOWN", "HELLO"]
    assert lines[0][2] == "no-torch"
    assert float(lines[0][1]) <= float(lines[1][1])
    assert lines[1][2] == "stand-in"
