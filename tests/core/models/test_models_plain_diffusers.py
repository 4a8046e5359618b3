"""Every preset's model folder loads and samples in plain diffusers, in an interpreter that cannot
import Noisebloom, and gives Noisebloom's own samples; Noisebloom never runs code a folder ships."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import diffusers
import numpy as np
import pytest
import torch

from core.catalogue.training import PRESETS
from core.errors import ModelFolderError
from core.models.folder import check_model_folder, load_model_folder, save_model_folder
from core.models.presets import build
from core.models.shipped import NETWORKS, load_lines, shipped_files, source_file
from core.sampling.config import SampleConfig
from core.sampling.sample import sample
from core.sampling.seeds import image_seed

SITE_PACKAGES = str(Path(diffusers.__file__).resolve().parents[1])
RESOLUTION, FRAMES, STEPS, SEED = 16, 4, 3, 5
# Each objective somewhere among the small presets: DDPM's ancestral noise and flow's Euler steps
OBJECTIVE = {
    "unet-tiny": "eps",
    "pixel-small": "flow",
    "pixel-cpu": "x0",
    "dit-tiny": "v",
    "clip-tiny": "flow",
}
SMALL = tuple(OBJECTIVE)
LARGE = tuple(p for p in PRESETS if p not in OBJECTIVE)

# A fresh interpreter: -I (no PYTHONPATH, no script folder), -S (no site-packages .pth files, so not
# the editable install of Noisebloom), site-packages added by hand; its cwd is a temporary folder.
PRELUDE = f"""
import sys
sys.path.append({SITE_PACKAGES!r})
try:
    import core
except ImportError:
    pass
else:
    raise SystemExit("Noisebloom is importable in the plain interpreter")
import json, numpy as np, torch, diffusers
"""


def _save(folder: Path, preset: str, objective: str, channels: int = 1) -> Path:
    """A preset's network with random weights (every weight matters: DiT starts at zero), saved by
    the trainer's save function with a guide network beside it."""
    torch.manual_seed(0)
    net = build(preset, channels, RESOLUTION)
    with torch.no_grad():
        for p in net.parameters():
            p.add_(torch.randn_like(p) * 0.02)
    guide = {k: v * 0.5 for k, v in net.state_dict().items()}
    clip = PRESETS[preset].data_kind == "clip"
    info = {"preset": preset, "kind": "clip", "frames": FRAMES, "fps": 8.0} if clip else {"preset": preset}
    save_model_folder(net.eval(), objective, info, folder, schedule="cosine", guide=guide, guide_steps=2)
    return folder


def _plain(code: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    env.update(HF_HOME=str(cwd / "hf"), HF_HUB_OFFLINE="1")  # diffusers copies shipped code under HF_HOME
    return subprocess.run(
        [sys.executable, "-I", "-S", "-c", PRELUDE + code],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=cwd,
        env=env,
    )


def _noisebloom_samples(folder: Path, objective: str) -> np.ndarray:
    sampler = "flow_euler" if objective == "flow" else "ddpm"  # the folder's own scheduler
    cfg = SampleConfig(sampler=sampler, steps=STEPS, num=2, seed=SEED, guidance=0.0, device="cpu")
    return sample(load_model_folder(folder), cfg).images


def _check_presets(tmp_path: Path, objectives: dict[str, str]) -> None:
    folders = {
        p: _save(tmp_path / p, p, o, channels=3 if p == "pixel-small" else 1) for p, o in objectives.items()
    }
    _compare(tmp_path, folders, objectives)


def _compare(tmp_path: Path, folders: dict[str, Path], objectives: dict[str, str]) -> None:
    """Sample each folder in the plain interpreter with the README's load line and in Noisebloom with
    the folder's own scheduler, the same seeds and steps: within one grey level."""
    seeds = [image_seed(SEED, k) for k in range(2)]
    lines = {
        p: load_lines(json.loads((f / "noisebloom.json").read_text()), f).splitlines()
        for p, f in folders.items()
    }
    out = tmp_path / "plain"
    out.mkdir()
    code = f"""
diffusers.utils.logging.disable_progress_bar()
for name, (load, _) in {lines!r}.items():
    exec(load)  # the README's first line: pipe = ...
    pipe.set_progress_bar_config(disable=True)
    gens = [torch.Generator().manual_seed(s) for s in {seeds!r}]
    res = pipe(batch_size=2, num_inference_steps={STEPS}, generator=gens, output_type="np")
    np.save({str(out)!r} + "/" + name + ".npy", res.frames if res.get("frames") is not None else res.images)
    print(name, type(pipe).__name__)
"""
    r = _plain(code, tmp_path)
    assert r.returncode == 0, r.stderr[-3000:]
    assert r.stderr == ""  # no warning: not about the guide, the shipped code or the component types
    for preset, objective in objectives.items():
        plain = np.round(np.load(out / f"{preset}.npy") * 255).astype(int)
        ours = _noisebloom_samples(folders[preset], objective).astype(int)
        assert plain.shape == ours.shape, preset
        assert np.abs(plain - ours).max() <= 1, preset
        assert ours.std() > 0, preset  # not a blank picture: the comparison means something


def test_small_presets_sample_alike_in_plain_diffusers(tmp_path):
    _check_presets(tmp_path, OBJECTIVE)


def test_folders_the_trainer_saved_sample_alike_in_plain_diffusers(tmp_path):
    """The default preset and a clip preset, trained two steps by the real trainer (EMA, guide, card,
    previews), not only saved: what a person takes to another diffusers tool."""
    from core.catalogue.training import DEFAULT_PRESET
    from core.data.prepared import PreparedDataset
    from core.training.config import TrainConfig
    from core.training.trainer import train

    rng = np.random.default_rng(0)
    pictures = PreparedDataset.from_array((rng.random((8, RESOLUTION, RESOLUTION, 3)) * 255).astype(np.uint8))
    clips = PreparedDataset.from_array(
        (rng.random((4, FRAMES, RESOLUTION, RESOLUTION, 1)) * 255).astype(np.uint8), "clip", fps=8.0
    )
    folders, objectives = {}, {}
    for preset, data in ((DEFAULT_PRESET, pictures), ("clip-tiny", clips)):
        config = TrainConfig(
            preset=preset, objective="flow", batch_size=2, max_steps=2, max_minutes=None, device="cpu",
            preview_every=2, preview_seeds=(0, 1), preview_steps=2, val_every=0, checkpoint_every=0,
            memorization_every=0, guide_at=0.5,
        )  # fmt: skip
        folders[preset] = train(config, data, tmp_path / f"run-{preset}").model_dir
        objectives[preset] = "flow"
        assert (folders[preset] / "guide").is_dir() and (folders[preset] / "README.md").is_file()
    _compare(tmp_path, folders, objectives)


@pytest.mark.slow  # unet-gpu and dit-s are tens of millions of parameters even at 16 px
def test_the_other_presets_sample_alike_in_plain_diffusers(tmp_path):
    assert set(SMALL) | set(LARGE) == set(PRESETS)
    _check_presets(tmp_path, {p: "eps" if i % 2 else "flow" for i, p in enumerate(LARGE)})


def test_the_readme_lines_load_and_sample_an_image_and_a_clip_model(tmp_path):
    folders = [_save(tmp_path / "img", "dit-tiny", "flow"), _save(tmp_path / "clip", "clip-tiny", "eps")]
    texts = [load_lines(json.loads((f / "noisebloom.json").read_text()), f) for f in folders]
    assert all(len(t.splitlines()) == 2 for t in texts)
    assert texts[0].endswith(".images\n") and texts[1].endswith(".frames\n")
    code = "".join(
        f"exec({t!r}.replace('num_inference_steps=50', 'num_inference_steps=2'))\n"
        f"print(np.asarray({'frames' if 'frames' in t else 'images'}[0]).shape)\n"
        for t in texts
    )
    r = _plain(code, tmp_path)
    assert r.returncode == 0, r.stderr[-3000:]
    assert r.stdout.split("\n")[:2] == ["(16, 16)", "(4, 16, 16)"]  # a PIL grey picture; a clip of 4


def test_unet_folders_load_without_remote_code():
    assert "trust_remote_code" not in load_lines({"network": "unet", "kind": "image"})
    assert "trust_remote_code=True" in load_lines({"network": "pixel-unet", "kind": "image"})


@pytest.mark.parametrize("preset", ["pixel-small", "dit-tiny", "clip-tiny"])
def test_shipped_code_is_the_package_source(tmp_path, preset):
    folder = _save(tmp_path / "m", preset, "flow")
    files = shipped_files(PRESETS[preset].network)
    assert "pipeline.py" in files and len(files) >= 2
    for rel, src in files.items():
        assert (folder / rel).read_bytes() == src.read_bytes(), rel
    index = json.loads((folder / "model_index.json").read_text())
    net = NETWORKS[PRESETS[preset].network]
    assert index["_class_name"] == ["pipeline", "NoisebloomPipeline"]
    assert index[net.subfolder] == [net.file, net.name]
    assert (folder / net.subfolder / f"{net.file}.py").is_file()


def test_shipped_code_imports_only_torch_diffusers_and_its_siblings():
    allowed = {"torch", "diffusers", "__future__"} | set(sys.stdlib_module_names)
    sources = {source_file("pipeline")} | {p for k in NETWORKS for p in shipped_files(k).values()}
    for src in sources:
        siblings = {p.stem for k in NETWORKS for p in shipped_files(k).values()}
        for node in ast.walk(ast.parse(src.read_text())):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:  # relative: a module shipped beside it
                    assert node.module in siblings, (src.name, node.module)
                    continue
                names = [node.module]
            else:
                continue
            assert all(n.split(".")[0] in allowed for n in names), (src.name, names)


MARKER_CODE = "import pathlib\npathlib.Path({marker!r}).write_text('ran')\n"


def test_noisebloom_never_runs_the_code_a_folder_ships(tmp_path):
    folder = _save(tmp_path / "m", "pixel-small", "flow")
    marker = tmp_path / "ran.txt"
    for rel in shipped_files("pixel-unet"):
        (folder / rel).write_text(MARKER_CODE.format(marker=str(marker)))
    loaded = load_model_folder(folder)
    check_model_folder(folder)
    _noisebloom_samples(folder, "flow")
    assert type(loaded.network).__module__ == "core.models.pixel_unet"
    assert not marker.exists()
    assert not any("noisebloom_pixel_unet" in m for m in sys.modules)


def test_a_folder_naming_another_module_is_refused_without_running_it(tmp_path):
    folder = _save(tmp_path / "m", "pixel-small", "flow")
    marker = tmp_path / "ran.txt"
    (folder / "unet" / "evil.py").write_text(MARKER_CODE.format(marker=str(marker)))
    index = json.loads((folder / "model_index.json").read_text())
    index["unet"] = ["evil", "NoisebloomPixelUNet"]
    (folder / "model_index.json").write_text(json.dumps(index))
    with pytest.raises(ModelFolderError, match="not a network Noisebloom can load"):
        load_model_folder(folder)
    assert not marker.exists() and "evil" not in sys.modules


@pytest.mark.parametrize(
    ("preset", "pipeline"),
    [
        ("pixel-small", "DDPMPipeline"),
        ("dit-tiny", "NoisebloomPipeline"),
        ("clip-tiny", "NoisebloomPipeline"),
    ],
)
def test_folders_written_before_the_shipped_code_still_load(tmp_path, preset, pipeline):
    folder = _save(tmp_path / "m", preset, "flow")
    net = NETWORKS[PRESETS[preset].network]
    for rel in shipped_files(net.kind):
        (folder / rel).unlink()
    index = json.loads((folder / "model_index.json").read_text())
    index["_class_name"] = pipeline
    index[net.subfolder] = [net.module, net.name]
    index.pop("num_frames", None)
    (folder / "model_index.json").write_text(json.dumps(index))
    loaded = load_model_folder(folder)
    assert type(loaded.network).__name__ == net.name and loaded.guide is not None
