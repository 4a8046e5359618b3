"""The code a model folder ships so that plain diffusers loads it, and the lines that load it.

A folder whose denoiser is diffusers' ``UNet2DModel`` is a stock ``DDPMPipeline`` folder and ships
nothing. A folder whose denoiser is one of Noisebloom's networks is laid out as diffusers' custom
components expect (``get_class_obj_and_candidates``: ``model_index.json`` names the component
``[FILE, CLASS]`` and the component folder holds ``FILE.py``; ``_class_name`` ``["pipeline",
"NoisebloomPipeline"]`` with ``pipeline.py`` in the folder root)::

    MODEL_DIR/pipeline.py                        core/models/pipeline.py
    MODEL_DIR/unet/noisebloom_pixel_unet.py      core/models/pixel_unet.py   (+ augment_labels.py)
    MODEL_DIR/transformer/noisebloom_dit.py      core/models/dit.py          (+ augment_labels.py)
    MODEL_DIR/transformer/noisebloom_video.py    core/models/video.py

Each file is a verbatim copy of the package's own module, made at save time: those modules import
only torch, diffusers, the standard library and each other (relative imports, which diffusers
copies along). ``DiffusionPipeline.from_pretrained(MODEL_DIR, trust_remote_code=True)`` loads it.
Noisebloom itself never imports a shipped file: :mod:`core.models.folder` maps the name in
``model_index.json`` to its own class.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PIPELINE_FILE = "pipeline"
PIPELINE_CLASS = "NoisebloomPipeline"
_HERE = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Network:
    """One of Noisebloom's networks: its class, the package module it is imported from by name, the
    file a folder ships that module as (``noisebloom_`` before the module's name: a bare ``dit``
    would be taken for diffusers' own ``pipelines.dit``) and the sibling modules it imports."""

    kind: str
    module: str
    name: str
    subfolder: str
    also: tuple[str, ...] = ()

    @property
    def file(self) -> str:
        return "noisebloom_" + self.module.rsplit(".", 1)[1]

    @property
    def index_entry(self) -> list[str]:
        """Its ``model_index.json`` entry: ``[FILE, CLASS]``, as diffusers finds custom components."""
        return [self.file, self.name]


NETWORKS: dict[str, Network] = {
    n.kind: n
    for n in (
        Network("pixel-unet", "core.models.pixel_unet", "NoisebloomPixelUNet", "unet", ("augment_labels",)),
        Network("dit", "core.models.dit", "NoisebloomDiT", "transformer", ("augment_labels",)),
        Network("video", "core.models.video", "NoisebloomVideoNet", "transformer"),
    )
}


def source_file(name: str) -> Path:
    """The package module ``core/models/NAME.py`` a folder ships a copy of."""
    return _HERE / f"{name}.py"


def shipped_files(kind: str) -> dict[str, Path]:
    """What a folder of network ``kind`` ships: its relative path -> the package source it copies."""
    net = NETWORKS[kind]
    files = {
        f"{PIPELINE_FILE}.py": source_file(PIPELINE_FILE),
        f"{net.subfolder}/{net.file}.py": source_file(net.module.rsplit(".", 1)[1]),
    }
    files.update({f"{net.subfolder}/{f}.py": source_file(f) for f in net.also})
    return files


def ship_code(kind: str, folder: Path) -> None:
    """Copy the code of network ``kind`` and the pipeline into the model folder being written."""
    for rel, src in shipped_files(kind).items():
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, folder / rel)


def model_index(kind: str, scheduler: Any, diffusers_version: str, frames: int | None) -> dict[str, Any]:
    """``model_index.json`` of a folder holding network ``kind``: the shipped pipeline, the
    denoiser as a custom component, the stock scheduler; clips say their frame count."""
    net = NETWORKS[kind]
    index: dict[str, Any] = {
        "_class_name": [PIPELINE_FILE, PIPELINE_CLASS],
        "_diffusers_version": diffusers_version,
        net.subfolder: net.index_entry,
        "scheduler": ["diffusers", type(scheduler).__name__],
    }
    if frames:
        index["num_frames"] = int(frames)
    return index


def load_lines(folder_info: dict[str, Any], path: str | Path = "MODEL_DIR") -> str:
    """The two lines that load and sample the model folder at ``path`` in plain diffusers, given its
    ``noisebloom.json`` fields (what a model card shows, after ``import diffusers``)."""
    remote = ", trust_remote_code=True" if folder_info.get("network") in NETWORKS else ""
    what = "frames" if folder_info.get("kind") == "clip" else "images"
    return (
        f"pipe = diffusers.DiffusionPipeline.from_pretrained({str(path)!r}{remote})\n"
        f"{what} = pipe(batch_size=4, num_inference_steps=50).{what}\n"
    )
