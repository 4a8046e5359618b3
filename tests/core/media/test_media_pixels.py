"""core.media.to_uint8 gives the bytes the torch conversion gave; the leaf imports stay leaf imports."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from core.media.pixels import to_uint8
from core.sampling.trajectory import tensor_to_uint8

ROOT = Path(__file__).resolve().parents[3]


def _torch_to_uint8(x: torch.Tensor) -> np.ndarray:
    """The conversion core/sampling/trajectory.py did in torch before core.media."""
    y = ((x.detach().float().clamp(-1, 1) + 1.0) * 127.5).round_().to(torch.uint8)
    return y.movedim(-3, -1).cpu().numpy()


@pytest.mark.parametrize("shape", [(3, 1, 5, 7), (2, 4, 3, 6, 5), (3, 8, 8)])
def test_to_uint8_matches_the_torch_conversion_byte_for_byte(shape):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(shape, generator=g) * 1.3
    halves = (torch.arange(256, dtype=torch.float32) + 0.5) / 127.5 - 1.0  # values on a .5 boundary
    x.view(-1)[: min(256, x.numel())] = halves[: min(256, x.numel())]
    expected = _torch_to_uint8(x)
    assert np.array_equal(to_uint8(x.numpy()), expected)
    assert np.array_equal(tensor_to_uint8(x), expected)
    assert np.array_equal(tensor_to_uint8(x.half()), _torch_to_uint8(x.half()))
    assert to_uint8(x.numpy()).shape == expected.shape and to_uint8(x.numpy()).dtype == np.uint8


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
    return names


def _imports_of(package: str) -> dict[str, set[str]]:
    return {str(p.relative_to(ROOT)): _imports(p) for p in sorted((ROOT / package).rglob("*.py"))}


def test_media_imports_only_pixels_and_files_libraries():
    allowed = ("numpy", "PIL", "imageio", "imageio_ffmpeg", "core.media", "core.errors", "core.fsutil")
    for path, names in _imports_of("core/media").items():
        outside = [n for n in names if n.split(".")[0] not in sys.stdlib_module_names and n != "__future__"]
        bad = [n for n in outside if not any(n == a or n.startswith(a + ".") for a in allowed)]
        assert not bad, f"{path} imports {bad}"


def test_sampling_never_imports_export_and_the_catalogue_loads_no_ml_stack():
    for path, names in _imports_of("core/sampling").items():
        assert not [n for n in names if n.startswith("core.export")], path
    for path, names in _imports_of("core/catalogue").items():
        bad = [n for n in names if n.split(".")[0] in ("torch", "diffusers", "accelerate")]
        assert not bad, f"{path} imports {bad}"
